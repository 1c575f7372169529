"""Auto-detection of the wire format from the first bytes, and the ``make_decoder`` factory."""

from __future__ import annotations

import re

from edge_runtime.protocol.binary import SYNC, BinaryDecoder
from edge_runtime.protocol.csvline import CsvDecoder
from edge_runtime.protocol.events import DecoderStats, Event, Header

_CSV_LIKE = re.compile(rb"^[ \t]*(#[ -~]*|[-+0-9!,. \t]*[0-9!][-+0-9!,. \t]*)\r?$")


def _first_csv_line_end(held: bytes) -> int:
    """Offset of the newline ending the first non-empty CSV-looking line, else -1."""
    start = 0
    while True:
        nl = held.find(b"\n", start)
        if nl < 0:
            return -1
        if _CSV_LIKE.match(held[start:nl]):
            return nl
        start = nl + 1

class StreamDecoder:
    """Decoder that picks binary or CSV from the first bytes it sees, then delegates.

    Binary is chosen as soon as a sync word is seen; CSV as soon as a complete printable
    ASCII line is seen first. Until then bytes are held (at most 4 KiB).
    """

    def __init__(self, mode: str = "auto", header: Header | None = None, **csv_kwargs) -> None:
        if mode not in ("auto", "binary", "csv"):
            raise ValueError(f"unknown decoder mode {mode!r}")
        self._inner: BinaryDecoder | CsvDecoder | None = None
        self._csv_kwargs = csv_kwargs
        self._header = header
        self._held = bytearray()
        if mode != "auto":
            self._choose(mode)

    def _choose(self, mode: str) -> None:
        if mode == "binary":
            self._inner = BinaryDecoder(self._header)
        else:
            self._inner = CsvDecoder(**self._csv_kwargs)

    @property
    def mode(self) -> str | None:
        return None if self._inner is None else self._inner.mode

    @property
    def stats(self) -> DecoderStats:
        return self._inner.stats if self._inner is not None else DecoderStats()

    @property
    def header(self) -> Header | None:
        return None if self._inner is None else self._inner.header

    def push(self, data: bytes | bytearray | memoryview) -> list[Event]:
        if self._inner is None:
            self._held += data
            held = bytes(self._held)
            csv_end = _first_csv_line_end(held)
            sync = held.find(SYNC)
            if sync >= 0 and (csv_end < 0 or sync < csv_end):
                self._choose("binary")
            elif csv_end >= 0:
                self._choose("csv")
            elif len(held) > 4096:
                self._choose("binary")  # neither: let the binary scanner count the garbage
            else:
                return []
            self._held = bytearray()
            data = held
        assert self._inner is not None
        return self._inner.push(data)

    def disconnect(self) -> list[Event]:
        if self._inner is None:
            self._held.clear()
            return []
        return self._inner.disconnect()

    def flush(self) -> list[Event]:
        return [] if self._inner is None else self._inner.flush()


def make_decoder(mode: str = "auto", header: Header | None = None, **csv_kwargs):
    """``binary`` -> :class:`BinaryDecoder`, ``csv`` -> :class:`CsvDecoder`, ``auto`` -> both."""
    if mode == "binary":
        return BinaryDecoder(header)
    if mode == "csv":
        return CsvDecoder(**csv_kwargs)
    return StreamDecoder("auto", header, **csv_kwargs)
