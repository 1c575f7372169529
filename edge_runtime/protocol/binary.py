"""Binary frames with CRC-16: encoder functions and the incremental :class:`BinaryDecoder`.

Layout (all integers little-endian; ``docs/protocol.md`` is the description)::

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
"""

from __future__ import annotations

import binascii
import struct

import numpy as np

from edge_runtime.protocol.events import (
    MAX_CHANNELS,
    U32,
    VERSION,
    Continuity,
    DecoderStats,
    Event,
    Gap,
    Header,
    Samples,
)

SYNC = b"\xa5\x5a"
FRAME_DATA = 0x01
FRAME_HEADER = 0x02
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


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).

    ``binascii.crc_hqx`` is exactly this CRC in C, so checking costs almost nothing; the check
    value of ``b"123456789"`` is 0x29B1.
    """
    return binascii.crc_hqx(data, 0xFFFF)



def _frame(ftype: int, device_id: int, payload: bytes) -> bytes:
    body = _PREFIX.pack(SYNC, VERSION, ftype, device_id & 0xFFFF, len(payload)) + payload
    return body + _CRC.pack(crc16(body[2:]))


def encode_header(h: Header) -> bytes:
    """Binary header/handshake frame for ``h``."""
    if not 1 <= h.n_channels <= MAX_CHANNELS or len(h.gain) != h.n_channels:
        raise ValueError(f"need 1..{MAX_CHANNELS} leads with one gain each")
    payload = _HEADER.pack(
        int(round(h.fs * 1000)), h.start_sample % U32, h.n_channels, h.adc_bits, h.boot_id
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
    payload = _DATA.pack(seq % U32, first_sample % U32, lead_off & 0xFFFF, status, nch, ns, 0)
    payload += raw.astype("<i2").tobytes()
    return _frame(FRAME_DATA, device_id, payload)



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
        self._cont = Continuity()
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

