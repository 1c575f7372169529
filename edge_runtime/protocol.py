"""The ecgedge wire format: binary frames with CRC-16 and a plain CSV-line mode.

This is the one module that owns the format (``docs/protocol.md`` is its description): the
simulated device (``firmware_sim``) encodes with it and the runtime decodes with it, so the two
can never disagree about a byte.

Binary frames (all integers little-endian)::

    off  size  field
    0    2     sync word A5 5A
    2    1     protocol version (1)
    3    1     frame type: 0x01 data, 0x02 header/handshake
    4    2     device id
    6    2     payload length N
    8    N     payload (see DATA_* / HEADER_* below)
    8+N  2     CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of bytes 2 .. 8+N-1

Data payload: seq u32, first-sample index u32, lead-off mask u16 (bit i = lead i off), status
u8 (bit0 ADC saturation, bit1 battery low), channel count u8, samples per channel u8, reserved
u8, then ``n * channels`` int16 samples interleaved sample-major (s0c0 s0c1 s1c0 ...).
Physical value (mV) = raw / gain[channel], the gain coming from the header frame.

Header payload: fs in milli-hertz u32, next-sample index u32, channel count u8, ADC bits u8,
boot id u16, then ``channels`` float32 gains (counts per mV), then the firmware version and each
lead name as (u8 length, UTF-8 bytes).

CSV mode (hobby boards): optional comment line ``# ecgedge fs=360 leads=MLII,V1 gain=200,200
device=1 fw=sim-0.1 start=0 bits=16 boot=7``, then one line per sample ``t,ch1,ch2`` with
``t`` the integer sample index and integer ADC counts; ``!`` in place of a value means that
lead is off (AD8232 LO+/LO- style).

Decoders are incremental: ``push(bytes) -> list[event]``. They never block and never raise on
malformed input: garbage is skipped and counted, bad CRCs are rejected and counted, the scan
restarts one byte after a rejected sync word so that a valid frame after a bad one is never
lost, and every discontinuity in the sample index is reported as a :class:`Gap` carrying the
exact number of lost samples.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass

import numpy as np

__all__ = [
    "SYNC",
    "VERSION",
    "FRAME_DATA",
    "FRAME_HEADER",
    "MAX_CHANNELS",
    "Header",
    "Samples",
    "Gap",
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

SYNC = b"\xa5\x5a"
VERSION = 1
FRAME_DATA = 0x01
FRAME_HEADER = 0x02
MAX_CHANNELS = 16  # the lead-off mask is 16 bits
MAX_SAMPLES_PER_FRAME = 255
_PREFIX = struct.Struct("<2sBBHH")  # sync, version, type, device id, payload length
_DATA = struct.Struct("<IIHBBBB")  # seq, first sample, lead-off, status, nch, ns, reserved
_HEADER = struct.Struct("<IIBBH")  # fs mHz, next sample, nch, adc bits, boot id
_CRC = struct.Struct("<H")
PREFIX_LEN = _PREFIX.size  # 8
DATA_FIXED = _DATA.size  # 14
MAX_PAYLOAD = DATA_FIXED + 2 * MAX_CHANNELS * MAX_SAMPLES_PER_FRAME
STATUS_SATURATION = 0x01
STATUS_BATTERY_LOW = 0x02
_U32 = 1 << 32
_HALF = 1 << 31


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).

    ``binascii.crc_hqx`` is exactly this CRC in C, so checking costs almost nothing; the check
    value of ``b"123456789"`` is 0x29B1.
    """
    return binascii.crc_hqx(data, 0xFFFF)


# --------------------------------------------------------------------------- events
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


# --------------------------------------------------------------------------- encoders
def _frame(ftype: int, device_id: int, payload: bytes) -> bytes:
    body = _PREFIX.pack(SYNC, VERSION, ftype, device_id & 0xFFFF, len(payload)) + payload
    return body + _CRC.pack(crc16(body[2:]))


def encode_header(h: Header) -> bytes:
    """Binary header/handshake frame for ``h``."""
    if not 1 <= h.n_channels <= MAX_CHANNELS or len(h.gain) != h.n_channels:
        raise ValueError(f"need 1..{MAX_CHANNELS} leads with one gain each")
    payload = _HEADER.pack(
        int(round(h.fs * 1000)), h.start_sample % _U32, h.n_channels, h.adc_bits, h.boot_id
    )
    payload += struct.pack(f"<{h.n_channels}f", *h.gain)
    for text in (h.firmware, *h.leads):
        raw = text.encode("utf-8")[:255]
        payload += bytes([len(raw)]) + raw
    return _frame(FRAME_HEADER, h.device_id, payload)


