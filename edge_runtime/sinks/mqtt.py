"""MQTT sink (paho-mqtt, the ``mqtt`` extra): alerts at QoS 1, retained device status, LWT.

Topics under ``<prefix>/<device_id>/``: ``alerts`` (every alert record, QoS 1, so the broker
acknowledges it), ``status`` (periodic status, QoS 1, *retained*, so a dashboard that
subscribes later sees the latest state at once), ``beats`` (beat batches, QoS 0, optional).
The last-will message ``{"online": false, "reason": "connection lost"}`` is registered on the
status topic (retained), so the broker itself tells subscribers when the bedside box dies
without saying goodbye. Run it behind :class:`edge_runtime.sinks.QueuedSink`: publishing
waits for the broker's acknowledgement and must never hold up the signal path.
"""

from __future__ import annotations

import json
import time
from typing import Any

from edge_runtime.errors import EcgEdgeError
from edge_runtime.sinks import SinkError

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
        ack_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
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
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        try:
            self._client.connect(host, port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise EcgEdgeError(f"cannot connect to MQTT broker {host}:{port}: {exc}") from None
        self._client.loop_start()
        deadline = time.monotonic() + connect_timeout_s
        while not self._client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._client.is_connected():
            self._client.loop_stop()
            raise EcgEdgeError(f"MQTT broker {host}:{port} did not accept the connection")
        self._publish("status", {"device_id": device_id, "online": True}, qos=1, retain=True)

    def _publish(self, leaf: str, record: dict[str, Any], qos: int, retain: bool = False):
        info = self._client.publish(f"{self.base}/{leaf}", json.dumps(record), qos=qos,
                                    retain=retain)
        if qos > 0:
            info.wait_for_publish(timeout=self.ack_timeout_s)
            if not info.is_published():
                raise SinkError(f"MQTT {leaf}: no acknowledgement within {self.ack_timeout_s}s")
        self.published += 1
        return info

    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        if ev in ("alert", "sink_overflow"):
            self._publish("alerts", record, qos=1)
        elif ev == "status":
            self._publish("status", {**record, "online": True}, qos=1, retain=True)
        elif ev in ("beat", "beats") and self.publish_beats:
            self._publish("beats", record, qos=0)
        elif ev == "window":
            self._publish("windows", record, qos=0)

    def close(self) -> None:
        try:
            self._publish("status", {"device_id": self.device_id, "online": False,
                                     "reason": "shutdown"}, qos=1, retain=True)
        except SinkError:
            pass
        self._client.disconnect()
        self._client.loop_stop()
