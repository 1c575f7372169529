"""Multi-lead evidence for the alert engine: per-lead beats and per-lead signal quality.

The rules run on one lead's beats (the detection lead). A beat that lead missed (a baseline
step, an electrode moving) looks exactly like a pause or asystole, the field's best-known
false alarms. So before an absence alarm (asystole, pause, bradycardia) is raised, the engine
asks this object whether another *usable* lead saw beats in that time, and while the
detection lead itself is unusable it holds arrhythmia alarms back (a ``noisy_signal`` or
``lead_off`` technical alarm says why).

Fed by :class:`~edge_runtime.alerts.LeadBeat` (each other lead's own detector) and
:class:`~edge_runtime.alerts.QualityEvent` (every lead's quality index per window). An
engine that never receives them (a caller without the pipeline) behaves as before: every
lead counts as usable and only the detection lead's beats exist.
"""

from __future__ import annotations

from collections import deque

from edge_runtime.alerts.events import LeadBeat, LeadQualityIndex, QualityEvent

__all__ = ["Evidence"]


class Evidence:
    """Recent beats and quality windows of every lead (bounded: about the last minute)."""

    def __init__(self, settle_s: float = 5.0, keep_s: float = 60.0) -> None:
        self.settle_s = float(settle_s)  # arrhythmia alarms held this long after bad quality
        self.match_s = 0.15  # beats on two leads this close are one QRS complex
        self.keep_s = float(keep_s)
        self.detector: int | None = None
        self.beats: dict[int, deque[float]] = {}
        # (start_s, end_s, per-lead index) of recent windows, oldest first
        self.windows: deque[tuple[float, float, tuple[LeadQualityIndex, ...]]] = deque()
        self.unusable_until = -1.0  # detection lead unusable up to this time (+ settle)
        self.held: dict[str, int] = {}  # arrhythmia onsets held back, by kind

    # ------------------------------------------------------------------ input
    def on_beat(self, ev: LeadBeat) -> None:
        q = self.beats.setdefault(ev.lead, deque())
        q.append(ev.time_s)
        while q and q[0] < ev.time_s - self.keep_s:
            q.popleft()

    def on_quality(self, ev: QualityEvent) -> None:
        self.detector = ev.detector
        self.windows.append((ev.start_s, ev.end_s, ev.leads))
        while self.windows and self.windows[0][1] < ev.end_s - self.keep_s:
            self.windows.popleft()
        if not ev.leads[ev.detector].usable:
            self.unusable_until = ev.end_s

    # ------------------------------------------------------------------ questions
    @property
    def known(self) -> bool:
        """Has any quality been reported (is this engine fed by the pipeline)?"""
        return self.detector is not None

    def arrhythmia_held(self, now: float) -> bool:
        """The detection lead was unusable within the last ``settle_s`` seconds."""
        return self.known and now - self.unusable_until < self.settle_s

    def usable_throughout(self, lead: int, t0: float, t1: float) -> bool:
        """Every quality window overlapping ``[t0, t1]`` calls ``lead`` usable."""
        return all(w[2][lead].usable for w in self.windows if w[1] > t0 and w[0] < t1)

    def usable_leads(self, t0: float, t1: float) -> list[int]:
        """Leads usable over all of ``[t0, t1]`` (all leads, if no quality is known)."""
        if not self.known:
            return sorted(self.beats)
        n = len(self.windows[-1][2])
        return [j for j in range(n) if self.usable_throughout(j, t0, t1)]

    def any_usable_now(self) -> bool:
        """Some lead is usable in the latest window (True if no quality is known)."""
        return not self.known or any(q.usable for q in self.windows[-1][2])

    def usable_at(self, lead: int, t: float) -> bool:
        """Was ``lead`` usable in the window holding ``t`` (the latest one if ``t`` is newer)?"""
        for start, _, q in reversed(self.windows):
            if t >= start:
                return q[lead].usable
        return True

    def other_beats(self, t0: float, t1: float) -> list[float]:
        """Beats of the other leads inside ``(t0, t1)``, each from a window in which its lead
        was usable, sorted; beats within ``match_s`` of ``t0`` or ``t1`` are the same QRS
        complexes seen on another lead (EC57's 150 ms match window), not new ones."""
        lo, hi = t0 + self.match_s, t1 - self.match_s
        out: list[float] = []
        for j, q in self.beats.items():
            if j != self.detector:
                out.extend(t for t in q if lo < t < hi and self.usable_at(j, t))
        return sorted(out)

    def last_other_beat(self, since: float, now: float) -> float | None:
        """Latest beat of another (usable) lead after the QRS at ``since``, up to ``now``."""
        beats = self.other_beats(since, now + self.match_s)
        return beats[-1] if beats else None

    def other_rate(self, t0: float, t1: float) -> float | None:
        """Highest heart rate (bpm) that one other usable lead shows over ``[t0, t1]``."""
        best = None
        for j in self.usable_leads(t0, t1):
            if j == self.detector:
                continue
            b = [t for t in self.beats.get(j, ()) if t0 <= t <= t1]
            if len(b) >= 3 and b[-1] > b[0]:
                hr = 60.0 * (len(b) - 1) / (b[-1] - b[0])
                best = hr if best is None else max(best, hr)
        return best

    def snapshot(self, t0: float, t1: float) -> list[dict]:
        """Per lead over ``[t0, t1]``: usable throughout, flags seen, beats: for the evidence."""
        if not self.windows:
            return []
        n = len(self.windows[-1][2])
        out = []
        for j in range(n):
            ws = [w[2][j] for w in self.windows if w[1] > t0 and w[0] < t1] or \
                [self.windows[-1][2][j]]
            flags = sorted({f for q in ws for f in q.flags})
            out.append({"lead": ws[-1].lead, "usable": all(q.usable for q in ws),
                        "flags": flags, "detector": j == self.detector,
                        "beats": None if j == self.detector else
                        sum(1 for t in self.beats.get(j, ()) if t0 < t < t1)})
        return out

    def hold(self, kind: str) -> None:
        self.held[kind] = self.held.get(kind, 0) + 1
