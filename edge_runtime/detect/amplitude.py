"""Amplitude normalisation of the detector: a power of two chosen on the learning period.

The detector rounds its slope energy to integers in units fit for millivolts (exact running
sums, results independent of block size). A stream in volts loses that resolution (Se 32 % on
record 100 before this existed), one in raw ADC counts or microvolts clips. Scaling the input
by ``2**k`` is exact in floating point and every filter is linear, so the integer stage sees
the same stream in mV-sized numbers; for mV input ``k = 0`` and nothing changes at all.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

__all__ = ["AMP_BAND_MV", "amplitude_scale"]

#: band-passed amplitude (max |bp| over the learning period) that needs no rescaling; every
#: MIT-BIH record's first 2 s lie within 0.45-2.3 (both leads)
AMP_BAND_MV = (0.25, 4.0)
_MAX_SHIFT = 40  # |k| of the 2**k amplitude scale (x1e-12 .. x1e12 covered)


def amplitude_scale(x: np.ndarray, bp_ba: tuple[np.ndarray, np.ndarray]) -> float:
    """The power of two that brings ``x`` (n, leads) to millivolt-sized band-passed values.

    ``A`` = max |band-pass(x)| over all leads (filter started in steady state, as the
    detector's). 1.0 when ``A`` is in :data:`AMP_BAND_MV` or the signal is flat; otherwise
    ``2**k`` with ``k = -round(log2 A)`` (so the scaled ``A`` is within a factor sqrt 2 of 1).
    """
    if x.shape[0] == 0:
        return 1.0
    b, a = bp_ba
    zi = signal.lfilter_zi(b, a)[:, None] * x[0][None, :]
    bp, _ = signal.lfilter(b, a, x, axis=0, zi=zi)
    amp = float(np.abs(bp).max())
    lo, hi = AMP_BAND_MV
    if not math.isfinite(amp) or amp == 0.0 or lo <= amp <= hi:
        return 1.0
    k = int(np.clip(-round(math.log2(amp)), -_MAX_SHIFT, _MAX_SHIFT))
    return math.ldexp(1.0, k)
