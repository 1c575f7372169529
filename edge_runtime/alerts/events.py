"""Data types of the alert engine: its input events and its output alerts.

Inputs come from the pipeline stages before the engine: :class:`BeatEvent` (one per detected
beat), :class:`BeatLabel` (the beat model's class, known a beat later, or
~0.5 s after R with a low-latency card), :class:`WindowEvent`
(window-model probabilities), :class:`RhythmEvent` (beat-independent VF analysis),
:class:`TechnicalEvent` (lead-off, data gap, disconnect, noisy signal, signal loss), the
multi-lead evidence (:class:`LeadBeat`, :class:`QualityEvent`) and
:class:`Tick` (signal time has advanced). Outputs are :class:`Alert` episodes
whose life is reported as :class:`AlertUpdate` records (``onset``, ``escalate``, ``end``).
All times are seconds of signal time (sample index / fs), never the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Alert severities, lowest first: an escalation only ever moves an alert up this list.
SEVERITIES: tuple[str, ...] = ("technical", "advisory", "warning", "crisis")
#: The ``kind`` values a :class:`TechnicalEvent` may carry (each is also a rule's name).
TECHNICAL_KINDS = ("lead_off", "signal_loss", "noisy_signal", "disconnect", "data_gap")


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
    #: classes the card has a rule decide (``rules.decision_sources``): class -> decision,
    #: used instead of ``probs >= thresholds`` (:mod:`edge_runtime.rhythm_rules`)
    decided: dict[str, bool] = field(default_factory=dict)
    #: the rule's evidence (rate, RR irregularity, beats) when ``decided`` is not empty
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RhythmEvent:
    """A beat-independent analysis of the ECG waveform over ``[start_s, end_s)``.

    ``vf`` is True when the window looks like ventricular fibrillation/flutter
    (:mod:`edge_runtime.vf_features`); ``features`` are the numbers behind it (evidence).
    """

    start_s: float
    end_s: float
    vf: bool
    features: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TechnicalEvent:
    """A change of a technical condition (``kind`` in TECHNICAL_KINDS) at ``time_s``."""

    kind: str
    active: bool
    time_s: float
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LeadBeat:
    """A beat seen on lead ``lead`` (index) by that lead's own detector: evidence only.

    The alert rules run on the detection lead's beats; the other leads' beats are used only
    to refuse an absence (asystole, pause, bradycardia) that another lead contradicts.
    """

    lead: int
    time_s: float


@dataclass(frozen=True)
class LeadQualityIndex:
    """One lead's quality over one window (see :mod:`edge_runtime.stages.quality`)."""

    lead: str
    usable: bool
    flags: tuple[str, ...]  # lead_off, noise, saturation, baseline_step, flat
    p2p_mv: float
    hf_rms_mv: float
    step_mv: float
    clipped_s: float

    def to_dict(self) -> dict:
        return {"lead": self.lead, "usable": self.usable, "flags": list(self.flags),
                "p2p_mv": round(self.p2p_mv, 3), "hf_rms_mv": round(self.hf_rms_mv, 4),
                "step_mv": round(self.step_mv, 3), "clipped_s": round(self.clipped_s, 3)}


@dataclass(frozen=True)
class QualityEvent:
    """Every lead's quality index for ``[start_s, end_s)``; ``detector`` is the lead index
    whose beats the rules run on."""

    start_s: float
    end_s: float
    detector: int
    leads: tuple[LeadQualityIndex, ...]


@dataclass(frozen=True)
class Tick:
    """Signal time has advanced to ``time_s`` (every beat up to it has been reported)."""

    time_s: float


# --------------------------------------------------------------------------- output
@dataclass
class Alert:
    """One alert episode (mutable: evidence grows and severity escalates while it is active)."""

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
            "evidence": jsonable(self.evidence),
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


def jsonable(x: Any) -> Any:
    """Evidence as plain JSON values: numpy scalars unwrapped, floats rounded to 4 places."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float):
        return round(x, 4)
    return x
