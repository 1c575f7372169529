"""The alert config: defaults from ``config/alerts.toml``, a user's TOML on top, all checked.

The config stays a plain TOML-shaped dict (``{"engine": {...}, "rules": {name: {...}}}``) so
it can be printed, diffed and passed around; :func:`validate_config` checks it against the
rules' declared parameters (:attr:`Rule.params`) when it is built, so every wrong type, value
out of range, unknown or missing key is a one-line :class:`EcgEdgeError` naming the key,
before any signal is processed. A typo must never silently disable an alarm.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edge_runtime.alerts.params import Param, flag, integer, number, text
from edge_runtime.alerts.rules import RULES
from edge_runtime.errors import EcgEdgeError
from edge_runtime.resources import config_path

DEFAULT_CONFIG_PATH = config_path("alerts.toml")  # package data (importlib.resources)

#: rules that were renamed: a user config naming the old one gets a message naming the new
RENAMED = {"noise": "noisy_signal"}

#: ``[engine]`` keys: optional, these defaults apply when a config dict leaves them out
ENGINE_DEFAULTS: dict[str, Any] = {"hr_beats": 8, "hr_window_s": 10.0, "hr_reject_early": True,
                                   "device_id": "ecgedge-0", "quality_hold_s": 5.0}
ENGINE_PARAMS: dict[str, Param] = {
    "hr_beats": integer(1, 1000, doc="heart rate = 60 / mean of the last N RR intervals "
                        "(an even number of them: see edge_runtime.hr_meter)"),
    "hr_window_s": number(above=0, doc="... of those that ended in the last hr_window_s s"),
    "hr_reject_early": flag(doc="leave out of the rate a detection that splits one RR "
                            "interval in two (a T wave or artefact counted as a beat)"),
    "device_id": text(doc="device id written into every alert"),
    "quality_hold_s": number(0.0, doc="arrhythmia alarms held this long after the detection "
                                     "lead was last unusable"),
}


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise EcgEdgeError(f"alert config not found: {path}") from None
    except IsADirectoryError:
        raise EcgEdgeError(f"alert config {path}: is a directory, not a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise EcgEdgeError(f"alert config {path}: invalid TOML: {exc}") from None


def load_config(path: str | Path | None = None) -> dict:
    """Defaults from ``config/alerts.toml`` overlaid with the user's file (if given), checked.

    A user file only needs the keys it changes. An unknown section, rule, key, a value of the
    wrong type or out of range is a one-line :class:`EcgEdgeError` naming it.
    """
    cfg = _read_toml(DEFAULT_CONFIG_PATH)
    if path is None:
        return validate_config(cfg, DEFAULT_CONFIG_PATH)
    user = _read_toml(Path(path))
    for section, body in user.items():
        if section not in cfg:
            raise EcgEdgeError(f"alert config {path}: unknown section [{section}]")
        if not isinstance(body, dict):
            raise EcgEdgeError(f"alert config {path}: [{section}] must be a table")
        if section == "engine":
            for key, val in body.items():
                if key not in cfg["engine"]:
                    raise EcgEdgeError(f"alert config {path}: unknown key engine.{key}")
                cfg["engine"][key] = val
            continue
        for rule, params in body.items():
            if rule in RENAMED:
                raise EcgEdgeError(f"alert config {path}: rule '{rule}' is now "
                                   f"'{RENAMED[rule]}' ([rules.{RENAMED[rule]}])")
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
    return validate_config(cfg, path)


def validate_config(cfg: Mapping[str, Any], source: str | Path | None = None) -> dict:
    """Check a whole config against the registered rules; return it (as a dict) if it fits.

    Every rule of the registry must have a table holding all its parameters (``enabled`` is
    optional); ``[engine]`` and its keys are optional. ``source`` names the file in messages.
    """
    where = f" {source}" if source is not None else ""

    def fail(msg: str) -> EcgEdgeError:
        return EcgEdgeError(f"alert config{where}: {msg}")

    if not isinstance(cfg, Mapping):
        raise fail("must be a table of [engine] and [rules.*] sections")
    for section in cfg:
        if section not in ("engine", "rules"):
            raise fail(f"unknown section [{section}]")
    engine = cfg.get("engine", {})
    if not isinstance(engine, Mapping):
        raise fail("[engine] must be a table")
    for key, val in engine.items():
        if key not in ENGINE_PARAMS:
            raise fail(f"unknown key engine.{key}")
        ENGINE_PARAMS[key].check(where, f"engine.{key}", val)
    rules = cfg.get("rules")
    if not isinstance(rules, Mapping):
        raise fail("missing [rules.*] tables")
    for name in rules:
        if name not in RULES:
            raise fail(f"unknown rule '{name}' (known: {', '.join(sorted(RULES))})")
    for name, cls in RULES.items():
        table = rules.get(name)
        if not isinstance(table, Mapping):
            raise fail(f"[rules.{name}] " + ("is missing" if table is None else "must be a table"))
        schema = cls.schema()
        for key, val in table.items():
            if key not in schema:
                raise fail(f"unknown key rules.{name}.{key}")
            schema[key].check(where, f"rules.{name}.{key}", val)
        for key in schema:
            if key != "enabled" and key not in table:
                raise fail(f"rules.{name}.{key} is missing")
        problem = cls.cross_check(table)
        if problem:
            raise fail(f"rules.{name}: {problem}")
    return cfg if isinstance(cfg, dict) else dict(cfg)


def make_rule(name: str, config: Mapping[str, Any] | None = None, **overrides: Any):
    """One rule object from ``config`` (default: the shipped defaults) with ``overrides``
    applied and checked, e.g. ``make_rule("pause", rr_s=2.0)``: how tests and new alarm work
    build a rule alone (then ``AlertEngine(rules=[rule])`` runs it by itself).
    """
    if name not in RULES:
        raise EcgEdgeError(f"unknown alert rule '{name}' (known: {', '.join(sorted(RULES))})")
    cfg = dict(config) if config is not None else load_config()
    rules = {**cfg["rules"], name: {**cfg["rules"][name], **overrides}}
    validate_config({**cfg, "rules": rules})
    return RULES[name](rules[name])
