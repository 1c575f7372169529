"""Which source opens a URL: a ``{scheme: opener}`` table (pyserial's URL handlers the model).

- no scheme: ``-`` (stdin) or the path of a regular file is a replay; any other path
  (``/dev/ttyUSB0``, ``/dev/ttyACM0``, a pty slave ``/dev/pts/N`` or a symlink to one) is a
  serial port opened with pyserial;
- ``file:PATH[?rate=BYTES_PER_S]``: replay of a capture, optionally paced;
- ``socket://host:port``: a plain TCP client (:class:`~.sources.TcpSource`);
- ``loop://``, ``rfc2217://``, ``spy://``, ``alt://``, ``hwgrep://``, ``cp2110://``: pyserial.

:func:`register_scheme` adds a transport without touching this module. An unknown scheme is a
one-line error naming the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

from edge_runtime.errors import EcgEdgeError
from edge_runtime.transport.sources import ByteSource, FileSource, SerialSource, TcpSource

__all__ = ["Opener", "SCHEMES", "register_scheme", "url_scheme", "is_replay_url", "open_source"]

Opener = Callable[[str, int], ByteSource]  # (url, baudrate) -> an open source
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _open_file(url: str, baudrate: int) -> ByteSource:
    path, rate = url, None
    if url.startswith("file:"):
        path, _, query = url[5:].partition("?")
        if path.startswith("//"):
            path = path[2:]
        if query:
            try:
                rate = float(parse_qs(query)["rate"][0])
            except (KeyError, ValueError):
                raise EcgEdgeError(f"bad replay URL {url} (file:PATH?rate=BYTES_PER_S)") from None
    return FileSource(path, rate)


def _open_serial(url: str, baudrate: int) -> ByteSource:
    return SerialSource(url, baudrate)


def _open_tcp(url: str, baudrate: int) -> ByteSource:
    return TcpSource(url)


SCHEMES: dict[str, Opener] = {
    "file": _open_file,
    "socket": _open_tcp,
    **{s: _open_serial for s in ("loop", "rfc2217", "spy", "alt", "hwgrep", "cp2110")},
}


def register_scheme(scheme: str, opener: Opener) -> None:
    """Make ``scheme://...`` URLs open with ``opener(url, baudrate)``."""
    SCHEMES[scheme.lower()] = opener


def is_replay_url(url: str) -> bool:
    """``-``, ``file:...`` or an existing regular file (not a device node)."""
    if url == "-" or url.startswith("file:"):
        return True
    p = Path(url)
    return p.is_file() and not url.startswith("/dev/")


def url_scheme(url: str) -> str | None:
    """The registry key for ``url``; None for a device path (opened with pyserial)."""
    if is_replay_url(url):
        return "file"
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else None


def open_source(url: str, baudrate: int = 115200) -> ByteSource:
    """Open ``url`` (see module doc); one-line :class:`EcgEdgeError` if it cannot be opened."""
    scheme = url_scheme(url)
    if scheme is None:
        return _open_serial(url, baudrate)
    opener = SCHEMES.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}:" for s in SCHEMES)
        raise EcgEdgeError(f"cannot open port {url}: unknown scheme '{scheme}' (known: {known} "
                           "or a device path, a file, -)")
    return opener(url, baudrate)
