"""Streaming R-peak detector: block invariance, known answers on real excerpts, fs range,
delay bound, multi-lead input, and one full record against a stored expected result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.detect import Beat, StreamingDetector, detect_record
from edge_runtime.dsp import resample_signal
from edge_runtime.ec57 import record_stats
from edge_runtime.records import read_beat_annotations, read_record, shipped_record_path

FIX = Path(__file__).parent / "fixtures"
EXCERPTS = ["mitdb119_1200s", "mitdb208_600s", "mitdb105_400s", "mitdb203_700s"]


def _load(name: str):
    rec = read_record(FIX / name)
    ref, _ = read_beat_annotations(FIX / name)
    return rec.signal[:, 0], rec.fs, ref


@pytest.fixture(scope="module")
def rec100():
    path = shipped_record_path("100")
    rec = read_record(path)
    ref, _ = read_beat_annotations(path)
    return rec, ref


def _run(x: np.ndarray, fs: float, block: int) -> list[Beat]:
    det = StreamingDetector(fs)
    out: list[Beat] = []
    for i in range(0, x.shape[0], block):
        out += det.push(x[i : i + block])
    return out + det.flush()


def test_block_size_does_not_change_output(rec100):
    x = rec100[0].signal[: 360 * 40, 0]
    ref = _run(x, 360.0, 4096)
    assert len(ref) > 40
    for block in (1, 7, 360):
        assert _run(x, 360.0, block) == ref  # same samples, decision times, flags, scores


def test_whole_signal_equals_streaming(rec100):
    x = rec100[0].signal[: 360 * 120, 0]
    assert detect_record(x, 360.0) == _run(x, 360.0, 360)


@pytest.mark.parametrize("name", EXCERPTS)
def test_known_answers_on_real_excerpts(name):
    x, fs, ref = _load(name)
    beats = detect_record(x, fs)
    st = record_stats(name, ref, [b.sample for b in beats], fs, window_s=0.15, start_s=0.0)
    assert st.fn == 0 and st.fp == 0, st
    tight = record_stats(name, ref, [b.sample for b in beats], fs, window_s=0.05, start_s=0.0)
    assert tight.tp >= len(ref) - 1  # R peak placed within 50 ms on all but at most one beat


@pytest.mark.parametrize("fs_out", [100.0, 250.0, 500.0, 1000.0])
def test_works_from_100_to_1000_hz(rec100, fs_out):
    rec, ref = rec100
    n = 360 * 180
    x = resample_signal(rec.signal[:n, 0], 360.0, fs_out)
    beats = detect_record(x, fs_out)
    # the resampler delays the signal by delay_in input samples
    from edge_runtime.dsp import StreamingResampler

    lag = StreamingResampler(360.0, fs_out).delay_in / 360.0
    ref_out = np.round((ref[ref < n] / 360.0 + lag) * fs_out).astype(np.int64)
    st = record_stats("100", ref_out, [b.sample for b in beats], fs_out, start_s=0.0)
    assert st.se >= 0.995 and st.ppv >= 0.995, st


def test_decision_delay_bound_and_order(rec100):
    rec, _ = rec100
    det = StreamingDetector(360.0)
    beats = _run(rec.signal[: 360 * 300, 0], 360.0, 360)
    learn = int(det.cfg.learn_s * 360)
    samples = [b.sample for b in beats]
    assert samples == sorted(samples) and len(set(samples)) == len(samples)
    for b in beats:
        if b.sample < learn:
            continue
        assert 0 < b.decided_at - b.sample <= det.max_delay_s * 360
        if not b.searchback:
            assert b.decided_at - b.sample <= det.primary_delay_s * 360
    assert det.primary_delay_s <= 0.25


def test_multi_lead_input(rec100):
    rec, ref = rec100
    n = 360 * 120
    beats = detect_record(rec.signal[:n], 360.0)  # (n, 2): energies of both leads fused
    st = record_stats("100", ref[ref < n], [b.sample for b in beats], 360.0, start_s=0.0)
    assert st.se >= 0.99 and st.ppv >= 0.99


def test_full_record_100_matches_stored_result(rec100):
    rec, ref = rec100
    beats = detect_record(rec.signal[:, 0], rec.fs, block=360)
    st = record_stats("100", ref, [b.sample for b in beats], rec.fs)
    expected = json.loads((FIX / "expected_detector_100.json").read_text())
    got = {"tp": st.tp, "fn": st.fn, "fp": st.fp, "n_beats": len(beats)}
    assert got == expected


def test_bad_input_rejected():
    det = StreamingDetector(360.0)
    with pytest.raises(ValueError):
        det.push(np.array([0.0, np.nan]))
    det.push(np.zeros((10, 2)))
    with pytest.raises(ValueError):
        det.push(np.zeros((10, 3)))
    with pytest.raises(ValueError):
        StreamingDetector(10.0)


def test_flat_signal_gives_no_beats():
    assert detect_record(np.zeros(360 * 20), 360.0) == []


def test_numba_and_numpy_backends_agree(rec100):
    from edge_runtime.detect import _kernel

    if not _kernel.HAVE_NUMBA:
        pytest.skip("numba not installed: only the numpy backend exists here")
    x = rec100[0].signal[: 360 * 300, 0]
    outs = {}
    for backend in ("numpy", "numba"):
        det = StreamingDetector(360.0, backend=backend)
        beats = []
        for i in range(0, x.size, 500):
            beats += det.push(x[i : i + 500])
        outs[backend] = beats + det.flush()
        assert det.backend == backend
    assert outs["numba"] == outs["numpy"]
    for name in EXCERPTS:
        y, fs, _ = _load(name)
        assert detect_record(y, fs) == _numpy_run(y, fs)


def _numpy_run(x: np.ndarray, fs: float) -> list[Beat]:
    det = StreamingDetector(fs, backend="numpy")
    return det.push(x) + det.flush()
