"""What every alert rule is: a small object with hooks the engine calls, and its parameters.

A rule reads the engine's shared state (recent beats, heart rate, active alerts, the asystole
clock) through a :class:`RuleContext` and reports its decisions through it: ``onset`` (raise
an alert), ``escalate`` (raise its severity in place), ``end``. The engine owns the bookkeeping
every rule shares (ids, severities, the active set, the output updates); a rule owns only its
own state (its hysteresis, its run of V beats, ...). Why objects with hooks rather than one
function per event: the alarm work adds and tests rules one at a time, and a rule is then one
class with its parameters declared next to the code that uses them.

Hooks (all optional; the engine calls only those a rule overrides):

* ``on_beat(ctx, beat, prev)``: a new beat; ``prev`` is the previous beat or None when the
  RR interval is unknown (first beat, or a data gap in between).
* ``on_label(ctx, beat)``: the beat model's class for a beat (in beat order, label may be None).
* ``on_tick(ctx)``: signal time advanced to ``ctx.now`` (rules that fire on *absence*).
* ``on_window(ctx, window)``: a window-model output.
* ``on_rhythm(ctx, analysis)``: a beat-independent VF analysis window (:class:`RhythmEvent`).
* ``on_technical(ctx, event)``: a technical event whose ``kind`` is this rule's name.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from edge_runtime.alerts.events import Alert, BeatEvent, RhythmEvent, TechnicalEvent, WindowEvent
from edge_runtime.alerts.evidence import Evidence
from edge_runtime.alerts.params import Param, flag, severity

HOOKS = ("on_beat", "on_label", "on_tick", "on_window", "on_rhythm", "on_technical")


class RuleContext(Protocol):
    """The part of the engine a rule may use (implemented by :class:`AlertEngine`)."""

    now: float                      # current signal time, s
    active: dict[str, Alert]        # active alerts by kind ("vt", "finding:AF", ...)
    beats: deque[BeatEvent]         # recent beats for the heart rate (cleared at a data gap)
    labeled: deque[BeatEvent]       # recent labelled beats, in beat order
    last_beat: BeatEvent | None
    asystole_ref: float             # no-beat clock: last beat, gap end or technical end
    evidence: Evidence              # the other leads' beats and every lead's quality

    def heart_rate(self) -> float | None: ...
    def vf_recent(self, hold_s: float) -> bool: ...
    def signal_unusable(self) -> bool: ...
    def technical_active(self) -> bool: ...
    def restart_asystole_clock(self, t: float) -> None: ...
    def note_gap(self, start_s: float, end_s: float) -> None: ...
    def onset(self, kind: str, start_s: float, evidence: dict,
              severity: str | None = None) -> Alert | None: ...
    def escalate(self, kind: str, severity: str, evidence: dict) -> None: ...
    def end(self, kind: str, end_s: float, **evidence: Any) -> None: ...
    def instant(self, kind: str, start_s: float, end_s: float, evidence: dict) -> Alert: ...


class Rule:
    """Base of every rule: ``name`` (its config table), ``params`` (its typed parameters).

    ``severity`` and ``enabled`` are common to all rules and need not be declared.
    """

    name: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}
    #: while this rule's alert is active the heart cannot be judged: asystole is suppressed
    holds_technical: ClassVar[bool] = False
    #: run every rule's ``on_tick`` right after this rule's ``on_technical``
    tick_after_technical: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.severity: str = self.config["severity"]

    @classmethod
    def schema(cls) -> dict[str, Param]:
        """Every key this rule's config table may hold."""
        return {"severity": severity(), "enabled": flag(), **cls.params}

    @classmethod
    def cross_check(cls, config: Mapping[str, Any]) -> str | None:
        """A problem between keys (e.g. an offset limit on the wrong side of the onset one)."""
        return None

    def suppresses_asystole(self, ctx: RuleContext) -> bool:
        """True while this rule says the signal shows nothing about the heart."""
        return self.holds_technical and self.name in ctx.active

    # hooks: overridden by the rules that need them
    def on_beat(self, ctx: RuleContext, beat: BeatEvent, prev: BeatEvent | None) -> None:
        pass

    def on_label(self, ctx: RuleContext, beat: BeatEvent) -> None:
        pass

    def on_tick(self, ctx: RuleContext) -> None:
        pass

    def on_window(self, ctx: RuleContext, window: WindowEvent) -> None:
        pass

    def on_rhythm(self, ctx: RuleContext, analysis: RhythmEvent) -> None:
        pass

    def on_technical(self, ctx: RuleContext, event: TechnicalEvent) -> None:
        pass

    @classmethod
    def hooks(cls) -> tuple[str, ...]:
        """The hooks this class overrides (the engine calls only these)."""
        return tuple(h for h in HOOKS if getattr(cls, h) is not getattr(Rule, h))


def order_check(config: Mapping[str, Any], low: str, high: str) -> str | None:
    """``low`` must not exceed ``high`` (hysteresis limits the right way round)."""
    if config[low] > config[high]:
        return f"{low} ({config[low]}) must be <= {high} ({config[high]})"
    return None
