"""Rate and rhythm evidence of one 10 s window from the project's own detector (no torch).

Sinus bradycardia and tachycardia are *defined* by the heart rate (< 60, > 100 bpm), and atrial
fibrillation shows as irregular RR intervals. A window model learns those from 10 s of PTB-XL
and transfers less well to other sources (issue 18), while the detector
(:mod:`edge_runtime.detect`) and the heart-rate meter (:mod:`edge_runtime.hr_meter`) measure
them directly. This module computes that evidence from the very window the model sees (the
card's lead, at the card's rate, conditioned and normalised: the detector is scale-free), and
:func:`rule_decisions` turns it into decisions for the classes whose card says
``"decision_sources": {"SB": "rate_rule", ...}``. The window stage and ``ecgedge predict`` call
it; ``train.window.rhythm_eval`` compared it with the networks on PTB-XL fold 9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from edge_runtime.detect import detect_record
from edge_runtime.hr_meter import HeartRateMeter

#: the textbook definitions (fixed a priori, not tuned)
SB_BPM: float = 60.0
ST_BPM: float = 100.0
#: default RR irregularity for AF, the alert config's ``[rules.af] rmssd_ratio``
AF_IRREGULARITY: float = 0.10
#: which decision each rule source can make
RULE_CLASSES: dict[str, str] = {"SB": "rate_rule", "ST": "rate_rule", "AF": "rhythm_rule"}


@dataclass(frozen=True)
class RhythmEvidence:
    """Detector beats in one window: rate (bpm), RR irregularity, beat count (None = unknown)."""

    hr_bpm: float | None
    irregularity: float | None
    n_beats: int

    def to_dict(self) -> dict:
        """JSON-able, rounded."""
        d = asdict(self)
        for k in ("hr_bpm", "irregularity"):
            if d[k] is not None:
                d[k] = round(float(d[k]), 4)
        return d


def rr_irregularity(rr: Sequence[float], min_rr: int = 4) -> float | None:
    """Robust RMSSD / mean RR: the largest 20 % of successive differences dropped (a couple of
    ectopics are not AF); None with fewer than ``min_rr`` intervals."""
    rr = [float(r) for r in rr]
    if len(rr) < max(min_rr, 2):
        return None
    d = sorted(abs(rr[i + 1] - rr[i]) for i in range(len(rr) - 1))
    d = d[: max(1, int(0.8 * (len(rr) - 1)))]
    mean_rr = sum(rr) / len(rr)
    return (sum(x * x for x in d) / len(d)) ** 0.5 / mean_rr


def window_evidence(lead: np.ndarray, fs: float) -> RhythmEvidence:
    """Detect beats in one lead of one window; the meter's rate over the whole window (every
    interval in it, even count as the meter keeps) and the RR irregularity."""
    x = np.asarray(lead, dtype=np.float64)
    beats = detect_record(x, fs)
    times = [b.sample / fs for b in beats]
    seconds = len(x) / fs
    meter = HeartRateMeter(max_rr=max(len(times), 1), window_s=seconds)
    for t in times:
        meter.add(t)
    rr = np.diff(times)
    return RhythmEvidence(meter.rate(), rr_irregularity(rr.tolist()), len(times))


def rule_scores(ev: RhythmEvidence) -> dict[str, float]:
    """Ranking scores for AUROC (higher = more likely): SB -rate, ST rate, AF irregularity;
    NaN where the evidence is unknown."""
    hr = np.nan if ev.hr_bpm is None else ev.hr_bpm
    irr = np.nan if ev.irregularity is None else ev.irregularity
    return {"SB": -hr, "ST": hr, "AF": irr}


def rule_decisions(ev: RhythmEvidence, rules: dict | None = None) -> dict[str, bool | None]:
    """SB/ST/AF decisions from the evidence (None = not enough beats to say)."""
    r = rules or {}
    hr, irr = ev.hr_bpm, ev.irregularity
    return {
        "SB": None if hr is None else bool(hr < float(r.get("sb_bpm", SB_BPM))),
        "ST": None if hr is None else bool(hr > float(r.get("st_bpm", ST_BPM))),
        "AF": None if irr is None else bool(irr > float(r.get("af_irregularity",
                                                              AF_IRREGULARITY))),
    }


def card_rule_classes(card: dict) -> dict[str, str]:
    """``{class: source}`` of the card's classes decided by a rule (empty: the network decides
    every class)."""
    src = (card.get("rules") or {}).get("decision_sources") or {}
    return {c: s for c, s in src.items() if s != "network" and c in card.get("classes", [])}


def window_rule_decisions(card: dict, window: np.ndarray) -> tuple[dict, dict[str, bool]]:
    """For one model input ``(leads, samples)``: (evidence dict, decisions of the rule-decided
    classes). Empty when the card names no rule source."""
    classes = card_rule_classes(card)
    if not classes:
        return {}, {}
    rules = card["rules"]
    lead = list(card["leads"]).index(rules.get("lead", "II"))
    ev = window_evidence(window[lead], float(card["fs"]))
    dec = rule_decisions(ev, rules)
    # not enough beats: the rule says "not present" (it cannot see a rate it cannot measure)
    return ev.to_dict(), {c: bool(dec.get(c)) for c in classes}
