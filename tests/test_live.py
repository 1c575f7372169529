"""LiveSession: reader -> decoder -> pipeline, on a replayed capture and a stand-in pipeline."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edge_runtime import protocol as p
from edge_runtime.errors import EcgEdgeError
from edge_runtime.live import LiveSession


class _FakePipeline:
    """Records what the session feeds it (the real Pipeline is tested in test_run)."""

    def __init__(self, fs: float, leads: list[str]) -> None:
        self.fs, self.leads = fs, leads
        self.n = 0
        self.gaps: list[int] = []
        self.technical_calls: list[tuple] = []
        self.chunks: list[np.ndarray] = []

    def push(self, data, lead_off=None) -> None:
        self.chunks.append(np.asarray(data))
        self.n += len(data)

    def gap(self, lost: int) -> None:
        self.gaps.append(lost)

    def technical(self, kind: str, active: bool, detail=None) -> None:
        self.technical_calls.append((kind, active))


class _Host:
    def __init__(self) -> None:
        self.pipeline: _FakePipeline | None = None
        self.sessions: list[_FakePipeline] = []

    def start(self, fs, leads, source):
        self.pipeline = _FakePipeline(fs, leads)
        self.sessions.append(self.pipeline)
        return self.pipeline

    def end(self) -> None:
        self.pipeline = None


def _capture(tmp_path, *, fs2: float | None = None) -> str:
    h = p.Header(fs=250.0, leads=("I", "II"), gain=(100.0, 100.0))
    enc = p.Encoder(h, "binary")
    out = enc.header()
    for i in range(10):
        frame = enc.frame(np.full((25, 2), i))
        if i != 4:  # frame 4 is lost in transit: a gap of 25 samples
            out += frame
    if fs2 is not None:  # the device restarts with another rate: a new session
        enc2 = p.Encoder(p.Header(fs=fs2, leads=("I", "II"), gain=(100.0, 100.0), boot_id=1))
        out += enc2.header() + enc2.frame(np.ones((20, 2)))
    f = tmp_path / "cap.bin"
    f.write_bytes(out)
    return f"file:{f}"


def test_replay_feeds_samples_and_gaps(tmp_path):
    host = _Host()
    LiveSession(host, _capture(tmp_path)).run(threading.Event())
    (pl,) = host.sessions
    assert (pl.fs, pl.leads) == (250.0, ["I", "II"])
    assert pl.n == 9 * 25 and pl.gaps == [25]
    values = np.round(np.concatenate(pl.chunks)[:, 0] * 100.0)
    assert list(np.unique(values)) == [0, 1, 2, 3, 5, 6, 7, 8, 9]


def test_duration_cuts_exactly(tmp_path):
    host = _Host()
    LiveSession(host, _capture(tmp_path), duration_s=0.5).run(threading.Event())
    assert host.sessions[0].n == 125  # 0.5 s at 250 Hz, not a whole frame more


def test_new_configuration_starts_a_new_session(tmp_path):
    host = _Host()
    LiveSession(host, _capture(tmp_path, fs2=500.0)).run(threading.Event())
    assert [s.fs for s in host.sessions] == [250.0, 500.0]
    assert host.sessions[1].n == 20


def test_no_header_is_one_line_error(tmp_path):
    f = tmp_path / "junk.bin"
    f.write_bytes(b"\x00" * 100)
    with pytest.raises(EcgEdgeError, match="no data with a valid header"):
        LiveSession(_Host(), f"file:{f}").run(threading.Event())


def test_unopenable_port_is_one_line_error():
    with pytest.raises(EcgEdgeError, match="cannot open port"):
        LiveSession(_Host(), "socket://127.0.0.1:1").run(threading.Event())