def encode_data(
    seq: int,
    first_sample: int,
    raw: np.ndarray,
    lead_off: int = 0,
    status: int = 0,
    device_id: int = 0,
) -> bytes:
    """Binary data frame: ``raw`` is ``(n, channels)`` integer ADC counts (int16 range)."""
    raw = np.asarray(raw)
    if raw.ndim != 2:
        raise ValueError("raw must be (n_samples, n_channels)")
    ns, nch = raw.shape
    if not (1 <= ns <= MAX_SAMPLES_PER_FRAME and 1 <= nch <= MAX_CHANNELS):
        raise ValueError(f"frame of {ns}x{nch} samples out of range")
    payload = _DATA.pack(seq % _U32, first_sample % _U32, lead_off & 0xFFFF, status, nch, ns, 0)
    payload += raw.astype("<i2").tobytes()
    return _frame(FRAME_DATA, device_id, payload)


def csv_header_line(h: Header) -> bytes:
    """The ``# ecgedge ...`` comment that carries the handshake in CSV mode."""
    gains = ",".join(f"{g:g}" for g in h.gain)
    return (
        f"# ecgedge fs={h.fs:g} leads={','.join(h.leads)} gain={gains} device={h.device_id} "
        f"fw={h.firmware or '-'} start={h.start_sample} bits={h.adc_bits} boot={h.boot_id}\n"
    ).encode()


def encode_csv(first_sample: int, raw: np.ndarray, lead_off: int = 0) -> bytes:
    """CSV lines ``t,ch1,ch2,...`` for ``raw`` ``(n, channels)``; lead-off leads print ``!``."""
    raw = np.asarray(raw, dtype=np.int64)
    ns, nch = raw.shape
    cols = [np.arange(first_sample, first_sample + ns).astype(str)]
    for c in range(nch):
        if lead_off >> c & 1:
            cols.append(np.full(ns, "!"))
        else:
            cols.append(raw[:, c].astype(str))
    lines = [",".join(row) for row in zip(*cols, strict=True)]
    return ("\n".join(lines) + "\n").encode()


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


# --------------------------------------------------------------------------- binary decoder
def _parse_header(device_id: int, payload: bytes) -> Header | None:
    try:
        fs_mhz, start, nch, bits, boot = _HEADER.unpack_from(payload, 0)
        if not 1 <= nch <= MAX_CHANNELS or fs_mhz == 0:
            return None
        off = _HEADER.size
        gains = struct.unpack_from(f"<{nch}f", payload, off)
        off += 4 * nch
        texts = []
        for _ in range(nch + 1):
            n = payload[off]
            texts.append(bytes(payload[off + 1 : off + 1 + n]).decode("utf-8"))
            off += 1 + n
        if off != len(payload) or not all(np.isfinite(g) and g > 0 for g in gains):
            return None
    except (struct.error, IndexError, UnicodeDecodeError):
        return None
    return Header(
        fs=fs_mhz / 1000.0,
        leads=tuple(texts[1:]),
        gain=tuple(float(g) for g in gains),
        device_id=device_id,
        firmware=texts[0],
        start_sample=start,
        adc_bits=bits,
        boot_id=boot,
    )


class _Continuity:
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
        delta = (first_u32 - self.next) % _U32
        if delta >= _HALF:
            return None
        lost_frames = None
        if seq is not None and self.next_seq is not None:
            lost_frames = (seq - self.next_seq) % _U32
        return self.next + delta, delta, lost_frames

    def advance(self, start: int, n: int, seq: int | None) -> None:
        self.next = start + n
        if seq is not None:
            self.next_seq = (seq + 1) % _U32


