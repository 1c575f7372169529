"""Window-model findings: a class above its threshold in consecutive windows -> advisory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import WindowEvent
from edge_runtime.alerts.params import integer, number, text
from edge_runtime.alerts.rules.base import Rule, RuleContext


class Finding(Rule):
    """One alert kind per class (``finding:<class>``). The threshold is the model card's
    (operating point) when it has one, else ``default_threshold``; a class the card has a
    rate/rhythm rule decide (``WindowEvent.decided``) takes the rule's decision instead;
    ``windows_on`` consecutive windows at or above it -> onset (starting at the first of
    them), ``windows_off`` below it -> end.
    """

    name = "finding"
    params = {
        "windows_on": integer(1), "windows_off": integer(1),
        "default_threshold": number(0, 1), "operating_point": text(),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        c = self.config
        self.windows_on, self.windows_off = c["windows_on"], c["windows_off"]
        self.default_threshold = c["default_threshold"]
        self._on: dict[str, int] = {}      # consecutive windows above threshold, per class
        self._off: dict[str, int] = {}     # consecutive windows below it
        self._first: dict[str, float] = {}  # start of the first window of the current streak

    def on_window(self, ctx: RuleContext, window: WindowEvent) -> None:
        for cls, p in window.probs.items():
            thr = float(window.thresholds.get(cls, self.default_threshold))
            kind = f"finding:{cls}"
            ruled = cls in window.decided  # the card has a rate/rhythm rule decide this class
            if window.decided[cls] if ruled else p >= thr:
                if self._on.get(cls, 0) == 0:
                    self._first[cls] = window.start_s
                self._on[cls] = self._on.get(cls, 0) + 1
                self._off[cls] = 0
                if self._on[cls] >= self.windows_on and kind not in ctx.active:
                    ev = {"class": cls, "prob": p, "threshold": thr, "task": window.task,
                          "model": window.card_id, "window": [window.start_s, window.end_s]}
                    if ruled:
                        ev = {**ev, "decided_by": "rule", "rule_evidence": window.evidence}
                    ctx.onset(kind, self._first[cls], ev)
                elif kind in ctx.active:
                    a = ctx.active[kind]
                    a.evidence["max_prob"] = max(a.evidence.get("max_prob", p), p)
            else:
                self._on[cls] = 0
                self._off[cls] = self._off.get(cls, 0) + 1
                if kind in ctx.active and self._off[cls] >= self.windows_off:
                    ctx.end(kind, window.start_s)
