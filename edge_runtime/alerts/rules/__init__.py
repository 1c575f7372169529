"""The alert rules and their registry (config table name -> rule class).

The registry's order is the evaluation order: for one input event the engine calls the rules'
hooks in this order, so updates raised by the same event always come out in the same order
(asystole and VF before pause before the rate rules, VT before SVT, ...). A new rule is a
:class:`~edge_runtime.alerts.rules.base.Rule` subclass, an entry here and a table with its
defaults in ``edge_runtime/config/alerts.toml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_runtime.alerts.rules.absence import Asystole, Pause
from edge_runtime.alerts.rules.af import AtrialFibrillation
from edge_runtime.alerts.rules.base import Rule, RuleContext
from edge_runtime.alerts.rules.ectopy import (
    Bigeminy,
    PvcRate,
    SupraventricularTachycardia,
    Trigeminy,
    VentricularTachycardia,
)
from edge_runtime.alerts.rules.finding import Finding
from edge_runtime.alerts.rules.rate import Bradycardia, Tachycardia
from edge_runtime.alerts.rules.technical import (
    DataGap,
    Disconnect,
    LeadOff,
    NoisySignal,
    SignalLoss,
)
from edge_runtime.alerts.rules.vf import VentricularFibrillation

__all__ = ["RULES", "Rule", "RuleContext", "build_rules"]

RULES: dict[str, type[Rule]] = {cls.name: cls for cls in (
    Asystole, VentricularFibrillation, Pause, Bradycardia, Tachycardia,
    VentricularTachycardia, SupraventricularTachycardia, Bigeminy, Trigeminy, PvcRate,
    AtrialFibrillation, Finding,
    LeadOff, NoisySignal, SignalLoss, Disconnect, DataGap,
)}


def build_rules(config: Mapping[str, Any]) -> list[Rule]:
    """One object per enabled rule of a (validated) config, in registry order."""
    tables = config["rules"]
    return [cls(tables[name]) for name, cls in RULES.items()
            if tables[name].get("enabled", True)]
