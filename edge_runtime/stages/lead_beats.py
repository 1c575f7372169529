"""Per-lead beat evidence: a detector of its own on every lead other than the detection lead.

Why: the rules run on one lead's beats, and a beat that lead misses (a baseline step, a
moving electrode) reads as a pause or asystole. Each other lead's beats, found by the same
streaming detector run on that lead alone, are passed to the alert engine as
:class:`~edge_runtime.alerts.LeadBeat` evidence; they are used only to *refuse* an absence
alarm (asystole, pause, bradycardia) that a usable lead contradicts. The detection lead's
beats, labels and the beat model are untouched.

A detector adapts its threshold down when beats stop (search-back, ``pause_decay``), so in a
true asystole it would end up calling baseline noise a beat. An evidence beat therefore also
needs a QRS-sized excursion: its peak-to-peak amplitude (raw, +-``half_s`` around the R peak)
must reach ``min_mv`` and ``rel`` times the lower quartile of that lead's recent accepted
beats (the lower quartile: a lead showing small normal and large ventricular complexes keeps
accepting the small ones). ``rel`` was chosen on DS1 (232 is DS2 and was only reported).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from edge_runtime.alerts import LeadBeat
from edge_runtime.detect import StreamingDetector
from edge_runtime.dsp import RingBuffer

__all__ = ["LeadBeatStage"]


class LeadBeatStage:
    """``push(block) -> [(key, LeadBeat)]`` for ``(n, n_leads)`` raw samples in mV."""

    def __init__(self, fs: float, n_leads: int, detector_lead: int, *, min_mv: float = 0.15,
                 rel: float = 0.5, half_s: float = 0.06) -> None:
        self.fs = float(fs)
        self.leads = [j for j in range(n_leads) if j != detector_lead]
        self.detectors = {j: StreamingDetector(self.fs) for j in self.leads}
        # raw history long enough for the oldest beat a detector may still report
        hist = int((max((d.max_delay_s for d in self.detectors.values()), default=0) + 1.0)
                   * self.fs)
        self._piece = max(1, int(10 * self.fs))
        self.raw = RingBuffer(hist + self._piece, n_leads)
        self.half = max(1, int(round(half_s * self.fs)))
        self.min_mv, self.rel = float(min_mv), float(rel)
        self._amps: dict[int, deque[float]] = {j: deque(maxlen=16) for j in self.leads}
        self.rejected = 0  # detector beats too small to count as evidence

    def push(self, x: np.ndarray) -> list[tuple[int, LeadBeat]]:
        out: list[tuple[int, LeadBeat]] = []
        step = self._piece  # pieces, so a beat's samples are still in the raw history
        for i in range(0, x.shape[0], step):
            piece = x[i:i + step]
            self.raw.push(piece)
            for j, det in self.detectors.items():
                for b in det.push(np.ascontiguousarray(piece[:, j])):
                    self._accept(j, b.sample, b.decided_at + 1, out)
        return out

    def flush(self, key: int) -> list[tuple[int, LeadBeat]]:
        """End of stream: the detectors' last beats, all keyed at ``key``."""
        out: list[tuple[int, LeadBeat]] = []
        for j, det in self.detectors.items():
            for b in det.flush():
                self._accept(j, b.sample, key, out)
        return out

    def _accept(self, j: int, sample: int, key: int, out: list) -> None:
        lo = max(sample - self.half, self.raw.start)
        hi = min(sample + self.half + 1, self.raw.total)
        if hi <= lo:
            return
        seg = self.raw.get(lo, hi)[:, j]
        amp = float(seg.max() - seg.min())
        amps = self._amps[j]
        ref = float(np.percentile(amps, 25)) if len(amps) >= 4 else 0.0
        if amp < self.min_mv or amp < self.rel * ref:
            self.rejected += 1
            return
        amps.append(amp)
        out.append((key, LeadBeat(j, sample / self.fs)))
