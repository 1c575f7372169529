"""Technical alarms: lead-off and noisy signal (with hysteresis), signal loss, disconnect,
data gap.

Each receives the :class:`TechnicalEvent` whose ``kind`` is its name. Lead-off, signal loss
and disconnect mean the signal says nothing about the heart, so they suppress asystole while
active (see :class:`~edge_runtime.alerts.rules.absence.Asystole`).

Coalesced by construction: a device condition (disconnect, signal loss) or a data gap opens
one alarm per *episode*; repeats while it is open only update its running counts
(``disconnects``, ``gaps``, ``lost``), and it ends ``clear_s`` after the last repeat cleared,
with that time as its end. Onsets of one type are therefore at least ``clear_s`` apart
(10 s by default), however fast a port flaps or frames are lost.
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
        was, self.state = self.state, event.active
        self.detail = dict(event.detail)
        if was and not self.state and self.holds_technical:
            ctx.restart_asystole_clock(event.time_s)  # judged again from now, not the alarm end

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
        # from the first report on, not only once the alarm is raised; and only while the
        # lead is off, not while the alarm waits out its offset time
        return self.state


class NoisySignal(HeldCondition):
    """The detection lead is unusable (noise, saturation, baseline step; see
    :mod:`edge_runtime.stages.quality`): arrhythmia alarms are held meanwhile, and this
    alarm's evidence counts them (``held``)."""

    name = "noisy_signal"


class Episode(Rule):
    """One alarm per episode of a repeating condition: opened by the first report, counted
    while open, ended ``clear_s`` after the condition last cleared (at that clearing time)."""

    params = {"clear_s": seconds(doc="episode ends once clear for this long (>= 10 keeps "
                                     "onsets of this type >= 10 s apart)")}
    tick_after_technical = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.clear_s = self.config["clear_s"]
        self.cleared_at: float | None = None  # condition gone since (alarm still open)

    def open_or_count(self, ctx: RuleContext, t: float, detail: dict, counter: str) -> dict:
        """Open the episode (or count one more repeat in it); returns its evidence."""
        self.cleared_at = None
        a = ctx.active.get(self.name)
        if a is None:
            a = ctx.onset(self.name, t, {**detail, counter: 0})
            if a is None:  # pragma: no cover - technical alarms are never held
                return {}
        a.evidence[counter] = a.evidence.get(counter, 0) + 1
        a.evidence["last_s"] = t
        return a.evidence

    def on_tick(self, ctx: RuleContext) -> None:
        if self.cleared_at is not None and ctx.now - self.cleared_at >= self.clear_s:
            ctx.end(self.name, self.cleared_at, clear_s=self.clear_s)
            self.cleared_at = None


class DeviceCondition(Episode):
    """Opened when reported active; ends ``clear_s`` after it was last reported inactive
    (no onset hysteresis: the transport already waited before reporting it). Ends an active
    asystole alarm: the flat line was the missing signal. Suppresses asystole only while
    actually active, not while the episode waits to clear.
    """

    holds_technical = True

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.down = False

    def suppresses_asystole(self, ctx: RuleContext) -> bool:
        return self.down

    def on_technical(self, ctx: RuleContext, event: TechnicalEvent) -> None:
        if event.active:
            if "asystole" in ctx.active:
                ctx.end("asystole", event.time_s, ended_by=event.kind)
            self.down = True
            self.open_or_count(ctx, event.time_s, dict(event.detail), "count")
        elif self.down:
            self.down = False
            a = ctx.active.get(self.name)
            if a is not None:
                a.evidence["last_clear"] = dict(event.detail)
            self.cleared_at = event.time_s
            ctx.restart_asystole_clock(event.time_s)


class SignalLoss(DeviceCondition):
    name = "signal_loss"
    params = {**Episode.params,
              "no_data_s": number(above=0, doc="live only: wall-clock s without any byte")}


class Disconnect(DeviceCondition):
    name = "disconnect"


class DataGap(Episode):
    """Lost samples (at least ``min_samples``): one alarm per episode of gaps, with running
    counts (``gaps``, ``lost`` samples). Nothing is known about the heart during a gap, so
    the asystole clock restarts at its end and no RR interval (pause, rate) is measured
    across it.
    """

    name = "data_gap"
    params = {**Episode.params,
              "min_samples": integer(1, doc="report gaps of at least this many samples")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.min_samples = self.config.get("min_samples", 1)

    def on_technical(self, ctx: RuleContext, event: TechnicalEvent) -> None:
        lost = int(event.detail.get("lost", 1))
        if lost < self.min_samples:
            return
        gap_end = float(event.detail.get("end_s", event.time_s))
        ev = self.open_or_count(ctx, event.time_s, dict(event.detail), "gaps")
        if ev:
            ev["lost_total"] = ev.get("lost_total", 0) + lost
        self.cleared_at = gap_end
        ctx.note_gap(event.time_s, gap_end)
