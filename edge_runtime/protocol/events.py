"""Events and counters of the wire format, shared by both decoders and the encoder.

A decoder turns bytes into :class:`Header`, :class:`Samples` and :class:`Gap` events and
accounts for every byte and sample in :class:`DecoderStats`; :class:`Continuity` is the one
sample-index bookkeeping (32-bit unwrap, gap size) both formats use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VERSION = 1  # binary protocol version, also carried in Header.version
MAX_CHANNELS = 16  # the lead-off mask is 16 bits
U32 = 1 << 32
HALF = 1 << 31

@dataclass(frozen=True)
class Header:
    """Handshake: what the stream carries. Sent at connect and periodically by the device."""

    fs: float
    leads: tuple[str, ...]
    gain: tuple[float, ...]  # ADC counts per mV, per lead
    device_id: int = 0
    firmware: str = ""
    start_sample: int = 0  # index of the next sample the device will send
    adc_bits: int = 16
    boot_id: int = 0  # changes when the device restarts (sample counter restarts)
    version: int = VERSION

    @property
    def n_channels(self) -> int:
        return len(self.leads)

    def same_session(self, other: Header | None) -> bool:
        """True when ``other`` describes the same running stream (a periodic re-send)."""
        return other is not None and (
            self.fs,
            self.leads,
            self.gain,
            self.device_id,
            self.boot_id,
        ) == (other.fs, other.leads, other.gain, other.device_id, other.boot_id)


@dataclass
class Samples:
    """A block of consecutive samples starting at absolute sample index ``start``.

    ``data`` is float64 ``(n, channels)`` in mV (raw / gain); ``raw`` the int ADC counts.
    ``lead_off[i]`` says lead ``i`` was off for this block: its values are then meaningless
    (0 from the simulator) and must not be interpreted.
    """

    start: int
    data: np.ndarray
    raw: np.ndarray
    lead_off: np.ndarray  # (channels,) bool
    saturated: bool = False
    battery_low: bool = False
    seq: int | None = None

    @property
    def n(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class Gap:
    """Samples ``[start, start + lost_samples)`` never arrived (dropped, corrupted, unplugged)."""

    start: int
    lost_samples: int
    lost_frames: int | None = None  # from the sequence counter (binary mode only)


@dataclass
class DecoderStats:
    """Counters a decoder keeps; every byte and sample is accounted for somewhere."""

    frames: int = 0  # data frames (or CSV lines) accepted
    headers: int = 0
    samples: int = 0  # samples delivered
    lost_samples: int = 0  # samples reported in Gap events
    gaps: int = 0
    bad_crc: int = 0
    rejected_syncs: int = 0  # sync words whose prefix failed the structure checks
    garbage_bytes: int = 0  # bytes that belonged to no accepted frame/line
    bad_lines: int = 0  # CSV lines that did not parse
    stale: int = 0  # frames/lines going backwards (duplicates, replays)
    no_header: int = 0  # data dropped because no header had been seen yet
    resets: int = 0  # new sessions (device restart / new configuration)
    truncated_bytes: int = 0  # partial frame discarded at disconnect or end of stream

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


Event = Header | Samples | Gap


class Continuity:
    """Sample-index bookkeeping shared by both decoders: unwraps 32-bit counters, finds gaps."""

    def __init__(self) -> None:
        self.next: int | None = None  # absolute index of the next expected sample
        self.next_seq: int | None = None

    def start(self, start_sample: int) -> None:
        self.next = start_sample
        self.next_seq = None

    def check(self, first_u32: int, seq: int | None) -> tuple[int, int, int | None] | None:
        """Return (absolute start, lost samples, lost frames) or None for a stale block."""
        assert self.next is not None
        delta = (first_u32 - self.next) % U32
        if delta >= HALF:
            return None
        lost_frames = None
        if seq is not None and self.next_seq is not None:
            lost_frames = (seq - self.next_seq) % U32
        return self.next + delta, delta, lost_frames

    def advance(self, start: int, n: int, seq: int | None) -> None:
        self.next = start + n
        if seq is not None:
            self.next_seq = (seq + 1) % U32

