"""Scoring alarms against reference episodes: episode sensitivity, alarm +P, false alarms/h.

Why episode level: staff hear alarms, not beats, so a bedside monitor is judged by whether each
true episode raised an alarm in time and whether each alarm it raised was true (the way
ANSI/AAMI EC57 scores VF and AF, and the PhysioNet/CinC 2015 challenge scored ICU alarms).

Matching rules (the documentation in docs/alarms.md repeats them):

* An *alarm* is an ``onset`` of an alert, or an ``escalate`` of one (a louder alarm), with the
  severity it had then and its time ``t`` = the signal time it was raised (``time_s`` of the
  update). It stays active until the alert's ``end_s``.
* Each alarm type has the reference kinds that make it true (:data:`ALARM_REFERENCE`): the
  kinds its sensitivity is counted over, and the kinds it may match (e.g. a ``vt`` or
  ``tachycardia`` alarm in ventricular flutter is true: the ventricular rate is high, though
  MIT-BIH marks flutter waves, not beats, so no reference rate exists there; an ``af`` alarm
  in atrial flutter is not false).
* An alarm is a true positive when ``t`` lies in ``[onset - tol, end + tol]`` of a reference
  episode of a matching kind (``tol`` = 5 s by default); otherwise it is a false alarm.
* An episode is detected when an alarm of its type is active at some time in
  ``[onset - tol, end + tol]`` (raised in it, or raised earlier and still sounding). Its delay
  is ``max(0, t_first - onset)`` with ``t_first`` the earliest such alarm.
* EC57 episode statistics for AF and VF (:func:`ec57_episodes`, as ``epicmp`` computes them):
  the first 5 min are a learning period; a reference episode is detected when any test
  episode overlaps it, a test episode is true when it overlaps any reference episode; for AF
  +P, reference atrial-flutter intervals are excluded; duration sensitivity and +P are the
  overlap over the reference / test durations. Test episodes are the alerts' own
  ``[start_s, end_s]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_runtime.alarm_reference import Episode
from edge_runtime.alerts import SEVERITIES

__all__ = [
    "ALARM_REFERENCE",
    "ARRHYTHMIA_TYPES",
    "VF_ROW",
    "Alarm",
    "alarms_from_records",
    "alarm_matches",
    "episode_detection",
    "ec57_episodes",
    "RowStats",
    "score_record",
    "lethal_detection",
    "noise_alarms",
]

#: alarm type -> (reference kinds counted for its sensitivity, kinds an alarm may match)
ALARM_REFERENCE: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "asystole": (("asystole",), ("asystole",)),
    "pause": (("pause",), ("pause",)),
    "bradycardia": (("brady",), ("brady",)),
    "tachycardia": (("tachy",), ("tachy", "VF", "VFL")),
    "vt": (("vt",), ("vt", "VF", "VFL")),
    "svt": (("svt",), ("svt",)),
    "vf": (("VF",), ("VF", "VFL", "vt")),  # EC57 VF episodes; true in VF, flutter or VT
    "af": (("AFIB",), ("AFIB", "AFL")),
    "bigeminy": (("B",), ("B",)),
    "trigeminy": (("T",), ("T",)),
    "pvc_rate": (("pvc_rate",), ("pvc_rate",)),
    "noisy_signal": (("noise",), ("noise",)),
}
#: alarm types about the heart (not technical): every one of them during added noise is false
ARRHYTHMIA_TYPES = ("asystole", "pause", "bradycardia", "tachycardia", "vt", "vf", "svt",
                    "af", "bigeminy", "trigeminy", "pvc_rate")
EC57_LEARNING_S = 300.0
#: table row of (VFL episodes vs any crisis alarm): lethal-rhythm coverage by any crisis
#: (the ``vf`` alarm type has its own rows)
VF_ROW = "VFL:any-crisis"


@dataclass
class Alarm:
    """One alarm: an alert's onset or escalation, active from ``t`` to ``end_s``."""

    type: str
    severity: str
    t: float
    start_s: float
    end_s: float
    id: str = ""
    action: str = "onset"


def alarms_from_records(records: Iterable[dict], end_s: float) -> list[Alarm]:
    """Alarms from the pipeline's alert records (``{"event": "alert", "action": ...}``).

    An ``escalate`` that does not change the severity the alert already had in its previous
    record is not a new alarm (an onset escalated in the same engine step is reported twice
    with the escalated severity, because both updates share the alert object).
    """
    out: list[Alarm] = []
    ends: dict[str, float] = {}
    last_sev: dict[str, str] = {}
    for r in records:
        if r.get("event") != "alert":
            continue
        if r["action"] == "escalate" and last_sev.get(r.get("id", "")) == r["severity"]:
            continue  # onset and escalation in one engine step both carry the new severity
        last_sev[r.get("id", "")] = r["severity"]
        if r["action"] in ("onset", "escalate"):
            start = float(r["start_s"]) if r["action"] == "onset" else float(r["time_s"])
            out.append(Alarm(r["type"], r["severity"], float(r["time_s"]), start, end_s,
                             r.get("id", ""), r["action"]))
        elif r["action"] == "end" and r.get("end_s") is not None:
            ends[r.get("id", "")] = float(r["end_s"])
    for a in out:
        if a.id in ends:
            a.end_s = max(ends[a.id], a.t)
    return out


