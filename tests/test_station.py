"""The central station over a real mosquitto broker, with beds that are the runtime's own code.

Each bed is a :class:`~edge_runtime.pipeline.Pipeline` publishing through the runtime's
:class:`~edge_runtime.sinks.mqtt.MqttSink` (behind its SpooledSink), as ``ecgedge run --mqtt``
does, fed a synthetic ECG: two beds in tachycardia (an active warning alarm), one normal,
one that shuts down (retained ``online: false``), plus malformed payloads. The station page
is checked in a real headless chromium where it can be had (see tests/webdriver.py).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (mqtt extra)")

from edge_runtime.alerts import AlertEngine, load_config  # noqa: E402
from edge_runtime.pipeline import Pipeline  # noqa: E402
from edge_runtime.sinks.journal import JournalSink, read_journal  # noqa: E402
from edge_runtime.sinks.mqtt import MqttSink  # noqa: E402
from edge_runtime.sinks.spool import Spool  # noqa: E402
from edge_runtime.sinks.spooled import SpooledSink  # noqa: E402
from edge_runtime.station_cli import connect  # noqa: E402
from edge_runtime.web import WebServer  # noqa: E402
from edge_runtime.web.station import Station  # noqa: E402
from tests import mosquitto  # noqa: E402
from tests.webdriver import Browser, find_chromium  # noqa: E402

pytestmark = pytest.mark.skipif(mosquitto.MOSQUITTO is None, reason=mosquitto.MISSING)
REPO = Path(__file__).resolve().parent.parent
CHROME, DRIVER, WHY = find_chromium()


free_port = mosquitto.free_port


@pytest.fixture()
def broker(tmp_path):
    port = free_port()
    conf = mosquitto.write_conf(tmp_path / "mosquitto.conf", port,
                                "allow_anonymous true\npersistence false\n")
    proc = mosquitto.start(conf, port)
    yield port
    mosquitto.stop(proc)


def ecg(hr: float, seconds: float = 20.0, fs: float = 250.0) -> np.ndarray:
    t = np.arange(int(fs * seconds)) / fs
    x = np.zeros_like(t)
    for r in np.arange(0.5, seconds, 60.0 / hr):
        x += 1.5 * np.exp(-0.5 * ((t - r) / 0.012) ** 2)
    return x[:, None]


def bed(name: str, port: int, cfg) -> tuple[Pipeline, SpooledSink]:
    sink = SpooledSink(MqttSink("127.0.0.1", port, name, publish_wave=True), Spool(None), 1000)
    p = Pipeline(250.0, ["II"], engine=AlertEngine(cfg, name), sinks=[sink])
    p.on_samples = sink.inner.samples  # the wave topic, as `ecgedge run --mqtt-wave` wires it
    return p, sink


def wait(pred, timeout=15.0, what=""):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def test_station_with_four_beds_over_a_real_broker(broker, tmp_path):
    cfg_file = tmp_path / "a.toml"
    cfg_file.write_text("[rules.tachycardia]\nhr_above = 100.0\nhr_clear = 95.0\n"
                        "onset_s = 2.0\n")
    cfg = load_config(str(cfg_file))
    journal = JournalSink(str(tmp_path / "station.jsonl"))
    st = Station(journal=journal)
    client = connect(st, "127.0.0.1", broker, "ecgedge")
    srv = WebServer(st, "127.0.0.1:0")
    beds = {n: bed(n, broker, cfg) for n in ("bed-01", "bed-02", "bed-03", "bed-04")}
    br = None
    try:
        wait(lambda: st.status()["broker"] == "connected", what="station connected")
        for name, (p, _) in beds.items():
            p.push(ecg(130.0 if name in ("bed-01", "bed-02") else 70.0))
        p4, s4 = beds.pop("bed-04")
        p4.finish()
        s4.close()  # a clean shutdown: retained status online=false
        # malformed payloads: counted and shown, never a crash
        raw = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
        raw.connect("127.0.0.1", broker)
        raw.loop_start()
        raw.publish("ecgedge/bed-09/status", b"{not json", qos=1).wait_for_publish(5)
        raw.publish("ecgedge/bed-09/alerts", b"[1, 2]", qos=1).wait_for_publish(5)
        raw.publish("ecgedge/bed-09/alerts", json.dumps({"event": "alert", "id": 3}),
                    qos=1).wait_for_publish(5)
        raw.publish("ecgedge/bed-09/wave", json.dumps({"t0": 0, "fs": 125, "lead": "II",
                                                       "uv16": "%%"}), qos=1).wait_for_publish(5)
        wait(lambda: st.status()["bad_messages"] >= 4, what="malformed messages counted")
        # a strip announced by a bed, its picture readable by the station: served
        (tmp_path / "strip-1.png").write_bytes(b"\x89PNG fake")
        raw.publish("ecgedge/bed-03/alerts", json.dumps({
            "event": "strip", "alert_id": "bed-03-1", "path": str(tmp_path / "strip-1")}),
            qos=1).wait_for_publish(5)
        wait(lambda: (st.bed("bed-03") or {}).get("strip"), what="the strip record")
        assert st.bed("bed-03")["strip"] == {"alert_id": "bed-03-1", "png": True,
                                             "path": str(tmp_path / "strip-1")}
        with urllib.request.urlopen(srv.url + "api/strip.png?bed=bed-03", timeout=5) as r:
            assert r.read() == b"\x89PNG fake" and r.headers["Content-Type"] == "image/png"
        # the wave topic: the last batches per bed, 1 s of the lead at 125 Hz each
        wait(lambda: len(st.bed("bed-02")["wave"]) >= 10, what="bed-02 waveform")
        det = json.loads(urllib.request.urlopen(srv.url + "api/bed?bed=bed-02", timeout=5).read())
        w = det["wave"][-1]
        assert w["fs"] == 125.0 and w["lead"] == "II"
        assert len(base64.b64decode(w["uv16"])) == 2 * 125
        assert det["strip"] is None and det["hr_bpm"]
        assert det["alarms"][0]["type"] == "tachycardia"
        wait(lambda: len([a for a in st.status()["alarms"] if a["type"] == "tachycardia"])
             == 2, what="two tachycardia alarms")
        state = st.status()
        by = {b["bed"]: b for b in state["beds"]}
        assert {"bed-01", "bed-02", "bed-03", "bed-04"} <= set(by)
        assert by["bed-04"]["connection"] == "offline" and by["bed-04"]["reason"] == "shutdown"
        assert by["bed-09"]["connection"] == "unknown"  # only garbage so far
        for n in ("bed-01", "bed-02"):
            assert 120 <= by[n]["hr_bpm"] <= 140 and by[n]["worst"]["type"] == "tachycardia"
            assert by[n]["connection"] == "online"
        assert 60 <= by["bed-03"]["hr_bpm"] <= 80 and by["bed-03"]["worst"] is None
        sev = [a["severity"] for a in state["alarms"]]
        order = {"crisis": 0, "warning": 1, "advisory": 2, "technical": 3}
        assert sev == sorted(sev, key=order.get)
        target = next(a for a in state["alarms"] if a["bed"] == "bed-02"
                      and a["type"] == "tachycardia")
        if CHROME is not None and DRIVER is not None:
            br = Browser(CHROME, DRIVER)
            br.get(srv.url)
            br.wait("return document.querySelectorAll('#tiles .tile').length >= 5", 15,
                    "the tiles")
            tiles = br.js("return [...document.querySelectorAll('#tiles .tile')].map(t => "
                          "[t.dataset.bed, t.className, t.querySelector('.hr').textContent])")
            cls = {t[0]: t[1] for t in tiles}
            assert "sev-warning" in cls["bed-01"] and "online" in cls["bed-01"]
            assert "offline" in cls["bed-04"] and "unknown" in cls["bed-09"]
            assert all(t[2] != "--" for t in tiles if t[0] in ("bed-01", "bed-02", "bed-03"))
            assert "malformed messages: 4" in br.js("return document.getElementById('bad')"
                                                    ".textContent")
            br.js("localStorage.setItem('ecgedge-operator', 'nurse Bo')")
            btn = br.find(f'#alarms [data-id="{target["id"]}"] button.ack')
            br.click(btn[0])
            br.wait(f"const d = document.querySelector('#alarms [data-id=\"{target['id']}\"]');"
                    "return d && d.className.includes('acked')", 10, "the acknowledged row")
            br.screenshot(os.environ.get("ECGEDGE_STATION_SCREENSHOT")
                          or tmp_path / "station.png")
            # the bed detail view: click a tile -> its waveform drawn, HR, alarms, strip
            br.click(br.find('#tiles .tile[data-bed="bed-02"]')[0])
            br.wait("return window.station.detail.drawn > 0", 10, "the detail waveform")
            got = br.js("return [window.station.detail.drawn, "
                        "document.getElementById('d-hr').textContent, "
                        "document.getElementById('d-alarms').textContent, "
                        "document.getElementById('d-strip').textContent, "
                        "document.getElementById('d-lead').textContent]")
            assert got[0] >= 10 * 125 and 120 <= int(got[1]) <= 140, got
            assert "TACHYCARDIA" in got[2] and got[3] == "no strip" and got[4] == "II", got
            br.screenshot(os.environ.get("ECGEDGE_DETAIL_SCREENSHOT") or tmp_path / "detail.png")
            br.click(br.find('#tiles .tile[data-bed="bed-03"]')[0])
            br.wait("return document.querySelector('#d-strip img') !== null", 10,
                    "bed-03's strip picture")
        else:
            req = urllib.request.Request(srv.url + "api/ack", json.dumps(
                {"id": target["id"], "by": "nurse Bo"}).encode(), method="POST")
            urllib.request.urlopen(req, timeout=5).read()
        acked = next(a for a in st.status()["alarms"] if a["id"] == target["id"])
        assert acked["acknowledged"]["by"] == "nurse Bo"
        # a bed whose alarm ends: the station's list follows
        p1, _ = beds["bed-01"]
        p1.push(ecg(70.0, 30.0))
        wait(lambda: not [a for a in st.status()["alarms"] if a["bed"] == "bed-01"
                          and a["type"] == "tachycardia"], what="bed-01 alarm ended")
        if br is not None:  # a new alarm while the page is open: received -> row painted
            p3, _ = beds["bed-03"]
            p3.push(ecg(130.0, 20.0))
            lat = br.wait("const l = window.station.latency; return l.length && l", 20,
                          "a new alarm on the page")
            assert max(lat) < 2.0, lat
            print(f"station: alarm received -> row shown {max(lat) * 1000:.0f} ms")
        raw.loop_stop()
        raw.disconnect()
    finally:
        if br is not None:
            br.close()
        for p, s in beds.values():
            p.finish()
            s.close()
        client.disconnect()
        client.loop_stop()
        srv.close()
        st.close()
        journal.close()
    recs, bad = read_journal(tmp_path / "station.jsonl")
    ops = [r for r in recs if r["event"] == "operator"]
    assert bad == 0 and [(r["action"], r["alert_id"], r["by"]) for r in ops] == [
        ("acknowledge", target["id"], "nurse Bo")]
    got = [(r["bed"], r["type"], r["action"]) for r in recs if r["event"] == "station_alert"]
    assert got.count(("bed-01", "tachycardia", "onset")) == 1
    assert got.count(("bed-01", "tachycardia", "end")) == 1


def test_station_starts_with_the_broker_down_and_bad_flags_are_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    dead = free_port()
    res = subprocess.run([sys.executable, "-m", "edge_runtime", "station", "--mqtt",
                          f"127.0.0.1:{dead}", "--web", "127.0.0.1:0", "--duration", "2"],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "0 beds" in res.stdout and "Traceback" not in res.stderr
    st = Station()
    c = connect(st, "127.0.0.1", dead, "ecgedge")
    try:
        wait(lambda: st.status()["broker"].startswith("down"), 10, "broker shown down")
        assert st.status()["beds"] == []
    finally:
        c.loop_stop()
        st.close()
    for bad in ("host:notaport", "mqtts://x:8883"):
        res = subprocess.run([sys.executable, "-m", "edge_runtime", "station", "--mqtt", bad],
                             capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
        assert res.returncode != 0 and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
