"""Monitoring never stops because an output failed (issue 14, item 6).

Real failures where the test can make them: a full disk is a 64 KiB tmpfs (``mount -t tmpfs``,
needs root; skipped with the reason otherwise), a read-only directory a read-only tmpfs, a
webhook receiver an ``http.server`` on 127.0.0.1, a broker a ``mosquitto`` started on a
loopback port after the runtime. The unresolvable webhook host is the one thing simulated:
``socket.getaddrinfo`` answers "Name or service not known" for it (as the resolver does), so
the test sends nothing to a real DNS server.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge_runtime.alerts import AlertEngine, load_config
from edge_runtime.cli import main as cli_main
from edge_runtime.pipeline import Pipeline
from edge_runtime.records import read_record, shipped_record_path
from edge_runtime.sinks.journal import JournalSink, read_journal
from edge_runtime.sinks.spool import Spool
from edge_runtime.sinks.spooled import SpooledSink
from edge_runtime.sinks.webhook import WebhookSink
from tests import mosquitto

FS = 360.0
NO_MODELS = ["--beat-model", "none", "--window-model", "none"]


# ---------------------------------------------------------------------------- helpers
def _mount(d: Path, opts: str) -> None:
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a small filesystem")
    d.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {r.stderr.strip() or r.returncode}")


@pytest.fixture()
def small_fs(tmp_path):
    """A real 64 KiB filesystem: writes past it fail with ENOSPC."""
    d = tmp_path / "small"
    _mount(d, "size=64k")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def fill(d: Path) -> Path:
    """Fill ``d``'s filesystem; the returned file frees the space when deleted."""
    f = d / "filler"
    with open(f, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
        try:
            while True:
                fh.write(b"\0")
        except OSError:
            pass
    return f


def tachy_engine() -> AlertEngine:
    """Thresholds that record 100 crosses: tachycardia onsets at ~160 s and ~187 s."""
    cfg = load_config()
    cfg["rules"]["tachycardia"].update(hr_above=76.0, hr_clear=75.0, onset_s=1.0, offset_s=1.0)
    return AlertEngine(cfg, "bed")


@pytest.fixture(scope="module")
def rec100():
    return read_record(shipped_record_path("100"), sampto=int(300 * FS))


def push(p: Pipeline, rec, t0: float, t1: float) -> list[dict]:
    out = []
    for i in range(int(t0 * FS), int(t1 * FS), int(10 * FS)):
        out += p.push(rec.signal[i:min(i + int(10 * FS), int(t1 * FS))])
    return out


def clinical(records: list[dict]) -> list[tuple]:
    """Beats and the engine's alerts: what monitoring produced, outputs aside."""
    out = []
    for r in records:
        if r["event"] == "alert" and r["type"] not in ("storage", "sink_down"):
            out.append((r["id"], r["action"], r["time_s"]))
        elif r["event"] in ("beat", "beats"):
            out.append((r["event"], str(r["sample"])))
    return out


def wait_until(pred, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


# ---------------------------------------------------------------------------- spool
def test_spool_keeps_order_bounds_oldest_and_survives_restart(tmp_path):
    sp = Spool(tmp_path / "sp", max_records=10, segment_records=2)
    for i in range(13):
        sp.append({"event": "alert", "id": f"a{i}"})
    assert len(sp) <= 10 and sp.dropped == 13 - len(sp)  # oldest whole segments dropped
    seq, first = sp.peek()
    assert first["id"] == f"a{sp.dropped}"
    sp.ack(seq)
    sp.ack(seq)  # acking twice does nothing
    left = len(sp)
    again = Spool(tmp_path / "sp", max_records=10, segment_records=2)  # a restart
    ids = []
    while (item := again.peek()) is not None:
        ids.append(item[1]["id"])
        again.ack(item[0])
    # delivered in order; at most the rest of a half-acked segment comes again (at-least-once)
    assert ids[-left:] == [f"a{i}" for i in range(13 - left, 13)]
    assert ids == sorted(ids, key=lambda s: int(s[1:]))
    assert not list((tmp_path / "sp").glob("*.jsonl"))  # delivered segments are deleted


# ---------------------------------------------------------------------------- journal
def _alert(i):
    return {"event": "alert", "action": "onset", "id": f"a{i:04d}", "type": "pause",
            "severity": "warning", "time_s": float(i), "evidence": {"rr_s": 2.6}}


def test_journal_on_a_full_disk_goes_down_keeps_order_and_recovers(small_fs):
    path = small_fs / "run.jsonl"
    j = JournalSink(path, retry_s=0.0, max_pending_bytes=6000)
    for i in range(10):
        j.handle(_alert(i))
    assert j.health().ok
    filler = fill(small_fs)
    for i in range(10, 200):  # the disk is full: nothing raises, the oldest pending drop
        j.handle(_alert(i))
    h = j.health()
    assert not h.ok and "No space left on device" in h.reason
    assert j.dropped > 0
    filler.unlink()
    j.handle(_alert(200))
    assert j.health().ok
    j.close()
    recs, bad = read_journal(path)
    assert bad <= 1  # at most the one line the disk cut, whose rest was dropped
    notes = [r for r in recs if r["event"] == "sink_overflow"]
    assert len(notes) == 1 and notes[0]["dropped"] == j.dropped
    assert "No space left" in notes[0]["reason"]
    ids = [int(r["id"][1:]) for r in recs if r["event"] == "alert"]
    assert ids == sorted(ids) and ids[-1] == 200 and ids[:10] == list(range(10))
    assert len(ids) + j.dropped == 201  # every alert is either in the file or counted
    missing = sorted(set(range(201)) - set(ids))
    assert missing == list(range(missing[0], missing[0] + len(missing)))  # the oldest pending


def test_run_with_journal_on_a_full_disk_keeps_monitoring(small_fs, tmp_path, capsys):
    fill(small_fs)
    assert cli_main(["run", "--record", "100", "--duration", "120", *NO_MODELS,
                     "--journal", str(small_fs / "run.jsonl")]) == 0
    out = capsys.readouterr()
    assert "onset storage journal" in out.out and "No space left on device" in out.out
    assert "summary: 120.0 s" in out.out  # the run went to the end
    recs, bad = read_journal(small_fs / "run.jsonl")
    assert bad == 0


# ---------------------------------------------------------------------------- strips
def test_strips_on_a_full_disk_raise_a_storage_alarm_and_clear(small_fs, tmp_path, rec100):
    def run(strips: Path, journal: Path, free_at: float | None, filler: Path | None):
        p = Pipeline(FS, rec100.leads, engine=tachy_engine(), strips_dir=strips,
                     sinks=[JournalSink(journal)], source="100")
        push(p, rec100, 0, 180.0)
        if filler is not None:
            filler.unlink()
        push(p, rec100, 180.0, 300.0)
        p.finish()
        p.close()
        return read_journal(journal)[0]

    ref = run(tmp_path / "strips_ok", tmp_path / "ok.jsonl", None, None)
    filler = fill(small_fs)
    got = run(small_fs / "strips", tmp_path / "full.jsonl", 180.0, filler)
    assert clinical(got) == clinical(ref)  # the signal path did not notice
    storage = [r for r in got if r["event"] == "alert" and r["type"] == "storage"]
    assert [r["action"] for r in storage] == ["onset", "end"]
    ev = storage[0]["evidence"]
    assert ev["outputs"] == ["strips"] and "No space left on device" in ev["reason"]
    strips = [r for r in got if r["event"] == "strip"]
    assert strips[0]["path"] is None and "No space left" in strips[0]["error"]
    assert strips[-1]["path"] and Path(strips[-1]["path"] + ".hea").is_file()
    assert not list((small_fs / "strips").glob(f"{strips[0]['alert_id']}.*"))  # no half strip
    assert storage[0]["time_s"] < storage[1]["time_s"] and storage[0]["severity"] == "technical"


def test_strips_must_be_a_writable_directory(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    args = ["run", "--record", "100", "--duration", "5", *NO_MODELS, "--quiet"]
    assert cli_main([*args, "--strips", str(f)]) != 0
    err = capsys.readouterr().err.strip()
    assert "is not a directory" in err and len(err.splitlines()) == 1
    ro = tmp_path / "ro"
    _mount(ro, "size=64k,ro")
    try:
        assert cli_main([*args, "--strips", str(ro / "strips")]) != 0
        err = capsys.readouterr().err.strip()
        assert "cannot write event strips" in err and "Read-only" in err
        assert len(err.splitlines()) == 1
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)


# ---------------------------------------------------------------------------- webhook
class _Hook(BaseHTTPRequestHandler):
    bodies: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        _Hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _serve(port: int = 0) -> ThreadingHTTPServer:
    srv = ThreadingHTTPServer(("127.0.0.1", port), _Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


HOST = "nurse-station.ecgedge-test.invalid"


@pytest.fixture()
def dns(monkeypatch):
    """``HOST`` is unresolvable until ``state["up"]``; then it is 127.0.0.1. No real DNS."""
    real = socket.getaddrinfo
    state = {"up": False}

    def fake(host, *args, **kw):
        if host == HOST:
            if not state["up"]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            host = "127.0.0.1"
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return state


def test_unresolvable_webhook_is_journaled_spooled_and_delivered_later(dns, tmp_path, capsys):
    _Hook.bodies = []
    srv = _serve()
    url = f"http://{HOST}:{srv.server_address[1]}/alerts"
    cfg = tmp_path / "a.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 76.0\nhr_clear = 75.0\nonset_s = 1.0\n"
                   "offset_s = 1.0\n")
    args = ["run", "--record", "100", "--duration", "300", *NO_MODELS, "--config", str(cfg),
            "--device-id", "bed", "--webhook", url]
    try:
        assert cli_main([*args, "--journal", str(tmp_path / "one.jsonl")]) == 0
        out = capsys.readouterr()
        assert "onset sink_down webhook" in out.out and "Name or service not known" in out.out
        assert _Hook.bodies == []
        one, _ = read_journal(tmp_path / "one.jsonl")
        down = [r for r in one if r["event"] == "alert" and r["type"] == "sink_down"]
        assert down and "Name or service not known" in down[0]["evidence"]["reason"]
        sent = [r["id"] + r["action"] for r in one if r["event"] == "alert"]
        assert len(sent) >= 5  # 4 tachycardia updates and the sink_down onset
        assert list((tmp_path / "one.jsonl.spool" / "webhook").glob("*.jsonl"))  # kept on disk
        dns["up"] = True  # the name resolves again: the next run delivers the spool first
        assert cli_main([*args, "--journal", str(tmp_path / "one.jsonl"), "--quiet"]) == 0
        got = [b["id"] + b["action"] for b in _Hook.bodies]
        assert got[:len(sent) - 1] == sent[:len(sent) - 1]  # in order, with their ids
        assert set(sent) <= set(got)
    finally:
        srv.shutdown()
        srv.server_close()


def test_webhook_outage_is_spooled_bounded_and_replayed_in_order(tmp_path):
    with socket.socket() as s:  # a port where nobody listens (yet)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = SpooledSink(WebhookSink(f"http://127.0.0.1:{port}/a", retries=0, timeout_s=1),
                       Spool(tmp_path / "sp", max_records=6, segment_records=1),
                       retry_s=0.05, max_retry_s=0.2)
    for i in range(9):
        sink.handle(_alert(i))
    assert wait_until(lambda: not sink.health().ok, 5)
    assert "Connection refused" in sink.health().reason
    time.sleep(1.0)  # a long outage (many failed tries) loses nothing that fits the spool
    reps = sink.take_reports()
    assert [(r["event"], r["dropped"]) for r in reps] == [("sink_overflow", 3)]
    _Hook.bodies = []
    srv = _serve(port)
    try:
        assert wait_until(lambda: len(_Hook.bodies) == 6 and sink.health().ok)
        assert [b["id"] for b in _Hook.bodies] == [f"a{i:04d}" for i in range(3, 9)]
        sink.close()
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------------------- MQTT
def test_runtime_starts_with_the_broker_down_and_delivers_when_it_comes(tmp_path, rec100):
    mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed")
    if mosquitto.MOSQUITTO is None:
        pytest.skip(mosquitto.MISSING)
    from edge_runtime.sinks.mqtt import MqttSink

    port = mosquitto.free_port()
    conf = mosquitto.write_conf(tmp_path / "m.conf", port, "allow_anonymous true\n"
                                f"persistence true\npersistence_location {tmp_path}/\n")


    got: list[dict] = []

    def listener(connect: bool) -> mqtt.Client:  # a persistent QoS 1 subscription
        c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                        client_id="nurse-station", clean_session=False)
        ready = threading.Event()
        c.on_subscribe = lambda *a: ready.set()
        c.on_message = lambda c_, u, m: got.append(json.loads(m.payload))
        c.connect("127.0.0.1", port)
        c.loop_start()
        c.subscribe("ecgedge/bed/alerts", qos=1)
        assert ready.wait(5)
        return c

    # the nurse station subscribed once; then the broker went away
    proc = mosquitto.start(conf, port)
    c = listener(True)
    c.disconnect()
    c.loop_stop()
    mosquitto.stop(proc)

    t0 = time.monotonic()
    sink = SpooledSink(MqttSink("127.0.0.1", port, "bed", connect_timeout_s=2),
                       Spool(tmp_path / "spool"), retry_s=0.1, max_retry_s=0.5)
    assert time.monotonic() - t0 < 3  # started although nobody answered
    journal = tmp_path / "run.jsonl"
    p = Pipeline(FS, rec100.leads, engine=tachy_engine(), sinks=[JournalSink(journal), sink])
    push(p, rec100, 0, 200.0)
    assert len(sink.spool) >= 3  # the alerts wait for the broker
    proc = mosquitto.start(conf, port)
    try:
        assert wait_until(lambda: sink.health().ok and len(sink.spool) == 0, 30)
        push(p, rec100, 200.0, 300.0)
        p.finish()
        p.close()
        recs, _ = read_journal(journal)
        alerts = [r for r in recs if r["event"] == "alert"]
        down = [r for r in alerts if r["type"] == "sink_down"]
        assert [r["action"] for r in down] == ["onset", "end"]
        assert "cannot reach broker" in down[0]["evidence"]["reason"]
        c = listener(True)
        sent = [r["id"] + r["action"] for r in alerts
                if r["time_s"] <= down[1]["time_s"] and r is not down[1]]
        assert wait_until(lambda: len(got) >= len(sent), 10)
        assert [g["id"] + g["action"] for g in got][:len(sent)] == sent  # in order, all
        c.disconnect()
        c.loop_stop()
    finally:
        mosquitto.stop(proc)


