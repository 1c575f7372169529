"""Ports (issue 14, item 7): exclusive open, device identity on reconnect, the device's clock.

The stream tests drive a real :class:`~edge_runtime.pipeline.Pipeline` (no models) from a
scripted reader: bytes made by the protocol encoder from record 100, and the link events a
:class:`~edge_runtime.transport.ReconnectingReader` would yield.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from edge_runtime import cli
from edge_runtime import protocol as pr
from edge_runtime.detect import detect_record
from edge_runtime.errors import EcgEdgeError
from edge_runtime.live import LiveSession
from edge_runtime.pipeline import Pipeline
from edge_runtime.records import read_record, shipped_record_path
from edge_runtime.transport import ReconnectingReader, TransportEvent, open_source

FS = 360.0
GAIN = 200.0


@pytest.fixture(scope="module")
def raw100() -> np.ndarray:
    """First 40 s of record 100 as int16 ADC counts (gain 200/mV): what a device sends."""
    rec = read_record(shipped_record_path("100"), sampto=int(40 * FS))
    return np.round(rec.signal * GAIN).astype(np.int16)


def _pty() -> tuple[int, str]:
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    return master, path


# ------------------------------------------------------------------ exclusive open
def test_second_reader_of_a_pty_gets_a_one_line_error():
    master, path = _pty()
    try:
        first = open_source(path)
        try:
            with pytest.raises(EcgEdgeError, match="in use by another reader") as exc:
                open_source(path)
            assert "\n" not in str(exc.value)
        finally:
            first.close()
        open_source(path).close()  # released on close: the next reader may open it
    finally:
        os.close(master)


def test_second_ecgedge_run_on_a_port_exits_with_one_line(capsys):
    master, path = _pty()
    first = open_source(path)
    try:
        rc = cli.main(["run", "--port", path, "--beat-model", "none", "--window-model",
                       "none", "--quiet"])
    finally:
        first.close()
        os.close(master)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and "in use by another reader" in err[0]


def test_reconnect_waits_while_another_reader_holds_the_port():
    """After an unplug the port may be taken by someone else: retry, do not share it."""
    master, path = _pty()
    other = open_source(path)
    reader = ReconnectingReader(path, wait_first=True, backoff_initial=0.01, max_down_s=0.3)
    try:
        events = [e for e in reader.chunks(threading.Event()) if isinstance(e, TransportEvent)]
    finally:
        other.close()
        os.close(master)
    assert events[0].kind == "retry" and "in use by another reader" in events[0].detail
    assert events[-1].kind == "gave_up"


# ------------------------------------------------------------------ scripted streams
class _Reader:
    """Stands in for ReconnectingReader: yields the given items, then ends."""

    def __init__(self, items: list) -> None:
        self.items = items

    def chunks(self, stop=None):
        yield from self.items

    def close(self) -> None:
        pass


class _ListSink:
    def __init__(self) -> None:
        self.records: list[dict] = []

    def handle(self, record: dict) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


class _Host:
    """A real pipeline per session (no models), all records into one list."""

    def __init__(self) -> None:
        self.sink = _ListSink()
        self.pipeline: Pipeline | None = None
        self.sessions: list[Pipeline] = []

    def start(self, fs, leads, source):
        self.pipeline = Pipeline(fs, leads, sinks=[self.sink], source=source)
        self.sessions.append(self.pipeline)
        return self.pipeline

    def end(self) -> None:
        if self.pipeline is not None:
            self.pipeline.finish()
            self.pipeline = None


def _link(kind: str) -> TransportEvent:
    return TransportEvent(kind, "/dev/pts/test", time.time())


def _device(raw: np.ndarray, device_id: int, start: int = 0, leads=("MLII", "V5"),
            drop: tuple[int, int] | None = None) -> bytes:
    """Header (announcing ``start``) + data frames of ``raw`` numbered from ``start``;
    frames whose first sample falls in ``drop`` (a span of raw indices) never arrive."""
    h = pr.Header(fs=FS, leads=tuple(leads), gain=(GAIN,) * len(leads), device_id=device_id,
                  start_sample=start, boot_id=device_id)
    enc = pr.Encoder(h, "binary")
    out = bytearray(enc.header())
    for i in range(0, raw.shape[0], 36):
        frame = enc.frame(raw[i:i + 36])
        if drop is None or not drop[0] <= i < drop[1]:
            out += frame
    return bytes(out)


def _beats(host: _Host, session: int) -> list[int]:
    """R-peak samples of one session, from the journal records."""
    out, k = [], -1
    for r in host.sink.records:
        if r.get("event") == "session" and r.get("action") == "start":
            k += 1
        elif r.get("event") in ("beat", "beats") and k == session:
            s = r["sample"]
            out += s if isinstance(s, list) else [s]
    return out


def _run(items: list) -> tuple[_Host, LiveSession]:
    host = _Host()
    live = LiveSession(host, "/dev/pts/test", reader=_Reader(items), quiet=True)
    live.run(threading.Event())
    host.end()
    return host, live


def test_device_id_change_on_reconnect_is_a_new_session(raw100):
    a = raw100[: int(15 * FS)]
    b = raw100[int(15 * FS): int(30 * FS)]
    host, live = _run([_device(a, 1), _link("disconnected"), _link("reconnected"),
                       _device(b, 2)])
    first, second = host.sessions
    assert live.device_changes == 1
    assert (first.n, second.n) == (len(a), len(b))  # nothing of device 2 in device 1's session
    assert second.gaps == 0 and first.gaps == 0
    (note,) = [r for r in host.sink.records if r.get("action") == "device_changed"]
    assert (note["from_device"], note["to_device"]) == (1, 2)
    starts = [i for i, r in enumerate(host.sink.records) if r.get("action") == "start"]
    ends = [i for i, r in enumerate(host.sink.records) if r.get("action") == "end"]
    assert ends[0] < starts[1] < host.sink.records.index(note)  # old ended, new started, said


def test_same_device_after_reconnect_keeps_the_session_and_counts_the_gap(raw100):
    """Samples the device produced while unplugged arrive as a gap of exactly that size."""
    x = raw100[: int(30 * FS)]
    lo, hi = 36 * 100, 36 * 200  # 100 frames (10 s) sent while the link was down
    stream = _device(x, 1, drop=(lo, 10**9))
    tail = _device(x, 1, drop=(0, hi))  # same header (same boot): re-sent after re-enumeration
    host, live = _run([stream, _link("disconnected"), _link("reconnected"), tail])
    (pl,) = host.sessions
    assert live.device_changes == 0
    assert (pl.gaps, pl.lost_samples) == (1, hi - lo)
    assert pl.n == x.shape[0]  # gap filled: times stay on the device's clock


def test_late_join_counts_a_gap_and_times_follow_the_device_clock(raw100):
    """A device that has sent S samples before we listened: its first header says
    ``start_sample = S``; those samples are one gap and every time is offset by S."""
    x = raw100[: int(30 * FS)]
    S = int(7.5 * FS)
    host, _ = _run([_device(x, 1, start=S)])
    (pl,) = host.sessions
    assert (pl.gaps, pl.lost_samples) == (1, S)
    assert pl.n == S + x.shape[0]
    late = _beats(host, 0)
    host0, _ = _run([_device(x, 1, start=0)])
    on_time = _beats(host0, 0)
    assert len(late) == len(on_time) > 30
    assert late == [s + S for s in on_time]
    (summary,) = [r for r in host.sink.records if r.get("event") == "summary"]
    assert (summary["gaps"], summary["lost_samples"]) == (1, S)  # said in the journal too


def test_late_join_times_match_the_offline_detector(raw100):
    """The late-joined session's beats are the detector's beats on the same samples + S."""
    x = raw100[: int(30 * FS)]
    S = 1000
    host, _ = _run([_device(x, 1, start=S)])
    ref = [b.sample + S for b in detect_record(x[:, 0] / GAIN, FS)]
    got = _beats(host, 0)
    assert len(got) == len(ref)
    assert max(abs(a - b) for a, b in zip(got, ref, strict=True)) <= 1


def test_non_ecg_channels_of_a_stream_are_not_used(raw100):
    x = raw100[: int(10 * FS)]
    host, _ = _run([_device(x, 1, leads=("II", "PLETH"))])
    (pl,) = host.sessions
    assert pl.leads == ["II"]
    assert pl.n == x.shape[0]
