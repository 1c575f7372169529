"""Where the simulated device's bytes go: a pseudo-terminal, a TCP port, a file or stdout.

Each output has ``write(data) -> bool`` (False: no reader got the bytes), ``wait_reader(stop,
timeout)``, ``unplug(seconds, stop)`` (the port disappears for that long, then comes back, as
a USB device does) and ``close()``. The runtime side never knows which one it talks to: it
opens the path or URL with pyserial (``/dev/pts/N`` or a stable symlink, ``socket://host:port``).
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import sys
import termios
import threading
import time
import tty
from pathlib import Path
from typing import BinaryIO

from edge_runtime.errors import EcgEdgeError


def open_pty() -> tuple[int, str]:
    """Open a pty pair in raw mode; return ``(master_fd, slave_path)``.

    The device writes to ``master_fd``; the runtime opens ``slave_path`` with pyserial. The
    slave end is closed here so the master can tell whether a reader is attached (POLLHUP
    while nobody has the slave open).
    """
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no CR/LF translation: bytes pass unchanged
    path = os.ttyname(slave)
    os.close(slave)
    return master, path


class PtyOutput:
    """Device side of a pty. ``link`` (optional) is a stable symlink to the slave path that is
    re-pointed after every unplug, like ``/dev/serial/by-id/...`` for a real USB adapter."""

    def __init__(self, link: str | os.PathLike[str] | None = None) -> None:
        self.link = Path(link) if link else None
        if self.link is not None and self.link.exists() and not self.link.is_symlink():
            raise EcgEdgeError(f"{self.link} exists and is not a symlink: not replacing it")
        self.master, self.slave_path = open_pty()
        os.set_blocking(self.master, False)
        self._relink()

    @property
    def path(self) -> str:
        """What a reader should open."""
        return str(self.link) if self.link else self.slave_path

    def _relink(self) -> None:
        if self.link is None:
            return
        tmp = self.link.with_name(self.link.name + ".tmp")
        try:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            tmp.symlink_to(self.slave_path)
            tmp.replace(self.link)
        except OSError as exc:
            raise EcgEdgeError(f"cannot create link {self.link}: {exc.strerror}") from None

    def has_reader(self) -> bool:
        p = select.poll()
        p.register(self.master, select.POLLOUT | select.POLLHUP)
        return not any(ev & select.POLLHUP for _, ev in p.poll(0))

    def wait_reader(self, stop: threading.Event, timeout: float | None = None) -> bool:
        """Block until someone opens the slave (or ``stop``/``timeout``)."""
        waited = 0.0
        while not stop.is_set():
            if self.has_reader():
                return True
            if timeout is not None and waited >= timeout:
                return False
            stop.wait(0.02)
            waited += 0.02
        return False

    def write(self, data: bytes, stop: threading.Event | None = None) -> bool:
        """Write all of ``data``, waiting while the reader is slow (back-pressure).

        Returns False (bytes dropped) when no reader is attached: a device with nobody
        listening loses its samples, it does not queue them for later.
        """
        view = memoryview(data)
        while view:
            if stop is not None and stop.is_set():
                return False
            p = select.poll()
            p.register(self.master, select.POLLOUT | select.POLLHUP)
            events = p.poll(200)
            if any(ev & select.POLLHUP for _, ev in events):
                return False
            if not events:
                continue
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                continue
            except OSError:
                return False
            view = view[n:]
        return True

    def drain(self, timeout: float = 2.0) -> bool:
        """Wait until the reader has read everything written (closing the master would
        discard it); True when drained. Looks at the slave's input queue with FIONREAD."""
        try:
            fd = os.open(self.slave_path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return False
        try:
            deadline = time.monotonic() + timeout
            buf = bytearray(4)
            empty_polls = 0
            while True:
                # the kernel moves bytes from the master to the slave queue asynchronously:
                # only an empty queue seen several times in a row means "all read"
                fcntl.ioctl(fd, termios.FIONREAD, buf)
                empty_polls = empty_polls + 1 if int.from_bytes(buf, sys.byteorder) == 0 else 0
                if empty_polls >= 5:
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
        finally:
            os.close(fd)

    def unplug(self, seconds: float, stop: threading.Event) -> None:
        """The device vanishes: close the pty (readers get EOF/EIO), wait, come back."""
        self.drain(min(1.0, seconds))  # what was sent before the unplug still arrives
        os.close(self.master)
        if self.link is not None:
            try:
                self.link.unlink()
            except OSError:
                pass
        stop.wait(seconds)
        self.master, self.slave_path = open_pty()
        os.set_blocking(self.master, False)
        self._relink()

    def close(self, drain: float = 2.0) -> None:
        """Close after the reader has had up to ``drain`` seconds to read what was sent."""
        if drain and self.has_reader():
            self.drain(drain)
        try:
            os.close(self.master)
        except OSError:
            pass
        if self.link is not None and self.link.is_symlink():
            self.link.unlink()


class TcpOutput:
    """Device as a TCP server (one client at a time): read it at ``socket://host:port``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        try:
            self._srv = socket.create_server((host, port))
        except OSError as exc:
            raise EcgEdgeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._srv.settimeout(0.05)
        self.port = self._srv.getsockname()[1]
        self._conn: socket.socket | None = None

    @property
    def path(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _accept(self) -> bool:
        if self._conn is not None:
            return True
        try:
            conn, _ = self._srv.accept()
        except (TimeoutError, OSError):
            return False
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        return True

    def has_reader(self) -> bool:
        return self._accept()

    def wait_reader(self, stop: threading.Event, timeout: float | None = None) -> bool:
        waited = 0.0
        while not stop.is_set():
            if self._accept():
                return True
            if timeout is not None and waited >= timeout:
                return False
            waited += 0.05
        return False

    def write(self, data: bytes, stop: threading.Event | None = None) -> bool:
        if not self._accept():
            return False
        assert self._conn is not None
        try:
            self._conn.sendall(data)
            return True
        except OSError:
            self._drop()
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

    def unplug(self, seconds: float, stop: threading.Event) -> None:
        """Close the client's connection and refuse new ones for ``seconds``."""
        stop.wait(min(0.2, seconds / 2))
        self._drop()
        self._srv.close()
        stop.wait(seconds)
        self._srv = socket.create_server((self.host, self.port))
        self._srv.settimeout(0.05)

    def close(self) -> None:
        self._drop()
        self._srv.close()


class StreamOutput:
    """A file or stdout: always has a reader; an unplug is just silence."""

    def __init__(self, fileobj: BinaryIO, path: str = "-") -> None:
        self._f = fileobj
        self.path = path

    def has_reader(self) -> bool:
        return True

    def wait_reader(self, stop: threading.Event, timeout: float | None = None) -> bool:
        return True

    def write(self, data: bytes, stop: threading.Event | None = None) -> bool:
        self._f.write(data)
        self._f.flush()
        return True

    def unplug(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(seconds)

    def close(self) -> None:
        if self.path != "-":
            self._f.close()


class SerialOutput:
    """A real serial port or any pyserial URL (e.g. a USB-serial loop to a second machine)."""

    def __init__(self, url: str, baudrate: int = 921600) -> None:
        import serial

        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=0.1)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise EcgEdgeError(f"cannot open port {url}: {exc}") from None
        self.path = url

    def has_reader(self) -> bool:
        return True

    def wait_reader(self, stop: threading.Event, timeout: float | None = None) -> bool:
        return True

    def write(self, data: bytes, stop: threading.Event | None = None) -> bool:
        try:
            self._port.write(data)
            return True
        except Exception:
            return False

    def unplug(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(seconds)

    def close(self) -> None:
        self._port.close()