def test_ecgedge_run_starts_with_its_broker_down(tmp_path, capsys):
    pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed")
    with socket.socket() as s:  # nobody listens here
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "a.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 70.0\nhr_clear = 65.0\n")
    journal = tmp_path / "run.jsonl"
    assert cli_main(["run", "--record", "100", "--duration", "30", *NO_MODELS, "--quiet",
                     "--config", str(cfg), "--mqtt", f"127.0.0.1:{port}",
                     "--journal", str(journal)]) == 0
    recs, _ = read_journal(journal)
    down = [r for r in recs if r["event"] == "alert" and r["type"] == "sink_down"]
    assert down[0]["action"] == "onset" and down[0]["evidence"]["outputs"] == ["mqtt"]
    assert "cannot reach broker" in down[0]["evidence"]["reason"]
    assert down[-1]["evidence"]["ended_by"] == "end_of_stream"
    spooled = Spool(tmp_path / "run.jsonl.spool" / "mqtt")  # kept for the next run
    ids = []
    while (item := spooled.peek()) is not None:
        ids.append(item[1]["id"] + item[1]["action"])
        spooled.ack(item[0])
    assert ids == [r["id"] + r["action"] for r in recs if r["event"] == "alert"]


class _Broken:
    """A sink that raises on everything from the first alert on (like a closed stdout)."""

    name = "broken"
    broken = False

    def handle(self, rec):
        self.broken = self.broken or rec["event"] == "alert"
        if self.broken:
            raise BrokenPipeError(32, "Broken pipe")

    def close(self):
        pass


