"""The beat front end never reads beyond the documented beat (issue 16), in both labelling modes.

What beat i may read (edge_runtime/beats.py, edge_runtime/beat_rr.py): its window and template
channel read the signal up to the window's end (through filter and resampler); ``pre_rr``,
``local_rr``, ``long_rr`` and their norms read R times up to R_i (the first beat: R_1);
``post_rr``, ``post_rr_norm`` up to R_{i+1}. Each test changes everything after that point
(samples and R-peaks) and requires beat i to stay bit-identical, for :func:`extract_beats`
and for the streaming :class:`BeatWindower` fed in small blocks; and a change just inside
the bound must show (the bound is tight, the test not vacuous).
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.beat_rr import POST_RR_FEATURES, RR_FEATURES
from edge_runtime.beats import BeatConfig, BeatWindower, extract_beats
from edge_runtime.detect import StreamingDetector
from edge_runtime.events import needed_inputs
from tests.synth_ecg import beats_signal, rhythm

FS = 360.0
CFG = BeatConfig(template_beats=8)  # the shipped card's front end has the template channel
POST = [RR_FEATURES.index(f) for f in POST_RR_FEATURES]
CAUSAL = [i for i in range(len(RR_FEATURES)) if i not in POST]


@pytest.fixture(scope="module")
def ecg():
    """40 s of synthetic ECG (tests/synth_ecg.py): sinus with premature V beats, some noise."""
    times, kinds = rhythm([("N", 0.8), ("N", 0.8), ("N", 0.45), ("V", 1.15), ("N", 0.9)], 40.0)
    x = beats_signal(times, kinds, 40.0, FS, noise_mv=0.02, seed=1)
    return x, np.round(np.asarray(times) * FS).astype(np.int64)


def window_end_input(peak: int) -> int:
    """Input samples the window of ``peak`` needs (later samples may not change it)."""
    bw = BeatWindower(FS, 1, CFG)
    return needed_inputs(bw.center(peak) + CFG.after, bw._resampler)


def stream(x, peaks, post_rr, block=97, delay=90):
    """The windower fed ``block`` samples at a time, each peak registered ``delay`` samples
    after it (as the detector does): windows, features, emitted peaks."""
    bw = BeatWindower(FS, 1, CFG, post_rr)
    out = []
    reg = 0
    for s in range(0, len(x), block):
        e = min(len(x), s + block)
        new = peaks[reg:][peaks[reg:] + delay < e]
        reg += len(new)
        out.append(bw.push(x[s:e], new))
    out.append(bw.push(x[:0], peaks[reg:]))
    out.append(bw.flush())
    return tuple(np.concatenate([o[k] for o in out]) for k in range(3))


def both(x, peaks, post_rr):
    w, f = extract_beats(x, FS, peaks, CFG, post_rr=post_rr)
    ws, fs_, ps = stream(x, peaks, post_rr)
    np.testing.assert_array_equal(ps, peaks)
    np.testing.assert_array_equal(ws, w)  # streaming == offline, bit for bit
    np.testing.assert_array_equal(fs_, f)
    return w, f


def changed_after(x, peaks, sample_from: int, keep_peaks: int, seed: int):
    """Samples from ``sample_from`` on and the R-peaks after the first ``keep_peaks`` replaced."""
    rng = np.random.default_rng(seed)
    x2 = x.copy()
    x2[sample_from:] = x2[sample_from:][::-1] * 1.7 + rng.normal(0, 0.3, len(x2) - sample_from)
    lo = peaks[keep_peaks - 1] + 1
    new = np.unique(rng.integers(lo, len(x), size=len(peaks) - keep_peaks + 5))
    return x2, np.concatenate([peaks[:keep_peaks], new])


@pytest.mark.parametrize("post_rr", [True, False])
@pytest.mark.parametrize("i", [0, 1, 6, 23])
def test_window_and_causal_rr_features_ignore_everything_after_the_window(ecg, post_rr, i):
    x, peaks = ecg
    w, f = both(x, peaks, post_rr)
    end = window_end_input(int(peaks[i]))
    # pre/local/long RR need R_i (the first beat: R_1, its pre-RR being its post-RR)
    keep = max(i + 1, 2)
    x2, p2 = changed_after(x, peaks, end, keep, seed=i)
    w2, f2 = both(x2, p2, post_rr)
    np.testing.assert_array_equal(w2[i], w[i])
    np.testing.assert_array_equal(f2[i, CAUSAL], f[i, CAUSAL])
    if not post_rr:
        assert np.isnan(f[:, POST]).all()  # never computed in low-latency mode
    # tight: a sample just inside the window's reach changes it (the newest one, end - 1, has
    # an exactly-zero resampler tap at 360 -> 180 Hz: the FIR ends on a sinc zero crossing)
    x3 = x.copy()
    x3[end - 2] += 5.0
    w3, _ = extract_beats(x3, FS, peaks, CFG, post_rr=post_rr)
    assert not np.array_equal(w3[i, 0], w[i, 0])


@pytest.mark.parametrize("i", [0, 5, 23])
def test_post_rr_features_read_the_next_r_and_nothing_later(ecg, i):
    x, peaks = ecg
    w, f = both(x, peaks, True)
    end = max(window_end_input(int(peaks[i])), int(peaks[i + 1]) + 1)
    x2, p2 = changed_after(x, peaks, end, i + 2, seed=10 + i)
    _, f2 = both(x2, p2, True)
    np.testing.assert_array_equal(f2[i], f[i])  # all seven, post-RR included
    # tight: moving R_{i+1} moves beat i's post-RR (and nothing of the causal ones, i > 0)
    p3 = peaks.copy()
    p3[i + 1] += 7
    _, f3 = extract_beats(x, FS, p3, CFG)
    assert f3[i, POST[0]] != f[i, POST[0]]  # (beat 0: post_rr_norm = 1 either way)
    if i > 0:
        np.testing.assert_array_equal(f3[i, CAUSAL], f[i, CAUSAL])


def test_low_latency_mode_gives_the_same_windows_and_causal_features_for_every_beat(ecg):
    """One implementation: training's extract_beats (either mode) == the low-latency stream."""
    x, peaks = ecg
    w, f = both(x, peaks, True)
    w_ll, f_ll = both(x, peaks, False)
    np.testing.assert_array_equal(w_ll, w)
    np.testing.assert_array_equal(f_ll[:, CAUSAL], f[:, CAUSAL])
    assert np.isnan(f_ll[:, POST]).all()
    # a lone beat: nothing known in either mode (60 bpm assumed), same numbers
    _, f1 = extract_beats(x, FS, peaks[:1], CFG)
    _, f1_ll = extract_beats(x, FS, peaks[:1], CFG, post_rr=False)
    np.testing.assert_array_equal(f1_ll[:, CAUSAL], f1[:, CAUSAL])


