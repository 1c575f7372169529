"""VF/flutter alarm: the beat-independent analysis stage, the ``vf`` rule, and VT/SVT held
inside VF, noise and irregular runs (issue 14, item 3). Signals are built (tests/synth_ecg.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from synth_ecg import FS, fibrillation, flutter, sinus

from edge_runtime.alerts import (
    AlertEngine,
    BeatEvent,
    RhythmEvent,
    TechnicalEvent,
    Tick,
    make_rule,
)
from edge_runtime.pipeline import Pipeline
from edge_runtime.stages.vf import VfStage
from edge_runtime.vf_features import LEAKAGE_MAX, filter_leakage, vf_features


def _analyses(x: np.ndarray, block: int = 97) -> list[RhythmEvent]:
    st = VfStage(FS)
    out = []
    for i in range(0, len(x), block):  # odd block size: the hop must not depend on it
        out += [ev for _, ev in st.push(x[i:i + block])]
    return out


def test_leakage_of_a_sine_is_small_and_of_a_spike_train_large():
    t = np.arange(int(4 * FS)) / FS
    assert filter_leakage(np.sin(2 * np.pi * 4.0 * t)) < 0.1
    assert filter_leakage(np.zeros(100)) == 1.0
    f = vf_features(sinus(70, 4.0), FS)
    assert f.leakage > LEAKAGE_MAX and not f.spectral_vf


def test_flutter_is_vf_like_in_every_full_window():
    evs = _analyses(flutter(20.0, freq_hz=4.5))
    assert len(evs) == 17  # 4 s window, 1 s hop: first analysis at 4 s
    assert evs[0].start_s == pytest.approx(0.0) and evs[0].end_s == pytest.approx(4.0)
    assert all(e.vf for e in evs[1:])  # the first window holds the filters' start-up
    assert 4.0 <= evs[5].features["peak_hz"] <= 5.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chaotic_fibrillation_is_mostly_vf_like(seed):
    evs = _analyses(fibrillation(30.0, seed=seed))
    share = np.mean([e.vf for e in evs[1:]])
    assert share >= 0.5, share


@pytest.mark.parametrize("rate", [50, 75, 120, 180])
def test_sinus_rhythm_is_never_vf_like(rate):
    evs = _analyses(sinus(rate, 30.0, t_mv=0.8))
    assert evs and not any(e.vf for e in evs)


@pytest.mark.parametrize("seed", [0, 1])
def test_noise_is_not_vf_like(seed):
    rng = np.random.default_rng(seed)
    n = int(30 * FS)
    white = rng.normal(0, 0.3, n)                       # muscle-like broadband noise
    walk = np.cumsum(rng.normal(0, 0.05, n))            # electrode-motion-like drift
    ecg_noisy = sinus(75, 30.0) + rng.normal(0, 0.2, n)
    for x in (white, walk, ecg_noisy):
        assert not any(e.vf for e in _analyses(x))


def test_flat_line_and_tiny_oscillation_are_not_vf():
    t = np.arange(int(10 * FS)) / FS
    assert not any(e.vf for e in _analyses(np.zeros(t.size)))
    assert not any(e.vf for e in _analyses(0.02 * np.sin(2 * np.pi * 4 * t)))  # < 0.1 mV p-p


def test_gap_restarts_the_window():
    st = VfStage(FS)
    x = flutter(6.0)
    assert st.push(x)
    st.skip(int(2 * FS))
    assert st.push(x[: int(3.5 * FS)]) == []   # less than one full window since the gap


def _rhythm(t_end: float, vf: bool) -> RhythmEvent:
    return RhythmEvent(t_end - 4.0, t_end, vf, {"leakage": 0.2 if vf else 0.8})


def test_vf_rule_onset_after_two_windows_and_end_after_clear_s():
    eng = AlertEngine(rules=[make_rule("vf", windows_on=2, clear_s=10.0)])
    ups = eng.push([_rhythm(10.0, False), _rhythm(11.0, True)])
    assert ups == []
    ups = eng.push([_rhythm(12.0, True)])
    assert [(u.action, u.alert.type, u.alert.severity) for u in ups] == [
        ("onset", "vf", "crisis")]
    assert ups[0].alert.start_s == pytest.approx(7.0)
    ups = eng.push([_rhythm(t, False) for t in range(13, 22)] + [Tick(21.9)])
    assert ups == []  # 9.9 s after the last VF-like window: still active
    ups = eng.push([_rhythm(22.0, False), Tick(22.0)])
    assert [u.action for u in ups] == ["end"] and ups[0].alert.end_s == pytest.approx(12.0)


def test_a_single_vf_like_window_raises_nothing():
    eng = AlertEngine(rules=[make_rule("vf")])
    ups = eng.push([_rhythm(t, t == 15) for t in range(5, 30)])
    assert ups == []


def test_pipeline_raises_vf_crisis_within_10_s_and_not_in_sinus():
    pre, vf, post = sinus(75, 30.0), flutter(20.0, freq_hz=4.2), sinus(75, 30.0)
    x = np.concatenate([pre, vf, post])
    p = Pipeline(FS, ["MLII"])
    for i in range(0, x.size, 180):
        p.push(x[i:i + 180, None])
    p.finish()
    onsets = [u for u in p.updates if u.action == "onset" and u.alert.type == "vf"]
    assert len(onsets) == 1
    assert 30.0 < onsets[0].time_s <= 40.0, onsets[0].time_s          # raised within 10 s
    assert onsets[0].alert.severity == "crisis"
    assert onsets[0].alert.end_s <= 52.0                              # ends after the flutter


def _labelled(eng: AlertEngine, times: list[float], label: str) -> list:
    ups = []
    for i, t in enumerate(times):
        ups += eng.push([BeatEvent(i, int(t * 360), t, label)])
    return ups


def test_svt_and_vt_held_inside_vf():
    for kind, label in (("svt", "S"), ("vt", "V")):
        eng = AlertEngine(rules=[make_rule("vf"), make_rule(kind)])
        eng.push([_rhythm(1.0, True)])
        ups = _labelled(eng, [1.2 + 0.3 * k for k in range(6)], label)
        assert not [u for u in ups if u.alert.type == kind]
        assert eng.rules[kind].held["vf"] > 0
        # same run with no VF-like analysis: alarmed
        eng = AlertEngine(rules=[make_rule("vf"), make_rule(kind)])
        ups = _labelled(eng, [1.2 + 0.3 * k for k in range(6)], label)
        assert [u.alert.type for u in ups if u.action == "onset"] == [kind]


def test_svt_held_in_noise_and_when_the_run_is_irregular():
    eng = AlertEngine(rules=[make_rule("noisy_signal"), make_rule("svt")])
    eng.push([TechnicalEvent("noisy_signal", True, 0.0)])
    eng.push([TechnicalEvent("noisy_signal", True, 3.5)])  # onset after onset_s = 2 s
    assert "noisy_signal" in eng.active
    ups = _labelled(eng, [4.0 + 0.35 * k for k in range(6)], "S")
    assert not [u for u in ups if u.alert.type == "svt"]
    assert eng.rules["svt"].held["noise"] > 0
    # an irregular run (AF-like RR) is not SVT
    eng = AlertEngine(rules=[make_rule("svt")])
    rr = [0.35, 0.55, 0.30, 0.50, 0.33, 0.52]
    ups = _labelled(eng, list(np.cumsum([1.0, *rr])), "S")
    assert not ups and eng.rules["svt"].held["irregular"] > 0
