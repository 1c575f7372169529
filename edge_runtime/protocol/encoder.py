"""The stateful device-side encoder: one sequence counter and sample index, either format."""

from __future__ import annotations

import numpy as np

from edge_runtime.protocol.binary import encode_data, encode_header
from edge_runtime.protocol.csvline import csv_header_line, encode_csv
from edge_runtime.protocol.events import Header


class Encoder:
    """Stateful encoder of one device: keeps the sequence counter and sample index.

    ``frame(raw, lead_off, status)`` returns the bytes of the next block in the chosen mode;
    ``header()`` the handshake announcing ``next_sample``. The simulator uses this; so can a
    real firmware's Python test bench.
    """

    def __init__(self, header: Header, mode: str = "binary") -> None:
        if mode not in ("binary", "csv"):
            raise ValueError(f"unknown mode {mode!r}")
        self.base = header
        self.mode = mode
        self.seq = 0
        self.next_sample = header.start_sample

    def header(self) -> bytes:
        """Handshake announcing the next sample index the encoder will send."""
        return self.header_at(self.next_sample)

    def header_at(self, start_sample: int) -> bytes:
        """Handshake announcing ``start_sample`` (e.g. a frame already encoded but held back)."""
        h = Header(**{**self.base.__dict__, "start_sample": start_sample})
        return encode_header(h) if self.mode == "binary" else csv_header_line(h)

    def frame(self, raw: np.ndarray, lead_off: int = 0, status: int = 0) -> bytes:
        """Encode the next block and advance seq/sample index (also when the caller drops it)."""
        if self.mode == "binary":
            out = encode_data(
                self.seq, self.next_sample, raw, lead_off, status, self.base.device_id
            )
        else:
            out = encode_csv(self.next_sample, raw, lead_off)
        self.seq += 1
        self.next_sample += int(np.asarray(raw).shape[0])
        return out