def test_low_latency_emits_at_the_window_end_not_at_the_next_r(ecg):
    """Streaming: a beat leaves in the push that completes its window (the first beat: that
    also registers R_1); with post-RR features not before R_{i+1} is registered."""
    x, peaks = ecg
    block, delay = 18, 90  # 50 ms blocks; the detector decides 250 ms after R
    seen = {True: {}, False: {}}
    for post_rr in (True, False):
        bw = BeatWindower(FS, 1, CFG, post_rr)
        reg = 0
        for s in range(0, len(x), block):
            e = min(len(x), s + block)
            new = peaks[reg:][peaks[reg:] + delay < e]
            reg += len(new)
            for p in bw.push(x[s:e], new)[2]:
                seen[post_rr][int(p)] = e  # input count at emission
    for i, p in enumerate(peaks[:-1]):
        ready = window_end_input(int(p))
        reg_own = -(-(p + delay + 1) // block) * block  # end of the registering block
        reg_next = -(-(peaks[i + 1] + delay + 1) // block) * block
        want_ll = max(-(-ready // block) * block, reg_next if i == 0 else reg_own)
        assert seen[False][int(p)] == want_ll
        assert seen[True][int(p)] == max(-(-ready // block) * block, reg_next)
    lat = [(seen[False][int(p)] - p) / FS for p in peaks[1:-1]]
    assert max(lat) < 0.6  # window 0.45 s + resampler 56 ms + a block


def test_detected_beats_keep_their_inputs_when_the_future_changes(ecg):
    """Detector in the loop: the beats decided before sample T, and their low-latency windows
    and features, do not depend on any sample from T on."""
    x, _ = ecg
    cut = int(25.3 * FS)

    def run(sig):
        det = StreamingDetector(FS)
        bw = BeatWindower(FS, 1, CFG, post_rr=False)
        beats, out = [], []
        for s in range(0, len(sig), 36):
            new = det.push(sig[s:s + 36])
            beats += new
            out.append(bw.push(sig[s:s + 36], [b.sample for b in new]))
        return beats, [np.concatenate([o[k] for o in out]) for k in range(3)]

    b1, (w1, f1, p1) = run(x)
    x2 = x.copy()
    x2[cut:] = np.random.default_rng(3).normal(0, 0.5, len(x) - cut)
    b2, (w2, f2, p2) = run(x2)
    early = [b for b in b1 if b.decided_at < cut and window_end_input(b.sample) <= cut]
    assert len(early) > 20
    assert [(b.sample, b.decided_at) for b in b2[:len(early)]] == [
        (b.sample, b.decided_at) for b in early]
    n = len(early)
    np.testing.assert_array_equal(p2[:n], p1[:n])
    np.testing.assert_array_equal(w2[:n], w1[:n])
    np.testing.assert_array_equal(f2[:n, CAUSAL], f1[:n, CAUSAL])
