"""Ventricular fibrillation/flutter: a crisis alarm from the beat-independent VF analysis.

Fed by :class:`~edge_runtime.stages.vf.VfStage` (one :class:`RhythmEvent` per analysis
window, every second over the last 4 s of the detector lead), never by beats: in VF there
are no QRS complexes to detect. ``windows_on`` consecutive VF-like windows -> onset (start =
start of the first of them); no VF-like window for ``clear_s`` -> end (at the end of the last
one). With 4 s windows every 1 s and ``windows_on = 2`` the alarm comes 5-7 s after a
sustained VF onset (the target is 10 s). ``clear_s`` is 20 s by default: inside long VF
episodes the leakage leaves the VF range for 15 s and more (207), and a VF alarm should not
end while VF goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import RhythmEvent
from edge_runtime.alerts.params import integer, seconds
from edge_runtime.alerts.rules.base import Rule, RuleContext


class VentricularFibrillation(Rule):
    name = "vf"
    params = {
        "windows_on": integer(1, doc="consecutive VF-like analysis windows -> alarm"),
        "clear_s": seconds(doc="no VF-like window for this long -> alarm ends"),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.windows_on, self.clear_s = self.config["windows_on"], self.config["clear_s"]
        self._streak = 0
        self._first: RhythmEvent | None = None
        self._last_vf: RhythmEvent | None = None

    def on_rhythm(self, ctx: RuleContext, ev: RhythmEvent) -> None:
        if not ev.vf:
            self._streak = 0
            return
        if self._streak == 0:
            self._first = ev
        self._streak += 1
        self._last_vf = ev
        a = ctx.active.get(self.name)
        if a is not None:
            a.evidence["windows"] = a.evidence.get("windows", 0) + 1
            a.evidence["min_leakage"] = min(a.evidence.get("min_leakage", 1.0),
                                            ev.features.get("leakage", 1.0))
        elif self._streak >= self.windows_on and self._first is not None:
            a = ctx.onset(self.name, self._first.start_s, {
                "features": ev.features, "windows": self._streak,
                "min_leakage": ev.features.get("leakage", 1.0),
                "method": "VF filter leakage < 0.406 (Kuo & Dillman 1978; Amann et al. 2005)"})

    def on_tick(self, ctx: RuleContext) -> None:
        last = self._last_vf
        if last is not None and self.name in ctx.active and ctx.now - last.end_s >= self.clear_s:
            ctx.end(self.name, last.end_s)
