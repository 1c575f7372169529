"""Clinical alert engine: rules with onset/offset hysteresis, escalation and TOML config.

The engine (:mod:`.engine`) is one streaming stage, ``AlertEngine.push(events) ->
list[AlertUpdate]``, fed :class:`BeatEvent`, :class:`BeatLabel`, :class:`WindowEvent`,
:class:`RhythmEvent`, :class:`TechnicalEvent` and :class:`Tick` (:mod:`.events`). It is a
small core (shared beat state, asystole clock, alert ids and severities, the active set)
plus one small object per rule (:mod:`.rules`), configured from
``edge_runtime/config/alerts.toml`` and a user's TOML (:mod:`.config`, every value checked
when the config is built).

Each alert is a JSON object (:meth:`Alert.to_dict`): id, type, severity, start/end time, the
time it was raised, evidence (beat indices, HR, probabilities, model card id), device id and
strip path. Its life is reported as :class:`AlertUpdate` records with an ``action`` of
``onset``, ``escalate`` or ``end``.

Why hysteresis: an alarm that toggles every beat around a limit is ignored by staff (alarm
fatigue); separate onset and offset limits and minimum durations make each alert one episode.
Why asystole is suppressed while a technical alarm (lead-off, signal loss, disconnect) is
active: a flat line without electrode contact is a technical condition, and monitors report
it as such instead of crying asystole (IEC 60601-2-27 distinguishes the two).
"""

from __future__ import annotations

from edge_runtime.alerts.config import (
    DEFAULT_CONFIG_PATH,
    load_config,
    make_rule,
    validate_config,
)
from edge_runtime.alerts.engine import AlertEngine
from edge_runtime.alerts.events import (
    SEVERITIES,
    TECHNICAL_KINDS,
    Alert,
    AlertUpdate,
    BeatEvent,
    BeatLabel,
    LeadBeat,
    LeadQualityIndex,
    QualityEvent,
    RhythmEvent,
    TechnicalEvent,
    Tick,
    WindowEvent,
)
from edge_runtime.alerts.hysteresis import Hysteresis
from edge_runtime.alerts.rules import RULES, Rule, RuleContext, build_rules

__all__ = [
    "SEVERITIES",
    "TECHNICAL_KINDS",
    "DEFAULT_CONFIG_PATH",
    "BeatEvent",
    "BeatLabel",
    "LeadBeat",
    "LeadQualityIndex",
    "QualityEvent",
    "WindowEvent",
    "RhythmEvent",
    "TechnicalEvent",
    "Tick",
    "Alert",
    "AlertUpdate",
    "AlertEngine",
    "Hysteresis",
    "RULES",
    "Rule",
    "RuleContext",
    "build_rules",
    "load_config",
    "make_rule",
    "validate_config",
]
