"""The bedside web view: the sink and server without a browser, then the page in a real one.

The browser test drives a headless Debian ``chromium`` through ``chromedriver`` with the
W3C WebDriver protocol (:mod:`tests.webdriver`, standard library only); it skips with the
reason when they are not installed (``apt-get install -y chromium chromium-driver``; .ci/run
installs them). The simulator streams record 100 (shipped) with lead-off faults through a
pty into ``ecgedge run --web``; a tachycardia limit below the record's rate makes a warning
alarm. The page must show the HR the runtime journals, the alarm banner, an acknowledge
that is journaled with who, and the lead-off as a technical alarm.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.errors import EcgEdgeError
from edge_runtime.pipeline import Pipeline
from edge_runtime.sinks.journal import JournalSink, read_journal
from edge_runtime.web import WebServer, WebSink, parse_hostport
from tests.webdriver import Browser, find_chromium

REPO = Path(__file__).resolve().parent.parent


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _synthetic(fs: float = 250.0, seconds: float = 30.0, hr: float = 120.0) -> np.ndarray:
    t = np.arange(int(fs * seconds)) / fs
    x = np.zeros_like(t)
    for r in np.arange(0.5, seconds, 60.0 / hr):
        x += 1.5 * np.exp(-0.5 * ((t - r) / 0.012) ** 2)
    return np.stack([x, 0.5 * x], axis=1)


def test_hostport_and_port_in_use_are_one_line_errors():
    assert parse_hostport("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_hostport(":9000") == ("127.0.0.1", 9000)
    with pytest.raises(EcgEdgeError, match="HOST:PORT"):
        parse_hostport("localhost:http")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(EcgEdgeError, match="cannot listen"):
            WebServer(WebSink(), f"127.0.0.1:{port}")
    res = subprocess.run([sys.executable, "-m", "edge_runtime", "run", "--record", "100",
                          "--web", "127.0.0.1:99999", "--beat-model", "none",
                          "--window-model", "none"], capture_output=True, text=True,
                         cwd=REPO, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "--web" in res.stderr


def test_status_api_waveform_and_journaled_ack(tmp_path):
    web = WebSink()
    journal = tmp_path / "j.jsonl"
    srv = WebServer(web, "127.0.0.1:0")
    cfg = tmp_path / "a.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 100.0\nhr_clear = 95.0\nonset_s = 2.0\n")
    from edge_runtime.alerts import AlertEngine, load_config

    p = Pipeline(250.0, ["I", "II"], engine=AlertEngine(load_config(str(cfg)), "bed-7"),
                 sinks=[JournalSink(str(journal)), web])
    p.on_samples = web.samples
    try:
        client, snap = web.subscribe()
        assert b"event: snapshot" in snap
        x = _synthetic()
        for i in range(0, len(x), 125):  # 0.5 s blocks, as a live stream
            p.push(x[i:i + 125])
        st = _get(srv.url + "api/status")
        assert st["device"] == "bed-7" and st["leads"] == ["I", "II"]
        assert 110 <= st["hr_bpm"] <= 130
        assert st["beats_per_class"] and st["gaps"] == 0 and st["uptime_s"] >= 0
        alarm = next(a for a in st["active_alarms"] if a["type"] == "tachycardia")
        code, body = _post(srv.url + "api/ack", {"id": alarm["id"], "by": "nurse Ada"})
        assert code == 200 and body["ok"]
        assert _post(srv.url + "api/ack", {"id": "nope"})[0] == 404
        assert _post(srv.url + "api/pause", {"seconds": 60, "by": "nurse Ada"})[0] == 200
        st = _get(srv.url + "api/status")
        acked = next(a for a in st["active_alarms"] if a["id"] == alarm["id"])
        assert acked["acknowledged"]["by"] == "nurse Ada" and st["audio_paused_s"] > 50
        p.push(x[:250])  # the next records carry the operator actions to the journal
    finally:
        p.finish()
        p.close()
        srv.close()
    # the waveform is thinned to 125 Hz, every sample time sent exactly once, in order
    msgs = []
    while not client.q.empty():
        msgs.append(client.q.get_nowait())
    waves = [json.loads(m.split(b"data: ", 1)[1]) for m in msgs if m
             and m.startswith(b"event: samples")]
    lead0 = [np.frombuffer(base64.b64decode(w["uv16"][0]), "<i2") for w in waves]
    t = np.concatenate([w["t0"] + w["dt"] * np.arange(len(v)) for w, v in zip(
        waves, lead0, strict=True)])
    assert np.allclose(np.diff(t), 1 / 125) and t[0] == 0 and len(t) == 31 * 125
    sent = np.concatenate(lead0) / 1000.0  # µV -> mV: the samples themselves, thinned
    x31 = np.concatenate([x, x[:250]])
    assert np.abs(sent - x31[::2, 0]).max() <= 0.0005
    beats = [b for m in msgs if m and m.startswith(b"event: beats")
             for b in json.loads(m.split(b"data: ", 1)[1])["beats"]]
    assert 55 <= len(beats) <= 65  # 120 bpm for 30 s (+1 s)
    recs, bad = read_journal(journal)
    ops = [r for r in recs if r["event"] == "operator"]
    assert bad == 0 and [o["action"] for o in ops] == ["acknowledge", "audio_pause"]
    assert ops[0]["alert_id"] == alarm["id"] and ops[0]["by"] == "nurse Ada"
    assert ops[0]["wall_time"]


def test_slow_client_is_dropped_and_counted_without_blocking():
    web = WebSink(client_queue=4, flush_s=0.0)  # a message per block: the queue fills
    p = Pipeline(250.0, ["I", "II"], sinks=[web])
    p.on_samples = web.samples
    slow, _ = web.subscribe()  # never reads
    x = _synthetic(seconds=20)
    t0 = time.perf_counter()
    for i in range(0, len(x), 50):
        p.push(x[i:i + 50])
    assert time.perf_counter() - t0 < 10
    assert web.clients_dropped == 1 and slow.dropped and web.status()["clients"] == 0
    p.finish()


# --------------------------------------------------------------------------- browser
CHROME, DRIVER, WHY = find_chromium()


@pytest.mark.skipif(CHROME is None or DRIVER is None, reason=WHY or "no browser")
def test_bedside_page_in_a_real_browser(tmp_path):
    port = _free_port()
    cfg = tmp_path / "alerts.toml"  # record 100 runs at ~75 bpm: a warning alarm to show
    cfg.write_text("[rules.tachycardia]\nhr_above = 70.0\nhr_clear = 65.0\nonset_s = 2.0\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sim = subprocess.Popen(
        [sys.executable, "-m", "edge_runtime", "sim", "--record", "100", "--pty",
         "--duration", "200", "--speed", "4", "--faults", "leadoff=3:6"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    url = sim.stdout.readline().strip()
    journal = tmp_path / "run.jsonl"
    # the shipped beat model colours the beat marks (N, V, ...) where it is in the checkout
    beat = "auto" if (REPO / "models" / "beat.int8.onnx").is_file() else "none"
    run = subprocess.Popen(
        [sys.executable, "-m", "edge_runtime", "run", "--port", url, "--max-down-s", "1",
         "--journal", str(journal), "--config", str(cfg), "--web", f"127.0.0.1:{port}",
         "--beat-model", beat, "--window-model", "none", "--status-every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    br = None
    try:
        line = run.stdout.readline()
        assert "bedside view at" in line, run.stderr.read()
        br = Browser(CHROME, DRIVER)
        t0 = time.monotonic()
        br.get(f"http://127.0.0.1:{port}/")
        br.wait("return document.getElementById('hr').textContent !== '--'", 20, "an HR")
        ready_s = br.js("return window.ecg.snapshotAt") / 1000.0
        hrs = set()
        for _ in range(30):
            hrs.add(br.js("return document.getElementById('hr').textContent"))
            time.sleep(0.3)
        br.wait("return [...document.querySelectorAll('#banners .alarm')].some("
                "d => d.dataset.severity === 'warning' && d.querySelector('button.ack'))",
                40, "a warning banner with an acknowledge button")
        banner = br.find("#banners .alarm.warning")[0]
        alarm_id = br.js("return arguments[0].dataset.id", br.ref(banner))
        br.js("localStorage.setItem('ecgedge-operator', 'nurse Ada')")
        br.click(br.find("#banners .alarm.warning button.ack")[0])
        info = br.wait("const d = document.querySelector('#banners .alarm.acked');"
                       "return d && d.textContent", 10, "the acknowledged banner")
        assert "acknowledged by nurse Ada" in info
        br.wait("return window.ecg.seen.some(a => a.type === 'lead_off')", 60, "a lead-off")
        # alarm raised (runtime wall clock) -> banner painted (page): at least one new onset
        lat = br.wait("const l = window.ecg.latency; return l.length && l", 60,
                      "an alarm raised while the page is open")
        seen = br.js("return window.ecg.seen")
        shot = os.environ.get("ECGEDGE_WEB_SCREENSHOT")
        br.screenshot(shot or tmp_path / "bedside.png")
        page_s = time.monotonic() - t0
    finally:
        if br is not None:
            br.close()
        run.wait(timeout=240)
        sim.wait(timeout=30)
    recs, bad = read_journal(journal)
    assert bad == 0
    # the HR shown is the HR the runtime reported, and it changed while we watched
    journaled = {str(round(r["hr_bpm"])) for r in recs
                 if r["event"] == "status" and r["hr_bpm"] is not None}
    hrs.discard("--")
    assert len(hrs) >= 2 and hrs <= journaled, (hrs, journaled)
    lead_off = [a for a in seen if a["type"] == "lead_off"]
    assert lead_off and all(a["severity"] == "technical" and "technical" in a["cls"]
                            for a in lead_off)
    assert all(a["colour"] == "rgb(51, 102, 255)" for a in lead_off)  # monitor blue
    ops = [r for r in recs if r["event"] == "operator"]
    assert [(o["action"], o["alert_id"], o["by"]) for o in ops] == [
        ("acknowledge", alarm_id, "nurse Ada")]
    assert ready_s < 3.0 and page_s < 200
    assert lat and max(lat) < 2.0, (lat, seen)
    print(f"page ready {ready_s * 1000:.0f} ms; alarm->banner n={len(lat)} "
          f"p50 {np.percentile(lat, 50) * 1000:.0f} ms max {max(lat) * 1000:.0f} ms")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
