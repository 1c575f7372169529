"""Atrial-fibrillation suspicion from RR irregularity, escalated when the window model agrees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import BeatEvent, WindowEvent
from edge_runtime.alerts.hysteresis import Hysteresis
from edge_runtime.alerts.params import integer, number, seconds, severity, text
from edge_runtime.alerts.rules.base import Rule, RuleContext, order_check

ECTOPIC = ("V", "S")


def irregularity(beats: list[BeatEvent]) -> float | None:
    """Robust RMSSD / mean RR of the beats' RR intervals, None with fewer than 8 usable RRs.

    Ectopy makes RR irregular without AF, so RRs touching a V or S beat are dropped; isolated
    ectopics that slip through give a few huge successive differences while AF makes all of
    them large, so the largest 20 % are dropped before the RMS (a couple of APCs are not AF).
    """
    rr = [beats[i + 1].time_s - beats[i].time_s for i in range(len(beats) - 1)
          if beats[i].label not in ECTOPIC and beats[i + 1].label not in ECTOPIC]
    if len(rr) < 8:
        return None
    d = sorted(abs(rr[i + 1] - rr[i]) for i in range(len(rr) - 1))
    d = d[: max(1, int(0.8 * (len(rr) - 1)))]
    mean_rr = sum(rr) / len(rr)
    return (sum(x * x for x in d) / len(d)) ** 0.5 / mean_rr


class AtrialFibrillation(Rule):
    """Irregularity above ``rmssd_ratio`` for ``onset_s`` over the last ``beats`` RRs ->
    advisory; below ``clear_ratio`` for ``offset_s`` -> end. Escalates to ``escalate_to``
    while the window model's ``model_class`` probability is at least ``model_threshold``.
    """

    name = "af"
    params = {
        "beats": integer(8, doc="RR intervals looked at (at least 8 usable ones are needed)"),
        "rmssd_ratio": number(above=0), "clear_ratio": number(above=0),
        "onset_s": seconds(), "offset_s": seconds(),
        "model_class": text(), "model_threshold": number(0, 1), "escalate_to": severity(),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        c = self.config
        self.n_beats = int(c["beats"])
        self.on, self.clear = c["rmssd_ratio"], c["clear_ratio"]
        self.model_class = c.get("model_class", "AF")
        self.model_threshold, self.escalate_to = c["model_threshold"], c["escalate_to"]
        self.hyst = Hysteresis(c["onset_s"], c["offset_s"])
        self._model_prob: float | None = None  # latest window-model probability of AF
        self._model_card = ""

    @classmethod
    def cross_check(cls, config):
        return order_check(config, "clear_ratio", "rmssd_ratio")

    def on_window(self, ctx: RuleContext, window: WindowEvent) -> None:
        self._model_card = window.card_id
        if self.model_class in window.probs:
            self._model_prob = float(window.probs[self.model_class])

    def on_label(self, ctx: RuleContext, beat: BeatEvent) -> None:
        beats = list(ctx.labeled)[-(self.n_beats + 1):]
        if len(beats) < self.n_beats + 1:
            return
        ratio = irregularity(beats)
        if ratio is None:
            return
        change = self.hyst.update(beat.time_s, ratio > self.on, ratio < self.clear)
        if change and change[0] == "onset":
            a = ctx.onset("af", change[1], {"rmssd_ratio": ratio, "beat": beat.index,
                                            "model_prob": self._model_prob,
                                            "model": self._model_card})
            if a is None and "af" not in ctx.active:
                self.hyst.reset()  # held back (unusable signal): re-armed, not latched
        elif change:
            ctx.end("af", change[1])
        if "af" in ctx.active and self._model_prob is not None and \
                self._model_prob >= self.model_threshold:
            ctx.escalate("af", self.escalate_to, {"model_prob": self._model_prob,
                                                  "model": self._model_card})
