"""MQTT sink (paho-mqtt, the ``mqtt`` extra): alerts at QoS 1, retained device status, LWT.

Topics under ``<prefix>/<device_id>/``: ``alerts`` (every alert record, QoS 1, so the broker
acknowledges it), ``status`` (periodic status, QoS 1, *retained*, so a dashboard that
subscribes later sees the latest state at once), ``beats`` (beat batches, QoS 0, optional),
``wave`` (optional, ``publish_wave``: the detection lead thinned to ~125 Hz, one message a
``wave_batch_s`` of signal, ``{t0, fs, lead, uv16}`` as in the web view, QoS 0, not retained).
The wave goes out from :meth:`samples` (``Pipeline.on_samples``, the signal path's thread):
a QoS 0 publish only queues the message for paho's network thread, and while the broker is
down batches are dropped and counted (``wave_dropped``), never queued. ``strip`` records (the
event strip written for an alert, with its path) go on ``alerts`` too, so a station can
point at the strip of the alarm it shows.
The last-will message ``{"online": false, "reason": "connection lost"}`` is registered on the
status topic (retained), so the broker itself tells subscribers when the bedside box dies
without saying goodbye. Run it behind :class:`edge_runtime.sinks.spooled.SpooledSink`:
publishing waits for the broker's acknowledgement and must never hold up the signal path.

A broker that is down (or not yet up) at start-up does not stop the runtime: the client
connects in the background and keeps retrying (1 s doubling to ``reconnect_max_s``);
``health()`` says it is down, with why, until the broker accepts it, and the spool holds the
alerts meanwhile. A
broker that *answers* but refuses us (bad credentials, TLS on the wrong port) at start-up is
a configuration error: one line, no run.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np

from edge_runtime.errors import EcgEdgeError
from edge_runtime.sinks import OK, SinkError, SinkHealth
from edge_runtime.web.wave import Thinner, uv16

__all__ = ["MqttSink"]


class MqttSink:
    name = "mqtt"

    def __init__(
        self,
        host: str,
        port: int = 1883,
        device_id: str = "ecgedge-0",
        prefix: str = "ecgedge",
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_certs: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        publish_beats: bool = False,
        publish_wave: bool = False,
        wave_hz: float = 125.0,
        wave_batch_s: float = 1.0,
        ack_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        reconnect_max_s: float = 10.0,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ModuleNotFoundError:
            raise EcgEdgeError("MQTT needs paho-mqtt: pip install 'ecgedge[mqtt]'") from None
        self.base = f"{prefix}/{device_id}"
        self.device_id = device_id
        self.publish_beats = publish_beats
        self.ack_timeout_s = ack_timeout_s
        self.published = 0
        self.publish_wave = publish_wave
        self.wave_hz = wave_hz
        self.wave_batch_s = wave_batch_s
        self.wave_dropped = 0
        self.wave_published = 0
        self._wave_pipe: Any = None  # the pipeline the pending batch belongs to
        self._client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"ecgedge-{device_id}",
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls or ca_certs:
            self._client.tls_set(ca_certs=ca_certs, certfile=certfile, keyfile=keyfile)
        self._client.will_set(
            f"{self.base}/status",
            json.dumps({"device_id": device_id, "online": False, "reason": "connection lost"}),
            qos=1,
            retain=True,
        )
        self._client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(reconnect_max_s)))
        self.where = f"{host}:{port}"
        self._why = "connecting"  # why we are not connected (for health)
        self._answered = threading.Event()  # the broker spoke: accepted or refused us
        self._refused: str | None = None
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        try:
            self._client.connect_async(host, port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise EcgEdgeError(f"cannot connect to MQTT broker {self.where}: {exc}") from None
        self._client.loop_start()
        self._answered.wait(connect_timeout_s)
        if self._refused is not None:
            self._client.loop_stop()
            raise EcgEdgeError(f"MQTT broker {self.where} did not accept the connection: "
                               f"{self._refused}")

    # paho's network thread
    def _on_connect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if reason_code.is_failure:
            self._why = f"broker refused: {reason_code}"
            self._refused = str(reason_code)
        else:
            self._why = ""
            self._refused = None
            try:  # every (re)connection says "online" on the retained status topic
                client.publish(f"{self.base}/status", json.dumps(
                    {"device_id": self.device_id, "online": True}), qos=1, retain=True)
                self.published += 1
            except Exception:  # noqa: BLE001 - the next status record says it again
                pass
        self._answered.set()

    def _on_connect_fail(self, client, userdata) -> None:
        self._why = f"cannot reach broker {self.where}"
        self._answered.set()  # nobody there: start down, keep trying in the background

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None) -> None:
        if not self._answered.is_set():  # the socket opened, but no MQTT answer came
            self._refused = f"connection closed during the handshake ({reason_code})"
        if not self._why:
            self._why = f"connection lost ({reason_code})"
        self._answered.set()

    def health(self) -> SinkHealth:
        if self._client.is_connected():
            return OK
        return SinkHealth(False, f"MQTT {self.where}: {self._why or 'not connected'}")

    def _publish(self, leaf: str, record: dict[str, Any], qos: int, retain: bool = False):
        if not self._client.is_connected():
            raise SinkError(self.health().reason)
        info = self._client.publish(f"{self.base}/{leaf}", json.dumps(record), qos=qos,
                                    retain=retain)
        if qos > 0:
            try:
                info.wait_for_publish(timeout=self.ack_timeout_s)
            except (RuntimeError, ValueError) as exc:
                raise SinkError(f"MQTT {leaf}: {exc}") from None
            if not info.is_published():
                raise SinkError(f"MQTT {leaf}: no acknowledgement within {self.ack_timeout_s}s")
        self.published += 1
        return info

    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        if ev in ("alert", "strip", "sink_overflow", "sink_rejected"):
            self._publish("alerts", record, qos=1)
        elif ev == "status":
            self._publish("status", {**record, "online": True}, qos=1, retain=True)
        elif ev in ("beat", "beats") and self.publish_beats:
            self._publish("beats", record, qos=0)
        elif ev == "window":
            self._publish("windows", record, qos=0)

    def samples(self, pipeline: Any, x: np.ndarray) -> None:
        """A block of samples starting at ``pipeline.n`` (signal thread): thinned, batched,
        published at QoS 0 once a batch holds ``wave_batch_s`` of signal."""
        if not self.publish_wave:
            return
        if pipeline is not self._wave_pipe:  # a new session: a fresh stream
            self._wave_pipe = pipeline
            self._thin = Thinner(pipeline.fs, self.wave_hz)
            self._wave_fs = pipeline.fs / self._thin.step
            self._wave_lead = pipeline.det_lead
            self._wave_name = str(pipeline.leads[pipeline.det_lead])
            self._pend: list[np.ndarray] = []
            self._pend_n = 0
            self._pend_t0 = 0.0
        kept, first = self._thin(x[:, self._wave_lead])
        if not kept.shape[0]:
            return
        if not self._pend_n:
            self._pend_t0 = (pipeline.n + first) / pipeline.fs
        self._pend.append(kept.copy())  # the caller may reuse its buffer
        self._pend_n += kept.shape[0]
        size = max(1, int(round(self.wave_batch_s * self._wave_fs)))
        if self._pend_n < size:
            return
        buf = np.concatenate(self._pend)  # a block can hold many batches (offline: 10 s)
        n_full = buf.shape[0] // size * size
        rest = buf[n_full:]
        self._pend, self._pend_n = [rest] if rest.shape[0] else [], rest.shape[0]
        for i in range(0, n_full, size):
            self._send_wave(self._pend_t0 + i / self._wave_fs, buf[i:i + size])
        self._pend_t0 += n_full / self._wave_fs

    def _send_wave(self, t0: float, x: np.ndarray) -> None:
        if not self._client.is_connected():
            self.wave_dropped += 1  # a live view: what is late is not worth queueing
            return
        msg = {"t0": round(t0, 4), "fs": self._wave_fs, "lead": self._wave_name, "uv16": uv16(x)}
        self._client.publish(f"{self.base}/wave", json.dumps(msg), qos=0, retain=False)
        self.wave_published += 1

    def close(self) -> None:
        try:
            self._publish("status", {"device_id": self.device_id, "online": False,
                                     "reason": "shutdown"}, qos=1, retain=True)
        except SinkError:
            pass
        self._client.disconnect()
        self._client.loop_stop()
