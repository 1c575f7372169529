"""Sinks: JSONL journal (fsync, kill -9 recovery), console, bounded queue, webhook."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edge_runtime.errors import EcgEdgeError
from edge_runtime.sinks import QueuedSink, SinkError
from edge_runtime.sinks.console import ConsoleSink
from edge_runtime.sinks.journal import JournalSink, read_journal
from edge_runtime.sinks.webhook import WebhookSink


def alert(i, action="onset"):
    return {"event": "alert", "action": action, "id": f"a{i}", "type": "pause",
            "severity": "warning", "start_s": float(i), "end_s": None, "time_s": float(i),
            "evidence": {"rr_s": 2.6}}


def beat(i):
    return {"event": "beat", "index": i, "sample": 300 * i, "time_s": i * 0.8, "label": "N",
            "prob": 0.9, "decided_s": i * 0.8 + 0.2}


def test_journal_batches_beats_and_keeps_order(tmp_path):
    j = JournalSink(tmp_path / "run.jsonl", beat_batch=4)
    for i in range(6):
        j.handle(beat(i))
    j.handle(alert(1))
    j.handle(beat(6))
    j.close()
    recs, bad = read_journal(tmp_path / "run.jsonl")
    assert bad == 0
    assert [r["event"] for r in recs] == ["beats", "beats", "alert", "beats"]
    assert recs[0]["index"] == [0, 1, 2, 3] and recs[1]["index"] == [4, 5]
    assert recs[3]["label"] == ["N"]


def test_journal_tolerates_partial_line_and_appends_after_it(tmp_path):
    p = tmp_path / "run.jsonl"
    j = JournalSink(p)
    j.handle(alert(1))
    j.close()
    with open(p, "ab") as fh:
        fh.write(b'{"event":"alert","id":"cut-by-ki')  # a write cut by kill -9
    recs, bad = read_journal(p)
    assert [r["id"] for r in recs] == ["a1"] and bad == 1
    j = JournalSink(p)
    j.handle(alert(2))
    j.close()
    recs, bad = read_journal(p)
    assert [r["id"] for r in recs] == ["a1", "a2"] and bad == 1


def test_journal_bad_paths_are_one_line_errors(tmp_path):
    with pytest.raises(EcgEdgeError, match="journal not found"):
        read_journal(tmp_path / "nope.jsonl")
    (tmp_path / "f").write_text("x")
    with pytest.raises(EcgEdgeError, match="cannot open journal"):
        JournalSink(tmp_path / "f" / "run.jsonl")


_WRITER = r"""
import sys
from edge_runtime.sinks.journal import JournalSink
j = JournalSink(sys.argv[1], beat_batch=1000)
i = 0
while True:
    j.handle({"event": "beat", "index": i, "sample": i, "time_s": i, "label": "N"})
    j.handle({"event": "alert", "action": "onset", "id": f"a{i}", "type": "pause"})
    print(i, flush=True)   # printed only after handle() returned: the alert is fsynced
    i += 1
"""


def test_kill_minus_9_loses_no_journaled_alert(tmp_path):
    p = tmp_path / "run.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(p)], stdout=subprocess.PIPE,
                            text=True, cwd=os.getcwd())
    acked = -1
    try:
        deadline = time.monotonic() + 20
        while acked < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert acked >= 200, "writer did not start"
    recs, _ = read_journal(p)
    ids = {r["id"] for r in recs if r["event"] == "alert"}
    assert all(f"a{i}" in ids for i in range(acked + 1))
    # beats written before each alert are there too (the alert flushes the beat batch)
    beats = [i for r in recs if r["event"] == "beats" for i in r["index"]]
    assert set(range(acked + 1)) <= set(beats)


def test_console_prints_alerts_and_status():
    buf = io.StringIO()
    c = ConsoleSink(buf, live=False)
    c.handle({"event": "status", "time_s": 65.0, "hr_bpm": 72.0, "beats": 80,
              "beats_per_class": {"N": 79, "V": 1}, "active_alerts": [], "gaps": 0})
    c.handle({**alert(3), "severity": "crisis", "type": "asystole"})
    c.close()
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("00:01:05 HR  72 bpm beats 80 [N:79 V:1]")
    assert lines[1].startswith("[CRIT] 00:00:03 onset asystole rr_s=2.6")


class _Slow:
    name = "slow"

    def __init__(self):
        self.got = []
        self.gate = threading.Event()

    def handle(self, rec):
        self.gate.wait(5)
        self.got.append(rec)

    def close(self):
        pass


def test_queued_sink_never_blocks_and_reports_overflow():
    inner = _Slow()
    q = QueuedSink(inner, maxsize=5)
    t0 = time.perf_counter()
    for i in range(50):
        q.handle(alert(i))
    assert time.perf_counter() - t0 < 0.5  # the slow sink did not hold us up
    rep = q.overflow_report()
    assert rep["event"] == "sink_overflow" and rep["dropped"] >= 44
    assert q.overflow_report() is None  # reported once
    inner.gate.set()
    q.close()
    assert len(inner.got) == 50 - q.dropped


class _Hook(BaseHTTPRequestHandler):
    fail_first = 0
    bodies: list = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if _Hook.fail_first > 0:
            _Hook.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Hook.bodies.append(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    _Hook.bodies = []
    _Hook.fail_first = 0
    yield f"http://127.0.0.1:{srv.server_address[1]}/alerts"
    srv.shutdown()
    srv.server_close()


def test_webhook_posts_alerts_with_retry(http_server):
    _Hook.fail_first = 2
    w = WebhookSink(http_server, backoff_s=0.01)
    w.handle(beat(1))  # not an alert: not posted
    w.handle(alert(7))
    assert w.attempts == 3 and w.sent == 1
    assert _Hook.bodies == [alert(7)]


def test_webhook_gives_up_and_queue_counts_error():
    w = WebhookSink("http://127.0.0.1:9/none", retries=1, backoff_s=0.01, timeout_s=0.5)
    with pytest.raises(SinkError, match="gave up after 2 tries"):
        w.handle(alert(1))
    q = QueuedSink(w)
    q.handle(alert(2))
    q.close()
    assert q.errors == 1
    with pytest.raises(EcgEdgeError, match="http"):
        WebhookSink("ftp://x")


def test_ecgedge_run_posts_alerts_to_webhook(http_server, tmp_path):
    from edge_runtime.cli import main as cli_main

    cfg = tmp_path / "a.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 70.0\nhr_clear = 65.0\n")
    _Hook.fail_first = 1  # the first POST fails: retried off the hot path
    assert cli_main(["run", "--record", "100", "--duration", "30", "--beat-model", "none",
                     "--window-model", "none", "--config", str(cfg), "--quiet",
                     "--webhook", http_server, "--journal", str(tmp_path / "j.jsonl")]) == 0
    onsets = [b for b in _Hook.bodies if b["type"] == "tachycardia" and b["action"] == "onset"]
    assert onsets and onsets[0]["event"] == "alert"
    journal, _ = read_journal(tmp_path / "j.jsonl")
    ids = [r["id"] for r in journal if r["event"] == "alert"]
    assert sorted(b["id"] for b in _Hook.bodies) == sorted(ids)  # every alert delivered
