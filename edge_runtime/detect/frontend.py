"""The detector's per-sample front end: raw samples in, QRS *candidates* out.

Steps 1-4 and 7 of the method (:mod:`edge_runtime.detect.streaming` holds the decisions):

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
7. The R peak is placed on the conditioned signal (0.5-40 Hz, the monitor band of
   :func:`edge_runtime.dsp.ecg_filter_sos`) as the largest absolute excursion in the QRS
   window implied by the integrator peak, corrected by that filter's group delay. The window
   is clipped so that a primary beat's decision delay stays within ``primary_delay_s``.

Speed: with numba installed and one lead, these stages run in a compiled loop
(:mod:`edge_runtime.detect._kernel`, identical output); otherwise numpy/scipy per block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal
from scipy.ndimage import maximum_filter1d

from edge_runtime.detect import _kernel
from edge_runtime.detect.config import E_MAX, E_SCALE, DetectorConfig
from edge_runtime.dsp import design_bandpass, ecg_filter_sos

__all__ = ["Candidate", "FrontEnd", "group_delay", "to_samples"]


def to_samples(seconds: float, fs: float) -> int:
    """A duration in whole samples (every constant of the detector is given in seconds)."""
    return int(round(seconds * fs))


@dataclass
class Candidate:
    """A local maximum of the integrator: what the decision logic accepts or rejects."""

    p: int  # integrator peak (absolute input index)
    height: float
    r: int  # localised R peak (absolute input index)
    slope: float
    confirm: int  # absolute input index at which the candidate became known
    amp: float  # |conditioned signal| at the R peak


class FrontEnd:
    """Filters, slope energy, integrator and candidate search, block by block.

    ``process(x)`` (numpy, any lead count) or ``process_numba(xs)`` (compiled, one lead) take
    the next samples and return the candidates whose right context they completed;
    ``finish()`` returns the rest at end of stream. ``backend`` is decided by ``start``.
    """

    def __init__(self, fs: float, cfg: DetectorConfig, loc_lead: int, backend: str) -> None:
        self.fs = fs
        self.cfg = cfg
        self.loc_lead = loc_lead
        lo, hi = cfg.band_hz
        # Coefficients come from edge_runtime.dsp; they are applied with lfilter in transfer-
        # function form because SosFilter.push costs ~0.13 ms per call in scipy's argument
        # checks, more than all the rest of a 1-s block (order 4: tf form is well conditioned).
        bp_sos = design_bandpass(fs, lo, min(hi, 0.45 * fs), order=2)
        self.bp_ba = signal.sos2tf(bp_sos)
        self._bp_zi_unit = signal.lfilter_zi(*self.bp_ba)
        self._bp_zi: np.ndarray | None = None
        f0 = 0.5 * (lo + hi)
        self._gd_bp = int(round(group_delay(bp_sos, f0, fs)))
        if cfg.localise == "loc":
            loc_sos = ecg_filter_sos(fs, cfg.loc_band_hz[0], cfg.loc_band_hz[1])
            self._loc_ba = signal.sos2tf(loc_sos)
            self._loc_zi_unit = signal.lfilter_zi(*self._loc_ba)
            self._loc_zi: np.ndarray | None = None
            self._gd_loc = int(round(group_delay(loc_sos, f0, fs)))
        elif cfg.localise == "bp":
            self._gd_loc = self._gd_bp
        elif cfg.localise == "raw":
            self._gd_loc = 0
        else:
            raise ValueError(f"unknown localise mode {cfg.localise!r}")
        self._W = max(2, to_samples(cfg.mwi_s, fs))
        self.a = max(1, to_samples(cfg.peak_half_s, fs))
        self._learn_n = to_samples(cfg.learn_s, fs)
        primary = to_samples(cfg.primary_delay_s, fs)
        margin = to_samples(0.02, fs)
        # R-peak search window relative to the integrator peak p, in input time.
        self._win_lo = max(-self._gd_bp - self._W - margin, self.a - primary)
        self._win_hi = -self._gd_bp + margin
        if self._win_hi <= self._win_lo:
            self._win_hi = self._win_lo + 1
        # history kept from one block to the next
        self._hist_len = self.a + max(self._W, -self._win_lo + self._gd_loc) + 4
        if backend not in ("auto", "numpy", "numba"):
            raise ValueError(f"unknown backend {backend!r} (auto, numpy or numba)")
        if backend == "numba" and not _kernel.HAVE_NUMBA:
            raise ValueError("backend 'numba' requested but numba is not installed")
        self._backend_req = backend
        self.backend = "numpy"  # decided at the first block (numba serves one-lead streams)
        self.n_leads: int | None = None
        self.total = 0  # samples processed
        self._bp_last = np.zeros(1)
        # slope energy (mV/s)^2 -> integer units: e = (fs * diff)^2 * E_SCALE
        self._e_scale = E_SCALE * self.fs * self.fs
        self._cs_hist: np.ndarray | None = None  # last W cumulative sums (int64)
        self._m_hist = np.zeros(0, dtype=np.int64)  # m for [eval_pos - a, total)
        self._eval_pos = 0  # first integrator index not yet tested as a local max
        self._loc_hist = np.zeros(0)  # loc signal for [total - len, total) (loc-signal time)
        self._e_hist = np.zeros(0, dtype=np.int64)
        # learning statistics over m[0:learn_n]
        self._learn_max = 0
        self._learn_sum = 0
        self._learn_cnt = 0

    def start(self, n_leads: int) -> None:
        """Fix the lead count at the first block and pick the backend."""
        self.n_leads = n_leads
        if not 0 <= self.loc_lead < n_leads:
            raise ValueError(f"loc_lead {self.loc_lead} not in a {n_leads}-lead stream")
        if (
            n_leads == 1
            and _kernel.HAVE_NUMBA
            and self._backend_req != "numpy"
            and self.cfg.localise == "loc"  # the compiled loop implements this mode
            and _kernel.compile_kernel()  # numba is imported here, on first use only
        ):
            self._init_numba()

    def learn_stats(self) -> tuple[int, int, int]:
        """Max, sum and count of the integrator over the learning period seen so far."""
        if self.backend == "numba":
            st = self._nb_st
            k = _kernel
            return int(st[k.LEARN_MAX]), int(st[k.LEARN_SUM]), int(st[k.LEARN_CNT])
        return self._learn_max, self._learn_sum, self._learn_cnt

    def finish(self) -> list[Candidate]:
        """End of stream: test the remaining integrator positions, right window truncated."""
        if self.backend == "numba":
            return self._numba_call(np.zeros(0), final=True)
        return self._find_candidates(final=True)

    # ------------------------------------------------------------------ numpy backend
    def process(self, x: np.ndarray) -> list[Candidate]:
        """Samples ``(n, leads)``, ``n > 0`` -> the candidates they confirmed."""
        n = x.shape[0]
        b, a = self.bp_ba
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
        np.minimum(e, E_MAX, out=e)
        e = np.rint(e).astype(np.int64)
        cs = np.cumsum(e)
        cs += self._cs_hist[-1]
        cs_ext = np.concatenate([self._cs_hist, cs])
        m = cs_ext[self._W :] - cs_ext[: -self._W]
        tail = cs_ext[-self._W :]
        self._cs_hist = tail - tail[0]  # rebase: only differences matter, ints stay small
        t0 = self.total
        if t0 < self._learn_n:
            self._accumulate_learning(m, t0)
        self.total += n
        self._m_hist = np.concatenate([self._m_hist, m])
        keep = self._hist_len
        self._loc_hist = np.concatenate([self._loc_hist, loc])
        self._e_hist = np.concatenate([self._e_hist, e])
        cands = self._find_candidates(final=False)
        if self._loc_hist.size > keep:
            self._loc_hist = self._loc_hist[-keep:]
            self._e_hist = self._e_hist[-keep:]
        return cands

    def _accumulate_learning(self, m: np.ndarray, t0: int) -> None:
        if t0 >= self._learn_n:
            return
        part = m[: self._learn_n - t0]
        if part.size:
            self._learn_max = max(self._learn_max, int(part.max()))
            self._learn_sum += int(part.sum())
            self._learn_cnt += part.size

    def _find_candidates(self, final: bool) -> list[Candidate]:
        """Strict local maxima of the integrator within +-a whose right context is known."""
        a = self.a
        buf = self._m_hist  # absolute index of buf[0]:
        b0 = self.total - buf.size
        last_eval = self.total if final else self.total - a  # exclusive
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
        L0 = self.total - self._loc_hist.size  # absolute (loc-time) index of loc_hist[0]
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
        confirm = np.minimum(idx + a, self.total - 1) if final else idx + a
        return [
            Candidate(int(p), float(h), int(rr), float(sl), int(c), float(am))
            for p, h, rr, sl, c, am in zip(idx, heights, r, slopes, confirm, amps, strict=True)
        ]

    # ------------------------------------------------------------------ compiled backend
    def _init_numba(self) -> None:
        self.backend = "numba"
        b, a = self.bp_ba
        self._nb_cbp = np.ascontiguousarray(np.vstack([b / a[0], a / a[0]]), dtype=np.float64)
        use_loc = self.cfg.localise != "raw"
        if self.cfg.localise == "loc":
            bl, al = self._loc_ba
        else:  # unused placeholder
            bl, al = np.ones(2), np.ones(2)
        self._nb_cloc = np.ascontiguousarray(np.vstack([bl / al[0], al / al[0]]),
                                             dtype=np.float64)
        need = 2 * self.a + self._W + max(0, -self._win_lo) + abs(self._gd_loc) + 16
        size = 1 << int(np.ceil(np.log2(need)))
        self._nb_ip = np.array([self._W, self.a, self._win_lo, self._win_hi, self._gd_loc,
                                size - 1, int(use_loc)], dtype=np.int64)
        self._nb_fp = np.array([self._e_scale, E_MAX], dtype=np.float64)
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

    def process_numba(self, xs: np.ndarray) -> list[Candidate]:
        """One lead's contiguous float64 samples, ``n > 0`` -> the candidates they confirmed."""
        return self._numba_call(xs, final=False)

    def _numba_call(self, x: np.ndarray, final: bool) -> list[Candidate]:
        n = x.shape[0]
        if not self._nb_started:
            if n == 0:
                return []
            self._nb_started = True
            self._nb_zbp[:] = self._bp_zi_unit * x[0]
            if self.cfg.localise == "loc":
                self._nb_zloc[:] = self._loc_zi_unit * x[0]
        need = n + 2 * self.a + 8
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
        self.total = total
        if k == 0:
            return []
        a = self.a
        rows = out[:, :k].tolist()
        amps = self._nb_outf[:k].tolist()
        return [
            Candidate(p, float(h), r, float(sl), min(p + a, total - 1) if final else p + a, am)
            for p, h, r, sl, am in zip(*rows, amps, strict=True)
        ]


def group_delay(sos: np.ndarray, f0: float, fs: float) -> float:
    """Group delay in samples of a sos cascade at ``f0`` Hz (used to place the R peak)."""
    total = 0.0
    for sec in np.atleast_2d(sos):
        _, gd = signal.group_delay((sec[:3], sec[3:]), w=[f0], fs=fs)
        total += float(gd[0])
    return total
