"""A network sink behind a worker thread: alerts spooled until delivered, live data best-effort.

Records whose ``event`` is in ``spool_events`` (alerts by default) go to a
:class:`~edge_runtime.sinks.spool.Spool` and are delivered in order, each retried until the
receiver takes it (back-off ``retry_s`` doubling to ``max_retry_s``): a webhook or broker that
is away for an hour gets the hour's alerts, with their ids, when it returns. Other records
(status, beats, windows) are live data: a bounded queue while the sink is up, skipped while it
is down (a status from ten minutes ago helps nobody).

``handle`` never blocks and never raises. ``health()`` says whether the sink is delivering
(down: with the reason of the last failure, or the inner sink's own health, e.g. MQTT not
connected); ``take_reports()`` returns ``sink_overflow`` (spool or queue dropped records) and
``sink_rejected`` (the receiver refused a record for good) records for the local sinks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from edge_runtime.sinks import OK, SinkHealth, SinkRejected
from edge_runtime.sinks.spool import Spool

__all__ = ["SpooledSink"]

log = logging.getLogger("ecgedge.sinks")


class SpooledSink:
    alarm_kind = "sink_down"

    def __init__(self, inner: Any, spool: Spool | None = None, queue_size: int = 1000,
                 spool_events: frozenset[str] = frozenset({"alert", "sink_overflow"}),
                 only: set[str] | None = None, retry_s: float = 1.0,
                 max_retry_s: float = 10.0) -> None:
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.spool = spool if spool is not None else Spool(None)
        self.spool_events = spool_events
        self.only = only
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._live: queue.Queue = queue.Queue(maxsize=queue_size)
        self.queue_size = queue_size
        self._wake = threading.Event()
        self._closing = False
        self._failure: str | None = None  # reason of the last failed delivery
        self.delivered = 0
        self.errors = 0
        self.rejected = 0
        self.skipped = 0  # live records not sent while the sink was down
        self.queue_dropped = 0
        self._reported = {"spool": 0, "queue": 0}
        self._reports: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name=f"sink:{self.name}",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ signal thread
    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        if self.only is not None and ev not in self.only:
            return
        if ev in self.spool_events:
            self.spool.append(record)
            self._wake.set()
            return
        if not self.health().ok:
            self.skipped += 1
            return
        try:
            self._live.put_nowait(record)
            self._wake.set()
        except queue.Full:
            self.queue_dropped += 1

    def health(self) -> SinkHealth:
        inner = getattr(self.inner, "health", None)
        h = inner() if inner is not None else OK
        if not h.ok:
            return h
        if self._failure is not None:
            return SinkHealth(False, self._failure)
        return OK

    def take_reports(self) -> list[dict[str, Any]]:
        """Records for the local sinks (journal, console) about what this sink lost."""
        out = []
        for what, total in (("spool", self.spool.dropped), ("queue", self.queue_dropped)):
            new = total - self._reported[what]
            if new > 0:
                self._reported[what] = total
                size = self.spool.max_records if what == "spool" else self.queue_size
                out.append({"event": "sink_overflow", "sink": self.name, "what": what,
                            "dropped": new, "dropped_total": total, "queue_size": size})
        if self._reports:
            with self._lock:
                out += self._reports
                self._reports = []
        return out

    # ------------------------------------------------------------------ worker thread
    def _deliver(self, rec: dict[str, Any]) -> bool:
        try:
            self.inner.handle(rec)
        except SinkRejected as exc:
            self.rejected += 1
            with self._lock:
                self._reports.append({"event": "sink_rejected", "sink": self.name,
                                      "id": rec.get("id"), "reason": str(exc)})
            return True  # done with it: retrying would not help
        except Exception as exc:  # noqa: BLE001 - any failure: down, retried later
            self.errors += 1
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if self._failure != reason:
                log.warning("%s: %s", self.name, reason)
            self._failure = reason
            return False
        self.delivered += 1
        self._failure = None
        return True

    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``; less when closing, or when the inner sink reconnects."""
        inner = getattr(self.inner, "health", None)
        was_down = inner is not None and not inner().ok
        deadline = time.monotonic() + seconds
        while not self._closing and time.monotonic() < deadline:
            if was_down and inner().ok:
                return
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _work(self) -> None:
        backoff = self.retry_s
        while True:
            item = self.spool.peek()
            if item is not None:
                seq, rec = item
                if self._deliver(rec):
                    self.spool.ack(seq)
                    backoff = self.retry_s
                    continue
                if self._closing:
                    return
                self._wait(backoff)
                backoff = min(backoff * 2, self.max_retry_s)
                continue
            try:
                rec = self._live.get_nowait()
            except queue.Empty:
                if self._closing:
                    return
                self._wake.wait(0.2)
                self._wake.clear()
                continue
            if not self._deliver(rec) and self._closing:
                return

    def settle(self, timeout: float) -> None:
        """Wait until all is delivered or a delivery failed (at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.health().ok and (
                len(self.spool) or not self._live.empty()):
            time.sleep(0.02)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is waiting (up to ``timeout`` s; a failure ends it), then close."""
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        try:
            self.inner.close()
        except Exception as exc:  # noqa: BLE001 - closing must not fail the run
            log.warning("%s: close: %s", self.name, exc)
        left = len(self.spool)
        if left:
            where = (f"kept in {self.spool.dir}" if self.spool.dir is not None
                     and self.spool.disk_error is None else "lost (no spool on disk)")
            log.warning("%s: %d record(s) not delivered, %s", self.name, left, where)
