"""Rules on missing beats: asystole (no beat for too long) and pause (one long RR interval)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import BeatEvent
from edge_runtime.alerts.params import number
from edge_runtime.alerts.rules.base import Rule, RuleContext


class Asystole(Rule):
    """No beat for longer than ``no_beat_s``; ended by the next beat.

    The no-beat clock (``ctx.asystole_ref``) restarts at every beat, at the end of a data gap
    and at the end of a technical alarm; while a technical alarm is active (lead-off, signal
    loss, disconnect) a flat line is a technical condition, not asystole (IEC 60601-2-27
    distinguishes the two), so nothing is raised.
    """

    name = "asystole"
    params = {"no_beat_s": number(above=0, doc="no beat for longer than this -> alarm")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.no_beat_s = self.config["no_beat_s"]

    def on_beat(self, ctx: RuleContext, beat: BeatEvent, prev: BeatEvent | None) -> None:
        if "asystole" in ctx.active:
            ctx.end("asystole", beat.time_s, ended_by_beat=beat.index)

    def on_tick(self, ctx: RuleContext) -> None:
        if "asystole" in ctx.active or ctx.technical_active():
            return
        last_t = ctx.asystole_ref
        if ctx.now - last_t > self.no_beat_s:
            last = ctx.last_beat
            ctx.onset("asystole", last_t + self.no_beat_s, {
                "last_beat": last.index if last else None,
                "last_beat_s": last.time_s if last else None,
                "alarm_delay_s": ctx.now - last_t,
            })


class Pause(Rule):
    """One RR interval longer than ``rr_s`` (raised when the late beat arrives).

    Later pauses while the alert is active are added to its evidence (``more``); the alert
    ends ``clear_s`` after the last pause.
    """

    name = "pause"
    params = {"rr_s": number(above=0, doc="an RR interval longer than this is a pause"),
              "clear_s": number(above=0, doc="alert ends this long after the last pause")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.rr_s, self.clear_s = self.config["rr_s"], self.config["clear_s"]
        self._last: float | None = None  # time of the beat that ended the latest pause

    def on_beat(self, ctx: RuleContext, beat: BeatEvent, prev: BeatEvent | None) -> None:
        if prev is None:
            return
        rr = beat.time_s - prev.time_s
        if rr <= self.rr_s:
            return
        ev = {"rr_s": rr, "beats": [prev.index, beat.index]}
        if "pause" in ctx.active:
            ctx.active["pause"].evidence.setdefault("more", []).append(ev)
        else:
            ctx.onset("pause", prev.time_s, ev)
        self._last = beat.time_s

    def on_tick(self, ctx: RuleContext) -> None:
        if "pause" in ctx.active and self._last is not None and \
                ctx.now - self._last >= self.clear_s:
            ctx.end("pause", self._last)
