"""A causal, block-wise QRS detector (Pan-Tompkins family) with a bounded decision delay.

Method (Pan & Tompkins 1985, IEEE TBME 32:230, with the decision rules of Hamilton & Tompkins
1986, IEEE TBME 33:1157), reorganised so that a whole block is processed at once and only the
per-*candidate* logic runs in Python:

1. Band-pass 5-20 Hz (Butterworth order 4, designed by :mod:`edge_runtime.dsp`, applied
   causally with ``lfilter`` state carried across blocks): keeps the QRS energy, removes
   baseline wander, most of the T wave and high-frequency noise.
2. Slope energy ``e[n] = sum_leads (fs * (bp[n] - bp[n-1]))**2`` (several leads fuse by adding
   their energies), rounded to integers so that the running sum below is *exact*: block size
   can then never change a comparison, and the output is identical for any partition of the
   stream into blocks (a test holds this).
3. Moving-window integration over ``mwi_s`` (150 ms) from a running integer sum.
4. Candidates are local maxima of the integral that no sample within +-``peak_half_s``
   (120 ms) exceeds; a candidate is known ``peak_half_s`` after its peak.
5. Per candidate: adaptive signal/noise peak levels ``SPK``/``NPK``; threshold
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
   input is multiplied by the power of two ``2**k`` nearest to ``1 / A``. Multiplying by a
   power of two is exact in floating point and every filter is linear, so a scaled stream
   reaches the integer stage as the same stream in mV-sized numbers: the detector is
   scale-free (test: x1e-4 .. x1e4) and mV input gives exactly the beats it always gave.
   Held-back samples are processed once the learning period is complete; no beat was ever
   emitted before then, so decisions and ``decided_at`` are unchanged.
7. The R peak is placed on the conditioned signal (0.5-40 Hz, the monitor band of
   :func:`edge_runtime.dsp.ecg_filter_sos`) as the largest absolute excursion in the QRS
   window implied by the integrator peak, corrected by that filter's group delay.

The constants (``DetectorConfig``) were chosen on MIT-BIH DS1 only (de Chazal's training
half); DS2 is reported as held out.

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
from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.ndimage import maximum_filter1d

from edge_runtime.detect import _kernel
from edge_runtime.detect.amplitude import AMP_BAND_MV, amplitude_scale
from edge_runtime.dsp import design_bandpass, ecg_filter_sos

__all__ = ["Beat", "DetectorConfig", "StreamingDetector", "detect_record", "amplitude_scale",
           "AMP_BAND_MV"]

_CHUNK = 1 << 18  # longest block processed at once (bounds the integer running sums)
_E_SCALE = 100.0  # slope energy (mV/s)^2 -> integer units
_E_MAX = float(1 << 36)  # clip per-sample energy so int64 sums can never overflow


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


@dataclass
class _Cand:
    p: int  # integrator peak (absolute input index)
    height: float
    r: int  # localised R peak (absolute input index)
    slope: float
    confirm: int  # absolute input index at which the candidate became known
    amp: float  # |conditioned signal| at the R peak


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
        lo, hi = cfg.band_hz
        # Coefficients come from edge_runtime.dsp; they are applied with lfilter in transfer-
        # function form because SosFilter.push costs ~0.13 ms per call in scipy's argument
        # checks, more than all the rest of a 1-s block (order 4: tf form is well conditioned).
        bp_sos = design_bandpass(fs, lo, min(hi, 0.45 * fs), order=2)
        self._bp_ba = signal.sos2tf(bp_sos)
        self._bp_zi_unit = signal.lfilter_zi(*self._bp_ba)
        self._bp_zi: np.ndarray | None = None
        f0 = 0.5 * (lo + hi)
        self._gd_bp = int(round(_group_delay(bp_sos, f0, fs)))
        if cfg.localise == "loc":
            loc_sos = ecg_filter_sos(fs, cfg.loc_band_hz[0], cfg.loc_band_hz[1])
            self._loc_ba = signal.sos2tf(loc_sos)
            self._loc_zi_unit = signal.lfilter_zi(*self._loc_ba)
            self._loc_zi: np.ndarray | None = None
            self._gd_loc = int(round(_group_delay(loc_sos, f0, fs)))
        elif cfg.localise == "bp":
            self._gd_loc = self._gd_bp
        elif cfg.localise == "raw":
            self._gd_loc = 0
        else:
            raise ValueError(f"unknown localise mode {cfg.localise!r}")
        s = self._s
        self._W = max(2, s(cfg.mwi_s))
        self._a = max(1, s(cfg.peak_half_s))
        self._refr = s(cfg.refractory_s)
        self._twave = s(cfg.twave_s)
        self._learn_n = s(cfg.learn_s)
        self._primary = s(cfg.primary_delay_s)
        self._sb_max = s(cfg.searchback_max_s)
        margin = s(0.02)
        # slopes are kept as squared energies: compare with the squared ratio
        self._twave_ratio_e = cfg.twave_slope_ratio**2
        # R-peak search window relative to the integrator peak p, in input time.
        self._win_lo = max(-self._gd_bp - self._W - margin, self._a - self._primary)
        self._win_hi = -self._gd_bp + margin
        if self._win_hi <= self._win_lo:
            self._win_hi = self._win_lo + 1
        # history kept from one block to the next
        self._hist_len = self._a + max(self._W, -self._win_lo + self._gd_loc) + 4
        if backend not in ("auto", "numpy", "numba"):
            raise ValueError(f"unknown backend {backend!r} (auto, numpy or numba)")
        if backend == "numba" and not _kernel.HAVE_NUMBA:
            raise ValueError("backend 'numba' requested but numba is not installed")
        self._backend_req = backend
        self.backend = "numpy"  # decided at the first block (numba serves one-lead streams)
        self._n_leads: int | None = None
        self._total = 0
        self._bp_last = np.zeros(1)
        # slope energy (mV/s)^2 -> integer units: e = (fs * diff)^2 * _E_SCALE
        self._e_scale = _E_SCALE * self.fs * self.fs
        self._cs_hist: np.ndarray | None = None  # last W cumulative sums (int64)
        self._m_hist = np.zeros(0, dtype=np.int64)  # m for [eval_pos - a, total)
        self._eval_pos = 0  # first integrator index not yet tested as a local max
        self._loc_hist = np.zeros(0)  # loc signal for [total - len, total) (loc-signal time)
        self._e_hist = np.zeros(0, dtype=np.int64)
        # learning statistics over m[0:learn_n]
        self._learn_max = 0
        self._learn_sum = 0
        self._learn_cnt = 0
        self._learned = False
        self._learn_buf: list[_Cand] = []
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
        self._pending: list[_Cand] = []
        self._trigger: int | None = None
        self._out: list[Beat] = []
        self._flushed = False
        # amplitude normalisation (module doc, step 6): input held until learn_n + 1 samples
        self.scale: float | None = None  # 2**k, chosen from the first learn_n samples
        self._held: list[np.ndarray] = []
        self._held_n = 0

    # ------------------------------------------------------------------ public properties
    def _s(self, seconds: float) -> int:
        return int(round(seconds * self.fs))

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
        if (
            self.backend == "numba"  # fast path: a plain 1-D float block (the common case)
            and type(block) is np.ndarray
            and block.ndim == 1
            and block.dtype == np.float64
            and block.shape[0] <= _CHUNK
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
        if self._n_leads is None:
            self._n_leads = x.shape[1]
            if not 0 <= self.loc_lead < self._n_leads:
                raise ValueError(f"loc_lead {self.loc_lead} not in a {self._n_leads}-lead stream")
            if (
                self._n_leads == 1
                and _kernel.HAVE_NUMBA
                and self._backend_req != "numpy"
                and self.cfg.localise == "loc"  # the compiled loop implements this mode
                and _kernel.compile_kernel()  # numba is imported here, on first use only
            ):
                self._init_numba()
        elif x.shape[1] != self._n_leads:
            raise ValueError(f"lead count changed from {self._n_leads} to {x.shape[1]}")
        proc = self._process_numba if self.backend == "numba" else self._process
        for start in range(0, x.shape[0], _CHUNK):
            proc(x[start : start + _CHUNK])
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
        # Test the remaining integrator positions with the right window truncated.
        if self.backend == "numba":
            cands = self._numba_call(np.zeros(0), final=True)
        else:
            cands = self._find_candidates(final=True)
        self._decide(cands, self._total)
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
        n = x.shape[0]
        if n == 0:
            return
        b, a = self._bp_ba
        if self._bp_zi is None:
            self._bp_zi = self._bp_zi_unit[:, None] * x[0][None, :]
            self._bp_last = np.zeros(x.shape[1])  # bp starts in steady state: 0 for a band-pass
            self._cs_hist = np.zeros(self._W, dtype=np.int64)
            if self.cfg.localise == "loc":
                self._loc_zi = self._loc_zi_unit * x[0, self.loc_lead]
        bp, self._bp_zi = signal.lfilter(b, a, x, axis=0, zi=self._bp_zi)
        mode = self.cfg.localise
        if mode == "raw":
            loc = x[:, self.loc_lead]
        elif mode == "bp":
            loc = bp[:, self.loc_lead]
        else:
            loc, self._loc_zi = signal.lfilter(*self._loc_ba, x[:, self.loc_lead], zi=self._loc_zi)
        if bp.shape[1] == 1:
            col = bp[:, 0]
            d = np.diff(col, prepend=self._bp_last[0])
            e = d * d
        else:
            d = np.diff(bp, axis=0, prepend=self._bp_last[None, :])
            e = np.einsum("ij,ij->i", d, d)
        self._bp_last = bp[-1].copy()
        e *= self._e_scale
        np.minimum(e, _E_MAX, out=e)
        e = np.rint(e).astype(np.int64)
        cs = np.cumsum(e)
        cs += self._cs_hist[-1]
        cs_ext = np.concatenate([self._cs_hist, cs])
        m = cs_ext[self._W :] - cs_ext[: -self._W]
        tail = cs_ext[-self._W :]
        self._cs_hist = tail - tail[0]  # rebase: only differences matter, ints stay small
        t0 = self._total
        if t0 < self._learn_n:
            self._accumulate_learning(m, t0)
        self._total += n
        self._m_hist = np.concatenate([self._m_hist, m])
        keep = self._hist_len
        self._loc_hist = np.concatenate([self._loc_hist, loc])
        self._e_hist = np.concatenate([self._e_hist, e])
        cands = self._find_candidates(final=False)
        if self._loc_hist.size > keep:
            self._loc_hist = self._loc_hist[-keep:]
            self._e_hist = self._e_hist[-keep:]
        if cands or self._trigger is not None or not self._learned:
            self._decide(cands, self._total)

    # ------------------------------------------------------------------ compiled backend
    def _init_numba(self) -> None:
        self.backend = "numba"
        b, a = self._bp_ba
        self._nb_cbp = np.ascontiguousarray(np.vstack([b / a[0], a / a[0]]), dtype=np.float64)
        use_loc = self.cfg.localise != "raw"
        if self.cfg.localise == "loc":
            bl, al = self._loc_ba
        else:  # unused placeholder
            bl, al = np.ones(2), np.ones(2)
        self._nb_cloc = np.ascontiguousarray(np.vstack([bl / al[0], al / al[0]]),
                                             dtype=np.float64)
        need = 2 * self._a + self._W + max(0, -self._win_lo) + abs(self._gd_loc) + 16
        size = 1 << int(np.ceil(np.log2(need)))
        self._nb_ip = np.array([self._W, self._a, self._win_lo, self._win_hi, self._gd_loc,
                                size - 1, int(use_loc)], dtype=np.int64)
        self._nb_fp = np.array([self._e_scale, _E_MAX], dtype=np.float64)
        self._nb_em = np.zeros((2, size), dtype=np.int64)
        self._nb_loc = np.zeros(size, dtype=np.float64)
        self._nb_st = np.zeros(7, dtype=np.int64)
        self._nb_st[_kernel.LEARN_N] = self._learn_n
        self._nb_bp_last = np.zeros(1)
        self._nb_zbp = np.zeros(self._nb_cbp.shape[1] - 1)
        self._nb_zloc = np.zeros(self._nb_cloc.shape[1] - 1)
        self._nb_started = False
        self._nb_out = np.empty((4, 0), dtype=np.int64)
        self._nb_outf = np.empty(0, dtype=np.float64)

    def _numba_call(self, x: np.ndarray, final: bool) -> list[_Cand]:
        n = x.shape[0]
        if not self._nb_started:
            if n == 0:
                return []
            self._nb_started = True
            self._nb_zbp[:] = self._bp_zi_unit * x[0]
            if self.cfg.localise == "loc":
                self._nb_zloc[:] = self._loc_zi_unit * x[0]
        need = n + 2 * self._a + 8
        if need > self._nb_out.shape[1]:
            cap = max(need, 2 * self._nb_out.shape[1])
            self._nb_out = np.empty((4, cap), dtype=np.int64)
            self._nb_outf = np.empty(cap, dtype=np.float64)
        out = self._nb_out
        k = _kernel.run_block(
            x, final, self._nb_ip, self._nb_fp, self._nb_cbp, self._nb_cloc, self._nb_zbp,
            self._nb_zloc, self._nb_st, self._nb_bp_last, self._nb_em, self._nb_loc, out,
            self._nb_outf,
        )
        total = int(self._nb_st[_kernel.TOTAL])
        self._total = total
        if k == 0:
            return []
        a = self._a
        rows = out[:, :k].tolist()
        amps = self._nb_outf[:k].tolist()
        return [
            _Cand(p, float(h), r, float(sl), min(p + a, total - 1) if final else p + a, am)
            for p, h, r, sl, am in zip(*rows, amps, strict=True)
        ]

    def _process_numba(self, x: np.ndarray) -> None:
        self._process_numba_1d(np.ascontiguousarray(x[:, 0]))

    def _process_numba_1d(self, xs: np.ndarray) -> None:
        if xs.shape[0] == 0:
            return
        cands = self._numba_call(xs, final=False)
        if not self._learned:
            st = self._nb_st
            self._learn_max = int(st[_kernel.LEARN_MAX])
            self._learn_sum = int(st[_kernel.LEARN_SUM])
            self._learn_cnt = int(st[_kernel.LEARN_CNT])
        if (
            cands
            or not self._learned
            or (self._trigger is not None and self._trigger < self._total)
        ):
            self._decide(cands, self._total)

    def _accumulate_learning(self, m: np.ndarray, t0: int) -> None:
        if t0 >= self._learn_n:
            return
        part = m[: self._learn_n - t0]
        if part.size:
            self._learn_max = max(self._learn_max, int(part.max()))
            self._learn_sum += int(part.sum())
            self._learn_cnt += part.size

    def _find_candidates(self, final: bool) -> list[_Cand]:
        """Strict local maxima of the integrator within +-a whose right context is known."""
        a = self._a
        buf = self._m_hist  # absolute index of buf[0]:
        b0 = self._total - buf.size
        last_eval = self._total if final else self._total - a  # exclusive
        if last_eval <= self._eval_pos:
            return []
        mx = maximum_filter1d(buf, size=2 * a + 1, mode="constant", cval=-1)
        i0 = self._eval_pos - b0
        i1 = last_eval - b0
        seg = buf[i0:i1]
        prev = buf[i0 - 1 : i1 - 1] if i0 >= 1 else np.concatenate([[-1], buf[: i1 - 1]])
        hit = (seg == mx[i0:i1]) & (seg > prev) & (seg > 0)
        idx = np.flatnonzero(hit) + self._eval_pos  # absolute integrator indices
        self._eval_pos = last_eval
        start = max(0, self._eval_pos - a - 1 - b0)
        self._m_hist = buf[start:]
        if idx.size == 0:
            return []
        heights = buf[idx - b0].astype(np.float64)
        # R-peak localisation on the conditioned (0.5-40 Hz) signal, vectorised over candidates
        L0 = self._total - self._loc_hist.size  # absolute (loc-time) index of loc_hist[0]
        w = np.arange(self._win_lo, self._win_hi + 1)
        li = idx[:, None] + w[None, :] + self._gd_loc - L0
        li = np.clip(li, 0, self._loc_hist.size - 1)
        seg_loc = self._loc_hist[li]
        if self.cfg.localise == "raw":  # remove the local baseline (wander) of the window
            seg_loc = seg_loc - seg_loc.mean(axis=1, keepdims=True)
        abs_loc = np.abs(seg_loc)
        k_best = np.argmax(abs_loc, axis=1)
        amps = abs_loc[np.arange(k_best.size), k_best]
        r = idx + self._win_lo + k_best
        r = np.maximum(r, 0)
        # maximal slope energy over the integration window (T-wave test)
        we = np.arange(-self._W + 1, 1)
        ei = np.clip(idx[:, None] + we[None, :] - L0, 0, self._e_hist.size - 1)
        slopes = self._e_hist[ei].max(axis=1).astype(np.float64)
        confirm = np.minimum(idx + a, self._total - 1) if final else idx + a
        return [
            _Cand(int(p), float(h), int(rr), float(sl), int(c), float(am))
            for p, h, rr, sl, c, am in zip(idx, heights, r, slopes, confirm, amps, strict=True)
        ]

    # ------------------------------------------------------------------ decision logic
    def _thr1(self) -> float:
        return self._npk + self.cfg.thr_fraction * (self._spk - self._npk)

    def _rr_avg(self) -> float:
        if self._rr_regular:
            return sum(self._rr_regular) / len(self._rr_regular)
        if self._rr_recent:
            return sum(self._rr_recent) / len(self._rr_recent)
        return self.cfg.default_rr_s * self.fs

    def _decide(self, cands: list[_Cand], now: int) -> None:
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

    def _on_candidate(self, c: _Cand, when: int) -> None:
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

    def _accept(self, c: _Cand, when: int, searchback: bool, score: float) -> None:
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
            best: _Cand | None = None
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


def _group_delay(sos: np.ndarray, f0: float, fs: float) -> float:
    """Group delay in samples of a sos cascade at ``f0`` Hz (used to place the R peak)."""
    total = 0.0
    for sec in np.atleast_2d(sos):
        _, gd = signal.group_delay((sec[:3], sec[3:]), w=[f0], fs=fs)
        total += float(gd[0])
    return total


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
