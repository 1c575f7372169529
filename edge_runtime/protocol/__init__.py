"""The ecgedge wire format: binary frames with CRC-16 and a plain CSV-line mode.

This package is the one place that owns the format (``docs/protocol.md`` is its description):
the simulated device (``firmware_sim``) encodes with it and the runtime decodes with it, so the
two can never disagree about a byte. One module per job:

- :mod:`~edge_runtime.protocol.events`: ``Header`` / ``Samples`` / ``Gap`` events, counters;
- :mod:`~edge_runtime.protocol.binary`: binary frames (layout in its docstring), encode/decode;
- :mod:`~edge_runtime.protocol.csvline`: CSV lines ``t,ch1,ch2`` with a ``# ecgedge`` header;
- :mod:`~edge_runtime.protocol.encoder`: the stateful device-side ``Encoder``;
- :mod:`~edge_runtime.protocol.autodetect`: ``StreamDecoder`` (picks the format) and
  ``make_decoder``.

Decoders are incremental: ``push(bytes) -> list[event]``. They never block and never raise on
malformed input: garbage is skipped and counted, bad CRCs are rejected and counted, the scan
restarts one byte after a rejected sync word so that a valid frame after a bad one is never
lost, and every discontinuity in the sample index is reported as a :class:`Gap` carrying the
exact number of lost samples.
"""

from __future__ import annotations

from edge_runtime.protocol.autodetect import StreamDecoder, make_decoder
from edge_runtime.protocol.binary import (
    DATA_FIXED,
    FRAME_DATA,
    FRAME_HEADER,
    MAX_PAYLOAD,
    MAX_SAMPLES_PER_FRAME,
    PREFIX_LEN,
    STATUS_BATTERY_LOW,
    STATUS_SATURATION,
    SYNC,
    BinaryDecoder,
    crc16,
    encode_data,
    encode_header,
)
from edge_runtime.protocol.csvline import MAX_LINE, CsvDecoder, csv_header_line, encode_csv
from edge_runtime.protocol.encoder import Encoder
from edge_runtime.protocol.events import (
    MAX_CHANNELS,
    VERSION,
    DecoderStats,
    Event,
    Gap,
    Header,
    Samples,
)

__all__ = [
    "SYNC",
    "VERSION",
    "FRAME_DATA",
    "FRAME_HEADER",
    "MAX_CHANNELS",
    "MAX_SAMPLES_PER_FRAME",
    "MAX_PAYLOAD",
    "MAX_LINE",
    "PREFIX_LEN",
    "DATA_FIXED",
    "STATUS_SATURATION",
    "STATUS_BATTERY_LOW",
    "Header",
    "Samples",
    "Gap",
    "Event",
    "DecoderStats",
    "crc16",
    "encode_header",
    "encode_data",
    "csv_header_line",
    "encode_csv",
    "Encoder",
    "BinaryDecoder",
    "CsvDecoder",
    "StreamDecoder",
    "make_decoder",
]
