"""The alert engine's core: feeds input events to the rules and keeps the shared bookkeeping.

The engine is one streaming stage, ``AlertEngine.push(events) -> list[AlertUpdate]``. It owns
what every rule shares: signal time, the recent beats and the heart rate, data gaps, the
asystole clock, the active alerts, alert ids and severities. The rules
(:mod:`edge_runtime.alerts.rules`) own their own state and decide onsets, escalations and
ends through the engine (:class:`~edge_runtime.alerts.rules.base.RuleContext`). All times are
seconds of signal time (sample index / fs), never the wall clock, so an offline run on a
record and a live replay of the same record produce identical alerts (a test holds this).

Per input event the engine calls the rules' hooks in registry order:

* :class:`BeatEvent`: ``on_beat`` of every rule; ``on_label`` if the beat is already
  classified; then ``on_tick``.
* :class:`BeatLabel`: ``on_label`` (class rules run on labelled beats, in beat order).
* :class:`Tick`: ``on_tick`` (rules that fire on absence, timeouts, held conditions).
* :class:`WindowEvent`: ``on_window``.
* :class:`RhythmEvent`: ``on_rhythm`` (beat-independent VF analysis).
* :class:`TechnicalEvent`: ``on_technical`` of the rule named by its ``kind``, then
  ``on_tick`` for the held conditions (lead-off, noisy signal).
* :class:`LeadBeat`, :class:`QualityEvent`: kept as multi-lead evidence
  (:mod:`.evidence`): absence rules ask it whether another usable lead saw beats, and while
  the detection lead is unusable (and ``quality_hold_s`` after), or the ``noisy_signal``
  alarm is on, every arrhythmia onset is held back (counted in the active ``noisy_signal`` /
  ``lead_off`` alarm's evidence as ``held``).
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from edge_runtime.alerts.config import ENGINE_DEFAULTS, load_config, validate_config
from edge_runtime.alerts.events import (
    SEVERITIES,
    TECHNICAL_KINDS,
    Alert,
    AlertUpdate,
    BeatEvent,
    BeatLabel,
    LeadBeat,
    QualityEvent,
    RhythmEvent,
    TechnicalEvent,
    Tick,
    WindowEvent,
)
from edge_runtime.alerts.evidence import Evidence
from edge_runtime.alerts.rules import Rule, build_rules
from edge_runtime.hr_meter import HeartRateMeter

#: alerts never held back by bad signal quality (absence rules weigh the evidence themselves)
_NOT_HELD = frozenset(TECHNICAL_KINDS) | {"asystole", "pause"}


class AlertEngine:
    """Rules over beats, windows and technical events; ``push(events) -> updates``.

    ``config`` is a config dict (:func:`load_config`; default: the shipped defaults), checked
    on construction. ``rules`` replaces the rule objects built from it, e.g. one rule alone
    in a test; severities still come from ``config``.
    """

    def __init__(self, config: Mapping[str, Any] | None = None, device_id: str | None = None,
                 rules: Iterable[Rule] | None = None) -> None:
        self.config = (validate_config(copy.deepcopy(dict(config)))
                       if config is not None else load_config())
        eng = {**ENGINE_DEFAULTS, **self.config.get("engine", {})}
        self.device_id = device_id or eng["device_id"]
        self.hr_beats = int(eng["hr_beats"])
        self.hr_meter = HeartRateMeter(self.hr_beats, float(eng["hr_window_s"]),
                                       bool(eng["hr_reject_early"]))
        tables = self.config["rules"]
        self._severity = {name: t["severity"] for name, t in tables.items()}
        self.rules: dict[str, Rule] = {r.name: r for r in
                                       (build_rules(self.config) if rules is None else rules)}
        hooked = {h: [getattr(r, h) for r in self.rules.values() if h in type(r).hooks()]
                  for h in ("on_beat", "on_label", "on_tick", "on_window", "on_rhythm")}
        self._beat_hooks, self._label_hooks = hooked["on_beat"], hooked["on_label"]
        self._tick_hooks, self._window_hooks = hooked["on_tick"], hooked["on_window"]
        self._rhythm_hooks = hooked["on_rhythm"]
        self._holders = [r for r in self.rules.values() if r.holds_technical]
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=10_000)  # recent alerts (bounded)
        self._seq = 0
        self._out: list[AlertUpdate] = []
        self.now = 0.0
        # shared beat state
        self.beats: deque[BeatEvent] = deque(maxlen=self.hr_beats + 2)
        af_beats = int(tables.get("af", {}).get("beats", 30))
        self.labeled: deque[BeatEvent] = deque(maxlen=max(64, af_beats + 2))
        self.last_beat: BeatEvent | None = None
        self.gaps: deque[tuple[float, float]] = deque()  # recent data gaps (start, end) s
        self.asystole_ref = 0.0  # no-beat clock: last beat, or end of a gap/technical alarm
        self.vf_seen_s: float | None = None  # end of the latest VF-like analysis window
        self.evidence = Evidence(float(eng["quality_hold_s"]))

    @classmethod
    def from_toml(cls, path: str | Path | None = None, device_id: str | None = None):
        return cls(load_config(path), device_id)

    # ---------------------------------------------------------------- shared state
    def heart_rate(self) -> float | None:
        """The displayed heart rate (bpm) from :class:`~edge_runtime.hr_meter.HeartRateMeter`
        (its docstring states the averaging, as EC13 asks); None before 2 beats."""
        return self.hr_meter.rate()

    def vf_recent(self, hold_s: float) -> bool:
        """A VF-like analysis window ended within the last ``hold_s`` s, or VF is alarmed."""
        if "vf" in self.active:
            return True
        return self.vf_seen_s is not None and self.now - self.vf_seen_s <= hold_s

    def signal_unusable(self) -> bool:
        """The evidence cannot support an arrhythmia alarm now: the ``noisy_signal`` or
        ``lead_off`` technical alarm is on, or the detection lead's quality index says it is
        unusable (or was, within the settle time: :meth:`Evidence.arrhythmia_held`)."""
        return ("noisy_signal" in self.active or "lead_off" in self.active
                or self.evidence.arrhythmia_held(self.now))

    def technical_active(self) -> bool:
        """A technical condition says the signal shows nothing about the heart now."""
        return any(r.suppresses_asystole(self) for r in self._holders)

    def restart_asystole_clock(self, t: float) -> None:
        """After a technical condition ends, count the no-beat time from its end."""
        if not self.technical_active():
            self.asystole_ref = max(self.asystole_ref, t)

    def note_gap(self, start_s: float, end_s: float) -> None:
        """Samples in ``[start_s, end_s)`` were lost: no RR across it, no-beat clock restarts."""
        self.asystole_ref = max(self.asystole_ref, end_s)
        self.gaps.append((start_s, end_s))

    # ---------------------------------------------------------------- alert bookkeeping
    def _new_alert(self, kind: str, start_s: float, evidence: dict, severity: str | None,
                   end_s: float | None = None) -> Alert:
        self._seq += 1
        alert = Alert(
            id=f"{self.device_id}-{self._seq:05d}-{kind.replace(':', '-')}",
            type=kind,
            severity=severity or self._severity[kind.split(":")[0]],
            start_s=start_s,
            raised_s=float(self.now),
            device_id=self.device_id,
            evidence=evidence,
            end_s=end_s,
        )
        self.history.append(alert)
        return alert

    def onset(self, kind: str, start_s: float, evidence: dict,
              severity: str | None = None) -> Alert | None:
        """Raise alert ``kind`` (None if one is already active); severity from its rule."""
        if kind in self.active:
            return None
        if kind.split(":")[0] not in _NOT_HELD and (
                "noisy_signal" in self.active or self.evidence.arrhythmia_held(self.now)):
            self._hold(kind)
            return None
        alert = self._new_alert(kind, float(start_s), evidence, severity)
        self.active[kind] = alert
        self._out.append(AlertUpdate("onset", self.now, alert))
        return alert

    def _hold(self, kind: str) -> None:
        """The detection lead is unusable: count the held onset where the staff can see it."""
        self.evidence.hold(kind)
        for tech in ("noisy_signal", "lead_off"):
            if tech in self.active:
                held = self.active[tech].evidence.setdefault("held", {})
                held[kind] = held.get(kind, 0) + 1

    def escalate(self, kind: str, severity: str, evidence: dict) -> None:
        """Raise an active alert's severity in place (never lowers it)."""
        alert = self.active.get(kind)
        if alert is None or SEVERITIES.index(severity) <= SEVERITIES.index(alert.severity):
            return
        alert.severity = severity
        alert.evidence = {**alert.evidence, **evidence, "escalated_s": self.now}
        self._out.append(AlertUpdate("escalate", self.now, alert))

    def end(self, kind: str, end_s: float, **evidence: Any) -> None:
        """End an active alert at ``end_s`` (not before its start); no-op if not active."""
        alert = self.active.pop(kind, None)
        if alert is None:
            return
        alert.end_s = float(max(end_s, alert.start_s))
        if evidence:
            alert.evidence = {**alert.evidence, **evidence}
        self._out.append(AlertUpdate("end", self.now, alert))

    def instant(self, kind: str, start_s: float, end_s: float, evidence: dict) -> Alert:
        """An alert raised and ended at once (e.g. a data gap); never enters ``active``."""
        alert = self._new_alert(kind, start_s, evidence, None, end_s=end_s)
        self._out.append(AlertUpdate("onset", self.now, alert))
        self._out.append(AlertUpdate("end", self.now, alert))
        return alert

    def _take(self) -> list[AlertUpdate]:
        out, self._out = self._out, []
        return out

    # ---------------------------------------------------------------- dispatch
    def push(self, events: Iterable[Any]) -> list[AlertUpdate]:
        """Consume events in order; return the alert updates they caused."""
        for ev in events:
            if isinstance(ev, BeatEvent):
                self.now = max(self.now, ev.time_s)
                self._on_beat(ev)
            elif isinstance(ev, BeatLabel):
                self._on_label(ev)
            elif isinstance(ev, Tick):
                self.now = max(self.now, ev.time_s)
                self._on_tick()
            elif isinstance(ev, RhythmEvent):
                self.now = max(self.now, ev.end_s)
                if ev.vf:
                    self.vf_seen_s = ev.end_s
                for hook in self._rhythm_hooks:
                    hook(self, ev)
            elif isinstance(ev, WindowEvent):
                self.now = max(self.now, ev.end_s)
                for hook in self._window_hooks:
                    hook(self, ev)
            elif isinstance(ev, TechnicalEvent):
                self.now = max(self.now, ev.time_s)
                self._on_technical(ev)
            elif isinstance(ev, LeadBeat):
                self.evidence.on_beat(ev)
            elif isinstance(ev, QualityEvent):
                self.now = max(self.now, ev.end_s)
                self.evidence.on_quality(ev)
            else:
                raise TypeError(f"AlertEngine cannot handle {type(ev).__name__}")
        return self._take()

    def push_tick(self, time_s: float) -> list[AlertUpdate]:
        """Same as ``push([Tick(time_s)])``, without the allocation (called 10x a second)."""
        if time_s > self.now:
            self.now = time_s
        self._on_tick()
        return self._take()

    def finish(self, end_s: float | None = None) -> list[AlertUpdate]:
        """End of stream: close every active alert at ``end_s`` (default: now)."""
        if end_s is not None:
            self.now = max(self.now, end_s)
        for kind in list(self.active):
            self.end(kind, self.now, ended_by="end_of_stream")
        return self._take()

    def _on_beat(self, b: BeatEvent) -> None:
        prev = self.last_beat
        if prev is not None and any(g0 < b.time_s and g1 > prev.time_s for g0, g1 in self.gaps):
            prev = None  # an RR across a data gap is unknown, not a pause
            self.beats.clear()
            self.hr_meter.clear()
        while self.gaps and self.gaps[0][1] < b.time_s - 60.0:
            self.gaps.popleft()
        self.beats.append(b)
        self.hr_meter.add(b.time_s)
        self.last_beat = b
        self.asystole_ref = max(self.asystole_ref, b.time_s)
        for hook in self._beat_hooks:
            hook(self, b, prev)
        if b.label is not None:  # already classified: run the class rules at once
            self._on_label(BeatLabel(b.index, b.time_s, b.label, b.prob))
        self._on_tick()

    def _on_label(self, lab: BeatLabel) -> None:
        b = BeatEvent(lab.index, 0, lab.time_s, lab.label, lab.prob)
        self.labeled.append(b)
        for hook in self._label_hooks:
            hook(self, b)

    def _on_tick(self) -> None:
        for hook in self._tick_hooks:
            hook(self)

    def _on_technical(self, ev: TechnicalEvent) -> None:
        if ev.kind not in TECHNICAL_KINDS:
            raise ValueError(f"unknown technical event kind {ev.kind!r}")
        rule = self.rules.get(ev.kind)
        if rule is None:  # disabled
            return
        rule.on_technical(self, ev)
        if rule.tick_after_technical:
            self._on_tick()
