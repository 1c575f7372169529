"""Byte sources: one small API for every transport, and one end-of-stream convention.

Every source has ``read(timeout) -> bytes`` and ``close()``:

- ``read`` returns ``b""`` when nothing arrived within ``timeout`` (not an end);
- ``read`` raises :class:`SourceClosed` when no more bytes will come: the end of a replayed
  capture, or a link that went away (USB unplug, simulator restart, TCP peer closed).

``reopenable`` says which of the two an end means: True for a link that may come back (the
reconnect logic reopens it), False for a replay (its end is final). Opening failures are
one-line :class:`~edge_runtime.errors.EcgEdgeError` s.
"""

from __future__ import annotations

import select
import socket
import sys
import time
from typing import Protocol
from urllib.parse import urlsplit

from edge_runtime.errors import EcgEdgeError

__all__ = ["ByteSource", "SourceClosed", "FileSource", "SerialSource", "TcpSource"]


class SourceClosed(Exception):
    """No more bytes will come from this source (end of a replay, or the link went away)."""


class ByteSource(Protocol):
    """What every transport offers (see the module doc for the end-of-stream convention)."""

    url: str
    reopenable: bool

    def read(self, timeout: float) -> bytes:
        """Bytes that arrived within ``timeout`` (maybe b""); :class:`SourceClosed` at the end."""
        ...

    def close(self) -> None: ...


def short(exc: BaseException) -> str:
    """First line of an exception's message, for one-line errors and event details."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg[:200]


class FileSource:
    """Replay of a captured byte stream from a file or stdin (``-``), optionally paced."""

    reopenable = False

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

    def read(self, timeout: float) -> bytes:
        """The next chunk; b"" while pacing holds it back; :class:`SourceClosed` at EOF."""
        if self.rate:
            due = self._t0 + self._sent / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, timeout))
                if wait > timeout:
                    return b""
        read1 = getattr(self._f, "read1", None)
        data = read1(self.chunk) if read1 is not None else self._f.read(self.chunk)
        if not data:
            raise SourceClosed("end of file")
        self._sent += len(data)
        return data

    def close(self) -> None:
        if self._f is not sys.stdin.buffer:
            self._f.close()


class SerialSource:
    """A pyserial port (a device path or any URL pyserial knows) as a :class:`ByteSource`.

    A device path (``/dev/ttyUSB0``, a pty ``/dev/pts/N``) is opened *exclusively*
    (pyserial's ``exclusive=True``: an advisory ``flock(LOCK_EX | LOCK_NB)`` held while it is
    open): two readers sharing a port would each get part of the bytes and both would see a
    broken stream, so a second ``ecgedge run`` on the same port gets a one-line error instead.
    (``flock`` is advisory: a program that does not ask for the lock, e.g. ``cat``, is not
    kept out.)
    """

    reopenable = True

    def __init__(self, url: str, baudrate: int = 115200, exclusive: bool | None = None) -> None:
        import serial

        self.url = url
        self._serial_exc = serial.SerialException
        if exclusive is None:
            exclusive = "://" not in url  # device paths; URL handlers have no lock to take
        kwargs = {"exclusive": True} if exclusive else {}
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.05, **kwargs)
        except (serial.SerialException, ValueError, OSError) as exc:
            if "exclusively lock" in str(exc):
                raise EcgEdgeError(f"cannot open port {url}: it is in use by another reader "
                                   "(ports are opened exclusively)") from None
            raise EcgEdgeError(f"cannot open port {url}: {short(exc)}") from None

    @property
    def port(self):
        """The underlying pyserial object (e.g. to write to a ``loop://`` port in tests)."""
        return self._port

    def read(self, timeout: float) -> bytes:
        """Read what is there (waiting up to ``timeout`` for the first byte)."""
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
            raise SourceClosed(short(exc)) from None

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

    reopenable = True

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme != "socket" or not parts.hostname or parts.port is None:
            raise EcgEdgeError(f"bad TCP URL {url} (socket://HOST:PORT)")
        try:
            self._sock = socket.create_connection((parts.hostname, parts.port), connect_timeout)
        except OSError as exc:
            raise EcgEdgeError(f"cannot open port {url}: {short(exc)}") from None
        self._sock.setblocking(False)

    def read(self, timeout: float) -> bytes:
        """Bytes that arrive within ``timeout``; :class:`SourceClosed` when the peer closed."""
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                return b""
            data = self._sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            raise SourceClosed(short(exc)) from None
        if not data:
            raise SourceClosed("connection closed by peer")
        return data

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
