"""Clinical alert engine: rules with onset/offset hysteresis, escalation and TOML config.

The engine is one streaming stage, ``AlertEngine.push(events) -> list[AlertUpdate]``. Its
input events come from the stages before it: :class:`BeatEvent` (one per classified beat),
:class:`WindowEvent` (window-model probabilities), :class:`TechnicalEvent` (lead-off, data
gap, disconnect, noise, signal loss) and :class:`Tick` (signal time has advanced; drives the
rules that fire on *absence*, such as asystole). All times are seconds of signal time
(sample index / fs), never the wall clock, so an offline run on a record and a live replay of
the same record produce identical alerts (a test holds this).

Each alert is a JSON object (:meth:`Alert.to_dict`): id, type, severity, start/end time,
the time it was raised, evidence (beat indices, HR, probabilities, model card id), device id
and strip path. An alert's life is reported as :class:`AlertUpdate` records with an
``action`` of ``onset``, ``escalate`` or ``end``.

Why hysteresis: an alarm that toggles every beat around a limit is ignored by staff (alarm
fatigue); separate onset and offset limits and minimum durations make each alert one episode.
Why asystole is suppressed while a technical alarm (lead-off, signal loss, disconnect) is
active: a flat line without electrode contact is a technical condition, and monitors report
it as such instead of crying asystole (IEC 60601-2-27 distinguishes the two).
"""

from __future__ import annotations

import copy
import tomllib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import EcgEdgeError
from edge_runtime.resources import config_path

__all__ = [
    "SEVERITIES",
    "DEFAULT_CONFIG_PATH",
    "BeatEvent",
    "BeatLabel",
    "WindowEvent",
    "TechnicalEvent",
    "Tick",
    "Alert",
    "AlertUpdate",
    "AlertEngine",
    "load_config",
]

SEVERITIES: tuple[str, ...] = ("technical", "advisory", "warning", "crisis")
DEFAULT_CONFIG_PATH = config_path("alerts.toml")  # package data (importlib.resources)
TECHNICAL_KINDS = ("lead_off", "signal_loss", "noise", "disconnect", "data_gap")


# --------------------------------------------------------------------------- input events
@dataclass(frozen=True)
class BeatEvent:
    """A detected (and possibly classified) beat; ``label`` is an AAMI class or None."""

    index: int
    sample: int
    time_s: float
    label: str | None = None
    prob: float | None = None


@dataclass(frozen=True)
class BeatLabel:
    """The beat model's class for beat ``index`` (known later than the beat itself)."""

    index: int
    time_s: float
    label: str | None
    prob: float | None = None


@dataclass(frozen=True)
class WindowEvent:
    """Window-model output for ``[start_s, end_s)``: probability per class."""

    start_s: float
    end_s: float
    task: str
    probs: dict[str, float]
    card_id: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TechnicalEvent:
    """A change of a technical condition (``kind`` in TECHNICAL_KINDS) at ``time_s``."""

    kind: str
    active: bool
    time_s: float
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Tick:
    """Signal time has advanced to ``time_s`` (every beat up to it has been reported)."""

    time_s: float


# --------------------------------------------------------------------------- output
@dataclass
class Alert:
    """One alert episode."""

    id: str
    type: str
    severity: str
    start_s: float
    raised_s: float
    device_id: str
    evidence: dict = field(default_factory=dict)
    end_s: float | None = None
    strip: str | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "type": self.type,
            "severity": self.severity,
            "start_s": round(self.start_s, 4),
            "end_s": None if self.end_s is None else round(self.end_s, 4),
            "raised_s": round(self.raised_s, 4),
            "evidence": _jsonable(self.evidence),
            "device_id": self.device_id,
            "strip": self.strip,
        }


@dataclass
class AlertUpdate:
    """``onset`` / ``escalate`` / ``end`` of an :class:`Alert` at signal time ``time_s``."""

    action: str
    time_s: float
    alert: Alert

    def to_dict(self) -> dict:
        return {"event": "alert", "action": self.action, "time_s": round(self.time_s, 4),
                **self.alert.to_dict()}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return round(x, 4)
    return x


