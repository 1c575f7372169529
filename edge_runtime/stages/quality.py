"""Signal-quality stage: high-frequency noise on the detector lead -> ``noise`` technical events.

Per second of signal, the RMS of the content above 40 Hz (EMG, electrode-motion spikes; the
ECG itself has little there after the QRS) is compared with a threshold; a change of state is
a :class:`~edge_runtime.alerts.TechnicalEvent` keyed at the sample that completed the second.
Gap-filled samples are not measured (:meth:`NoiseMonitor.skip`), but signal time advances.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.alerts import TechnicalEvent
from edge_runtime.dsp import SosFilter, design_highpass

__all__ = ["NoiseMonitor"]


class NoiseMonitor:
    """``push(block) -> [(key, TechnicalEvent)]`` for one lead of raw samples in mV."""

    def __init__(self, fs: float, threshold_mv: float) -> None:
        self.fs = float(fs)
        self.threshold_mv = threshold_mv
        self._hf = SosFilter(design_highpass(self.fs, min(40.0, 0.4 * self.fs), 2))
        self._per = int(self.fs)
        self._acc = 0.0
        self._count = 0
        self.noisy = False
        self.n = 0  # input samples so far (measured or skipped)

    def skip(self, n: int) -> None:
        """``n`` samples that are not signal (gap fill): time advances, nothing is measured."""
        self.n += int(n)

    def push(self, x: np.ndarray) -> list[tuple[int, TechnicalEvent]]:
        """A block of samples ``(n,)`` of the monitored lead."""
        n0 = self.n
        self.n += len(x)
        hf = self._hf.push(x)
        per = self._per
        out: list[tuple[int, TechnicalEvent]] = []
        i = 0
        while i < len(hf):
            take = min(per - self._count, len(hf) - i)
            self._acc += float(np.sum(hf[i:i + take] ** 2))
            self._count += take
            i += take
            if self._count == per:
                rms = (self._acc / per) ** 0.5
                noisy = rms > self.threshold_mv
                if noisy != self.noisy:
                    self.noisy = noisy
                    k = n0 + i
                    out.append((k, TechnicalEvent("noise", noisy, k / self.fs,
                                                  {"hf_rms_mv": round(rms, 4)})))
                self._acc = 0.0
                self._count = 0
        return out
