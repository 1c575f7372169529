"""VF/flutter analysis stage: a sliding window of the detector lead -> ``RhythmEvent`` per hop.

Causal and independent of beat detection: the lead is conditioned as the published VF
detectors expect (1 Hz high-pass against drift, 30 Hz low-pass against muscle noise; Amann et
al. 2005), the last ``window_s`` seconds are analysed every ``hop_s`` seconds
(:func:`edge_runtime.vf_features.vf_features`) and each analysis is a
:class:`~edge_runtime.alerts.RhythmEvent` keyed at the sample that completed its window.

Decision per window (``vf``): VF filter leakage below the published 0.406 (Kuo & Dillman
1978) and a peak-to-peak amplitude of at least ``min_p2p_mv`` (a flat line has leakage 1
anyway; the amplitude floor only keeps a near-flat residue from counting). The spectral
algorithm of Barro et al. is computed and reported as evidence, but not required: on MIT-BIH
DS1 (4 s windows, MLII) it accepted 10 % of flutter windows against 54 % for the leakage,
and neither fired on any non-VF window of DS1 nor on NSTDB em/ma/bw noise at 6 and 0 dB
(docs/vf_alarm.md has the numbers). Persistence (how many positive windows make an alarm) is
the ``vf`` alert rule's job, not this stage's.

Gap-filled samples are not analysed (:meth:`VfStage.skip`): the window restarts after a gap.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.alerts import RhythmEvent
from edge_runtime.dsp import SosFilter, design_highpass, design_lowpass
from edge_runtime.vf_features import LEAKAGE_MAX, filter_leakage, vf_features

__all__ = ["VfStage"]


class VfStage:
    """``push(block) -> [(key, RhythmEvent)]`` for one lead of raw samples in mV."""

    def __init__(self, fs: float, window_s: float = 4.0, hop_s: float = 1.0,
                 min_p2p_mv: float = 0.1) -> None:
        self.fs = float(fs)
        self.win = max(8, int(round(window_s * self.fs)))
        self.hop = max(1, int(round(hop_s * self.fs)))
        self.min_p2p_mv = float(min_p2p_mv)
        sos = np.vstack([design_highpass(self.fs, 1.0, 2),
                         design_lowpass(self.fs, min(30.0, 0.4 * self.fs), 2)])
        self._filt = SosFilter(sos)
        self._buf = np.zeros(self.win)
        self._filled = 0          # conditioned samples in the buffer since the last restart
        self._since = 0           # samples since the last analysis
        self.n = 0                # input samples so far (analysed or skipped)

    def skip(self, n: int) -> None:
        """``n`` samples that are not signal (gap fill): time advances, the window restarts."""
        self.n += int(n)
        self._filled = 0
        self._since = 0
        self._filt.reset()

    def push(self, x: np.ndarray) -> list[tuple[int, RhythmEvent]]:
        """A block ``(n,)`` of the analysed lead."""
        y = self._filt.push(np.asarray(x, dtype=np.float64))
        out: list[tuple[int, RhythmEvent]] = []
        i = 0
        while i < len(y):
            take = min(self.hop - self._since, len(y) - i)
            self._buf = np.roll(self._buf, -take)
            self._buf[-take:] = y[i:i + take]
            self._filled = min(self.win, self._filled + take)
            self._since += take
            i += take
            if self._since == self.hop:
                self._since = 0
                if self._filled == self.win:
                    out.append(self._analyse(self.n + i))
        self.n += len(y)
        return out

    def _analyse(self, key: int) -> tuple[int, RhythmEvent]:
        x = self._buf - self._buf.mean()
        leak = filter_leakage(x)
        p2p = float(x.max() - x.min())
        vf = leak < LEAKAGE_MAX and p2p >= self.min_p2p_mv
        feats: dict = {"leakage": round(leak, 4), "p2p_mv": round(p2p, 4)}
        if vf:  # the spectrum is evidence only: computed when it will be shown (CPU on a Pi)
            f = vf_features(self._buf, self.fs)
            feats = {k: round(v, 4) for k, v in f.as_dict().items()}
            feats["spectral_vf"] = f.spectral_vf
        return key, RhythmEvent((key - self.win) / self.fs, key / self.fs, bool(vf), feats)
