"""CSV-line mode (hobby boards): ``t,ch1,ch2`` per sample, ``!`` for a lead that is off.

An optional comment line ``# ecgedge fs=360 leads=MLII,V1 gain=200,200 device=1 fw=sim-0.1
start=0 bits=16 boot=7`` carries the handshake; ``t`` is the integer sample index and the
values are integer ADC counts. Named ``csvline`` so it never shadows the standard ``csv``.
"""

from __future__ import annotations

import re

import numpy as np

from edge_runtime.protocol.events import (
    MAX_CHANNELS,
    Continuity,
    DecoderStats,
    Event,
    Gap,
    Header,
    Samples,
)


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
        self._cont = Continuity()
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

