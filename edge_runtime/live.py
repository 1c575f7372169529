"""The live session of ``ecgedge run --port``: reader -> decoder -> pipeline, one object.

A reader thread only moves bytes and link events from a :class:`ReconnectingReader` into a
queue; everything else happens on the caller's thread, in order: bytes are decoded (format
auto-detected or given), a header starts a pipeline session (a new device configuration ends
the old one), samples and gaps go to the pipeline, link events become technical alarms
(``disconnect``, and ``signal_loss`` when no data arrived for the rule's ``no_data_s``), and
``duration_s`` of signal ends the session. The pipeline's own status lines and summary are
unchanged; the session only feeds it.

Whose samples these are (issue 14, item 7):

- device identity: a header with another device id than the session's (after a reconnect,
  another device took the port) ends the session and starts a new one, stated on stderr and
  in the journal (``{"event": "session", "action": "device_changed", ...}``). A new boot id
  of the same device (it restarted) keeps the session, as before;
- the device's sample clock: a session starts at the header's ``start_sample``. A reader that
  joins late (``start_sample > 0``: the device had been sending before) counts those samples
  as a gap (``Pipeline.gap``), so times in the journal are the device's times; samples lost
  while the link was down show up as a gap when data resumes (the decoders compare the
  frames' sample index with the next expected one). The pipeline fills a gap for at most its
  ``max_gap_fill_s`` (60 s): beyond that the gap is counted in full but times lag the device
  clock by the excess;
- ECG leads only: channels whose names say they are not ECG (PLETH, ABP, RESP, ...;
  :func:`edge_runtime.validation.classify_channels`) are not given to the pipeline.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from typing import Protocol

import numpy as np

from edge_runtime.errors import EcgEdgeError
from edge_runtime.pipeline import Pipeline
from edge_runtime.protocol import Gap, Header, Samples, make_decoder
from edge_runtime.transport import ReconnectingReader, TransportEvent
from edge_runtime.validation import classify_channels

__all__ = ["PipelineHost", "LiveSession", "coalesce"]

_MAX_BATCH = 1 << 16  # bytes gathered from the queue into one decoder push
_END = None  # what the reader thread puts last
_NOTHING = object()  # no item held back


class PipelineHost(Protocol):
    """Who owns the pipelines (models, sinks, alert config): ``run_cli.Runtime``."""

    pipeline: Pipeline | None

    def start(self, fs: float, leads: list[str], source: str) -> Pipeline: ...

    def end(self) -> None: ...


def coalesce(events: list) -> list:
    """Merge consecutive contiguous Samples blocks with the same lead-off state."""
    out: list = []
    for ev in events:
        prev = out[-1] if out else None
        if (isinstance(ev, Samples) and isinstance(prev, Samples)
                and prev.start + prev.n == ev.start
                and np.array_equal(prev.lead_off, ev.lead_off)):
            out[-1] = Samples(prev.start, np.concatenate([prev.data, ev.data]),
                              np.concatenate([prev.raw, ev.raw]), prev.lead_off,
                              prev.saturated or ev.saturated, prev.battery_low or ev.battery_low,
                              prev.seq)
        else:
            out.append(ev)
    return out


class LiveSession:
    """Feeds ``host``'s pipeline from the device at ``url`` until the end, ``stop`` or duration.

    ``run(stop)`` returns normally at the end of the stream, when ``stop`` is set, after
    ``duration_s`` seconds of signal, or when the reader gave up (``max_down_s``); it raises a
    one-line :class:`EcgEdgeError` when the port could not be read or never sent a header.
    """

    def __init__(
        self,
        host: PipelineHost,
        url: str,
        *,
        mode: str = "auto",
        baudrate: int = 115200,
        max_down_s: float | None = None,
        duration_s: float | None = None,
        no_data_s: float = 2.0,
        quiet: bool = False,
        reader: ReconnectingReader | None = None,
    ) -> None:
        self.host = host
        self.url = url
        self.duration_s = duration_s
        self.no_data_s = no_data_s
        self.quiet = quiet
        self.reader = reader or ReconnectingReader(url, baudrate=baudrate, max_down_s=max_down_s)
        self.decoder = make_decoder(mode)
        self.header: Header | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=10_000)
        self._reader_error: BaseException | None = None
        self._limit: int | None = None  # samples of this session to process (duration)
        self._last_data = time.monotonic()
        self._signal_lost = False
        self._ecg: np.ndarray | None = None  # stream columns given to the pipeline (None: all)
        self.device_changes = 0

    # -- reader thread: moves bytes only
    def _read(self, stop: threading.Event) -> None:
        try:
            for item in self.reader.chunks(stop):
                self._queue.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the session's thread
            self._reader_error = exc
        finally:
            self._queue.put(_END)

    # -- the session's thread
    def run(self, stop: threading.Event) -> None:
        th = threading.Thread(target=self._read, args=(stop,), name="ecgedge-reader",
                              daemon=True)
        th.start()
        self._last_data = time.monotonic()
        try:
            if not self._loop(stop):
                return  # duration reached: the rest of the stream is not wanted
            if not self._feed(self.decoder.flush()):
                return
            exc = self._reader_error
            if exc is not None:
                if isinstance(exc, EcgEdgeError):
                    raise exc
                raise EcgEdgeError(f"reading {self.url}: {exc}")
            if self.host.pipeline is None and self.header is None:
                raise EcgEdgeError(f"no data with a valid header arrived from {self.url}")
        finally:
            stop.set()
            self.reader.close()

    def _loop(self, stop: threading.Event) -> bool:
        """Process queue items until the end or ``stop``; False once the duration is reached."""
        held: object = _NOTHING  # an item taken while gathering bytes, processed next
        while not stop.is_set():
            if held is not _NOTHING:
                item, held = held, _NOTHING
            else:
                try:
                    item = self._queue.get(timeout=0.2)
                except queue.Empty:
                    item = b""
            if item is _END:
                return True
            if isinstance(item, TransportEvent):
                if not self._link_event(item):
                    return False
            elif item:
                data, held = self._gather(item)
                if not self._feed(coalesce(self.decoder.push(data))):
                    return False
            self._check_signal_loss()
            check = getattr(self.host.pipeline, "check_outputs", None)
            if check is not None:  # outputs fail also while no data comes
                check()
        return True

    def _gather(self, first: bytes) -> tuple[bytes, object]:
        """``first`` plus the bytes already queued behind it (one decoder push, not many).

        Results do not depend on block size; per-push cost does. Returns the bytes and the
        first non-bytes item met (or ``_NOTHING``)."""
        data = bytearray(first)
        while len(data) < _MAX_BATCH:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(nxt, bytes | bytearray):
                return bytes(data), nxt
            data += nxt
        return bytes(data), _NOTHING

    def _link_event(self, ev: TransportEvent) -> bool:
        if ev.kind == "disconnected" and not self._feed(self.decoder.disconnect()):
            return False
        if not self._handle(ev):
            return False
        if ev.kind == "gave_up" and not self.quiet:
            print(f"ecgedge run: {self.url} gone for {ev.down_s:.1f} s; stopping",
                  file=sys.stderr)
        return True

    def _feed(self, events: list) -> bool:
        return all(self._handle(ev) for ev in events)

    def _handle(self, ev) -> bool:
        """One decoded or link event; False when the session has processed ``duration_s``."""
        if isinstance(ev, Header):
            self._on_header(ev)
            return True
        p = self.host.pipeline
        if p is None:
            return True
        if isinstance(ev, Samples):
            return self._on_samples(p, ev)
        if isinstance(ev, Gap):
            p.gap(ev.lost_samples)
        elif isinstance(ev, TransportEvent):
            if ev.kind == "disconnected":
                p.technical("disconnect", True, {"port": ev.url, "reason": ev.detail})
            elif ev.kind == "reconnected":
                p.technical("disconnect", False, {"down_s": round(ev.down_s, 3)})
        return True

    def _on_header(self, h: Header) -> None:
        old = self.header
        self.header = h
        new_device = old is not None and h.device_id != old.device_id
        if (old is not None and self.host.pipeline is not None and not new_device
                and (h.fs, h.leads) == (old.fs, old.leads)):
            return  # same stream (periodic re-send or device restart): keep the session
        self.host.end()  # another device or a new configuration: close the old session
        ch = classify_channels(h.leads)  # by name: the wire carries mV by definition
        self._ecg = None if len(ch.ecg) == len(h.leads) else np.asarray(ch.ecg)
        if ch.skipped:  # said even with --quiet, as the record's
            print(f"ecgedge run: {self.url}: not ECG, not used: {ch.note()}", file=sys.stderr)
        p = self.host.start(h.fs, [h.leads[i] for i in ch.ecg], self.url)
        if new_device:
            self.device_changes += 1
            self._state_device_change(p, old, h)
        if h.start_sample > 0 and (old is None or new_device):
            # a late join: the device's clock says these samples were sent before we listened
            p.gap(h.start_sample)
        self._limit = None if self.duration_s is None else p.n + int(self.duration_s * h.fs)

    def _state_device_change(self, p: Pipeline, old: Header, h: Header) -> None:
        """Say that another device now feeds this port (stderr and the session's sinks)."""
        # a warning, said even with --quiet
        print(f"ecgedge run: {self.url}: device {old.device_id} was replaced by device "
              f"{h.device_id}; new session", file=sys.stderr)
        record = {"event": "session", "action": "device_changed", "port": self.url,
                  "from_device": old.device_id, "to_device": h.device_id,
                  "firmware": h.firmware, "start_sample": h.start_sample}
        for sink in getattr(p, "sinks", ()):
            sink.handle(record)

    def _on_samples(self, p: Pipeline, ev: Samples) -> bool:
        self._last_data = time.monotonic()
        if self._signal_lost:
            self._signal_lost = False
            p.technical("signal_loss", False)
        data = ev.data
        lead_off = ev.lead_off
        if self._ecg is not None:
            data, lead_off = data[:, self._ecg], lead_off[self._ecg]
        if self._limit is not None:
            data = data[: max(0, self._limit - p.n)]
        p.push(data, lead_off=lead_off)
        return self._limit is None or p.n < self._limit

    def _check_signal_loss(self) -> None:
        p = self.host.pipeline
        if (p is not None and not self._signal_lost
                and time.monotonic() - self._last_data > self.no_data_s):
            self._signal_lost = True
            p.technical("signal_loss", True, {"no_data_s": self.no_data_s})
