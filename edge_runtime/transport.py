"""Byte transports for the runtime: serial ports and pyserial URLs, file/stdin replay, reconnect.

The protocol code never knows which transport it reads (the pyserial style): everything is a
source of ``bytes`` chosen by a URL.

- ``/dev/ttyUSB0``, ``/dev/ttyACM0``, a pty slave ``/dev/pts/N`` (or a symlink to one),
  ``socket://host:port`` (TCP), ``loop://`` (loopback, for tests), any other pyserial URL;
- ``-`` for stdin and ``file:PATH`` (or the path of a regular file) for replaying a capture;
  ``file:PATH?rate=BYTES_PER_S`` replays it paced.

:class:`ReconnectingReader` wraps a port and survives the port disappearing (USB unplug,
simulator restart, TCP drop): it reports a ``disconnected`` event, retries with exponential
back-off, and reports ``reconnected``. The caller passes these events to the decoder
(``decoder.disconnect()`` drops a partial frame) and to the alert engine (technical alarm).
"""

from __future__ import annotations

import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from edge_runtime.errors import EcgEdgeError

__all__ = [
    "ByteSource",
    "FileSource",
    "TcpSource",
    "TransportEvent",
    "ReconnectingReader",
    "open_source",
    "is_replay_url",
]


class ByteSource(Protocol):
    """What a transport offers: non-blocking-ish reads and close."""

    def read_some(self, timeout: float) -> bytes | None:
        """Bytes available within ``timeout`` (maybe b""); None at end of stream."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class TransportEvent:
    """A technical event of the link (for the journal and technical alarms)."""

    kind: str  # "connected" | "disconnected" | "reconnected" | "retry" | "gave_up" | "eof"
    url: str
    time: float  # time.time() when it happened
    detail: str = ""
    attempt: int = 0
    down_s: float = 0.0  # for "reconnected": how long the link was down


class FileSource:
    """Replay of a captured byte stream from a file or stdin, optionally paced."""

    def __init__(self, path: str, rate: float | None = None, chunk: int = 4096) -> None:
        self.url = path
        if path == "-":
            self._f = sys.stdin.buffer
        else:
            try:
                self._f = open(path, "rb")  # noqa: SIM115 (closed in close())
            except OSError as exc:
                raise EcgEdgeError(f"cannot open {path}: {exc.strerror}") from None
        self.rate = rate
        self.chunk = chunk
        self._t0 = time.monotonic()
        self._sent = 0

    def read_some(self, timeout: float) -> bytes | None:
        n = self.chunk
        if self.rate:
            due = self._t0 + self._sent / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, timeout))
                if wait > timeout:
                    return b""
        read1 = getattr(self._f, "read1", None)
        data = read1(n) if read1 is not None else self._f.read(n)
        if not data:
            return None
        self._sent += len(data)
        return data

    def close(self) -> None:
        if self._f is not sys.stdin.buffer:
            self._f.close()


class SerialSource:
    """A pyserial port (any URL pyserial knows) as a :class:`ByteSource`."""

    def __init__(self, url: str, baudrate: int = 115200) -> None:
        import serial

        self.url = url
        self._serial_exc = serial.SerialException
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise EcgEdgeError(f"cannot open port {url}: {_short(exc)}") from None

    @property
    def port(self):
        """The underlying pyserial object (e.g. to write to a ``loop://`` port in tests)."""
        return self._port

    def read_some(self, timeout: float) -> bytes | None:
        """Read what is there (waiting up to ``timeout`` for the first byte).

        Raises ``ConnectionError`` when the port went away, so the reconnect logic sees one
        exception type for every transport.
        """
        try:
            if self._port.timeout != timeout:  # the setter reconfigures the port: only on change
                self._port.timeout = timeout
            data = self._port.read(1)
            if data:
                waiting = self._port.in_waiting
                if waiting:
                    data += self._port.read(waiting)
            return data
        except (self._serial_exc, OSError) as exc:
            raise ConnectionError(_short(exc)) from None

    def close(self) -> None:
        try:
            self._port.close()
        except Exception:
            pass


class TcpSource:
    """``socket://host:port``: a TCP client that returns everything the kernel holds per read.

    pyserial's socket URL reports ``in_waiting`` as 0/1 (not a byte count), so reading
    through it fetches one or two bytes per call and caps a TCP stream at a few thousand
    bytes per second of Python overhead; a plain socket with ``select`` + ``recv`` does not.
    """

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme != "socket" or not parts.hostname or parts.port is None:
            raise EcgEdgeError(f"bad TCP URL {url} (socket://HOST:PORT)")
        try:
            self._sock = socket.create_connection((parts.hostname, parts.port), connect_timeout)
        except OSError as exc:
            raise EcgEdgeError(f"cannot open port {url}: {_short(exc)}") from None
        self._sock.setblocking(False)

    def read_some(self, timeout: float) -> bytes | None:
        """Bytes that arrive within ``timeout``; ``ConnectionError`` when the peer closed."""
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return b""
            data = self._sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            raise ConnectionError(_short(exc)) from None
        if not data:
            raise ConnectionError("connection closed by peer")
        return data

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def _short(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg[:200]


def is_replay_url(url: str) -> bool:
    """``-``, ``file:...`` or an existing regular file (not a device node)."""
    if url == "-" or url.startswith("file:"):
        return True
    p = Path(url)
    return p.is_file() and not url.startswith("/dev/")


def open_source(url: str, baudrate: int = 115200) -> FileSource | SerialSource | TcpSource:
    """Open ``url`` (see module doc); one-line :class:`EcgEdgeError` if it cannot be opened."""
    if is_replay_url(url):
        path, rate = url, None
        if url.startswith("file:"):
            path, _, query = url[5:].partition("?")
            if path.startswith("//"):
                path = path[2:]
            if query:
                try:
                    rate = float(parse_qs(query)["rate"][0])
                except (KeyError, ValueError):
                    msg = f"bad replay URL {url} (file:PATH?rate=BYTES_PER_S)"
                    raise EcgEdgeError(msg) from None
        return FileSource(path, rate)
    if url.startswith("socket://"):
        return TcpSource(url)
    return SerialSource(url, baudrate)


class ReconnectingReader:
    """Reads a port forever, reopening it with exponential back-off when it disappears.

    ``chunks(stop)`` yields ``bytes`` and :class:`TransportEvent` items in order. The first
    open must succeed (a port that cannot be opened is a user error: one-line
    :class:`EcgEdgeError`) unless ``wait_first=True``. Replay sources (file/stdin) end at EOF
    and are not reopened. ``max_down_s`` gives up (``gave_up`` event, iteration ends) after
    the link has been down that long; None retries forever.
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
        replay = is_replay_url(self.url)
        while not stop.is_set():
            if self.source is None:
                reopened = yield from self._reconnect(stop, first=True)
                if not reopened:
                    return
                continue
            try:
                data = self.source.read_some(self.read_timeout)
            except ConnectionError as exc:
                self.disconnects += 1
                self.source.close()
                self.source = None
                yield self._event("disconnected", str(exc))
                if not (yield from self._reconnect(stop, first=False)):
                    return
                continue
            if data is None:
                yield self._event("eof")
                return
            if data:
                yield data
            elif replay:
                continue
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
    """Glue used by the runtime and tests: bytes -> decoder events; link events passed on.

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
