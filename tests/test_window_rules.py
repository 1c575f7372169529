"""Rate/rhythm rules for SB, ST and AF (issue 18): evidence from the project's detector on a
window, decisions, and their wiring into the window stage, the alert engine and predict."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.alerts import AlertEngine, WindowEvent
from edge_runtime.rhythm_rules import (
    card_rule_classes,
    rr_irregularity,
    rule_decisions,
    window_evidence,
    window_rule_decisions,
)

FS = 100.0


def _ecg(beat_times: list[float], seconds: float = 10.0, fs: float = FS) -> np.ndarray:
    """A crude ECG: 1 mV Gaussian R waves (sigma 12 ms) with small T waves, plus noise."""
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for b in beat_times:
        x += np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x += 0.2 * np.exp(-0.5 * ((t - b - 0.25) / 0.05) ** 2)
    return x + 0.01 * np.random.default_rng(0).standard_normal(len(t))


def _regular(bpm: float, seconds: float = 10.0) -> list[float]:
    return list(np.arange(0.3, seconds - 0.1, 60.0 / bpm))


@pytest.mark.parametrize("bpm, sb, st", [(45.0, True, False), (75.0, False, False),
                                         (130.0, False, True)])
def test_rate_rules_follow_the_detected_rate(bpm, sb, st):
    ev = window_evidence(_ecg(_regular(bpm)), FS)
    assert ev.hr_bpm == pytest.approx(bpm, rel=0.05)
    d = rule_decisions(ev)
    assert d["SB"] is sb and d["ST"] is st and d["AF"] is False


def test_irregular_rr_is_called_af_and_regular_is_not():
    rng = np.random.default_rng(3)
    rr = rng.uniform(0.45, 1.1, 20)
    times = list(0.3 + np.cumsum(np.r_[0.0, rr]))
    times = [t for t in times if t < 9.9]
    ev = window_evidence(_ecg(times), FS)
    assert ev.irregularity is not None and ev.irregularity > 0.1
    assert rule_decisions(ev)["AF"] is True
    assert rr_irregularity([0.8] * 10) == 0.0
    assert rr_irregularity([0.8, 0.8]) is None  # too few intervals to say


def test_too_few_beats_gives_no_rate():
    ev = window_evidence(np.zeros(1000), FS)
    assert ev.hr_bpm is None and rule_decisions(ev)["SB"] is None


def _card(sources: dict | None) -> dict:
    card = {"task": "findings6", "classes": ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"],
            "fs": FS, "leads": ["I", "II"], "window": {"seconds": 10.0, "samples": 1000},
            "preprocessing": {"filter": {"highpass": 0.5, "lowpass": 40.0, "notch": None,
                                         "order": 2},
                              "normalisation": {"kind": "none"}},
            "operating_points": {"balanced": {c: 0.5 for c in
                                              ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]}}}
    if sources is not None:
        card["rules"] = {"decision_sources": sources, "lead": "II"}
    return card


def test_card_decides_which_classes_the_rule_owns():
    assert card_rule_classes(_card(None)) == {}
    card = _card({"SB": "rate_rule", "ST": "rate_rule", "AF": "network"})
    assert card_rule_classes(card) == {"SB": "rate_rule", "ST": "rate_rule"}
    win = np.stack([np.zeros(1000), _ecg(_regular(45.0))])
    evidence, decided = window_rule_decisions(card, win)
    assert decided == {"SB": True, "ST": False} and evidence["n_beats"] >= 6


class _Model:
    """A window model that says 0.9 for every class (the rule must override SB and ST)."""

    def __init__(self, card: dict) -> None:
        self.card = card

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.full((len(x), len(self.card["classes"])), 0.9, np.float32)


def test_window_stage_and_alerts_take_the_rule_decision():
    from edge_runtime.stages.window import WindowStage

    card = _card({"SB": "rate_rule", "ST": "rate_rule"})
    sig = np.stack([np.zeros(2000), _ecg(_regular(75.0, 20.0), 20.0)], axis=1)
    st = WindowStage(_Model(card), FS, [0, 1], hop_s=5.0)
    events = [e for i in range(0, 2000, 250) for _, e in st.push(sig[i:i + 250])]
    assert len(events) >= 2
    for ev in events:
        assert ev.decided == {"SB": False, "ST": False}
        assert ev.evidence["hr_bpm"] == pytest.approx(75.0, rel=0.1)
    ups = AlertEngine().push(events)
    called = {u.alert.type for u in ups if u.action == "onset"}
    # the network's 0.9 raises AF (its source) but not SB/ST (the rule says normal rate)
    assert "finding:AF" in called and "finding:SB" not in called and "finding:ST" not in called


def test_finding_alert_evidence_names_the_rule():
    evs = [WindowEvent(t, t + 10.0, "findings6", {"SB": 0.01}, "c", {"SB": 0.5}, {"SB": True},
                       {"hr_bpm": 48.0}) for t in (0.0, 2.0, 4.0)]
    ups = AlertEngine().push(evs)
    onset = next(u.alert for u in ups if u.alert.type == "finding:SB")
    assert onset.evidence["decided_by"] == "rule"
    assert onset.evidence["rule_evidence"]["hr_bpm"] == 48.0


def test_predict_takes_the_rule_decision_and_says_so(tmp_path):
    """``ecgedge predict`` with a card whose SB is decided by the rate rule: a 45 bpm record
    is SB at every operating point whatever the network says, and the row names the source."""
    import json

    import onnx
    import wfdb

    from edge_runtime.inference import CARD_KEY, Model
    from edge_runtime.predict import predict_record
    from tests.test_predict_window import _onnx_model

    classes = ["SB", "ST"]
    path = tmp_path / "m.onnx"
    _onnx_model(path, classes)  # the linear test graph on leads I, II, V1
    m = onnx.load(str(path))
    card = json.loads(m.metadata_props[0].value)
    card["rules"] = {"decision_sources": {"SB": "rate_rule", "ST": "network"}, "lead": "II"}
    card["operating_points"] = {"balanced": {"SB": 0.999, "ST": 0.999}}
    del m.metadata_props[:]
    m.metadata_props.append(onnx.StringStringEntryProto(key=CARD_KEY, value=json.dumps(card)))
    onnx.save(m, str(path))
    fs = 250
    ii = np.interp(np.arange(20 * fs) / fs, np.arange(2000) / FS, _ecg(_regular(45.0, 20.0), 20.0))
    sig = np.stack([0.1 * ii, ii, -0.5 * ii], axis=1)
    wfdb.wrsamp("slow", fs=fs, units=["mV"] * 3, sig_name=["I", "II", "V1"], p_signal=sig,
                fmt=["16"] * 3, adc_gain=[1000.0] * 3, baseline=[0] * 3,
                write_dir=str(tmp_path))
    rows = predict_record(tmp_path / "slow", Model(path))
    assert len(rows) == 2
    for r in rows:
        assert r["decision_sources"] == {"SB": "rate_rule", "ST": "network"}
        assert r["rhythm_evidence"]["hr_bpm"] == pytest.approx(45.0, rel=0.1)
        assert r["decisions"]["balanced"]["SB"] is True  # the rule, not p >= 0.999
        assert r["decisions"]["balanced"]["ST"] == (r["probabilities"]["ST"] >= 0.999)
