"""Rules on the beat model's classes: V/S runs (VT, SVT), bigeminy/trigeminy, PVC rate.

They run on labelled beats in beat order (labels arrive a beat late), never on unlabelled ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.events import BeatEvent
from edge_runtime.alerts.params import flag, integer, number, seconds, severity
from edge_runtime.alerts.rules.base import Rule, RuleContext, order_check


class RunRule(Rule):
    """``min_run`` beats of class ``cls`` in one run faster than ``min_rate`` -> onset; the
    alert ends ``clear_s`` after the last run of ``min_run`` such beats ended (at any rate: a
    ventricular rhythm that slows under ``min_rate`` is still that rhythm; isolated ectopic
    beats after it do not keep the alarm). Evidence keeps the longest run.

    Beats of a class in ``continues`` extend a run that has begun but neither start one nor
    count towards ``min_run`` (VT: fusion beats, F, are ventricular activations fused with a
    conducted beat; inside a ventricular run they are a sign of VT, not its end).

    No onset (the run is *held*, it may still alarm when the condition clears) while:

    * VF is alarmed or a VF-like analysis window ended within ``vf_hold_s``: inside VF and
      flutter the "beats" are fibrillation waves and their classes mean nothing (207: SVT
      warnings inside ventricular flutter); the VF crisis is the alarm there;
    * ``hold_in_noise`` and the evidence is unusable (:meth:`AlertEngine.signal_unusable`:
      the noise / lead-off technical alarms today; the hook for signal-quality gating);
    * ``hold_in_af`` and the AF alarm is active: a fast run in atrial fibrillation/flutter is
      AF with a fast ventricular response (the tachycardia alarm's business), not SVT;
    * the run's RR intervals are irregular, ``mean |dRR| / mean RR > max_irregularity``
      (a run of S beats in atrial fibrillation, of aberrant beats in AF, is not a
      tachycardia episode of its own; re-entrant SVT and monomorphic VT are regular).
    """

    cls = "V"
    continues: tuple[str, ...] = ()
    params = {
        "min_run": integer(2, doc="consecutive beats of the class"),
        "min_rate": number(above=0, doc="... at a rate above this (bpm)"),
        "clear_s": seconds(doc="run ended this long ago -> alert ends"),
        "vf_hold_s": seconds(doc="no onset within this long of a VF-like analysis window"),
        "hold_in_noise": flag(doc="no onset while the signal is unusable (noise, lead-off)"),
        "hold_in_af": flag(doc="no onset while the AF alarm is active"),
        "max_irregularity": number(above=0, doc="no onset when the run's mean |dRR| / mean "
                                   "RR is above this"),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.min_run, self.min_rate = self.config["min_run"], self.config["min_rate"]
        self.clear_s = self.config["clear_s"]
        self.vf_hold_s, self.hold_in_noise = self.config["vf_hold_s"], self.config["hold_in_noise"]
        self.max_irregularity = self.config["max_irregularity"]
        self.hold_in_af = self.config["hold_in_af"]
        self.held = {"vf": 0, "noise": 0, "af": 0, "irregular": 0}  # onsets held back, by why
        self._run: list[BeatEvent] = []
        self._run_end: float | None = None  # when the last alerting run ended (None: ongoing)
        self._alerting = False  # the current run is (part of) an active alarm

    def on_label(self, ctx: RuleContext, beat: BeatEvent) -> None:
        if beat.label is None:
            return
        extends = beat.label in self.continues and self._run
        if beat.label != self.cls and not extends:
            # Only the end of an alarming run starts the clear timer: an isolated ectopic
            # beat after the run must not keep a crisis alarm alive.
            if self._run and self._alerting:
                self._run_end = self._run[-1].time_s
            self._run, self._alerting = [], False
            return
        run = self._run
        run.append(beat)
        if sum(b.label == self.cls for b in run) < self.min_run:
            return
        a = ctx.active.get(self.name)
        if a is not None:  # the rhythm goes on (at any rate): the alarm stays
            a.evidence["longest_run"] = max(a.evidence.get("longest_run", 0), len(run))
            a.evidence["last_beats"] = [x.index for x in run[-10:]]
            self._run_end, self._alerting = None, True
            return
        span = run[-1].time_s - run[0].time_s
        rate = 60.0 * (len(run) - 1) / span if span > 0 else float("inf")
        if rate <= self.min_rate:
            return
        why = self._hold(ctx, run)
        if why is not None:
            self.held[why] += 1
            return
        a = ctx.onset(self.name, run[0].time_s, {
            "beats": [x.index for x in run], "run_length": len(run), "rate_bpm": rate})
        if a is not None:
            a.evidence["longest_run"] = len(run)
        self._run_end, self._alerting = None, True

    def _hold(self, ctx: RuleContext, run: list[BeatEvent]) -> str | None:
        """Why a run must not raise an alarm now (None: it may)."""
        if ctx.vf_recent(self.vf_hold_s):
            return "vf"
        if self.hold_in_noise and ctx.signal_unusable():
            return "noise"
        if self.hold_in_af and "af" in ctx.active:
            return "af"
        t = [b.time_s for b in run]
        rr = [b - a for a, b in zip(t, t[1:], strict=False)]
        if len(rr) >= 2:
            drr = sum(abs(b - a) for a, b in zip(rr, rr[1:], strict=False)) / (len(rr) - 1)
            if drr > self.max_irregularity * (sum(rr) / len(rr)):
                return "irregular"
        return None

    def on_tick(self, ctx: RuleContext) -> None:
        end = self._run_end
        if end is not None and self.name in ctx.active and ctx.now - end >= self.clear_s:
            ctx.end(self.name, end)
            self._run_end = None


class VentricularTachycardia(RunRule):
    name, cls, continues = "vt", "V", ("F",)


class SupraventricularTachycardia(RunRule):
    name, cls = "svt", "S"


class PatternRule(Rule):
    """The last ``min_cycles`` repeats of ``unit`` (any rotation) -> onset; the pattern
    broken for ``clear_beats`` labelled beats -> end. A new episode never starts before the
    previous one ended.
    """

    unit: tuple[str, ...] = ("N", "V")
    params = {"min_cycles": integer(1, doc="repeats of the pattern"),
              "clear_beats": integer(1, doc="pattern broken for this many beats -> end")}

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.cycles = int(self.config["min_cycles"])
        self.clear_beats = self.config["clear_beats"]
        unit = list(self.unit)
        self._need = len(unit) * self.cycles
        self._targets = [(unit[s:] + unit[:s]) * self.cycles for s in range(len(unit))]
        self._miss = 0
        self._last_end = 0.0

    def on_label(self, ctx: RuleContext, beat: BeatEvent) -> None:
        if beat.label is None:
            return
        need = self._need
        tail = [x.label for x in ctx.labeled][-need:]
        name = self.name
        if len(tail) == need and any(tail == t for t in self._targets):
            self._miss = 0
            if name not in ctx.active:
                tail_beats = list(ctx.labeled)[-need:]
                start = max(tail_beats[0].time_s, self._last_end)
                ctx.onset(name, start, {"beats": [x.index for x in tail_beats],
                                        "cycles": self.cycles})
            else:
                ctx.active[name].evidence["last_beat"] = beat.index
        elif name in ctx.active:
            self._miss += 1
            if self._miss >= self.clear_beats:
                ctx.end(name, beat.time_s)
                self._last_end = beat.time_s


class Bigeminy(PatternRule):
    name, unit = "bigeminy", ("N", "V")


class Trigeminy(PatternRule):
    name, unit = "trigeminy", ("N", "N", "V")


class PvcRate(Rule):
    """More than ``per_minute`` V beats in the last 60 s -> onset; fewer than
    ``clear_per_minute`` -> end; more than ``escalate_per_minute`` -> escalate.
    """

    name = "pvc_rate"
    params = {
        "per_minute": number(0), "clear_per_minute": number(0),
        "escalate_per_minute": number(0), "escalate_to": severity(),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        c = self.config
        self.on, self.clear = c["per_minute"], c["clear_per_minute"]
        self.escalate_at = c.get("escalate_per_minute", float("inf"))
        self.escalate_to = c["escalate_to"]
        self._v_times: deque[float] = deque()

    @classmethod
    def cross_check(cls, config):
        return order_check(config, "clear_per_minute", "per_minute")

    def on_label(self, ctx: RuleContext, beat: BeatEvent) -> None:
        if beat.label is None:
            return
        v = self._v_times
        if beat.label == "V":
            v.append(beat.time_s)
        while v and v[0] <= beat.time_s - 60.0:
            v.popleft()
        n = len(v)
        a = ctx.active.get("pvc_rate")
        if a is None:
            if n > self.on:
                a = ctx.onset("pvc_rate", v[0], {"pvc_per_min": n, "beat": beat.index})
                if a is not None:
                    a.evidence["max_per_min"] = n
            return
        a.evidence["max_per_min"] = max(a.evidence.get("max_per_min", 0), n)
        if n < self.clear:
            ctx.end("pvc_rate", beat.time_s)
        elif n > self.escalate_at:
            ctx.escalate("pvc_rate", self.escalate_to, {"escalate_per_min": n})
