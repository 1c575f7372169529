"""The central station: every bedside runtime's MQTT alerts and status, one page for a ward.

Subscribes to ``<prefix>/+/status`` (retained, with the runtime's last will, so a bed that
died says so) and ``<prefix>/+/alerts`` (QoS 1) — the topics of
:class:`edge_runtime.sinks.mqtt.MqttSink` — and keeps per bed: name, HR, lead-off, gaps,
its active alarms, and the connection state (``online``/``offline`` from the retained status
and the last will; ``unknown`` until a bed has said anything; ``stale`` when a bed that says
it is online sent nothing for ``stale_s``). One alarm list across beds, sorted by severity
then time, with acknowledge. With a ``journal``, every alert message received is journaled
(``station_alert``: bed, id, action, wall time received) and every acknowledge
(``operator``: who, when).

Never a crash on what comes over the wire: a malformed payload (not JSON, not an object,
wrong types) is counted in ``bad_messages``, the last reason kept and shown on the page. A
broker that is down at start does not stop the station: paho keeps retrying in the
background and the page shows the broker as down and every bed as unknown.

The page gets the whole state (small: ~300 bytes a bed) at most every ``push_s`` and at once
when an alarm starts or ends, through the same bounded per-client queues as the bedside view.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from edge_runtime.web.clients import Client, ClientSet, sse_message
from edge_runtime.web.sink import _SEVERITY

__all__ = ["Station"]


class Station:
    """Ward state from MQTT messages; the app the web server serves (``station.html``)."""

    page = "station.html"

    def __init__(self, prefix: str = "ecgedge", stale_s: float = 10.0, push_s: float = 0.25,
                 journal: Any = None, client_queue: int = 64) -> None:
        self.prefix = prefix
        self.stale_s = stale_s
        self.push_s = push_s
        self.journal = journal
        self.client_queue = client_queue
        self.beds: dict[str, dict] = {}
        self.alarms: dict[str, dict] = {}  # alarm id -> alarm (+ bed, received wall time)
        self.acked: dict[str, dict] = {}
        self.broker = "connecting"
        self.bad_messages = 0
        self.last_bad = ""
        self.messages = 0
        self.started = time.time()
        self.clients = ClientSet(self.client_queue)
        self._lock = threading.Lock()
        self._dirty = threading.Event()
        self._urgent = threading.Event()  # an alarm changed: push now, not after push_s
        self._stop = threading.Event()
        self._pusher = threading.Thread(target=self._push_loop, name="station-push",
                                        daemon=True)
        self._pusher.start()

    # ------------------------------------------------------------------ MQTT in
    def on_message(self, topic: str, payload: bytes) -> None:
        """One MQTT message (paho's thread); anything malformed is counted, never raised."""
        parts = topic.split("/")
        try:
            if len(parts) != 3 or parts[0] != self.prefix or parts[2] not in ("status",
                                                                              "alerts"):
                raise ValueError(f"unexpected topic {topic}")
            rec = json.loads(payload)
            if not isinstance(rec, dict):
                raise ValueError("payload is not a JSON object")
            with self._lock:
                self.messages += 1
                if parts[2] == "status":
                    self._status(parts[1], rec)
                else:
                    self._alert(parts[1], rec)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            why = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)[:120]
            with self._lock:
                self.bad_messages += 1
                self.last_bad = f"{topic}: {why}"
                self._dirty.set()

    def _bed(self, bed: str) -> dict:
        b = self.beds.get(bed)
        if b is None:
            b = self.beds[bed] = {"bed": bed, "online": None, "hr_bpm": None, "lead_off": [],
                                  "gaps": 0, "active": [], "last_seen": None, "reason": ""}
        return b

    def _status(self, bed: str, rec: dict) -> None:
        b = self._bed(bed)
        b["last_seen"] = time.time()
        online = rec.get("online")
        if not isinstance(online, bool):
            raise ValueError("status without a boolean 'online'")
        b["online"] = online
        b["reason"] = "" if online else str(rec.get("reason", ""))
        if "hr_bpm" in rec:
            hr = rec["hr_bpm"]
            if hr is not None and not isinstance(hr, int | float):
                raise ValueError("hr_bpm is not a number")
            b["hr_bpm"] = hr
            b["lead_off"] = [str(x) for x in rec.get("lead_off") or []]
            b["gaps"] = int(rec.get("gaps") or 0)
            b["active"] = [str(x) for x in rec.get("active_alerts") or []]
        self._dirty.set()

    def _alert(self, bed: str, rec: dict) -> None:
        b = self._bed(bed)
        b["last_seen"] = time.time()
        if rec.get("event") != "alert":
            return  # sink_overflow / sink_rejected reports: the bed's own business
        aid, action, sev = rec["id"], rec["action"], rec["severity"]
        if not isinstance(aid, str) or sev not in _SEVERITY:
            raise ValueError("alert without a string id or a known severity")
        if action == "end":
            self.alarms.pop(aid, None)
            self.acked.pop(aid, None)
        elif action in ("onset", "escalate"):
            old = self.alarms.get(aid)
            self.alarms[aid] = {"id": aid, "bed": bed, "type": str(rec["type"]),
                                "severity": sev, "start_s": rec.get("start_s"),
                                "received": old["received"] if old else time.time()}
        else:
            raise ValueError(f"unknown alert action {action!r}")
        if self.journal is not None:  # the station's own record of what it received, when
            self.journal.handle({"event": "station_alert", "bed": bed, "id": aid,
                                 "action": action, "type": rec.get("type"), "severity": sev,
                                 "received": round(time.time(), 4)})
        self._urgent.set()
        self._dirty.set()

    def set_broker(self, state: str) -> None:
        with self._lock:
            self.broker = state
            self._dirty.set()

    # ------------------------------------------------------------------ operator
    def ack(self, alarm_id: str, by: str) -> bool:
        with self._lock:
            a = self.alarms.get(alarm_id)
            if a is None:
                return False
            rec = {"by": by, "wall_time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            self.acked[alarm_id] = rec
            if self.journal is not None:
                self.journal.handle({"event": "operator", "action": "acknowledge",
                                     "alert_id": alarm_id, "bed": a["bed"],
                                     "type": a["type"], **rec})
            self._urgent.set()
            self._dirty.set()
            return True

    def pause_audio(self, seconds: float, by: str) -> None:  # the station has no sound yet
        return None

    # ------------------------------------------------------------------ views
    def _state(self) -> dict:
        now = time.time()
        alarms = sorted(self.alarms.values(), key=lambda a: (-_SEVERITY[a["severity"]],
                                                             -a["received"]))
        worst: dict[str, dict] = {}
        for a in alarms:
            worst.setdefault(a["bed"], a)
        beds = []
        for name in sorted(self.beds):
            b = self.beds[name]
            conn = {None: "unknown", True: "online", False: "offline"}[b["online"]]
            if b["online"] and b["last_seen"] and now - b["last_seen"] > self.stale_s:
                conn = "stale"
            w = worst.get(name)
            beds.append({**b, "connection": conn,
                         "worst": None if w is None else {"type": w["type"],
                                                          "severity": w["severity"]}})
        return {"broker": self.broker, "beds": beds,
                "alarms": [{**a, "acknowledged": self.acked.get(a["id"])} for a in alarms],
                "bad_messages": self.bad_messages, "last_bad": self.last_bad,
                "messages": self.messages, "uptime_s": round(now - self.started, 1),
                "clients": len(self.clients), "clients_dropped": self.clients.dropped}

    def status(self) -> dict:
        with self._lock:
            return self._state()

    def subscribe(self) -> tuple[Client, bytes]:
        with self._lock:
            snap = sse_message("state", self._state())
            c = self.clients.add()
        return c, snap

    def unsubscribe(self, c: Client) -> None:
        with self._lock:
            self.clients.remove(c)

    def _push_loop(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(1.0):
                continue
            self._urgent.wait(self.push_s)  # gather what else comes meanwhile
            with self._lock:
                self._dirty.clear()
                self._urgent.clear()
                if len(self.clients):
                    self.clients.broadcast(sse_message("state", self._state()))

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()
        self._urgent.set()
        with self._lock:
            self.clients.close()