def alarm_matches(alarms: Sequence[Alarm], episodes: Sequence[Episode], tol: float) -> list[bool]:
    """Per alarm: does its raise time fall in ``[onset - tol, end + tol]`` of an episode?"""
    if not episodes:
        return [False] * len(alarms)
    s = np.array([e.start_s for e in episodes]) - tol
    e = np.array([e.end_s for e in episodes]) + tol
    return [bool(np.any((s <= a.t) & (a.t <= e))) for a in alarms]


def episode_detection(episodes: Sequence[Episode], alarms: Sequence[Alarm],
                      tol: float) -> list[float | None]:
    """Per episode: the alarm delay in s (>= 0), or None when no alarm was active in its
    window ``[onset - tol, end + tol]``."""
    out: list[float | None] = []
    for ep in episodes:
        lo, hi = ep.start_s - tol, ep.end_s + tol
        ts = [a.t for a in alarms if a.t <= hi and a.end_s >= lo]
        out.append(None if not ts else max(0.0, min(ts) - ep.start_s))
    return out


def _clip(spans: Iterable[tuple[float, float]], t0: float, t1: float) -> list[tuple[float, float]]:
    """Spans cut to ``[t0, t1]``, overlapping ones joined (episodes of one annotator never
    overlap; several alerts sounding at once form one test episode)."""
    out: list[tuple[float, float]] = []
    for a, b in sorted((max(a, t0), min(b, t1)) for a, b in spans if min(b, t1) > max(a, t0)):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _overlap(a: tuple[float, float], spans: Sequence[tuple[float, float]]) -> float:
    return float(sum(max(0.0, min(a[1], b) - max(a[0], s)) for s, b in spans))


def ec57_episodes(ref: Sequence[tuple[float, float]], test: Sequence[tuple[float, float]],
                  end_s: float, exclude: Sequence[tuple[float, float]] = (),
                  learning_s: float = EC57_LEARNING_S) -> dict:
    """EC57 episode-by-episode counts (``epicmp``): TPs, FN, TPp, FP and durations.

    ``exclude`` (reference atrial flutter, for AF) is cut out of the test episodes for +P;
    a test episode inside it is ignored.
    """
    r = _clip(ref, learning_s, end_s)
    t = _clip(test, learning_s, end_s)
    out = {"TPs": 0, "FN": 0, "TPp": 0, "FP": 0, "ref_s": 0.0, "test_s": 0.0,
           "overlap_ref_s": 0.0, "overlap_test_s": 0.0}
    for ep in r:
        ov = _overlap(ep, t)
        out["ref_s"] += ep[1] - ep[0]
        out["overlap_ref_s"] += ov
        out["TPs" if ov > 0 else "FN"] += 1
    ex = _clip(exclude, learning_s, end_s)
    for ep in t:
        dur = ep[1] - ep[0] - _overlap(ep, ex)
        if dur <= 0:
            continue
        ov = _overlap(ep, r)
        out["test_s"] += dur
        out["overlap_test_s"] += ov
        out["TPp" if ov > 0 else "FP"] += 1
    return out


@dataclass
class RowStats:
    """Counts of one table row (an alarm type, at one severity or any), summed over records."""

    episodes: int = 0
    detected: int = 0
    alarms: int = 0
    true_alarms: int = 0
    hours: float = 0.0
    delays: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # "record@onset_s"
    false: list[str] = field(default_factory=list)  # "record@t"
    judged: bool = True  # False for alarm types without a reference (counts only)

    def add(self, other: RowStats) -> None:
        self.episodes += other.episodes
        self.detected += other.detected
        self.alarms += other.alarms
        self.true_alarms += other.true_alarms
        self.hours += other.hours
        self.delays += other.delays
        self.missed += other.missed
        self.false += other.false
        self.judged = self.judged and other.judged

    def to_dict(self, keep: int = 40) -> dict:
        fa = self.alarms - self.true_alarms if self.judged else None
        d = np.asarray(self.delays) if self.delays else None
        return {"judged": self.judged,
            "episodes": self.episodes, "detected": self.detected,
            "sensitivity": _pct(self.detected, self.episodes),
            "alarms": self.alarms, "true_alarms": self.true_alarms, "false_alarms": fa,
            "ppv": _pct(self.true_alarms, self.alarms) if self.judged else None,
            "false_per_hour": round(fa / self.hours, 3) if fa is not None and self.hours > 0
            else None,
            "delay_median_s": None if d is None else round(float(np.median(d)), 2),
            "delay_max_s": None if d is None else round(float(d.max()), 2),
            "missed": self.missed[:keep], "missed_n": len(self.missed),
            "false": self.false[:keep], "false_n": len(self.false),
        }


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 2) if b else None


