"""Streaming DSP: block-wise output equals whole-signal output for any block partition."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from edge_runtime.dsp import (
    RingBuffer,
    SosFilter,
    StreamingResampler,
    design_notch,
    ecg_filter_sos,
    filter_signal,
    resample_signal,
)

_RNG = np.random.default_rng(0)
_SIGNAL = np.cumsum(_RNG.normal(size=(3000, 2)), axis=0) * 0.01 + _RNG.normal(size=(3000, 2))


def _partition(n: int, cuts: list[int]) -> list[slice]:
    edges = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 3000), max_size=25),
    fs=st.sampled_from([100.0, 250.0, 360.0, 500.0, 1000.0]),
)
def test_sos_filter_blockwise_equals_whole(cuts: list[int], fs: float) -> None:
    sos = ecg_filter_sos(fs, notch=50.0 if fs > 120 else None)
    whole = filter_signal(_SIGNAL, sos)
    f = SosFilter(sos)
    parts = [f.push(_SIGNAL[s]) for s in _partition(len(_SIGNAL), cuts)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 3000), max_size=25),
    rates=st.sampled_from([(360, 100), (500, 100), (100, 500), (360, 180), (250, 360), (100, 100),
                          (500, 180), (250, 180), (128, 100)]),
)
def test_resampler_blockwise_equals_whole(cuts: list[int], rates: tuple[int, int]) -> None:
    fs_in, fs_out = rates
    whole = resample_signal(_SIGNAL, fs_in, fs_out)
    r = StreamingResampler(fs_in, fs_out)
    parts = [r.push(_SIGNAL[s]) for s in _partition(len(_SIGNAL), cuts)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("fs_in", "fs_out"), [(360, 100), (500, 100), (100, 250)])
def test_resampler_length_and_sine_fidelity(fs_in: int, fs_out: int) -> None:
    """A 5 Hz sine comes out as a 5 Hz sine at the new rate, delayed by ``delay_in``."""
    t = np.arange(10 * fs_in) / fs_in
    r = StreamingResampler(fs_in, fs_out)
    y = r.push(np.sin(2 * np.pi * 5 * t))
    assert abs(len(y) - 10 * fs_out) <= 3  # causal: outputs past the last input wait
    t_out = np.arange(len(y)) / fs_out - r.delay_in / fs_in
    steady = t_out > 1.0
    np.testing.assert_allclose(y[steady], np.sin(2 * np.pi * 5 * t_out[steady]), atol=2e-3)


def test_resampler_matches_scipy_resample_poly_in_steady_state() -> None:
    """Same anti-aliasing FIR as scipy's resample_poly, only causal (shifted by the delay)."""
    x = _SIGNAL[:, 0]
    r = StreamingResampler(360, 120)  # up=1, down=3
    y = r.push(x)
    ref = signal.resample_poly(x, 1, 3)
    lag = int(round(r.delay_in / 3))
    np.testing.assert_allclose(y[lag + 50 : 900], ref[50 : 900 - lag], atol=1e-9)


def test_highpass_removes_dc_and_wander_without_startup_ring() -> None:
    fs = 360.0
    t = np.arange(int(20 * fs)) / fs
    x = 5.0 + 0.5 * np.sin(2 * np.pi * 0.1 * t) + 0.2 * np.sin(2 * np.pi * 10 * t)
    y = filter_signal(x, ecg_filter_sos(fs))
    assert abs(y[:100]).max() < 0.5  # steady-state start: no 5 mV step response
    late = y[int(5 * fs) :]
    assert abs(late.mean()) < 0.01
    assert 0.15 < late.std() * np.sqrt(2) < 0.21  # 10 Hz passes


def test_notch_attenuates_mains() -> None:
    fs = 500.0
    t = np.arange(int(5 * fs)) / fs
    y = filter_signal(np.sin(2 * np.pi * 50 * t), design_notch(fs, 50.0))
    assert np.abs(y[int(2 * fs) :]).max() < 0.05
    with pytest.raises(ValueError):
        design_notch(100.0, 60.0)


def test_filter_lead_count_change_rejected() -> None:
    f = SosFilter(ecg_filter_sos(360.0))
    f.push(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="lead count"):
        f.push(np.zeros((10, 3)))


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, 500), max_size=20), capacity=st.integers(1, 300))
def test_ring_buffer_holds_latest_samples(cuts: list[int], capacity: int) -> None:
    data = np.arange(500 * 2, dtype=float).reshape(500, 2)
    rb = RingBuffer(capacity, n_leads=2)
    for s in _partition(500, cuts):
        rb.push(data[s])
        assert rb.total == s.stop
        start = max(0, s.stop - capacity)
        np.testing.assert_array_equal(rb.get(start, s.stop), data[start : s.stop])
    with pytest.raises(IndexError):
        rb.get(rb.start - 1, rb.total) if rb.start > 0 else rb.get(0, rb.total + 1)


@pytest.mark.parametrize("leads", [1, 3])
def test_sos_filter_public_fallback_is_bit_equal_to_fast_path(monkeypatch, leads: int) -> None:
    """The private scipy core and the public ``sosfilt`` fallback give identical bits,
    block after block (the fallback runs if a scipy release moves the private core)."""
    import edge_runtime.dsp as dsp

    assert dsp._sosfilt_core is not None, "the tested scipy (pinned range) has the fast core"
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3000, leads)).cumsum(axis=0) + 5.0
    if leads == 1:
        x = x[:, 0]
    sos = ecg_filter_sos(360.0, 0.5, 40.0, notch=60.0)
    cuts = [0, 1, 7, 360, 1500, 3000]

    def run() -> list[np.ndarray]:
        f = SosFilter(sos)
        return [f.push(x[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]

    fast = run()
    monkeypatch.setattr(dsp, "_sosfilt_core", None)
    slow = run()
    for a, b in zip(fast, slow, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64
        assert np.array_equal(a, b)  # bit-equal, not merely close
