"""nst-style noise mixing: schedule, SNR calibration, continuity."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.records import read_beat_annotations, read_record, shipped_record_path
from firmware_sim.noise import mix_nst_noise, noise_gain, noise_power, noise_schedule, qrs_power


@pytest.fixture(scope="module")
def clean100():
    p = shipped_record_path("100")
    rec = read_record(p, channels=[0], sampto=360 * 900)
    ref, _ = read_beat_annotations(p, sampto=360 * 900)
    return rec.signal[:, 0], ref


def test_schedule_alternates_after_learning_period():
    m = noise_schedule(900 * 10, 10.0)
    t = np.arange(m.size) / 10.0
    assert not m[t < 300].any()
    assert m[(t >= 300) & (t < 420)].all() and not m[(t >= 420) & (t < 540)].any()
    assert m[(t >= 540) & (t < 660)].all()


@pytest.mark.parametrize("snr", [24.0, 6.0, -6.0])
def test_snr_is_what_was_asked(clean100, snr):
    clean, ref = clean100
    rng = np.random.default_rng(1)
    noise = np.cumsum(rng.normal(size=clean.size)) * 0.01 + rng.normal(size=clean.size) * 0.1
    noisy = mix_nst_noise(clean, noise, 360.0, snr, ref)
    added = noisy - clean
    on = noise_schedule(clean.size, 360.0)
    s = qrs_power(clean, 360.0, ref)
    n = noise_power(added[on][: 360 * 120], 360.0)
    assert 10 * np.log10(s / n) == pytest.approx(snr, abs=0.05)
    assert np.all(added[:360 * 300] == 0.0)


def test_no_steps_at_switches(clean100):
    clean, ref = clean100
    noise = np.sin(np.arange(clean.size) / 50.0) + 3.0
    added = mix_nst_noise(clean, noise, 360.0, 0.0, ref) - clean
    jumps = np.abs(np.diff(added))
    assert jumps.max() < 0.1  # offsets cancel the switch steps (only the slow sine moves)


def test_gain_formula_and_multilead(clean100):
    assert noise_gain(1.0, 1.0, 0.0) == pytest.approx(1.0)
    assert noise_gain(1.0, 1.0, 20.0) == pytest.approx(0.1)
    clean, ref = clean100
    two = np.stack([clean, 0.5 * clean], axis=1)
    noisy = mix_nst_noise(two, np.random.default_rng(2).normal(size=(1000, 2)), 360.0, 6.0, ref)
    assert noisy.shape == two.shape  # short noise record is rewound