class BinaryDecoder:
    """Incremental decoder of binary frames. ``push(bytes) -> [Header | Gap | Samples]``.

    Pass ``header`` when the stream configuration is known in advance; otherwise data frames
    are dropped (counted in ``stats.no_header``) until the first header frame arrives. A header
    for the same session (periodic re-send) is not re-emitted; a different one (new boot id,
    new fs or leads) starts a new session and is emitted.
    """

    mode = "binary"

    def __init__(self, header: Header | None = None) -> None:
        self.stats = DecoderStats()
        self.header: Header | None = None
        self._buf = bytearray()
        self._owned = 0  # leading bytes of _buf that belong to an accepted frame
        self._cont = _Continuity()
        if header is not None:
            self._set_header(header)

    def _set_header(self, h: Header) -> None:
        self.header = h
        self._gain = np.asarray(h.gain, dtype=np.float64)
        self._bits = np.arange(h.n_channels)
        self._all_on = np.zeros(h.n_channels, dtype=bool)
        self._all_on.flags.writeable = False  # shared by every frame without lead-off
        self._cont.start(h.start_sample)

    def push(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Consume bytes; return the events they complete. Never raises, never blocks."""
        buf = self._buf
        buf += data
        events: list[Event] = []
        pos = 0
        owned = self._owned  # bytes before this offset belong to an accepted frame
        n_buf = len(buf)
        stats = self.stats
        while True:
            i = buf.find(SYNC, pos)
            if i < 0:
                keep = 1 if n_buf > pos and buf[-1] == 0xA5 else 0
                stats.garbage_bytes += max(0, n_buf - keep - max(pos, owned))
                pos = n_buf - keep
                break
            stats.garbage_bytes += max(0, i - max(pos, owned))
            pos = i
            if n_buf - pos < PREFIX_LEN:
                break
            _, version, ftype, dev, plen = _PREFIX.unpack_from(buf, pos)
            ok = version == VERSION and plen <= MAX_PAYLOAD
            if ok and ftype == FRAME_DATA:
                if plen < DATA_FIXED:
                    ok = False
                elif n_buf - pos >= PREFIX_LEN + DATA_FIXED:
                    nch, ns = buf[pos + 19], buf[pos + 20]
                    ok = (
                        plen == DATA_FIXED + 2 * nch * ns
                        and ns >= 1
                        and 1 <= nch <= MAX_CHANNELS
                        and (self.header is None or nch == self.header.n_channels)
                    )
            elif ok and ftype != FRAME_HEADER:
                ok = False
            if not ok:
                stats.rejected_syncs += 1
                stats.garbage_bytes += pos >= owned
                pos += 1
                continue
            total = PREFIX_LEN + plen + 2
            if n_buf - pos < total:
                break
            (crc,) = _CRC.unpack_from(buf, pos + PREFIX_LEN + plen)
            if crc16(memoryview(buf)[pos + 2 : pos + PREFIX_LEN + plen]) != crc:
                stats.bad_crc += 1
                stats.garbage_bytes += pos >= owned
                pos += 1
                continue
            payload = bytes(buf[pos + PREFIX_LEN : pos + PREFIX_LEN + plen])
            if ftype == FRAME_HEADER:
                h = _parse_header(dev, payload)
                if h is None:
                    stats.rejected_syncs += 1
                    stats.garbage_bytes += pos >= owned
                    pos += 1
                    continue
                stats.headers += 1
                if not h.same_session(self.header):
                    if self.header is not None:
                        stats.resets += 1
                    self._set_header(h)
                    events.append(h)
                else:
                    self._header_gap(h, events)
            else:
                self._data_frame(payload, events)
            pos += total
            # A frame that lost its last byte can borrow the next frame's first sync byte
            # (0xA5) and still pass the CRC (1 in 256). Rescanning from that byte keeps the
            # next frame; when the frame was fine, the rescan costs one failed candidate.
            if buf[pos - 1] == 0xA5:
                owned = pos
                pos -= 1
        del buf[:pos]
        self._owned = max(0, owned - pos)
        return events

    def _header_gap(self, h: Header, events: list[Event]) -> None:
        """A periodic header announces the next sample: losses before it show up now."""
        if self._cont.next is None:
            return
        where = self._cont.check(h.start_sample, None)
        if where is None or where[1] == 0:
            return
        start, lost, _ = where
        events.append(Gap(start - lost, lost, None))
        self.stats.gaps += 1
        self.stats.lost_samples += lost
        self._cont.next = start

    def _data_frame(self, payload: bytes, events: list[Event]) -> None:
        stats = self.stats
        seq, first, lead_off, status, nch, ns, _ = _DATA.unpack_from(payload, 0)
        if self.header is None:
            stats.no_header += 1
            return
        where = self._cont.check(first, seq)
        if where is None:
            stats.stale += 1
            return
        start, lost, lost_frames = where
        if lost:
            events.append(Gap(start - lost, lost, lost_frames))
            stats.gaps += 1
            stats.lost_samples += lost
        raw = np.frombuffer(payload, dtype="<i2", offset=DATA_FIXED).reshape(ns, nch)
        events.append(
            Samples(
                start=start,
                data=raw / self._gain,
                raw=raw,
                lead_off=self._all_on if not lead_off else (lead_off >> self._bits) & 1 == 1,
                saturated=bool(status & STATUS_SATURATION),
                battery_low=bool(status & STATUS_BATTERY_LOW),
                seq=seq,
            )
        )
        self._cont.advance(start, ns, seq)
        stats.frames += 1
        stats.samples += ns

    def disconnect(self) -> list[Event]:
        """The link dropped: discard the partial frame (counted), keep the session.

        Samples the device produced while unplugged show up as a :class:`Gap` when data
        resumes, because the device's sample counter kept running.
        """
        self.stats.truncated_bytes += max(0, len(self._buf) - self._owned)
        self._buf.clear()
        self._owned = 0
        return []

    def flush(self) -> list[Event]:
        """End of stream: whatever is buffered is a truncated frame or garbage."""
        return self.disconnect()


# --------------------------------------------------------------------------- CSV decoder
_KV = re.compile(r"(\w+)=(\S+)")
MAX_LINE = 1024


class CsvDecoder:
    """Incremental decoder of CSV lines ``t,ch1,...`` (see module doc).

    Without a ``# ecgedge`` comment line, give ``fs`` (and optionally ``leads``, ``gain``)
    here. ``time="index"`` (default) reads the first column as the sample index and reports
    gaps; ``time="none"`` means lines carry only values (no gap detection possible).

    CSV has no checksum: a corrupted digit is an undetectable wrong value. A corrupted index
    is caught by requiring every discontinuity to be confirmed by the next line (index + 1)
    before a gap is reported, so one bad line costs one line, not the stream.
    """

    mode = "csv"

    def __init__(
        self,
        fs: float | None = None,
        leads: list[str] | None = None,
        gain: float | list[float] = 1.0,
        time: str = "index",
    ) -> None:
        if time not in ("index", "none"):
            raise ValueError("time must be 'index' or 'none'")
        self.stats = DecoderStats()
        self.header: Header | None = None
        self.time = time
        self._buf = bytearray()
        self._cont = _Continuity()
        self._pending: tuple[int, list[int], int, int] | None = None  # t, values, off, nbytes
        self._defaults = (fs, leads, gain)
        self._block: list[list[int]] = []
        self._block_start = 0
        self._block_off = 0

    # -- header handling
    def _ensure_header(self, nch: int, events: list[Event]) -> bool:
        if self.header is not None:
            return self.header.n_channels == nch
        fs, leads, gain = self._defaults
        if fs is None:
            return False
        leads = list(leads) if leads else [f"ch{i + 1}" for i in range(nch)]
        if len(leads) != nch:
            return False
        gains = tuple(gain) if isinstance(gain, list | tuple) else (float(gain),) * nch
        h = Header(fs=float(fs), leads=tuple(leads), gain=tuple(float(g) for g in gains))
        self._set_header(h, events, start=None)
        return True

    def _set_header(self, h: Header, events: list[Event], start: int | None) -> None:
        self._flush_block(events)
        self.header = h
        self._gain = np.asarray(h.gain, dtype=np.float64)
        self._cont.next = start
        self._pending = None
        events.append(h)

    def _comment(self, text: str, events: list[Event]) -> None:
        kv = dict(_KV.findall(text))
        if not text.startswith("# ecgedge") or "fs" not in kv or "leads" not in kv:
            return  # an ordinary comment
        try:
            leads = tuple(kv["leads"].split(","))
            gains = tuple(float(g) for g in kv.get("gain", "1").split(","))
            if len(gains) == 1:
                gains = gains * len(leads)
            h = Header(
                fs=float(kv["fs"]),
                leads=leads,
                gain=gains,
                device_id=int(kv.get("device", 0)),
                firmware="" if kv.get("fw", "-") == "-" else kv["fw"],
                start_sample=int(kv.get("start", 0)),
                adc_bits=int(kv.get("bits", 16)),
                boot_id=int(kv.get("boot", 0)),
            )
            if len(gains) != len(leads) or h.fs <= 0 or not all(g > 0 for g in gains):
                raise ValueError
        except ValueError:
            self.stats.bad_lines += 1
            return
        self.stats.headers += 1
        if h.same_session(self.header):
            nxt = self._cont.next
            if self._pending is None and nxt is not None and h.start_sample > nxt:
                self._gap(h.start_sample, events)  # a periodic header reveals a loss
            return
        if self.header is not None:
            self.stats.resets += 1
        self._set_header(h, events, start=h.start_sample)

    # -- sample lines
    def push(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Consume bytes; return the events of every complete line. Never raises."""
        self._buf += data
        events: list[Event] = []
        start = 0
        buf = self._buf
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                if len(buf) - start > MAX_LINE:  # no newline in sight: not a CSV stream
                    self.stats.garbage_bytes += len(buf) - start
                    self.stats.bad_lines += 1
                    start = len(buf)
                break
            self._line(bytes(buf[start:nl]), events)
            start = nl + 1
        del buf[:start]
        self._flush_block(events)
        return events

    def _line(self, raw_line: bytes, events: list[Event]) -> None:
        nbytes = len(raw_line) + 1
        try:
            text = raw_line.decode("ascii").strip()
        except UnicodeDecodeError:
            self.stats.bad_lines += 1
            self.stats.garbage_bytes += nbytes
            return
        if not text:
            return
        if text.startswith("#"):
            self._comment(text, events)
            return
        parsed = self._parse(text)
        if parsed is None:
            self.stats.bad_lines += 1
            self.stats.garbage_bytes += nbytes
            return
        t, values, off = parsed
        if not self._ensure_header(len(values), events):
            if self.header is None:
                self.stats.no_header += 1
            else:
                self.stats.bad_lines += 1
                self.stats.garbage_bytes += nbytes
            return
        if t is None:  # time="none": every line is the next sample
            t = self._cont.next if self._cont.next is not None else 0
        self._sample(t, values, off, nbytes, events)

    def _parse(self, text: str) -> tuple[int | None, list[int], int] | None:
        parts = text.split(",")
        try:
            t = None
            if self.time == "index":
                t = int(parts[0])
                parts = parts[1:]
                if t < 0:
                    return None
            values, off = [], 0
            for i, p in enumerate(parts):
                p = p.strip()
                if p == "!":
                    values.append(0)
                    off |= 1 << i
                else:
                    v = int(p)
                    if not -32768 <= v <= 32767:
                        return None
                    values.append(v)
        except ValueError:
            return None
        if not 1 <= len(values) <= MAX_CHANNELS:
            return None
        return t, values, off

    def _sample(self, t: int, values: list[int], off: int, nbytes: int, ev: list[Event]) -> None:
        cont = self._cont
        if cont.next is None:
            cont.next = t  # first line of a header-less stream defines the origin
        if t == cont.next:
            if self._pending is not None:  # the pending line was a corrupted index
                self._reject_pending()
            self._accept(t, values, off, ev)
            return
        pend = self._pending
        if pend is not None and t == pend[0] + 1:
            # confirmed discontinuity
            self._pending = None
            if pend[0] > cont.next:
                self._gap(pend[0], ev)
            else:
                self.stats.resets += 1  # counter went backwards and stayed: device restarted
                self._flush_block(ev)
                cont.next = pend[0]
            self._accept(pend[0], pend[1], pend[2], ev)
            self._accept(t, values, off, ev)
            return
        if pend is not None:
            self._reject_pending()
        self._pending = (t, values, off, nbytes)

    def _reject_pending(self) -> None:
        assert self._pending is not None
        t = self._pending[0]
        nxt = self._cont.next
        if nxt is not None and t < nxt:
            self.stats.stale += 1
        else:
            self.stats.bad_lines += 1
        self.stats.garbage_bytes += self._pending[3]
        self._pending = None

    def _gap(self, t: int, ev: list[Event]) -> None:
        nxt = self._cont.next
        assert nxt is not None
        self._flush_block(ev)
        lost = t - nxt
        ev.append(Gap(nxt, lost))
        self.stats.gaps += 1
        self.stats.lost_samples += lost
        self._cont.next = t

    def _accept(self, t: int, values: list[int], off: int, ev: list[Event]) -> None:
        if self._block and off != self._block_off:
            self._flush_block(ev)
        if not self._block:
            self._block_start = t
            self._block_off = off
        self._block.append(values)
        self._cont.next = t + 1
        self.stats.frames += 1
        self.stats.samples += 1

    def _flush_block(self, ev: list[Event]) -> None:
        if not self._block:
            return
        raw = np.asarray(self._block, dtype=np.int16)
        nch = raw.shape[1]
        ev.append(
            Samples(
                start=self._block_start,
                data=raw / self._gain,
                raw=raw,
                lead_off=(self._block_off >> np.arange(nch)) & 1 == 1,
            )
        )
        self._block = []

    def disconnect(self) -> list[Event]:
        """The link dropped: a partial line is discarded (counted); the session is kept."""
        self.stats.truncated_bytes += len(self._buf)
        self._buf.clear()
        return []

    def flush(self) -> list[Event]:
        """End of stream: parse a last unterminated line, settle a pending discontinuity."""
        events: list[Event] = []
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            self._line(line, events)
        pend = self._pending
        if pend is not None and self._cont.next is not None and pend[0] > self._cont.next:
            self._pending = None
            self._gap(pend[0], events)
            self._accept(pend[0], pend[1], pend[2], events)
        elif pend is not None:
            self._reject_pending()
        self._flush_block(events)
        return events


# --------------------------------------------------------------------------- auto-detect
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
