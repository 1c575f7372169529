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

The bed detail view (``GET /api/bed?bed=NAME``, polled by the page while it is open) adds the
bed's live waveform from the optional ``<prefix>/+/wave`` topic (the last ``wave_keep``
batches, as the runtime sent them), its active alarms and the last event strip announced on
its alerts topic (``strip`` record: the path on the bedside box; when the station can read
``<path>.png`` too, e.g. a shared disk, ``GET /api/strip.png?bed=NAME`` serves it). Waveforms
are kept per bed but never pushed to every page: only the detail view asks for one bed.

The page gets the whole state (small: ~300 bytes a bed) at most every ``push_s`` and at once
when an alarm starts or ends, through the same bounded per-client queues as the bedside view.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from edge_runtime.web.clients import Client, ClientSet, sse_message
from edge_runtime.web.sink import _SEVERITY

__all__ = ["Station"]


class Station:
    """Ward state from MQTT messages; the app the web server serves (``station.html``)."""

    page = "station.html"

    def __init__(self, prefix: str = "ecgedge", stale_s: float = 10.0, push_s: float = 0.25,
                 journal: Any = None, client_queue: int = 64, wave_keep: int = 12) -> None:
        self.prefix = prefix
        self.stale_s = stale_s
        self.push_s = push_s
        self.journal = journal
        self.client_queue = client_queue
        self.beds: dict[str, dict] = {}
        self.alarms: dict[str, dict] = {}  # alarm id -> alarm (+ bed, received wall time)
        self.acked: dict[str, dict] = {}
        self.wave_keep = wave_keep
        self.waves: dict[str, deque[dict]] = {}  # bed -> its last wave batches
        self.strips: dict[str, dict] = {}  # bed -> its last strip record
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
                                                                              "alerts", "wave"):
                raise ValueError(f"unexpected topic {topic}")
            rec = json.loads(payload)
            if not isinstance(rec, dict):
                raise ValueError("payload is not a JSON object")
            with self._lock:
                self.messages += 1
                if parts[2] == "status":
                    self._status(parts[1], rec)
                elif parts[2] == "wave":
                    self._wave(parts[1], rec)
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
        if rec.get("event") == "strip":
            self.strips[bed] = {"alert_id": str(rec.get("alert_id")), "path": rec.get("path")
                                if isinstance(rec.get("path"), str) else None}
            return
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

    def _wave(self, bed: str, rec: dict) -> None:
        t0, fs, lead, data = rec["t0"], rec["fs"], rec["lead"], rec["uv16"]
        if not (isinstance(t0, int | float) and isinstance(fs, int | float) and fs > 0
                and isinstance(data, str)):
            raise ValueError("wave without numeric t0/fs or a uv16 string")
        try:
            if len(base64.b64decode(data, validate=True)) % 2:
                raise ValueError("uv16 is not int16")
        except binascii.Error:
            raise ValueError("uv16 is not base64") from None
        b = self._bed(bed)
        b["last_seen"] = time.time()
        w = self.waves.get(bed)
        if w is None or (w and t0 < w[-1]["t0"]):  # new bed, or the bed restarted its run
            w = self.waves[bed] = deque(maxlen=self.wave_keep)
        w.append({"t0": t0, "fs": fs, "lead": str(lead), "uv16": data})

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

    def _strip_png(self, bed: str) -> Path | None:
        p = (self.strips.get(bed) or {}).get("path")
        png = Path(p).with_suffix(".png") if p else None
        return png if png is not None and png.is_file() else None

    def bed(self, name: str) -> dict | None:
        """``GET /api/bed?bed=NAME``: the detail view of one bed (None: no such bed)."""
        with self._lock:
            if name not in self.beds:
                return None
            tile = next(b for b in self._state()["beds"] if b["bed"] == name)
            strip = self.strips.get(name)
            return {**tile, "alarms": [{**a, "acknowledged": self.acked.get(a["id"])}
                                       for a in self.alarms.values() if a["bed"] == name],
                    "strip": None if strip is None else {
                        **strip, "png": self._strip_png(name) is not None},
                    "wave": list(self.waves.get(name, ()))}

    def strip_png(self, name: str) -> bytes | None:
        """``GET /api/strip.png?bed=NAME``: the bed's last strip drawn, if readable here."""
        with self._lock:
            png = self._strip_png(name)
        try:
            return png.read_bytes() if png is not None else None
        except OSError:
            return None

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

