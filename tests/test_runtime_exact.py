"""The fast paths of the runtime's front end compute exactly what the plain numpy/scipy calls do
(issue 9: speed without changing any output)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from edge_runtime.beats import TemplateTracker, _median_baseline
from edge_runtime.dsp import SosFilter, StreamingResampler, ecg_filter_sos


@pytest.mark.parametrize("leads", [1, 3])
def test_sosfilter_equals_scipy_sosfilt_bitwise(leads: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, leads)).cumsum(axis=0)
    sos = ecg_filter_sos(360.0, notch=50.0)
    f = SosFilter(sos)
    got = np.concatenate([f.push(x[i : i + 777]) for i in range(0, len(x), 777)])
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    want, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    assert np.array_equal(got, want)


@pytest.mark.parametrize(("fs_in", "fs_out"), [(360, 180), (360, 100), (500, 180), (250, 180)])
def test_resampler_equals_fancy_index_einsum(fs_in: int, fs_out: int) -> None:
    """The strided gather gives the very array (and einsum) of the plain index formulation."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4000, 2))
    r = StreamingResampler(fs_in, fs_out)
    y = r.push(x)
    buf = np.concatenate([np.repeat(x[:1], r.taps, axis=0), x])
    ks = np.arange(len(y))
    pos = ks * r.down
    idx = (pos // r.up + r.taps)[:, None] - np.arange(r.taps)[None, :]
    want = np.einsum("kt,ktc->kc", r._h_poly[pos % r.up], buf[idx])
    assert np.array_equal(y, want)


def test_template_tracker_equals_np_median_bitwise() -> None:
    rng = np.random.default_rng(2)
    t = TemplateTracker(8)
    hist: list[np.ndarray] = []
    for i in range(60):
        w = np.round(rng.standard_normal((2, 30)), 1 if i % 3 else 3).astype(np.float32)  # ties
        tpl = np.median(np.stack(hist[-8:]), axis=0) if hist else w
        want = np.concatenate([w, (w - tpl).astype(np.float32)])
        assert np.array_equal(t.apply(w), want)
        hist.append(w)


@pytest.mark.parametrize("n", [126, 125, 2, 1])
def test_median_baseline_equals_np_median(n: int) -> None:
    w = np.random.default_rng(3).standard_normal((2, n)).astype(np.float32)
    assert np.array_equal(_median_baseline(w), w - np.median(w, axis=-1, keepdims=True))
