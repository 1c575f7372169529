"""Reading a source forever: :class:`ReconnectingReader` survives the port disappearing.

On :class:`~.sources.SourceClosed` from a reopenable source (USB unplug, simulator restart,
TCP drop) it reports a ``disconnected`` event, retries with exponential back-off and reports
``reconnected``; the same exception from a replay is its end (``eof``). The caller passes
these events to the decoder (``decoder.disconnect()`` drops a partial frame) and to the alert
engine (technical alarm); :func:`pump` is that glue for tests and simple tools.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edge_runtime.errors import EcgEdgeError
from edge_runtime.transport.registry import open_source
from edge_runtime.transport.sources import ByteSource, SourceClosed

__all__ = ["TransportEvent", "ReconnectingReader", "pump"]


@dataclass(frozen=True)
class TransportEvent:
    """A technical event of the link (for the journal and technical alarms)."""

    kind: str  # "connected" | "disconnected" | "reconnected" | "retry" | "gave_up" | "eof"
    url: str
    time: float  # time.time() when it happened
    detail: str = ""
    attempt: int = 0
    down_s: float = 0.0  # for "reconnected": how long the link was down


class ReconnectingReader:
    """Reads a port forever, reopening it with exponential back-off when it disappears.

    ``chunks(stop)`` yields ``bytes`` and :class:`TransportEvent` items in order. The first
    open must succeed (a port that cannot be opened is a user error: one-line
    :class:`EcgEdgeError`) unless ``wait_first=True``. Replay sources (file/stdin) end at EOF
    (``eof`` event) and are not reopened. ``max_down_s`` gives up (``gave_up`` event,
    iteration ends) after the link has been down that long; None retries forever.
    """

    def __init__(
        self,
        url: str,
        baudrate: int = 115200,
        read_timeout: float = 0.05,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        max_down_s: float | None = None,
        wait_first: bool = False,
        opener: Callable[[str], ByteSource] | None = None,
    ) -> None:
        self.url = url
        self.read_timeout = read_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.max_down_s = max_down_s
        self.wait_first = wait_first
        self._open = opener or (lambda u: open_source(u, baudrate))
        self.source: ByteSource | None = None
        self.disconnects = 0
        self.reconnects = 0

    def _event(self, kind: str, detail: str = "", attempt: int = 0, down: float = 0.0):
        return TransportEvent(kind, self.url, time.time(), detail, attempt, down)

    def chunks(self, stop: threading.Event | None = None) -> Iterator[bytes | TransportEvent]:
        stop = stop or threading.Event()
        if not self.wait_first:
            self.source = self._open(self.url)
            yield self._event("connected")
        while not stop.is_set():
            if self.source is None:
                if not (yield from self._reconnect(stop, first=True)):
                    return
                continue
            try:
                data = self.source.read(self.read_timeout)
            except SourceClosed as exc:
                reopenable = self.source.reopenable
                self.close()
                if not reopenable:
                    yield self._event("eof", str(exc))
                    return
                self.disconnects += 1
                yield self._event("disconnected", str(exc))
                if not (yield from self._reconnect(stop, first=False)):
                    return
                continue
            if data:
                yield data
        self.close()

    def _reconnect(self, stop: threading.Event, first: bool) -> Iterator[TransportEvent]:
        """Retry opening with back-off; yields retry events; returns True once open."""
        t_down = time.monotonic()
        delay = self.backoff_initial
        attempt = 0
        while not stop.is_set():
            attempt += 1
            try:
                self.source = self._open(self.url)
            except EcgEdgeError as exc:
                down = time.monotonic() - t_down
                if self.max_down_s is not None and down >= self.max_down_s:
                    yield self._event("gave_up", str(exc), attempt, down)
                    return False
                if attempt == 1 or attempt % 10 == 0:
                    yield self._event("retry", str(exc), attempt, down)
                stop.wait(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            down = time.monotonic() - t_down
            if first and not self.reconnects and not self.disconnects:
                yield self._event("connected", attempt=attempt)
            else:
                self.reconnects += 1
                yield self._event("reconnected", attempt=attempt, down=down)
            return True
        return False

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
            self.source = None


def pump(
    reader: ReconnectingReader,
    decoder,
    on_event: Callable[[object], None],
    stop: threading.Event | None = None,
) -> None:
    """Glue used by tests and simple tools: bytes -> decoder events; link events passed on.

    On ``disconnected`` the decoder drops its partial frame (``decoder.disconnect()``);
    ``on_event`` receives protocol events (Header, Samples, Gap) and TransportEvents.
    """
    for item in reader.chunks(stop):
        if isinstance(item, TransportEvent):
            if item.kind == "disconnected":
                for ev in decoder.disconnect():
                    on_event(ev)
            on_event(item)
            continue
        for ev in decoder.push(item):
            on_event(ev)
    for ev in decoder.flush():
        on_event(ev)
