"""Rules on missing beats: asystole (no beat for too long) and pause (one long RR interval).

Both weigh the multi-lead evidence (:mod:`edge_runtime.alerts.evidence`): the detection lead
missing beats (a baseline step, an electrode moving) must not read as an absence of beats
while another usable lead shows them, and an absence seen only while no lead was usable is a
technical condition (``noisy_signal`` / ``lead_off`` say so), not an arrhythmia. The decision
and the per-lead quality go into the alert's evidence (``decision``, ``leads``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import BeatEvent
from edge_runtime.alerts.params import number, seconds
from edge_runtime.alerts.rules.base import Rule, RuleContext


class Asystole(Rule):
    """No beat on any usable lead for longer than ``no_beat_s``; ended by the next beat.

    The no-beat clock (``ctx.asystole_ref``) restarts at every beat, at the end of a data gap
    and at the end of a technical alarm; a beat on another usable lead restarts it too. While
    a technical alarm is active (lead-off, signal loss, disconnect) a flat line is a technical
    condition, not asystole (IEC 60601-2-27 distinguishes the two), so nothing is raised; nor
    while no lead is usable (noise, saturation, baseline step on every lead). A flat lead is
    usable: a flat line on every lead is asystole.
    """

    name = "asystole"
    params = {"no_beat_s": number(above=0, doc="no beat for longer than this -> alarm")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.no_beat_s = self.config["no_beat_s"]
        self.refused = 0  # times another lead's beats kept the alarm from being raised

    def on_beat(self, ctx: RuleContext, beat: BeatEvent, prev: BeatEvent | None) -> None:
        if "asystole" in ctx.active:
            ctx.end("asystole", beat.time_s, ended_by_beat=beat.index)

    def on_tick(self, ctx: RuleContext) -> None:
        if "asystole" in ctx.active or ctx.technical_active():
            return
        last_t = ctx.asystole_ref
        if ctx.now - last_t <= self.no_beat_s:
            return
        ev = ctx.evidence
        other = ev.last_other_beat(last_t, ctx.now)
        if other is not None and ctx.now - other <= self.no_beat_s:
            self.refused += 1
            return
        if not ev.any_usable_now():
            return
        ref = last_t if other is None else other
        last = ctx.last_beat
        ctx.onset("asystole", ref + self.no_beat_s, {
            "last_beat": last.index if last else None,
            "last_beat_s": last.time_s if last else None,
            "alarm_delay_s": ctx.now - ref,
            "decision": "no beat on any usable lead",
            "leads": ev.snapshot(ref, ctx.now),
        })


class Pause(Rule):
    """One RR interval longer than ``rr_s`` that no other usable lead contradicts.

    Decided ``confirm_s`` after the late beat (by then every lead's detector has reported
    the beats inside the interval): when the other usable leads' beats split the interval
    into parts no longer than ``rr_s``, the detection lead missed beats and nothing is
    raised; when no lead was usable over the whole interval the pause is held (a technical
    alarm says the signal is unusable). Later pauses while the alert is active are added to
    its evidence (``more``); the alert ends ``clear_s`` after the last pause. An engine fed
    no quality (no pipeline) decides at once.
    """

    name = "pause"
    params = {"rr_s": number(above=0, doc="an RR interval longer than this is a pause"),
              "clear_s": number(above=0, doc="alert ends this long after the last pause"),
              "confirm_s": seconds(doc="decided this long after the late beat")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.rr_s, self.clear_s = self.config["rr_s"], self.config["clear_s"]
        self.confirm_s = self.config["confirm_s"]
        self._last: float | None = None  # time of the beat that ended the latest pause
        self._pending: list[tuple[BeatEvent, BeatEvent]] = []
        self.refused: list[dict] = []  # decisions that kept a pause from alarming (bounded)

    def on_beat(self, ctx: RuleContext, beat: BeatEvent, prev: BeatEvent | None) -> None:
        if prev is None or beat.time_s - prev.time_s <= self.rr_s:
            return
        if ctx.evidence.known:
            self._pending.append((prev, beat))
        else:
            self._decide(ctx, prev, beat)

    def on_tick(self, ctx: RuleContext) -> None:
        while self._pending and ctx.now - self._pending[0][1].time_s >= self.confirm_s:
            self._decide(ctx, *self._pending.pop(0))
        if "pause" in ctx.active and self._last is not None and \
                ctx.now - self._last >= self.clear_s:
            ctx.end("pause", self._last)

    def _decide(self, ctx: RuleContext, prev: BeatEvent, beat: BeatEvent) -> None:
        ev = ctx.evidence
        t0, t1 = prev.time_s, beat.time_s
        rr = t1 - t0
        times = [t0, *ev.other_beats(t0, t1), t1]
        longest = max(b - a for a, b in zip(times, times[1:], strict=False))
        decision = None
        if longest <= self.rr_s:
            decision = "refused: beats on another usable lead"
        elif ev.known and not ev.usable_leads(t0, t1):
            decision = "held: no lead usable over the pause"
        if decision is not None:
            if len(self.refused) < 1000:
                self.refused.append({"start_s": t0, "rr_s": rr, "decision": decision})
            return
        info = {"rr_s": rr, "beats": [prev.index, beat.index],
                "decision": "no beat on any usable lead",
                "longest_other_lead_rr_s": longest}
        if ev.known:
            info["leads"] = ev.snapshot(t0, t1)
        if "pause" in ctx.active:
            ctx.active["pause"].evidence.setdefault("more", []).append(info)
        else:
            ctx.onset("pause", t0, info)
        self._last = t1
