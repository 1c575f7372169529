"""The web view's sink: the runtime's records and a thinned waveform, fanned out to browsers.

The pipeline hands every record to :meth:`WebSink.handle` and every block of samples to
:meth:`WebSink.samples` (``Pipeline.on_samples``), on the signal path's thread. Both only
update a small state and put one pre-encoded message into each client's *bounded* queue
(``put_nowait``): the signal path never waits on a browser. A client whose queue is full is
dropped (its stream ends; the page reconnects and gets a fresh snapshot) and counted in
``clients_dropped``.

The waveform is thinned to about ``wave_hz`` (125 Hz: a 25 mm/s trace at 96 dpi is ~95 px/s,
so more points are not visible) by keeping every k-th sample, sent as µV in base64 int16
(``uv16``, one string per lead). It goes out at most every
``flush_s`` (50 ms) of wall time, with the beats since the last batch and the latest status
(alarms go at once, after what is pending): a client costs per wall second, not per signal
second, so an offline run at 500x real time is not slowed by a page. The last ``keep_s``
seconds are kept for the snapshot a new page starts from.

Operator actions (acknowledge an alarm, pause audio) come from the server's threads; they
are queued here and handed to the journal (and console) as ``operator`` records through
``take_reports`` (see :class:`edge_runtime.outputs.Outputs`), so who did what, when, is in
the journal next to the alarm.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import numpy as np

from edge_runtime.web.clients import Client, ClientSet, sse_message
from edge_runtime.web.wave import uv16

__all__ = ["WebSink", "Client"]  # Client re-exported from .clients

_SEVERITY = {"crisis": 3, "warning": 2, "advisory": 1, "technical": 0}


class WebSink:
    """State of the bedside for ``/api/status`` and the live stream of the page."""

    name = "web"
    alarm_kind = "sink_down"
    page = "bedside.html"

    def __init__(self, wave_hz: float = 125.0, keep_s: float = 12.0,
                 client_queue: int = 256, flush_s: float = 0.05) -> None:
        self.wave_hz = wave_hz
        self.flush_s = flush_s
        self.keep_s = keep_s
        self.client_queue = client_queue
        self._lock = threading.Lock()
        self.clients = ClientSet(client_queue)
        self.messages = 0
        self.started = time.time()
        self._reports: list[dict] = []
        self._reset(None)

    def _reset(self, session: dict | None) -> None:
        self.session = session
        self.fs = float(session["fs"]) if session else 0.0
        self.leads: list[str] = list(session["leads"]) if session else []
        self.step = max(1, int(round(self.fs / self.wave_hz))) if self.fs else 1
        self.wave: deque[tuple[float, list[list[float]]]] = deque()
        self.last: dict[str, Any] = {"hr_bpm": None, "beats_per_class": {}, "gaps": 0,
                                     "lost_samples": 0, "lead_off": [], "time_s": 0.0}
        self.alarms: dict[str, dict] = {}  # active alarms by id
        self.acked: dict[str, dict] = {}  # alarm id -> {by, wall_time}
        self.audio_paused_until = 0.0
        self.window: dict | None = None
        self.quality: list[dict] = []
        self._quality_src: Any = None
        self._beats: deque[dict] = deque(maxlen=64)
        self._phase = 0  # offset of the next kept sample in the next block
        self._pend_wave: list[np.ndarray] = []
        self._pend_t0 = 0.0
        self._pend_beats: list[dict] = []
        self._pend_status = False
        self._next_flush = 0.0

    # ------------------------------------------------------------------ clients
    def subscribe(self) -> tuple[Client, bytes]:
        """A new client and the snapshot message it starts from."""
        with self._lock:
            snap = sse_message("snapshot", self._snapshot())
            c = self.clients.add()
        return c, snap

    def unsubscribe(self, c: Client) -> None:
        with self._lock:
            self.clients.remove(c)

    @property
    def clients_dropped(self) -> int:
        return self.clients.dropped

    def _send(self, kind: str, data: dict) -> None:
        """To every client, never blocking: a full queue drops that client."""
        if not len(self.clients):
            return
        self.messages += 1
        self.clients.broadcast(sse_message(kind, data))

    def samples(self, pipeline: Any, x: np.ndarray) -> None:
        """A block of samples starting at ``pipeline.n``: thinned, kept, sent in batches."""
        with self._lock:
            if self.session is None:
                return
            kept = x[self._phase::self.step]  # a view: every step-th sample, phase kept
            first = self._phase
            self._phase = (first + kept.shape[0] * self.step - x.shape[0] if kept.shape[0]
                           else first - x.shape[0])
            q = getattr(pipeline.quality, "latest", None)
            if q is not None and q is not self._quality_src:
                self._quality_src = q
                self.quality = [{"lead": li.lead, "usable": li.usable, "flags": list(li.flags),
                                 "hf_rms_mv": round(li.hf_rms_mv, 4)} for li in q]
                self._pend_status = True
            if kept.shape[0]:
                if not self._pend_wave:
                    self._pend_t0 = (pipeline.n + first) / self.fs
                self._pend_wave.append(kept.copy())  # the caller may reuse its buffer
            if time.monotonic() >= self._next_flush:
                self._flush()

    def _flush(self) -> None:
        """Pending waveform and beats as one message each: the cost per client is bounded
        by wall time (``flush_s``), not by how fast the signal comes (an offline run)."""
        self._next_flush = time.monotonic() + self.flush_s
        if self._pend_wave:
            x = np.concatenate(self._pend_wave)
            self._pend_wave = []
            # µV as little-endian int16, base64 (web/wave.py, shared with the MQTT wave topic)
            data = [uv16(x[:, j]) for j in range(x.shape[1])]
            self.wave.append((self._pend_t0, data))
            while self.wave and self.wave[0][0] < self._pend_t0 - self.keep_s:
                self.wave.popleft()
            self._send("samples", {"t0": round(self._pend_t0, 4), "dt": self.step / self.fs,
                                   "uv16": data})
        if self._pend_beats:
            self._send("beats", {"beats": self._pend_beats})
            self._pend_beats = []
        if self._pend_status:
            self._pend_status = False
            self._send("status", self._status())

    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        with self._lock:
            if ev == "session" and record.get("action") == "start":
                self._reset(record)
                self._send("snapshot", self._snapshot())
                return
            if ev == "session":  # the end: what is pending goes out
                self._flush()
                return
            if self.session is None:
                return
            if ev == "beat":
                b = {"t": record["time_s"], "label": record["label"]}
                self._beats.append(b)
                self._pend_beats.append(b)
            elif ev == "status":
                self.last = {k: record.get(k) for k in (
                    "hr_bpm", "beats_per_class", "gaps", "lost_samples", "lead_off", "time_s")}
                self._pend_status = True  # the latest goes with the next batch
            elif ev == "alert":
                self._flush()  # what came before the alarm is on the page before it
                a = {k: record.get(k) for k in ("id", "type", "severity", "start_s", "end_s",
                                                "action", "evidence")}
                if record.get("action") == "end":
                    self.alarms.pop(a["id"], None)
                    self.acked.pop(a["id"], None)
                else:
                    self.alarms[a["id"]] = a
                self._send("alert", {"alert": a, "status": self._status()})
            elif ev == "window":
                self.window = {k: record.get(k) for k in ("start_s", "end_s", "probs", "model")}
                self._pend_status = True
            if time.monotonic() >= self._next_flush:
                self._flush()

    # ------------------------------------------------------------------ operator
    def ack(self, alert_id: str, by: str) -> bool:
        """Acknowledge an active alarm; journaled as an ``operator`` record."""
        with self._lock:
            if alert_id not in self.alarms:
                return False
            rec = {"by": by, "wall_time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            self.acked[alert_id] = rec
            self._reports.append({"event": "operator", "action": "acknowledge",
                                  "alert_id": alert_id, "type": self.alarms[alert_id]["type"],
                                  "signal_time_s": self.last.get("time_s"), **rec})
            self._send("status", self._status())
            return True

    def pause_audio(self, seconds: float, by: str) -> None:
        with self._lock:
            self.audio_paused_until = time.time() + seconds
            self._reports.append({"event": "operator", "action": "audio_pause",
                                  "seconds": seconds, "by": by,
                                  "wall_time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            self._send("status", self._status())

    def take_reports(self) -> list[dict]:
        """Operator actions since the last call, for the journal (see outputs.py)."""
        if not self._reports:  # called on every record: no lock for nothing
            return []
        with self._lock:
            out, self._reports = self._reports, []
        return out

    # ------------------------------------------------------------------ views
    def _status(self) -> dict:
        alarms = sorted(self.alarms.values(), key=lambda a: (-_SEVERITY.get(
            a["severity"], 0), -(a["start_s"] or 0)))
        return {
            "device": (self.session or {}).get("device_id"),
            "source": (self.session or {}).get("source"),
            "fs": self.fs, "leads": self.leads,
            "hr_bpm": self.last.get("hr_bpm"),
            "beats_per_class": self.last.get("beats_per_class") or {},
            "active_alarms": [{**a, "acknowledged": self.acked.get(a["id"])} for a in alarms],
            "gaps": self.last.get("gaps", 0), "lost_samples": self.last.get("lost_samples", 0),
            "lead_off": self.last.get("lead_off") or [],
            "quality": self.quality, "window": self.window,
            "signal_time_s": self.last.get("time_s"),
            "audio_paused_s": max(0.0, round(self.audio_paused_until - time.time(), 1)),
            "uptime_s": round(time.time() - self.started, 1),
            "clients": len(self.clients), "clients_dropped": self.clients.dropped,
        }

    def status(self) -> dict:
        """``GET /api/status``."""
        with self._lock:
            return self._status()

    def _snapshot(self) -> dict:
        return {"status": self._status(), "beats": list(self._beats),
                "wave": [{"t0": t, "dt": self.step / self.fs if self.fs else 0, "uv16": d}
                         for t, d in self.wave]}

    def close(self) -> None:
        with self._lock:
            self.clients.close()
