"""Heart-rate rules: bradycardia and tachycardia, with hysteresis and escalation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import BeatEvent
from edge_runtime.alerts.hysteresis import Hysteresis
from edge_runtime.alerts.params import number, seconds, severity
from edge_runtime.alerts.rules.base import Rule, RuleContext, order_check


class RateRule(Rule):
    """HR beyond ``limit`` for ``onset_s`` -> onset; back past ``hr_clear`` for ``offset_s``
    -> end. While active the alert keeps the most extreme HR and escalates to
    ``escalate_to`` beyond the escalation limit. Subclasses say which side is abnormal.
    """

    low: bool = True        # abnormal below the limit (bradycardia) or above it
    window_s = 10.0         # other leads' rate measured over this long before the onset
    limit_key = "hr_below"
    escalate_key = "escalate_below"

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        c = self.config
        self.limit, self.clear = c[self.limit_key], c["hr_clear"]
        self.escalate_limit = c.get(self.escalate_key)
        self.escalate_to = c["escalate_to"]
        self.hyst = Hysteresis(c["onset_s"], c["offset_s"])

    @classmethod
    def cross_check(cls, config):
        """The clearing limit lies on the normal side of the onset limit (hysteresis)."""
        if cls.low:
            return order_check(config, cls.limit_key, "hr_clear")
        return order_check(config, "hr_clear", cls.limit_key)

    def on_beat(self, ctx: RuleContext, beat: BeatEvent, prev: BeatEvent | None) -> None:
        hr = ctx.heart_rate()
        if hr is None:
            return
        low, name = self.low, self.name
        on = hr < self.limit if low else hr > self.limit
        off = hr > self.clear if low else hr < self.clear
        change = self.hyst.update(beat.time_s, on, off)
        if change and change[0] == "onset":
            info: dict = {"hr_bpm": hr, "beat": beat.index}
            if low and ctx.evidence.known:
                # bradycardia is an absence of beats: another usable lead showing a normal
                # rate means the detection lead is missing beats (Evidence.other_rate)
                t0 = beat.time_s - self.window_s
                other = ctx.evidence.other_rate(t0, beat.time_s)
                if other is not None and other > self.clear:
                    self.hyst.reset()
                    return
                info.update(decision="no usable lead shows a higher rate",
                            other_lead_hr_bpm=other,
                            leads=ctx.evidence.snapshot(t0, beat.time_s))
            if ctx.onset(name, change[1], info) is None and name not in ctx.active:
                self.hyst.reset()  # held back (unusable signal): re-armed, not latched
        elif change:
            ctx.end(name, change[1], end_hr_bpm=hr)
        a = ctx.active.get(name)
        if a is None:
            return
        extreme = min if low else max
        a.evidence["extreme_hr_bpm"] = extreme(a.evidence.get("extreme_hr_bpm", hr), hr)
        lim = self.escalate_limit
        if lim is not None and (hr < lim if low else hr > lim):
            ctx.escalate(name, self.escalate_to, {"escalate_hr_bpm": hr})


def _rate_params(limit_key: str, escalate_key: str, low: bool) -> dict:
    """The config keys of a rate rule (the same for both sides, with their own names)."""
    onset_op, offset_op = ("<", ">") if low else (">", "<")
    return {
        limit_key: number(above=0, doc=f"onset when HR {onset_op} {limit_key} for onset_s"),
        "hr_clear": number(above=0, doc=f"offset when HR {offset_op} hr_clear for offset_s"),
        "onset_s": seconds(), "offset_s": seconds(),
        escalate_key: number(above=0), "escalate_to": severity(),
    }


class Bradycardia(RateRule):
    name = "bradycardia"
    low = True
    limit_key, escalate_key = "hr_below", "escalate_below"
    params = _rate_params(limit_key, escalate_key, low)


class Tachycardia(RateRule):
    name = "tachycardia"
    low = False
    limit_key, escalate_key = "hr_above", "escalate_above"
    params = _rate_params(limit_key, escalate_key, low)
