"""Ventricular fibrillation/flutter features of a few seconds of ECG, without beat detection.

Why not beats: in VF and flutter there are no QRS complexes for a detector to find (it finds
"beats" at random or none at all, so the rate, VT and asystole rules all see nonsense). VF and
flutter are instead recognised by the *shape* of the signal: an almost periodic, sine-like
oscillation at 3-9 Hz (180-540 /min) whose energy sits around one frequency, where a normal
ECG has narrow QRS spikes (energy spread over many harmonics) separated by flat stretches.

Two published detectors, both as evaluated by Amann, Tratnig & Unterkofler, "Reliability of
old and new ventricular fibrillation detection algorithms for automated external
defibrillators", BioMedical Engineering OnLine 4:60 (2005), whose formulas and thresholds are
used here unchanged:

* **VF filter leakage** (Kuo & Dillman, "Computer detection of ventricular fibrillation",
  Computers in Cardiology 1978, pp. 347-349). The mean half period is estimated as
  ``N = floor(pi * sum|V_i| / sum|V_i - V_{i-1}| + 1/2)`` samples; a narrow band-stop at that
  frequency (``V_i + V_{i-N}``) leaves almost nothing of a sine. Leakage
  ``l = sum|V_i + V_{i-N}| / sum(|V_i| + |V_{i-N}|)``; VF-like when ``l < 0.406``.
* **Spectral algorithm** (Barro, Ruiz, Cabello & Mira, "Algorithmic sequential decision-making
  in the frequency domain for life threatening ventricular arrhythmias and imitative
  artefacts: a diagnostic system", J. Biomed. Eng. 11:320-328, 1989). Hamming-windowed FFT,
  amplitudes below 5 % of the largest set to 0; peak frequency ``F`` in 0.5-9 Hz; ``M`` the
  first spectral moment up to ``min(20 F, 100 Hz)`` divided by ``F``; ``A1`` the share of the
  amplitude in 0.5 Hz .. F/2, ``A2`` in 0.7 F .. 1.4 F, ``A3`` in 0.6 Hz bands around the
  harmonics 2F .. 8F. VF-like when ``M <= 1.55, A1 < 0.19, A2 >= 0.45, A3 <= 0.09``.

Both were published with the preprocessing used here (mean removed, 1 Hz high-pass against
drift, 30 Hz low-pass against muscle noise). :mod:`edge_runtime.stages.vf` runs them on a
sliding window and combines them (see there for why both are required).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["VfFeatures", "filter_leakage", "spectral_features", "vf_features",
           "LEAKAGE_MAX", "M_MAX", "A1_MAX", "A2_MIN", "A3_MAX"]

# thresholds as published (Amann et al. 2005, tables of the algorithms' parameters)
LEAKAGE_MAX = 0.406
M_MAX, A1_MAX, A2_MIN, A3_MAX = 1.55, 0.19, 0.45, 0.09


@dataclass(frozen=True)
class VfFeatures:
    """Features of one analysis window (see the module docstring for each)."""

    leakage: float
    peak_hz: float
    m: float
    a1: float
    a2: float
    a3: float
    p2p_mv: float  # peak-to-peak amplitude of the conditioned window

    @property
    def spectral_vf(self) -> bool:
        return (self.m <= M_MAX and self.a1 < A1_MAX and self.a2 >= A2_MIN
                and self.a3 <= A3_MAX)

    def as_dict(self) -> dict[str, float]:
        return {"leakage": self.leakage, "peak_hz": self.peak_hz, "m": self.m,
                "a1": self.a1, "a2": self.a2, "a3": self.a3, "p2p_mv": self.p2p_mv}


def filter_leakage(x: np.ndarray) -> float:
    """Kuo & Dillman VF filter leakage of a (mean-free) window; 1.0 for a flat one."""
    x = np.asarray(x, dtype=np.float64)
    d = np.abs(np.diff(x)).sum()
    if d <= 0:
        return 1.0
    n = int(np.floor(np.pi * np.abs(x[1:]).sum() / d + 0.5))
    if n < 1 or n >= x.size:
        return 1.0
    a, b = x[n:], x[:-n]
    den = (np.abs(a) + np.abs(b)).sum()
    return float(np.abs(a + b).sum() / den) if den > 0 else 1.0


def spectral_features(x: np.ndarray, fs: float) -> tuple[float, float, float, float, float]:
    """Barro's ``(F, M, A1, A2, A3)`` of a window (F in Hz); M = inf for a flat window."""
    x = np.asarray(x, dtype=np.float64)
    n_fft = max(1024, 1 << int(np.ceil(np.log2(x.size))))
    amp = np.abs(np.fft.rfft((x - x.mean()) * np.hamming(x.size), n_fft))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    top = amp.max()
    if top <= 0:
        return 0.0, float("inf"), 1.0, 0.0, 1.0
    amp = np.where(amp < 0.05 * top, 0.0, amp)
    band = (freqs >= 0.5) & (freqs <= 9.0)
    if not amp[band].any():
        return 0.0, float("inf"), 1.0, 0.0, 1.0
    f = float(freqs[band][np.argmax(amp[band])])
    jmax = min(20.0 * f, 100.0, fs / 2)
    use = (freqs >= 0.5) & (freqs <= jmax)
    total = amp[use].sum()
    if total <= 0:
        return f, float("inf"), 1.0, 0.0, 1.0
    m = float((freqs[use] * amp[use]).sum() / total / f)
    a1 = float(amp[(freqs >= 0.5) & (freqs <= f / 2)].sum() / total)
    a2 = float(amp[(freqs >= 0.7 * f) & (freqs <= 1.4 * f)].sum() / total)
    harm = np.zeros(freqs.size, bool)
    for k in range(2, 9):
        harm |= np.abs(freqs - k * f) <= 0.6
    a3 = float(amp[harm & use].sum() / total)
    return f, m, a1, a2, a3


def vf_features(x: np.ndarray, fs: float) -> VfFeatures:
    """All features of one conditioned window (1-30 Hz band-passed, in mV)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    f, m, a1, a2, a3 = spectral_features(x, fs)
    return VfFeatures(filter_leakage(x), f, m, a1, a2, a3, float(x.max() - x.min()))
