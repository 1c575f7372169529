"""Where the runtime's records go: console, JSONL journal, MQTT, HTTP webhook.

Every sink takes JSON-able dicts through ``handle(record)`` and is closed with ``close()``.
A record has an ``event`` key: ``session`` (start/end of a run), ``beats`` (a batch of
classified beats), ``window`` (window-model output), ``alert`` (onset/escalate/end of an
alert, see :mod:`edge_runtime.alerts`), ``status`` (periodic device status) or
``sink_overflow`` (a network sink dropped records), ``sink_rejected`` (a receiver refused
one for good).

The journal and the console are local and fast and run synchronously (an alert is on disk,
fsynced, before the pipeline continues: that is what makes kill -9 lose nothing). Network sinks
(MQTT, webhook) can stall for seconds, so they run behind a worker thread:
:class:`~edge_runtime.sinks.spooled.SpooledSink` (alerts spooled on disk until delivered, the
runtime's choice) or the plain :class:`QueuedSink` (a *bounded* queue; when it is full the
record is dropped, counted, and the drop is itself reported as ``sink_overflow``), so the
signal path never waits on a network.

Health: a sink may say how it is doing with ``health() -> SinkHealth`` and which technical
alarm a failure is (``alarm_kind``: ``storage`` for local files, ``sink_down`` for a
network). :class:`edge_runtime.outputs.Outputs` turns changes into those alarms; a sink never
raises into the pipeline.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Sink", "QueuedSink", "SinkError", "SinkRejected", "SinkHealth"]

log = logging.getLogger("ecgedge.sinks")


class SinkError(Exception):
    """A sink could not deliver a record (network down, broker refused, ...)."""


class SinkRejected(SinkError):
    """The receiver refused this record for good (retrying it would not help)."""


@dataclass(frozen=True)
class SinkHealth:
    """How an output is doing: ``ok``, or down with the ``reason`` (one line)."""

    ok: bool = True
    reason: str = ""


OK = SinkHealth()


class Sink(Protocol):
    name: str

    def handle(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


_STOP = object()


class QueuedSink:
    """Run ``inner.handle`` on a worker thread behind a bounded queue.

    ``handle`` never blocks: a full queue drops the record and counts it in ``dropped``.
    ``overflow_report()`` returns a ``sink_overflow`` record once per new batch of drops,
    for the pipeline to write to the synchronous sinks. Delivery errors of ``inner`` are
    counted in ``errors`` (the inner sink does its own retries).
    """

    def __init__(self, inner: Any, maxsize: int = 1000, only: set[str] | None = None) -> None:
        self.inner = inner
        self.name = f"queued:{getattr(inner, 'name', type(inner).__name__)}"
        self.only = only
        self._q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.maxsize = maxsize
        self.dropped = 0
        self.delivered = 0
        self.errors = 0
        self._reported = 0
        self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
        self._thread.start()

    def handle(self, record: dict[str, Any]) -> None:
        if self.only is not None and record.get("event") not in self.only:
            return
        try:
            self._q.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def overflow_report(self) -> dict[str, Any] | None:
        """A ``sink_overflow`` record if records were dropped since the last report."""
        if self.dropped == self._reported:
            return None
        new = self.dropped - self._reported
        self._reported = self.dropped
        return {"event": "sink_overflow", "sink": self.name, "dropped": new,
                "dropped_total": self.dropped, "queue_size": self.maxsize}

    def _work(self) -> None:
        while True:
            rec = self._q.get()
            if rec is _STOP:
                return
            try:
                self.inner.handle(rec)
                self.delivered += 1
            except Exception as exc:  # noqa: BLE001 - a sink failure must never stop the worker
                self.errors += 1
                log.warning("%s: %s", self.name, exc)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout`` s), then close the inner sink."""
        try:
            self._q.put(_STOP, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self.inner.close()
