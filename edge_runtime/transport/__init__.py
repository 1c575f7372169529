"""Byte transports for the runtime: serial ports and pyserial URLs, TCP, file/stdin replay.

The protocol code never knows which transport it reads (the pyserial style): everything is a
source of ``bytes`` chosen by a URL through a ``{scheme: opener}`` table.

- :mod:`~edge_runtime.transport.sources`: the sources and their one API, ``read(timeout)``
  (``b""``: nothing yet) and ``close()``, with one end-of-stream signal, :class:`SourceClosed`;
- :mod:`~edge_runtime.transport.registry`: URL -> source (``open_source``, ``register_scheme``);
- :mod:`~edge_runtime.transport.reconnect`: :class:`ReconnectingReader` (reopens a link that
  went away, with back-off) and ``pump`` (reader -> decoder glue).
"""

from __future__ import annotations

from edge_runtime.transport.reconnect import ReconnectingReader, TransportEvent, pump
from edge_runtime.transport.registry import (
    SCHEMES,
    Opener,
    is_replay_url,
    open_source,
    register_scheme,
    url_scheme,
)
from edge_runtime.transport.sources import (
    ByteSource,
    FileSource,
    SerialSource,
    SourceClosed,
    TcpSource,
)

__all__ = [
    "ByteSource",
    "SourceClosed",
    "FileSource",
    "SerialSource",
    "TcpSource",
    "Opener",
    "SCHEMES",
    "register_scheme",
    "url_scheme",
    "is_replay_url",
    "open_source",
    "TransportEvent",
    "ReconnectingReader",
    "pump",
]
