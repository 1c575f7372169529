"""Typed, range-checked parameters of the alert config.

Each rule declares its parameters with these specs (``Rule.params``); :mod:`.config` checks
every value of a config against them when the config is built. Why check up front: a
``no_beat_s = "four"`` that is only noticed when the first beat is late would crash the
engine mid-run, or worse, silently disable an alarm. A bad value is a one-line
:class:`~edge_runtime.errors.EcgEdgeError` that names the key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edge_runtime.alerts.events import SEVERITIES
from edge_runtime.errors import EcgEdgeError


@dataclass(frozen=True)
class Param:
    """One config value: ``kind`` is number, integer, text, severity or flag.

    ``lo`` / ``hi`` bound numbers (inclusive; ``lo_open`` makes the lower bound exclusive).
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    doc: str = ""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable (a phrase), or None when it is."""
        if self.kind == "flag":
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind == "severity":
            return None if value in SEVERITIES else "is not one of " + ", ".join(SEVERITIES)
        if self.kind == "text":
            return None if isinstance(value, str) and value else "must be a non-empty string"
        if isinstance(value, bool):  # bool is an int subclass: `min_run = true` is a typo
            return f"must be {'an integer' if self.kind == 'integer' else 'a number'}"
        if self.kind == "integer" and not isinstance(value, int):
            return "must be an integer"
        if self.kind == "number" and not isinstance(value, int | float):
            return "must be a number"
        if not math.isfinite(value):
            return "must be finite"
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return f"must be {'>' if self.lo_open else '>='} {self.lo:g}"
        if self.hi is not None and value > self.hi:
            return f"must be <= {self.hi:g}"
        return None

    def check(self, where: str, key: str, value: Any) -> None:
        """Raise a one-line EcgEdgeError naming ``key`` if ``value`` does not fit."""
        why = self.problem(value)
        if why is not None:
            raise EcgEdgeError(f"alert config{where}: {key} = {value!r} {why}")


def number(lo: float | None = None, hi: float | None = None, *, above: float | None = None,
           doc: str = "") -> Param:
    """A real number in ``[lo, hi]`` (or ``(above, hi]``)."""
    if above is not None:
        return Param("number", above, hi, lo_open=True, doc=doc)
    return Param("number", lo, hi, doc=doc)


def seconds(doc: str = "") -> Param:
    """A duration in seconds of signal time, >= 0."""
    return Param("number", 0.0, doc=doc)


def integer(lo: int | None = None, hi: int | None = None, doc: str = "") -> Param:
    return Param("integer", lo, hi, doc=doc)


def text(doc: str = "") -> Param:
    return Param("text", doc=doc)


def severity(doc: str = "") -> Param:
    return Param("severity", doc=doc)


def flag(doc: str = "") -> Param:
    return Param("flag", doc=doc)
