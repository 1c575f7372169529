"""Technical alarms: lead-off and noise (with hysteresis), signal loss, disconnect, data gap.

Each receives the :class:`TechnicalEvent` whose ``kind`` is its name. Lead-off, signal loss
and disconnect mean the signal says nothing about the heart, so they suppress asystole while
active (see :class:`~edge_runtime.alerts.rules.absence.Asystole`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import TechnicalEvent
from edge_runtime.alerts.hysteresis import Hysteresis
from edge_runtime.alerts.params import integer, number, seconds
from edge_runtime.alerts.rules.base import Rule, RuleContext


class HeldCondition(Rule):
    """A condition reported on/off by the pipeline, alarmed after it held ``onset_s`` and
    cleared after it was gone ``offset_s`` (short electrode bumps do not page anyone).
    """

    params = {"onset_s": seconds(), "offset_s": seconds()}
    tick_after_technical = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.hyst = Hysteresis(self.config["onset_s"], self.config["offset_s"])
        self.state = False                   # the condition as last reported
        self.detail: dict = {}

    def on_technical(self, ctx: RuleContext, event: TechnicalEvent) -> None:
        self.state = event.active
        self.detail = dict(event.detail)

    def on_tick(self, ctx: RuleContext) -> None:
        hyst = self.hyst
        if not self.state and not hyst.active and not hyst.pending:
            return  # nothing pending: the common case, kept cheap
        change = hyst.update(ctx.now, self.state, not self.state)
        if change and change[0] == "onset":
            ctx.onset(self.name, change[1], dict(self.detail))
        elif change:
            ctx.end(self.name, change[1])
            ctx.restart_asystole_clock(ctx.now)


class LeadOff(HeldCondition):
    name = "lead_off"
    holds_technical = True

    def suppresses_asystole(self, ctx: RuleContext) -> bool:
        # from the first report on, not only once the alarm is raised
        return self.state or self.name in ctx.active


class Noise(HeldCondition):
    name = "noise"


class DeviceCondition(Rule):
    """Raised when reported active, ended when reported inactive (no hysteresis: the
    transport already waited before reporting it). Ends an active asystole alarm: the flat
    line was the missing signal.
    """

    holds_technical = True

    def on_technical(self, ctx: RuleContext, event: TechnicalEvent) -> None:
        if event.active:
            if "asystole" in ctx.active:
                ctx.end("asystole", event.time_s, ended_by=event.kind)
            ctx.onset(self.name, event.time_s, dict(event.detail))
        else:
            ctx.end(self.name, event.time_s, **event.detail)
            ctx.restart_asystole_clock(event.time_s)


class SignalLoss(DeviceCondition):
    name = "signal_loss"
    params = {"no_data_s": number(above=0, doc="live only: wall-clock s without any byte")}


class Disconnect(DeviceCondition):
    name = "disconnect"


class DataGap(Rule):
    """Lost samples (at least ``min_samples``): an instantaneous alert, raised and ended at
    once. Nothing is known about the heart during the gap, so the asystole clock restarts at
    its end and no RR interval (pause, rate) is measured across it.
    """

    name = "data_gap"
    params = {"min_samples": integer(1, doc="report gaps of at least this many samples")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.min_samples = self.config.get("min_samples", 1)

    def on_technical(self, ctx: RuleContext, event: TechnicalEvent) -> None:
        if event.detail.get("lost", 1) < self.min_samples:
            return
        gap_end = float(event.detail.get("end_s", event.time_s))
        ctx.instant("data_gap", event.time_s, gap_end, dict(event.detail))
        ctx.note_gap(event.time_s, gap_end)