def test_a_sink_that_raises_never_reaches_the_signal_path(tmp_path, rec100):
    def run(sinks):
        p = Pipeline(FS, rec100.leads, engine=tachy_engine(), sinks=sinks)
        out = push(p, rec100, 0, 300.0) + p.finish()
        return out

    ref = run([JournalSink(tmp_path / "ok.jsonl")])
    got = run([JournalSink(tmp_path / "b.jsonl"), _Broken()])
    assert clinical(got) == clinical(ref)
    recs, _ = read_journal(tmp_path / "b.jsonl")
    down = [r for r in recs if r["event"] == "alert" and r["type"] == "sink_down"]
    assert down[0]["evidence"]["outputs"] == ["broken"]
    assert "BrokenPipeError" in down[0]["evidence"]["reason"]


class _Refuse(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_refused_record_is_reported_not_retried_forever(tmp_path):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        sink = SpooledSink(WebhookSink(f"http://127.0.0.1:{srv.server_address[1]}/a"),
                           Spool(None), retry_s=0.05)
        sink.handle(_alert(1))
        sink.handle(_alert(2))
        assert wait_until(lambda: sink.rejected == 2, 5)
        reps = sink.take_reports()
        assert [(r["event"], r["id"]) for r in reps] == [("sink_rejected", "a0001"),
                                                          ("sink_rejected", "a0002")]
        assert "HTTP 400" in reps[0]["reason"] and sink.health().ok and len(sink.spool) == 0
        sink.close()
    finally:
        srv.shutdown()
        srv.server_close()