def score_record(name: str, alarms: Sequence[Alarm], episodes: Sequence[Episode],
                 hours: float, tol: float = 5.0) -> dict[tuple[str, str], RowStats]:
    """Rows ``(type, severity)`` (every severity) and ``(type, "any")`` for one record.

    Types without a reference (:data:`ALARM_REFERENCE`) get alarm counts only (every alarm
    counted, none judged: ``judged`` False, +P and false alarms undefined).
    """
    rows: dict[tuple[str, str], RowStats] = {}
    by_kind: dict[str, list[Episode]] = {}
    for e in episodes:
        by_kind.setdefault(e.kind, []).append(e)
    types = sorted({a.type for a in alarms} | set(ALARM_REFERENCE))
    for typ in types:
        mine = [a for a in alarms if a.type == typ]
        # every severity, so per-severity rows count the same episodes in every record (the
        # aggregate drops severities that raised no alarm anywhere)
        for sev in [*SEVERITIES, "any"]:
            group = mine if sev == "any" else [a for a in mine if a.severity == sev]
            st = RowStats(hours=hours, alarms=len(group))
            if typ in ALARM_REFERENCE:
                sens_kinds, ok_kinds = ALARM_REFERENCE[typ]
                sens_eps = [e for k in sens_kinds for e in by_kind.get(k, [])]
                ok_eps = [e for k in ok_kinds for e in by_kind.get(k, [])]
                hit = alarm_matches(group, ok_eps, tol)
                st.true_alarms = sum(hit)
                st.false = [f"{name}@{a.t:.1f}" for a, h in zip(group, hit, strict=True)
                            if not h]
                det = episode_detection(sens_eps, group, tol)
                st.episodes = len(sens_eps)
                st.detected = sum(d is not None for d in det)
                st.delays = [d for d in det if d is not None]
                st.missed = [f"{name}@{e.start_s:.1f}({e.duration_s:.0f}s)"
                             for e, d in zip(sens_eps, det, strict=True) if d is None]
            else:
                st.judged = False
            if st.alarms or st.episodes:
                rows[(typ, sev)] = st
    # ventricular flutter/fibrillation against any crisis alarm (vt, vf, ...): lethal coverage
    vfl = by_kind.get("VFL", [])
    if vfl:
        crisis = [a for a in alarms if a.severity == "crisis"]
        det = episode_detection(vfl, crisis, tol)
        rows[(VF_ROW, "crisis")] = RowStats(
            episodes=len(vfl), detected=sum(d is not None for d in det), alarms=len(crisis),
            hours=hours, delays=[d for d in det if d is not None], judged=False,
            missed=[f"{name}@{e.start_s:.1f}({e.duration_s:.0f}s)"
                    for e, d in zip(vfl, det, strict=True) if d is None])
    return rows


def lethal_detection(name: str, episodes: Sequence[Episode], alarms: Sequence[Alarm],
                     min_s: float = 4.0, within_s: float = 10.0) -> list[dict]:
    """VT/VF episodes of >= ``min_s``: did a crisis alarm sound within ``within_s`` of onset?"""
    crisis = [a for a in alarms if a.severity == "crisis"]
    out = []
    for e in merge_lethal(episodes):
        if e.duration_s < min_s:
            continue
        ts = [a.t for a in crisis if a.t <= e.start_s + within_s and a.end_s >= e.start_s]
        delay = None if not ts else max(0.0, min(ts) - e.start_s)
        out.append({"record": name, "onset_s": round(e.start_s, 2),
                    "duration_s": round(e.duration_s, 2), "kinds": e.detail,
                    "crisis_delay_s": None if delay is None else round(delay, 2)})
    return out


def merge_lethal(episodes: Sequence[Episode]) -> list[Episode]:
    """Union of the ``vt``, ``VF`` and ``VFL`` episodes (detail lists the kinds merged)."""
    spans = sorted((e for e in episodes if e.kind in ("vt", "VF", "VFL")),
                   key=lambda e: e.start_s)
    out: list[Episode] = []
    for e in spans:
        if out and e.start_s <= out[-1].end_s:
            last = out[-1]
            kinds = last.detail if e.kind in last.detail.split("+") else f"{last.detail}+{e.kind}"
            out[-1] = Episode("lethal", last.start_s, max(last.end_s, e.end_s), kinds)
        else:
            out.append(Episode("lethal", e.start_s, e.end_s, e.kind))
    return out


def noise_alarms(alarms: Sequence[Alarm], mask_spans: Sequence[tuple[float, float]],
                 tol: float = 5.0) -> dict:
    """Alarms raised while noise was on (``[start, end + tol]`` of a noise span), by type and
    severity, and the fraction of noise time covered by the ``noisy_signal`` technical alarm
    (called ``noise`` before the per-lead quality index)."""
    by: dict[str, int] = {}
    for a in alarms:
        if any(s <= a.t <= e + tol for s, e in mask_spans):
            key = f"{a.type}:{a.severity}"
            by[key] = by.get(key, 0) + 1
    noise_time = sum(e - s for s, e in mask_spans)
    tech = [(a.start_s, a.end_s) for a in alarms if a.type in ("noisy_signal", "noise")]
    covered = sum(_overlap(sp, tech) for sp in mask_spans)
    return {"by_type": dict(sorted(by.items())), "noise_s": noise_time,
            "noise_alarm_covered_s": covered}
