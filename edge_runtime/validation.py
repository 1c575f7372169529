"""Checks on what users and devices hand the runtime, so bad input ends in one line.

A monitor that silently accepts a stream it cannot interpret raises false alarms (a 50 Hz
record gave asystole crises) or misses beats (a stream in volts). Everything here either
accepts a value or raises :class:`~edge_runtime.errors.EcgEdgeError` (argparse types raise
``argparse.ArgumentTypeError``, which the one-line parser reports):

- sampling rate: :data:`FS_RANGE` (100-1000 Hz) is what the detector and the beat stages are
  built and tested for. Below it the QRS band (5-20 Hz energy, R peak on 0.5-40 Hz) is not
  resolved: refused. Above it an *offline record* is resampled to :data:`RESAMPLE_TO_HZ`
  (anti-aliased polyphase filter: safe, the ECG band of interest is far below 250 Hz) and the
  run says so; a *live stream* above it is refused (the device should send a supported rate);
- numeric flags: :func:`positive_float`, :func:`nonneg_float`, :func:`positive_int`, ...
  (defined in :mod:`edge_runtime.errors` next to ``make_parser``, re-exported here);
- channels: :func:`classify_channels` keeps ECG leads and names the others (by units: a
  pressure in mmHg or a pleth in NU is not an ECG; by name: PLETH, ABP, RESP, ...), and
  :func:`mv_factor` converts voltage units to the mV the pipeline works in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_runtime.errors import (  # the flag types live with make_parser; re-exported here
    EcgEdgeError,
    device_id,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)

__all__ = [
    "FS_RANGE",
    "RESAMPLE_TO_HZ",
    "check_fs",
    "positive_float",
    "nonneg_float",
    "positive_int",
    "nonneg_int",
    "device_id",
    "mv_factor",
    "Channels",
    "classify_channels",
    "resample_record",
]

FS_RANGE = (100.0, 1000.0)
RESAMPLE_TO_HZ = 500.0

#: units of a voltage channel -> factor to mV (case-sensitive first, then lower case)
_VOLT = {"mV": 1.0, "uV": 1e-3, "µV": 1e-3, "μV": 1e-3, "nV": 1e-6, "V": 1e3}
_VOLT_LOWER = {"mv": 1.0, "millivolt": 1.0, "millivolts": 1.0, "uv": 1e-3, "microvolt": 1e-3,
               "microvolts": 1e-3, "v": 1e3, "volt": 1e3, "volts": 1e3}

#: signal names (upper case, digits stripped) that are never ECG leads, whatever their units
NON_ECG_NAMES = frozenset({
    "PLETH", "PPG", "SPO", "SAO", "ABP", "ART", "AOBP", "BP", "NBP", "NIBP", "PAP", "CVP",
    "ICP", "RAP", "LAP", "UAP", "RESP", "RESPIRATION", "IMPEDANCE", "CO", "ETCO", "FLOW",
    "AIRWAY", "TEMP", "EEG", "EMG", "EOG", "HR", "PULSE", "STATUS",
})


def check_fs(fs: float, what: str) -> None:
    """Refuse a sampling rate outside :data:`FS_RANGE` (one line naming ``what``)."""
    lo, hi = FS_RANGE
    if not (math.isfinite(fs) and lo <= fs <= hi):
        raise EcgEdgeError(f"{what} is sampled at {fs:g} Hz; the runtime supports "
                           f"{lo:g}-{hi:g} Hz")


def mv_factor(unit: str | None) -> float | None:
    """Multiplier from ``unit`` to mV; None when ``unit`` is not a voltage.

    An empty or missing unit is taken as mV (WFDB's default, and the wire protocol's unit)."""
    if unit is None or not unit.strip():
        return 1.0
    u = unit.strip()
    if u in _VOLT:
        return _VOLT[u]
    return _VOLT_LOWER.get(u.lower())


def _non_ecg_name(name: str) -> bool:
    key = re.sub(r"[^A-Z]", "", name.upper())
    return key in NON_ECG_NAMES


@dataclass(frozen=True)
class Channels:
    """Which channels of a stream or record are ECG leads, and why the others are not."""

    ecg: list[int]  # indices of the ECG leads, in stream order
    factors: list[float]  # per ECG lead: multiplier to mV
    skipped: list[tuple[str, str]]  # (name, reason) of every other channel

    def note(self) -> str:
        """One line for the console: which channels are not used and why."""
        return "; ".join(f"{n} ({why})" for n, why in self.skipped)


def classify_channels(names: Sequence[str], units: Sequence[str] | None = None) -> Channels:
    """ECG leads of a stream: a voltage unit and a name that is not a known non-ECG signal.

    Raises a one-line error when no channel is an ECG lead.
    """
    units = list(units or [])
    ecg, factors, skipped = [], [], []
    for i, name in enumerate(names):
        unit = units[i] if i < len(units) else None
        f = mv_factor(unit)
        if f is None:
            skipped.append((name, f"units {unit}, not a voltage"))
        elif _non_ecg_name(name):
            skipped.append((name, "not an ECG signal"))
        else:
            ecg.append(i)
            factors.append(f)
    if not ecg:
        what = ", ".join(f"{n}: {why}" for n, why in skipped)
        raise EcgEdgeError(f"no ECG lead among the channels ({what})")
    return Channels(ecg, factors, skipped)


def resample_record(signal: np.ndarray, fs: float, fs_new: float = RESAMPLE_TO_HZ):
    """``signal`` (n, leads) at ``fs`` resampled to ``fs_new`` (polyphase, anti-aliased)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    frac = Fraction(fs_new / fs).limit_denominator(1000)
    out = resample_poly(signal, frac.numerator, frac.denominator, axis=0)
    return out, fs * frac.numerator / frac.denominator


def _has_lead(leads: Sequence[str], lead: str) -> bool:
    from edge_runtime.cards import lead_index  # MLII ~ II, as the model cards match

    return lead_index(leads, lead) is not None


def check_lead_map(lead_map: dict[str, str], card_leads: Sequence[str],
                   stream_leads: Sequence[str] | None = None) -> None:
    """``--lead-map CARD=STREAM``: CARD must be a lead some loaded model uses, and STREAM (when
    the stream is known) a lead of the stream; otherwise one line saying which is missing."""
    for card, stream in lead_map.items():
        if not card_leads:
            raise EcgEdgeError(f"--lead-map {card}={stream}: no model is loaded that uses leads")
        if card not in card_leads:
            raise EcgEdgeError(f"--lead-map {card}={stream}: no loaded model uses lead {card} "
                               f"(models' leads: {', '.join(dict.fromkeys(card_leads))})")
        if stream_leads is not None and not _has_lead(stream_leads, stream):
            raise EcgEdgeError(f"--lead-map {card}={stream}: the stream has no lead {stream} "
                               f"(leads: {', '.join(stream_leads)})")
