"""A causal, block-wise QRS detector (Pan-Tompkins family) with a bounded decision delay.

Method (Pan & Tompkins 1985, IEEE TBME 32:230, with the decision rules of Hamilton & Tompkins
1986, IEEE TBME 33:1157), reorganised so that a whole block is processed at once and only the
per-*candidate* logic runs in Python:

1-4. The per-sample front end (:mod:`edge_runtime.detect.frontend`): band-pass 5-20 Hz, slope
   energy rounded to integers (exact running sums: the output is identical for any partition
   of the stream into blocks), moving-window integration over 150 ms, and candidates = local
   maxima of the integral within +-120 ms, each known 120 ms after its peak.
5. Per candidate (this module): adaptive signal/noise peak levels ``SPK``/``NPK``; threshold
   ``THR1 = NPK + 0.3 (SPK - NPK)``; a refractory period of 200 ms; T-wave discrimination
   (a candidate within 360 ms of the last QRS whose maximal slope is below half of that QRS's
   slope is a T wave); search-back with ``THR2 = THR1 / 2`` when no QRS was found for 1.4x
   the regular RR average (the largest sub-threshold or T-wave-rejected candidate since the
   last QRS becomes a beat); when search-back finds nothing, ``SPK`` decays (x0.75) so that
   a sudden amplitude drop is followed; a learning period of ``learn_s`` (2 s) initialises
   the levels.
6. Amplitude: the slope energy is rounded to integers in units fit for millivolts, so a
   stream in other units (volts, microvolts, raw ADC counts) would lose resolution or clip.
   The first ``learn_s`` of input are held back and measured (largest absolute value of the
   band-passed signal over all leads, ``A``); when ``A`` lies in ``AMP_BAND_MV`` (0.25-4, where
   every MIT-BIH record's first 2 s lie: 0.45-2.3) nothing changes (scale 1), otherwise the
   input is multiplied by the power of two ``2**k`` nearest to ``1 / A``
   (:mod:`edge_runtime.detect.amplitude`). Multiplying by a power of two is exact in floating
   point and every filter is linear, so a scaled stream reaches the integer stage as the same
   stream in mV-sized numbers: the detector is scale-free (test: x1e-4 .. x1e4) and mV input
   gives exactly the beats it always gave. Held-back samples are processed once the learning
   period is complete; no beat was ever emitted before then, so decisions and ``decided_at``
   are unchanged.
7. The R peak is placed on the conditioned signal (0.5-40 Hz) by the front end, corrected by
   that filter's group delay.

The constants (``DetectorConfig``, :mod:`edge_runtime.detect.config`) were chosen on MIT-BIH
DS1 only (de Chazal's training half); DS2 is reported as held out.

Decision delay: a beat found by the threshold rule is emitted when its candidate is
confirmed, and the R-peak search window is clipped so that ``decided_at - sample <=
primary_delay_s * fs`` (250 ms). Beats found by search-back are emitted when search-back
fires (1.4 RR after the previous beat); search-back only looks at candidates whose R peak is
at most ``searchback_max_s`` (1.5 s) old, so *every* beat obeys ``decided_at - sample <=
max_delay_s * fs``. Beats in the first ``learn_s`` seconds are emitted at the end of the
learning period. Beats are always emitted in increasing ``sample`` order.

Speed: with numba installed and one lead, the per-sample stages run in a compiled loop
(:mod:`edge_runtime.detect._kernel`, identical output); otherwise numpy/scipy per block.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from edge_runtime.detect.amplitude import AMP_BAND_MV, amplitude_scale
from edge_runtime.detect.config import CHUNK, Beat, DetectorConfig
from edge_runtime.detect.frontend import Candidate, FrontEnd, to_samples

__all__ = ["Beat", "DetectorConfig", "StreamingDetector", "detect_record", "amplitude_scale",
           "AMP_BAND_MV"]


class StreamingDetector:
    """Causal R-peak detector: ``push(block) -> list[Beat]``, ``flush() -> list[Beat]``.

    ``block`` is ``(n,)`` for one lead or ``(n, leads)``, raw samples in mV (another scale
    works too: module doc, step 6); filtering happens inside. Works at any ``fs`` from 100 to
    1000 Hz (all constants are in seconds). ``loc_lead`` picks the lead used to place the R
    peak when several are given.
    """

    def __init__(
        self,
        fs: float,
        config: DetectorConfig | None = None,
        loc_lead: int = 0,
        backend: str = "auto",
    ) -> None:
        if not 50.0 <= fs <= 5000.0:
            raise ValueError(f"sampling rate {fs} Hz outside the supported 50-5000 Hz")
        self.fs = float(fs)
        self.cfg = cfg = config or DetectorConfig()
        self.loc_lead = int(loc_lead)
        self._fe = FrontEnd(self.fs, cfg, self.loc_lead, backend)
        self._bp_ba = self._fe.bp_ba  # the band-pass, also measured by the amplitude scale
        s = self._s
        self._refr = s(cfg.refractory_s)
        self._twave = s(cfg.twave_s)
        self._learn_n = s(cfg.learn_s)
        self._primary = s(cfg.primary_delay_s)
        self._sb_max = s(cfg.searchback_max_s)
        # slopes are kept as squared energies: compare with the squared ratio
        self._twave_ratio_e = cfg.twave_slope_ratio**2
        # learning statistics over the integrator's first learn_n values (from the front end)
        self._learn_max = 0
        self._learn_sum = 0
        self._learn_cnt = 0
        self._learned = False
        self._learn_buf: list[Candidate] = []
        # decision state
        self._spk = 0.0
        self._npk = 0.0
        self._last_r: int | None = None
        self._last_slope = 0.0
        self._last_height = 0.0
        self._last_amp = 0.0
        self._rr_recent: deque[int] = deque(maxlen=8)
        self._rr_regular: deque[int] = deque(maxlen=8)
        self._rr_misses = 0
        self._pending: list[Candidate] = []
        self._trigger: int | None = None
        self._out: list[Beat] = []
        self._flushed = False
        # amplitude normalisation (module doc, step 6): input held until learn_n + 1 samples
        self.scale: float | None = None  # 2**k, chosen from the first learn_n samples
        self._held: list[np.ndarray] = []
        self._held_n = 0

    # ------------------------------------------------------------------ public properties
    def _s(self, seconds: float) -> int:
        return to_samples(seconds, self.fs)

    @property
    def backend(self) -> str:
        """``"numba"`` (compiled front end) or ``"numpy"``; decided at the first block."""
        return self._fe.backend

    @property
    def _total(self) -> int:
        return self._fe.total

    @property
    def max_delay_s(self) -> float:
        """Hard bound of ``(decided_at - sample) / fs`` for every beat after learning."""
        bound = self._primary
        if self.cfg.searchback:
            bound = max(bound, self._sb_max)
        return bound / self.fs

    @property
    def primary_delay_s(self) -> float:
        """Bound of the decision delay of beats found by the main threshold rule."""
        return self._primary / self.fs

    @property
    def samples_seen(self) -> int:
        return self._total + self._held_n

    # ------------------------------------------------------------------ streaming API
    def push(self, block: np.ndarray) -> list[Beat]:
        """Consume samples; return the beats decided by them (sorted by ``sample``)."""
        if self._flushed:
            raise RuntimeError("detector was flushed; create a new one for a new stream")
        if self.scale is None:
            return self._hold(block)
        if self.scale != 1.0:
            block = np.asarray(block, dtype=np.float64) * self.scale  # 2**k: exact
        fe = self._fe
        if (
            fe.backend == "numba"  # fast path: a plain 1-D float block (the common case)
            and type(block) is np.ndarray
            and block.ndim == 1
            and block.dtype == np.float64
            and block.shape[0] <= CHUNK
        ):
            if not math.isfinite(block.sum()):  # NaN/inf anywhere propagates into the sum
                raise ValueError("samples must be finite (fill gaps before pushing)")
            self._process_numba_1d(np.ascontiguousarray(block))
            out, self._out = self._out, []
            return out
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(f"expected (n,) or (n, leads) samples, got shape {x.shape}")
        if not math.isfinite(x.sum()):  # NaN/inf anywhere propagates into the sum
            raise ValueError("samples must be finite (fill gaps before pushing)")
        if fe.n_leads is None:
            fe.start(x.shape[1])
        elif x.shape[1] != fe.n_leads:
            raise ValueError(f"lead count changed from {fe.n_leads} to {x.shape[1]}")
        proc = self._process_numba if fe.backend == "numba" else self._process
        for start in range(0, x.shape[0], CHUNK):
            proc(x[start : start + CHUNK])
        out, self._out = self._out, []
        return out

    def flush(self) -> list[Beat]:
        """End of stream: decide the candidates still waiting for their right context."""
        if self._flushed:
            return []
        if self.scale is None:
            self._release_held()
        self._flushed = True
        if self._total == 0:
            return []
        self._decide(self._fe.finish(), self._total)
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ amplitude scale
    def _check_block(self, block: np.ndarray) -> np.ndarray:
        """The checks ``push`` makes on every block, done when a block is held back too."""
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise ValueError(f"expected (n,) or (n, leads) samples, got shape {x.shape}")
        if not math.isfinite(x.sum()):
            raise ValueError("samples must be finite (fill gaps before pushing)")
        if self._held and x.shape[1] != self._held[0].shape[1]:
            raise ValueError(f"lead count changed from {self._held[0].shape[1]} to {x.shape[1]}")
        return x

    def _hold(self, block: np.ndarray) -> list[Beat]:
        """Keep samples until the learning period is complete, then choose the scale."""
        x = self._check_block(block)
        if x.shape[0]:
            self._held.append(x.copy())
            self._held_n += x.shape[0]
        if self._held_n <= self._learn_n:
            return []  # no beat is decided before sample learn_n anyway
        return self._release_held()

    def _release_held(self) -> list[Beat]:
        held = np.concatenate(self._held) if self._held else np.zeros((0, 1))
        self._held, self._held_n = [], 0
        self.scale = amplitude_scale(held[: self._learn_n], self._bp_ba)
        if held.shape[0] == 0:
            return []
        squeeze = held.shape[1] == 1  # one lead: the 1-D fast path, as a caller's 1-D block
        return self.push(held[:, 0] if squeeze else held)

    # ------------------------------------------------------------------ block processing
    def _process(self, x: np.ndarray) -> None:
        if x.shape[0] == 0:
            return
        cands = self._fe.process(x)
        self._learn_max, self._learn_sum, self._learn_cnt = self._fe.learn_stats()
        if cands or self._trigger is not None or not self._learned:
            self._decide(cands, self._total)

    def _process_numba(self, x: np.ndarray) -> None:
        self._process_numba_1d(np.ascontiguousarray(x[:, 0]))

    def _process_numba_1d(self, xs: np.ndarray) -> None:
        if xs.shape[0] == 0:
            return
        cands = self._fe.process_numba(xs)
        if not self._learned:
            self._learn_max, self._learn_sum, self._learn_cnt = self._fe.learn_stats()
        if (
            cands
            or not self._learned
            or (self._trigger is not None and self._trigger < self._total)
        ):
            self._decide(cands, self._total)

    # ------------------------------------------------------------------ decision logic
    def _thr1(self) -> float:
        return self._npk + self.cfg.thr_fraction * (self._spk - self._npk)

    def _rr_avg(self) -> float:
        if self._rr_regular:
            return sum(self._rr_regular) / len(self._rr_regular)
        if self._rr_recent:
            return sum(self._rr_recent) / len(self._rr_recent)
        return self.cfg.default_rr_s * self.fs

    def _decide(self, cands: list[Candidate], now: int) -> None:
        """Run the candidate events and search-back triggers in time order up to ``now``."""
        for c in cands:
            if not self._learned:
                if c.confirm < self._learn_n:
                    self._learn_buf.append(c)
                    continue
                self._finish_learning()
            self._fire_until(c.confirm)
            self._on_candidate(c, c.confirm)
        if not self._learned and (now > self._learn_n or self._flushed):
            self._finish_learning()
        if self._learned:
            self._fire_until(now)

    def _finish_learning(self) -> None:
        self._learned = True
        cnt = max(self._learn_cnt, 1)
        self._spk = self._learn_max / 3.0
        self._npk = self._learn_sum / cnt / 2.0
        t = min(self._learn_n, self._total - 1)
        self._trigger = t + int(self.cfg.searchback_factor * self._rr_avg())
        for c in self._learn_buf:
            self._fire_until(c.confirm)
            self._on_candidate(c, max(c.confirm, t))
        self._learn_buf = []

    def _on_candidate(self, c: Candidate, when: int) -> None:
        if self._last_r is not None and c.r - self._last_r < self._refr:
            return
        if c.height > self._thr1():
            if (
                self._last_r is not None
                and c.r - self._last_r < self._twave
                and c.slope < self._twave_ratio_e * self._last_slope
                and c.height < self.cfg.twave_height_ratio * self._last_height
                and c.amp < self.cfg.twave_amp_ratio * self._last_amp
            ):
                self._npk = 0.125 * c.height + 0.875 * self._npk
                if self.cfg.twave_searchback and self.cfg.searchback:
                    self._pending.append(c)
                return
            score = c.height / max(self._thr1(), 1e-12)
            self._spk = 0.125 * c.height + 0.875 * self._spk
            self._accept(c, when, searchback=False, score=score)
        else:
            self._npk = 0.125 * c.height + 0.875 * self._npk
            if self.cfg.searchback:
                self._pending.append(c)

    def _accept(self, c: Candidate, when: int, searchback: bool, score: float) -> None:
        if self._last_r is not None:
            rr = c.r - self._last_r
            avg2 = self._rr_avg()
            self._rr_recent.append(rr)
            if not self._rr_regular or 0.92 * avg2 <= rr <= 1.16 * avg2:
                self._rr_regular.append(rr)
                self._rr_misses = 0
            else:
                self._rr_misses += 1
                if self._rr_misses >= 8:  # rhythm changed: adopt the recent average
                    self._rr_regular = deque(self._rr_recent, maxlen=8)
                    self._rr_misses = 0
        self._last_r = c.r
        self._last_slope = c.slope
        self._last_height = c.height
        self._last_amp = c.amp
        self._pending = [q for q in self._pending if q.r - c.r >= self._refr]
        self._trigger = c.r + int(self.cfg.searchback_factor * self._rr_avg())
        self._out.append(Beat(sample=c.r, decided_at=when, searchback=searchback, score=score))

    def _fire_until(self, limit: int) -> None:
        """Fire every search-back trigger that falls before ``limit`` (exclusive)."""
        while self._trigger is not None and self._trigger < limit:
            t = self._trigger
            thr2 = 0.5 * self._thr1()
            best: Candidate | None = None
            for q in self._pending:
                if q.confirm > t or q.height <= thr2 or t - q.r > self._sb_max:
                    continue
                if self._last_r is not None and q.r - self._last_r < self._refr:
                    continue
                if best is None or q.height > best.height:
                    best = q
            if best is None or not self.cfg.searchback:
                # Nothing to recover: lower the signal level (amplitude may have dropped) and
                # look again one RR later.
                self._spk = max(self.cfg.pause_decay * self._spk, 2.0 * self._npk)
                self._trigger = t + int(self._rr_avg())
                self._pending = [q for q in self._pending if t - q.r <= self._sb_max]
                continue
            self._spk = 0.25 * best.height + 0.75 * self._spk
            self._accept(best, t, searchback=True, score=best.height / max(thr2, 1e-12))


def detect_record(
    sig: np.ndarray,
    fs: float,
    block: int | None = None,
    config: DetectorConfig | None = None,
) -> list[Beat]:
    """Run a fresh detector over a whole signal (optionally block by block)."""
    det = StreamingDetector(fs, config)
    x = np.asarray(sig, dtype=np.float64)
    beats: list[Beat] = []
    if block is None:
        beats += det.push(x)
    else:
        for i in range(0, x.shape[0], block):
            beats += det.push(x[i : i + block])
    beats += det.flush()
    return beats
