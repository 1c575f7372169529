"""The detector's data types and constants: the ``Beat`` it emits and its ``DetectorConfig``.

The constants (``DetectorConfig``) were chosen on MIT-BIH DS1 only (de Chazal's training
half); DS2 is reported as held out. They are in seconds / Hz, so that they scale with the
sampling rate.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Beat", "DetectorConfig", "CHUNK", "E_SCALE", "E_MAX"]

CHUNK = 1 << 18  # longest block processed at once (bounds the integer running sums)
E_SCALE = 100.0  # slope energy (mV/s)^2 -> integer units
E_MAX = float(1 << 36)  # clip per-sample energy so int64 sums can never overflow


@dataclass(frozen=True)
class Beat:
    """One detected QRS complex.

    ``sample`` is the absolute index of the R peak in the input stream (0 = first sample ever
    pushed); ``decided_at`` the absolute index of the input sample whose arrival produced the
    decision (so ``decided_at - sample`` is the decision delay); ``searchback`` marks beats
    recovered with the lower threshold; ``score`` is the integrator peak over the detection
    threshold at decision time (>1 for the normal path).
    """

    sample: int
    decided_at: int
    searchback: bool = False
    score: float = 0.0


@dataclass(frozen=True)
class DetectorConfig:
    """Constants of the detector in seconds / Hz, so that they scale with the sampling rate."""

    band_hz: tuple[float, float] = (5.0, 20.0)
    loc_band_hz: tuple[float, float] = (0.5, 40.0)
    mwi_s: float = 0.15
    peak_half_s: float = 0.12
    refractory_s: float = 0.2
    twave_s: float = 0.36
    twave_slope_ratio: float = 0.5
    twave_height_ratio: float = float("inf")  # T wave only if height < this x last QRS's
    twave_amp_ratio: float = float("inf")  # T wave only if R amplitude < this x last QRS's
    twave_searchback: bool = True  # may search-back recover a candidate called a T wave?
    learn_s: float = 2.0
    searchback: bool = True
    searchback_factor: float = 1.4
    searchback_max_s: float = 1.5
    pause_decay: float = 0.75  # SPK multiplier when search-back finds nothing (amplitude drop)
    primary_delay_s: float = 0.25
    default_rr_s: float = 0.8
    thr_fraction: float = 0.3
    localise: str = "loc"  # R peak on: "loc" (0.5-40 Hz), "raw" (window mean removed) or "bp"
