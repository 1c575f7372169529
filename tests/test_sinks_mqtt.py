"""MQTT sink against a real mosquitto broker started on a loopback port by the test.

Needs the Debian package ``mosquitto`` (``apt-get install -y mosquitto``; .ci/run installs
it) and paho-mqtt (the ``mqtt`` extra); skips with the reason otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge_runtime.errors import EcgEdgeError
from tests import mosquitto

mqtt = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt not installed (mqtt extra)")

PASSWD = mosquitto.PASSWD
pytestmark = pytest.mark.skipif(mosquitto.MOSQUITTO is None or PASSWD is None,
                                reason=mosquitto.MISSING)

REPO = Path(__file__).resolve().parent.parent


free_port = mosquitto.free_port


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    d = tmp_path_factory.mktemp("mosq")
    pw = d / "passwd"
    subprocess.run([PASSWD, "-b", "-c", str(pw), "bed", "secret"], check=True,
                   capture_output=True)
    os.chmod(pw, 0o600)
    port = free_port()
    conf = mosquitto.write_conf(d / "mosquitto.conf", port, "allow_anonymous false\n"
                                f"password_file {pw}\npersistence false\n")
    proc = mosquitto.start(conf, port)
    yield port
    mosquitto.stop(proc)


class Listener:
    """A subscriber collecting (topic, payload, retain) messages."""

    def __init__(self, port: int, topic: str = "ecgedge/#") -> None:
        self.msgs: list[tuple[str, dict, bool]] = []
        self.ready = threading.Event()
        self.c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                             client_id=f"listener-{time.monotonic_ns()}")
        self.c.username_pw_set("bed", "secret")
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = lambda c, u, m: self.msgs.append(
            (m.topic, json.loads(m.payload), bool(m.retain)))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.ready.wait(5)

    def wait_for(self, pred, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [m for m in self.msgs if pred(m)]
            if hits:
                return hits
            time.sleep(0.02)
        return []

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_alerts_qos1_retained_status_and_auth(broker):
    from edge_runtime.sinks import QueuedSink
    from edge_runtime.sinks.mqtt import MqttSink

    with pytest.raises(EcgEdgeError, match="MQTT broker"):
        MqttSink("127.0.0.1", broker, "bed-1", username="bed", password="wrong",
                 connect_timeout_s=2)
    lis = Listener(broker)
    sink = QueuedSink(MqttSink("127.0.0.1", broker, "bed-1", username="bed",
                               password="secret"))
    alert = {"event": "alert", "action": "onset", "id": "bed-1-00001-asystole",
             "type": "asystole", "severity": "crisis"}
    sink.handle(alert)
    sink.handle({"event": "status", "time_s": 2.0, "hr_bpm": 72.0})
    got = lis.wait_for(lambda m: m[0] == "ecgedge/bed-1/alerts")
    assert got and got[0][1] == alert
    assert lis.wait_for(lambda m: m[0] == "ecgedge/bed-1/status" and m[1].get("hr_bpm") == 72)
    sink.close()
    assert sink.errors == 0 and sink.delivered == 2
    lis.close()
    # a dashboard subscribing later still gets the last status at once (retained)
    late = Listener(broker, "ecgedge/bed-1/status")
    got = late.wait_for(lambda m: m[2])
    assert got and got[-1][1]["online"] is False and got[-1][1]["reason"] == "shutdown"
    late.close()


_DIE = r"""
import sys, time
from edge_runtime.sinks.mqtt import MqttSink
s = MqttSink("127.0.0.1", int(sys.argv[1]), "bed-9", username="bed", password="secret")
print("up", flush=True)
time.sleep(60)
"""


def test_last_will_on_kill(broker):
    lis = Listener(broker, "ecgedge/bed-9/status")
    proc = subprocess.Popen([sys.executable, "-c", _DIE, str(broker)], stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "up"
    assert lis.wait_for(lambda m: m[1].get("online") is True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    got = lis.wait_for(lambda m: m[1].get("online") is False, timeout=10)
    assert got and got[0][1]["reason"] == "connection lost"
    lis.close()


def test_ecgedge_run_publishes_alerts(broker, tmp_path):
    from edge_runtime.cli import main as cli_main

    cfg = tmp_path / "a.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 70.0\nhr_clear = 65.0\n")
    lis = Listener(broker)
    assert cli_main(["run", "--record", "100", "--duration", "30", "--beat-model", "none",
                     "--window-model", "none", "--config", str(cfg), "--quiet",
                     "--mqtt", f"127.0.0.1:{broker}", "--mqtt-user", "bed",
                     "--mqtt-password", "secret", "--device-id", "bed-3"]) == 0
    got = lis.wait_for(lambda m: m[0] == "ecgedge/bed-3/alerts"
                       and m[1].get("type") == "tachycardia")
    assert got and got[0][1]["device_id"] == "bed-3"
    lis.close()


def test_tls_connection(tmp_path):
    """MqttSink over TLS to a mosquitto listener with a test CA (openssl makes the certs)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed: cannot make test certificates")
    from edge_runtime.sinks.mqtt import MqttSink

    def ssl(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=tmp_path)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=ecgedge-test-ca")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", "/CN=127.0.0.1")
    (tmp_path / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.crt", "-days", "2", "-extfile", "ext.cnf")
    port = free_port()
    conf = mosquitto.write_conf(
        tmp_path / "tls.conf", port,
        f"allow_anonymous true\ncafile {tmp_path / 'ca.crt'}\n"
        f"certfile {tmp_path / 'srv.crt'}\nkeyfile {tmp_path / 'srv.key'}\n"
        "persistence false\n")
    proc = mosquitto.start(conf, port)
    try:
        sink = MqttSink("127.0.0.1", port, "bed-tls", tls=True,
                        ca_certs=str(tmp_path / "ca.crt"))
        sink.handle({"event": "alert", "action": "onset", "id": "x", "type": "pause"})
        assert sink.published >= 2  # online status + the alert, both acknowledged (QoS 1)
        sink.close()
        with pytest.raises(EcgEdgeError):  # plain TCP to a TLS listener is refused
            MqttSink("127.0.0.1", port, "bed-plain", connect_timeout_s=1.5)
    finally:
        mosquitto.stop(proc)


def test_ecgedge_run_publishes_the_wave_topic(broker, tmp_path):
    """--mqtt-wave (with --web: one samples hook feeds both): 1 s batches of the detection
    lead thinned to ~125 Hz, QoS 0, not retained; decoded, they are the record's samples
    (every step-th, µV) at their t0."""
    import base64

    import numpy as np

    from edge_runtime.cli import main as cli_main
    from edge_runtime.records import find_record, read_record

    cfg = tmp_path / "a.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 70.0\nhr_clear = 65.0\n")
    lis = Listener(broker)
    assert cli_main(["run", "--record", "100", "--duration", "20", "--beat-model", "none",
                     "--window-model", "none", "--config", str(cfg), "--quiet",
                     "--strips", str(tmp_path / "strips"),
                     "--mqtt", f"127.0.0.1:{broker}", "--mqtt-user", "bed",
                     "--mqtt-password", "secret", "--mqtt-wave", "--device-id", "bed-w",
                     "--web", "127.0.0.1:0"]) == 0  # both on_samples users at once
    waves = lis.wait_for(lambda m: m[0] == "ecgedge/bed-w/wave")
    time.sleep(0.5)  # the rest of the burst (an offline run publishes faster than real time)
    waves = [m for m in lis.msgs if m[0] == "ecgedge/bed-w/wave"]
    assert len(waves) >= 15 and not any(m[2] for m in waves)  # ~1 a signal second
    rec = read_record(find_record("100", None))
    step = round(rec.fs / 125.0)
    for _, w, _ in waves[:3] + waves[-2:]:
        assert w["fs"] == pytest.approx(rec.fs / step) and w["lead"] in rec.leads
        got = np.frombuffer(base64.b64decode(w["uv16"]), "<i2")
        assert w["fs"] * 0.99 <= got.size <= w["fs"] * 1.2
        i0 = round(w["t0"] * rec.fs)
        want = np.rint(rec.signal[i0::step, rec.leads.index(w["lead"])][:got.size] * 1000)
        assert np.array_equal(got, want.astype(np.int16))
    t0 = [m[1]["t0"] for m in waves]
    assert t0 == sorted(t0) and t0[0] == 0.0
    # the event strip of each alert is announced on the alerts topic, with its path
    strips = lis.wait_for(lambda m: m[0] == "ecgedge/bed-w/alerts"
                          and m[1].get("event") == "strip")
    assert strips and Path(strips[0][1]["path"]).with_suffix(".hea").is_file()
    lis.close()