# --------------------------------------------------------------------------- config
def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise EcgEdgeError(f"alert config not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise EcgEdgeError(f"alert config {path}: invalid TOML: {exc}") from None


def load_config(path: str | Path | None = None) -> dict:
    """Defaults from ``config/alerts.toml`` overlaid with the user's file (if given).

    A user file only needs the keys it changes. An unknown section, rule, key or severity is
    a one-line :class:`EcgEdgeError` naming it: a typo must never silently disable an alarm.
    """
    cfg = _read_toml(DEFAULT_CONFIG_PATH)
    if path is None:
        return cfg
    user = _read_toml(Path(path))
    for section, body in user.items():
        if section not in cfg:
            raise EcgEdgeError(f"alert config {path}: unknown section [{section}]")
        if section == "engine":
            for key, val in body.items():
                if key not in cfg["engine"]:
                    raise EcgEdgeError(f"alert config {path}: unknown key engine.{key}")
                cfg["engine"][key] = val
            continue
        for rule, params in body.items():
            if rule not in cfg["rules"]:
                known = ", ".join(sorted(cfg["rules"]))
                raise EcgEdgeError(
                    f"alert config {path}: unknown rule '{rule}' (known: {known})"
                )
            if not isinstance(params, dict):
                raise EcgEdgeError(f"alert config {path}: [rules.{rule}] must be a table")
            for key, val in params.items():
                if key != "enabled" and key not in cfg["rules"][rule]:
                    raise EcgEdgeError(f"alert config {path}: unknown key rules.{rule}.{key}")
                cfg["rules"][rule][key] = val
    for rule, params in cfg["rules"].items():
        for key in ("severity", "escalate_to"):
            if key in params and params[key] not in SEVERITIES:
                raise EcgEdgeError(
                    f"alert config {path}: rules.{rule}.{key} = '{params[key]}' is not one of "
                    + ", ".join(SEVERITIES)
                )
    return cfg


# --------------------------------------------------------------------------- helpers
class Hysteresis:
    """Onset after ``on`` held for ``onset_s``; offset after ``off`` held for ``offset_s``.

    ``update`` returns ``("onset", since)``, ``("offset", since)`` or None, where ``since``
    is the signal time at which the condition started holding (the episode's true start/end).
    """

    def __init__(self, onset_s: float, offset_s: float) -> None:
        self.onset_s, self.offset_s = float(onset_s), float(offset_s)
        self.active = False
        self._since: float | None = None

    def update(self, t: float, on: bool, off: bool) -> tuple[str, float] | None:
        cond = off if self.active else on
        if not cond:
            self._since = None
            return None
        if self._since is None:
            self._since = t
        if t - self._since >= (self.offset_s if self.active else self.onset_s):
            since, self._since = self._since, None
            self.active = not self.active
            return ("onset" if self.active else "offset", since)
        return None


# --------------------------------------------------------------------------- engine
class AlertEngine:
    """Rules over beats, windows and technical events; ``push(events) -> updates``."""

    def __init__(self, config: dict | None = None, device_id: str | None = None) -> None:
        self.config = copy.deepcopy(config) if config is not None else load_config()
        eng = self.config.get("engine", {})
        self.device_id = device_id or eng.get("device_id", "ecgedge-0")
        self.rules = self.config["rules"]
        self.hr_beats = int(eng.get("hr_beats", 8))
        self._enabled_cache: dict[str, bool] = {}
        self.active: dict[str, Alert] = {}
        self.history: deque[Alert] = deque(maxlen=10_000)  # recent alerts (bounded)
        self._seq = 0
        self.now = 0.0
        # beat state
        self._beats: deque[BeatEvent] = deque(maxlen=self.hr_beats + 2)
        self._labeled: deque[BeatEvent] = deque(maxlen=max(64, self._rule("af", "beats", 30) + 2))
        self._last_beat: BeatEvent | None = None
        self._v_times: deque[float] = deque()
        self._run: dict[str, list[BeatEvent]] = {"V": [], "S": []}
        self._run_end: dict[str, float | None] = {"V": None, "S": None}
        self._pattern_miss = {"bigeminy": 0, "trigeminy": 0}
        self._pattern_end: dict[str, float] = {}
        self._pause_last: float | None = None
        self._gaps: deque[tuple[float, float]] = deque()  # recent data gaps (start, end) s
        self._asys_ref = 0.0  # asystole clock: last beat, or end of the last technical alarm
        r = self.rules
        self._hyst = {
            "bradycardia": Hysteresis(r["bradycardia"]["onset_s"], r["bradycardia"]["offset_s"]),
            "tachycardia": Hysteresis(r["tachycardia"]["onset_s"], r["tachycardia"]["offset_s"]),
            "af": Hysteresis(r["af"]["onset_s"], r["af"]["offset_s"]),
            "lead_off": Hysteresis(r["lead_off"]["onset_s"], r["lead_off"]["offset_s"]),
            "noise": Hysteresis(r["noise"]["onset_s"], r["noise"]["offset_s"]),
        }
        self._tech_state = {"lead_off": False, "noise": False}
        self._tech_detail: dict[str, dict] = {"lead_off": {}, "noise": {}}
        self._window_on: dict[str, int] = {}
        self._window_off: dict[str, int] = {}
        self._window_first: dict[str, float] = {}
        self._model_af: float | None = None
        self._model_card = ""

    @classmethod
    def from_toml(cls, path: str | Path | None = None, device_id: str | None = None):
        return cls(load_config(path), device_id)

    # ---------------------------------------------------------------- small utilities
    def _rule(self, name: str, key: str, default: Any = None) -> Any:
        return self.rules.get(name, {}).get(key, default)

    def _enabled(self, name: str) -> bool:
        on = self._enabled_cache.get(name)
        if on is None:
            on = self._enabled_cache[name] = bool(self.rules.get(name, {}).get("enabled", True))
        return on

    def _raise(self, kind: str, start_s: float, evidence: dict, out: list,
               severity: str | None = None) -> Alert | None:
        if kind in self.active:
            return None
        rule = kind.split(":")[0]
        self._seq += 1
        alert = Alert(
            id=f"{self.device_id}-{self._seq:05d}-{kind.replace(':', '-')}",
            type=kind,
            severity=severity or self.rules[rule]["severity"],
            start_s=float(start_s),
            raised_s=float(self.now),
            device_id=self.device_id,
            evidence=evidence,
        )
        self.active[kind] = alert
        self.history.append(alert)
        out.append(AlertUpdate("onset", self.now, alert))
        return alert

    def _escalate(self, kind: str, severity: str, evidence: dict, out: list) -> None:
        alert = self.active.get(kind)
        if alert is None or SEVERITIES.index(severity) <= SEVERITIES.index(alert.severity):
            return
        alert.severity = severity
        alert.evidence = {**alert.evidence, **evidence, "escalated_s": self.now}
        out.append(AlertUpdate("escalate", self.now, alert))

    def _end(self, kind: str, end_s: float, out: list, **evidence: Any) -> None:
        alert = self.active.pop(kind, None)
        if alert is None:
            return
        alert.end_s = float(max(end_s, alert.start_s))
        if evidence:
            alert.evidence = {**alert.evidence, **evidence}
        out.append(AlertUpdate("end", self.now, alert))

    def heart_rate(self) -> float | None:
        """60 / mean of the last ``hr_beats`` RR intervals (bpm), None before 2 beats."""
        if len(self._beats) < 2:
            return None
        n = min(len(self._beats), self.hr_beats + 1)
        span = self._beats[-1].time_s - self._beats[-n].time_s  # sum of the last n-1 RRs
        return 60.0 * (n - 1) / span if span > 0 else None

    def _technical_active(self) -> bool:
        return self._tech_state["lead_off"] or any(
            k in self.active for k in ("lead_off", "signal_loss", "disconnect")
        )

    def _restart_asystole_clock(self, t: float) -> None:
        """After a technical condition ends, count the no-beat time from its end."""
        if not self._technical_active():
            self._asys_ref = max(self._asys_ref, t)

    # ---------------------------------------------------------------- dispatch
    def push(self, events: Iterable[Any]) -> list[AlertUpdate]:
        """Consume events in order; return the alert updates they caused."""
        out: list[AlertUpdate] = []
        for ev in events:
            if isinstance(ev, BeatEvent):
                self.now = max(self.now, ev.time_s)
                self._on_beat(ev, out)
            elif isinstance(ev, BeatLabel):
                self._on_label(ev, out)
            elif isinstance(ev, Tick):
                self.now = max(self.now, ev.time_s)
                self._on_tick(out)
            elif isinstance(ev, WindowEvent):
                self.now = max(self.now, ev.end_s)
                self._on_window(ev, out)
            elif isinstance(ev, TechnicalEvent):
                self.now = max(self.now, ev.time_s)
                self._on_technical(ev, out)
            else:
                raise TypeError(f"AlertEngine cannot handle {type(ev).__name__}")
        return out

    def push_tick(self, time_s: float) -> list[AlertUpdate]:
        """Same as ``push([Tick(time_s)])``, without the allocation (called 10x a second)."""
        out: list[AlertUpdate] = []
        if time_s > self.now:
            self.now = time_s
        self._on_tick(out)
        return out

    def finish(self, end_s: float | None = None) -> list[AlertUpdate]:
        """End of stream: close every active alert at ``end_s`` (default: now)."""
        if end_s is not None:
            self.now = max(self.now, end_s)
        out: list[AlertUpdate] = []
        for kind in list(self.active):
            self._end(kind, self.now, out, ended_by="end_of_stream")
        return out

    # ---------------------------------------------------------------- beats
    def _on_beat(self, b: BeatEvent, out: list) -> None:
        prev = self._last_beat
        if prev is not None and any(g0 < b.time_s and g1 > prev.time_s for g0, g1 in self._gaps):
            prev = None  # an RR across a data gap is unknown, not a pause
            self._beats.clear()
        while self._gaps and self._gaps[0][1] < b.time_s - 60.0:
            self._gaps.popleft()
        rr = None if prev is None else b.time_s - prev.time_s
        self._beats.append(b)
        self._last_beat = b
        self._asys_ref = max(self._asys_ref, b.time_s)
        if "asystole" in self.active:
            self._end("asystole", b.time_s, out, ended_by_beat=b.index)
        if self._enabled("pause") and rr is not None and rr > self._rule("pause", "rr_s"):
            ev = {"rr_s": rr, "beats": [prev.index, b.index]}
            if "pause" in self.active:
                self.active["pause"].evidence.setdefault("more", []).append(ev)
            else:
                self._raise("pause", prev.time_s, ev, out)
            self._pause_last = b.time_s
        hr = self.heart_rate()
        if hr is not None:
            self._rate_rules(hr, b, out)
        if b.label is not None:  # already classified: run the class rules at once
            self._on_label(BeatLabel(b.index, b.time_s, b.label, b.prob), out)
        self._on_tick(out)

    def _on_label(self, lab: BeatLabel, out: list) -> None:
        """Class rules run on labelled beats, in beat order (labels come one beat late)."""
        b = BeatEvent(lab.index, 0, lab.time_s, lab.label, lab.prob)
        self._labeled.append(b)
        if b.label is not None:
            self._run_rules(b, out)
            self._pattern_rules(b, out)
            self._pvc_rate(b, out)
        self._af_rule(b, out)

    def _rate_rules(self, hr: float, b: BeatEvent, out: list) -> None:
        ev = {"hr_bpm": hr, "beat": b.index}
        for name, low in (("bradycardia", True), ("tachycardia", False)):
            if not self._enabled(name):
                continue
            r = self.rules[name]
            on = hr < r["hr_below"] if low else hr > r["hr_above"]
            off = hr > r["hr_clear"] if low else hr < r["hr_clear"]
            change = self._hyst[name].update(b.time_s, on, off)
            if change and change[0] == "onset":
                self._raise(name, change[1], ev, out)
            elif change:
                self._end(name, change[1], out, end_hr_bpm=hr)
            if name in self.active:
                a = self.active[name]
                extreme = min if low else max
                a.evidence["extreme_hr_bpm"] = extreme(a.evidence.get("extreme_hr_bpm", hr), hr)
                lim = r.get("escalate_below") if low else r.get("escalate_above")
                if lim is not None and (hr < lim if low else hr > lim):
                    self._escalate(name, r["escalate_to"], {"escalate_hr_bpm": hr}, out)

    def _run_rules(self, b: BeatEvent, out: list) -> None:
        for cls, name in (("V", "vt"), ("S", "svt")):
            if not self._enabled(name):
                continue
            run = self._run[cls]
            if b.label != cls:
                if run:
                    self._run_end[cls] = run[-1].time_s
                self._run[cls] = []
                continue
            run.append(b)
            r = self.rules[name]
            if len(run) < r["min_run"]:
                continue
            span = run[-1].time_s - run[0].time_s
            rate = 60.0 * (len(run) - 1) / span if span > 0 else float("inf")
            if rate <= r["min_rate"]:
                continue
            ev = {"beats": [x.index for x in run], "run_length": len(run), "rate_bpm": rate}
            if name in self.active:
                a = self.active[name]
                a.evidence["longest_run"] = max(a.evidence.get("longest_run", 0), len(run))
                a.evidence["last_beats"] = [x.index for x in run[-10:]]
                self._run_end[cls] = None
            else:
                a = self._raise(name, run[0].time_s, ev, out)
                if a is not None:
                    a.evidence["longest_run"] = len(run)
                self._run_end[cls] = None

    def _pattern_rules(self, b: BeatEvent, out: list) -> None:
        labels = [x.label for x in self._labeled]
        for name, unit in (("bigeminy", ["N", "V"]), ("trigeminy", ["N", "N", "V"])):
            if not self._enabled(name):
                continue
            k = int(self.rules[name]["min_cycles"])
            need = len(unit) * k
            tail = labels[-need:]
            ok = len(tail) == need and any(
                tail == (unit[s:] + unit[:s]) * k for s in range(len(unit))
            )
            if ok:
                self._pattern_miss[name] = 0
                if name not in self.active:
                    tail_beats = list(self._labeled)[-need:]
                    # a new episode never starts before the previous one of this rule ended
                    start = max(tail_beats[0].time_s, self._pattern_end.get(name, 0.0))
                    self._raise(name, start,
                                {"beats": [x.index for x in tail_beats], "cycles": k}, out)
                else:
                    self.active[name].evidence["last_beat"] = b.index
            elif name in self.active:
                self._pattern_miss[name] += 1
                if self._pattern_miss[name] >= self.rules[name]["clear_beats"]:
                    self._end(name, b.time_s, out)
                    self._pattern_end[name] = b.time_s

    def _pvc_rate(self, b: BeatEvent, out: list) -> None:
        if not self._enabled("pvc_rate"):
            return
        if b.label == "V":
            self._v_times.append(b.time_s)
        while self._v_times and self._v_times[0] <= b.time_s - 60.0:
            self._v_times.popleft()
        n = len(self._v_times)
        r = self.rules["pvc_rate"]
        if "pvc_rate" not in self.active and n > r["per_minute"]:
            a = self._raise("pvc_rate", self._v_times[0], {"pvc_per_min": n, "beat": b.index},
                            out)
            if a is not None:
                a.evidence["max_per_min"] = n
        elif "pvc_rate" in self.active:
            a = self.active["pvc_rate"]
            a.evidence["max_per_min"] = max(a.evidence.get("max_per_min", 0), n)
            if n < r["clear_per_minute"]:
                self._end("pvc_rate", b.time_s, out)
            elif n > r.get("escalate_per_minute", float("inf")):
                self._escalate("pvc_rate", r["escalate_to"], {"escalate_per_min": n}, out)

    def _af_rule(self, b: BeatEvent, out: list) -> None:
        if not self._enabled("af"):
            return
        r = self.rules["af"]
        beats = list(self._labeled)[-(int(r["beats"]) + 1):]
        if len(beats) < int(r["beats"]) + 1:
            return
        # ectopy makes RR irregular without AF: drop RRs touching a V or S beat
        ect = ("V", "S")
        rr = [beats[i + 1].time_s - beats[i].time_s for i in range(len(beats) - 1)
              if beats[i].label not in ect and beats[i + 1].label not in ect]
        if len(rr) < 8:
            return
        # isolated ectopics give a few huge successive differences; AF makes all of them
        # large: drop the largest 20 % before the RMS so a couple of APCs are not "AF"
        d = sorted(abs(rr[i + 1] - rr[i]) for i in range(len(rr) - 1))
        d = d[: max(1, int(0.8 * (len(rr) - 1)))]
        mean_rr = sum(rr) / len(rr)
        ratio = (sum(x * x for x in d) / len(d)) ** 0.5 / mean_rr
        change = self._hyst["af"].update(b.time_s, ratio > r["rmssd_ratio"],
                                         ratio < r["clear_ratio"])
        if change and change[0] == "onset":
            self._raise("af", change[1], {"rmssd_ratio": ratio, "beat": b.index,
                                          "model_prob": self._model_af,
                                          "model": self._model_card}, out)
        elif change:
            self._end("af", change[1], out)
        if "af" in self.active and self._model_af is not None and \
                self._model_af >= r["model_threshold"]:
            self._escalate("af", r["escalate_to"], {"model_prob": self._model_af,
                                                    "model": self._model_card}, out)

    # ---------------------------------------------------------------- time passing
    def _on_tick(self, out: list) -> None:
        t = self.now
        if self._enabled("asystole") and "asystole" not in self.active \
                and not self._technical_active():
            last_t = self._asys_ref
            limit = self._rule("asystole", "no_beat_s")
            if t - last_t > limit:
                self._raise("asystole", last_t + limit, {
                    "last_beat": self._last_beat.index if self._last_beat else None,
                    "last_beat_s": self._last_beat.time_s if self._last_beat else None,
                    "alarm_delay_s": t - last_t,
                }, out)
        if "pause" in self.active and self._pause_last is not None and \
                t - self._pause_last >= self._rule("pause", "clear_s"):
            self._end("pause", self._pause_last, out)
        for cls, name in (("V", "vt"), ("S", "svt")):
            end = self._run_end[cls]
            if end is not None and name in self.active and t - end >= self.rules[name]["clear_s"]:
                self._end(name, end, out)
                self._run_end[cls] = None
        for kind in ("lead_off", "noise"):
            state = self._tech_state[kind]
            hyst = self._hyst[kind]
            if not state and not hyst.active and hyst._since is None:
                continue  # nothing pending: the common case, kept cheap
            if not self._enabled(kind):
                continue
            change = self._hyst[kind].update(t, state, not state)
            if change and change[0] == "onset":
                self._raise(kind, change[1], dict(self._tech_detail[kind]), out)
            elif change:
                self._end(kind, change[1], out)
                self._restart_asystole_clock(t)

    # ---------------------------------------------------------------- windows
    def _on_window(self, w: WindowEvent, out: list) -> None:
        self._model_card = w.card_id
        af_cls = self._rule("af", "model_class", "AF")
        if af_cls in w.probs:
            self._model_af = float(w.probs[af_cls])
        if not self._enabled("finding"):
            return
        r = self.rules["finding"]
        for cls, p in w.probs.items():
            thr = float(w.thresholds.get(cls, r["default_threshold"]))
            kind = f"finding:{cls}"
            if p >= thr:
                if self._window_on.get(cls, 0) == 0:
                    self._window_first[cls] = w.start_s  # episode starts at the first window
                self._window_on[cls] = self._window_on.get(cls, 0) + 1
                self._window_off[cls] = 0
                if self._window_on[cls] >= r["windows_on"] and kind not in self.active:
                    ev = {"class": cls, "prob": p, "threshold": thr, "task": w.task,
                          "model": w.card_id, "window": [w.start_s, w.end_s]}
                    self._raise(kind, self._window_first[cls], ev, out)
                elif kind in self.active:
                    a = self.active[kind]
                    a.evidence["max_prob"] = max(a.evidence.get("max_prob", p), p)
            else:
                self._window_on[cls] = 0
                self._window_off[cls] = self._window_off.get(cls, 0) + 1
                if kind in self.active and self._window_off[cls] >= r["windows_off"]:
                    self._end(kind, w.start_s, out)

    # ---------------------------------------------------------------- technical
    def _on_technical(self, ev: TechnicalEvent, out: list) -> None:
        if ev.kind not in TECHNICAL_KINDS:
            raise ValueError(f"unknown technical event kind {ev.kind!r}")
        if not self._enabled(ev.kind):
            return
        if ev.kind in ("lead_off", "noise"):
            self._tech_state[ev.kind] = ev.active
            self._tech_detail[ev.kind] = dict(ev.detail)
            self._on_tick(out)
            return
        if ev.kind == "data_gap":
            if ev.detail.get("lost", 1) < self._rule("data_gap", "min_samples", 1):
                return
            # a gap is an instantaneous alert: raised and ended at once, kept distinct
            self._seq += 1
            kind = "data_gap"
            alert = Alert(
                id=f"{self.device_id}-{self._seq:05d}-{kind}", type=kind,
                severity=self.rules[kind]["severity"], start_s=ev.time_s, raised_s=self.now,
                device_id=self.device_id, evidence=dict(ev.detail),
                end_s=float(ev.detail.get("end_s", ev.time_s)),
            )
            self.history.append(alert)
            out.append(AlertUpdate("onset", self.now, alert))
            out.append(AlertUpdate("end", self.now, alert))
            # nothing is known about the heart during the gap: restart the asystole clock at
            # its end, and do not measure RR (pause, rate) across it
            gap_end = float(ev.detail.get("end_s", ev.time_s))
            self._asys_ref = max(self._asys_ref, gap_end)
            self._gaps.append((ev.time_s, gap_end))
            return
        if ev.active:
            if ev.kind in ("signal_loss", "disconnect") and "asystole" in self.active:
                self._end("asystole", ev.time_s, out, ended_by=ev.kind)
            self._raise(ev.kind, ev.time_s, dict(ev.detail), out)
        else:
            self._end(ev.kind, ev.time_s, out, **ev.detail)
            self._restart_asystole_clock(ev.time_s)
