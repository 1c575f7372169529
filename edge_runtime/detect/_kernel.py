"""Optional compiled hot loop of the detector (numba), twin of the numpy block code.

:class:`~edge_runtime.detect.streaming.StreamingDetector` runs its per-sample stages (band-pass
and conditioning IIR filters, slope energy, moving-window integral, local-maximum test, R-peak
localisation) either vectorised with numpy/scipy per block, or - when numba is installed and
the stream has one lead - in this loop, which does the same arithmetic in the same order
(scipy ``lfilter``'s direct form II transposed recursion, integer running sums). A test holds
the two backends to identical beats. numba is optional: without it (e.g. a Raspberry Pi with
the base install) the numpy path runs, ~5x slower on 1-s blocks because of per-call overhead.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

#: numba is importable (checked without importing it: importing numba + llvmlite adds ~110 MB
#: of RSS (numba 0.68) and ~1 s, so it is loaded by :func:`compile_kernel` only when a one-lead
#: stream actually starts). ``ECGEDGE_NUMBA=0`` in the environment keeps it out of the process
#: (the numpy twin gives identical beats; at 10 s blocks it runs at ~26,000x real time).
HAVE_NUMBA = (
    os.environ.get("ECGEDGE_NUMBA", "1") != "0" and importlib.util.find_spec("numba") is not None
)
_COMPILED = False


def njit(*args, **kwargs):
    """Marker standing in for ``numba.njit`` until :func:`compile_kernel` runs (identity)."""

    def wrap(f):
        return f

    return wrap


# int64 state slots
TOTAL, EVAL_POS, MSUM, LEARN_N, LEARN_MAX, LEARN_SUM, LEARN_CNT = range(7)


# int64 parameter slots
P_W, P_A, P_WIN_LO, P_WIN_HI, P_GD_LOC, P_MASK, P_USE_LOC = range(7)


@njit(cache=True, nogil=True)
def run_block(x, final, ip, fp, cbp, cloc, zbp, zloc, st, bp_last, em_ring, loc_ring, out,
              outf):
    """Consume ``x`` (one lead); write candidates to ``out`` (4 x cap) and their R amplitude
    to ``outf``; return how many.

    ``ip``/``fp``: int/float parameters; ``cbp``/``cloc``: (2, order+1) filter b/a rows;
    ``em_ring``: (2, size) ring of slope energy and integrator values.
    """
    W = ip[P_W]
    A = ip[P_A]
    win_lo = ip[P_WIN_LO]
    win_hi = ip[P_WIN_HI]
    gd_loc = ip[P_GD_LOC]
    mask = ip[P_MASK]
    use_loc = ip[P_USE_LOC] != 0
    escale = fp[0]
    emax = fp[1]
    b = cbp[0]
    a = cbp[1]
    bloc = cloc[0]
    aloc = cloc[1]
    e_ring = em_ring[0]
    m_ring = em_ring[1]
    out_p = out[0]
    out_h = out[1]
    out_r = out[2]
    out_s = out[3]
    nb = b.shape[0] - 1
    nl = bloc.shape[0] - 1
    total = st[TOTAL]
    msum = st[MSUM]
    learn_n = st[LEARN_N]
    n_out = 0
    n = x.shape[0]
    for i in range(n):
        xn = x[i]
        # band-pass, scipy lfilter order of operations (DF2T)
        y = zbp[0] + b[0] * xn
        for k in range(nb - 1):
            zbp[k] = zbp[k + 1] + xn * b[k + 1] - y * a[k + 1]
        zbp[nb - 1] = xn * b[nb] - y * a[nb]
        if use_loc:
            yl = zloc[0] + bloc[0] * xn
            for k in range(nl - 1):
                zloc[k] = zloc[k + 1] + xn * bloc[k + 1] - yl * aloc[k + 1]
            zloc[nl - 1] = xn * bloc[nl] - yl * aloc[nl]
        else:
            yl = xn
        t = total + i
        d = y - bp_last[0]
        bp_last[0] = y
        ev = d * d
        ev = ev * escale
        if ev > emax:
            ev = emax
        ei = np.int64(np.rint(ev))
        old = e_ring[(t - W) & mask] if t - W >= 0 else 0
        e_ring[t & mask] = ei
        msum += ei - old
        m_ring[t & mask] = msum
        loc_ring[t & mask] = yl
        if t < learn_n:
            if msum > st[LEARN_MAX]:
                st[LEARN_MAX] = msum
            st[LEARN_SUM] += msum
            st[LEARN_CNT] += 1
        p = t - A
        if p >= 0:
            n_out = _test(p, t, A, W, win_lo, win_hi, gd_loc, m_ring, e_ring, loc_ring, mask,
                          out_p, out_h, out_r, out_s, outf, n_out)
    total += n
    if n > 0:
        st[EVAL_POS] = max(total - A, 0)
    if final:
        for p in range(st[EVAL_POS], total):
            n_out = _test(p, total - 1, A, W, win_lo, win_hi, gd_loc, m_ring, e_ring,
                          loc_ring, mask, out_p, out_h, out_r, out_s, outf, n_out)
        st[EVAL_POS] = total
    st[TOTAL] = total
    st[MSUM] = msum
    return n_out


@njit(cache=True, nogil=True)
def _test(p, last, A, W, win_lo, win_hi, gd_loc, m_ring, e_ring, loc_ring, mask,
          out_p, out_h, out_r, out_s, outf, n_out):
    """Is integrator position ``p`` a candidate (data known up to ``last``)? Append it."""
    mp = m_ring[p & mask]
    if mp <= 0:
        return n_out
    prev = m_ring[(p - 1) & mask] if p >= 1 else -1
    if mp <= prev:
        return n_out
    lo = p - A if p - A > 0 else 0
    hi = p + A if p + A < last else last
    for k in range(p + 1, hi + 1):  # right side first: on a rising slope p+1 already fails
        if m_ring[k & mask] > mp:
            return n_out
    for k in range(lo, p):
        if m_ring[k & mask] > mp:
            return n_out
    # R peak: largest |conditioned signal| in the window (first one on ties)
    best = -1.0
    kbest = 0
    for k in range(win_hi - win_lo + 1):
        j = p + win_lo + k + gd_loc
        if j < 0:
            j = 0
        if j > last:
            j = last
        v = abs(loc_ring[j & mask])
        if v > best:
            best = v
            kbest = k
    r = p + win_lo + kbest
    if r < 0:
        r = 0
    s = np.int64(-1)
    for k in range(p - W + 1, p + 1):
        j = k if k > 0 else 0
        if e_ring[j & mask] > s:
            s = e_ring[j & mask]
    out_p[n_out] = p
    out_h[n_out] = mp
    out_r[n_out] = r
    out_s[n_out] = s
    outf[n_out] = best
    return n_out + 1


def compile_kernel() -> bool:
    """Import numba and replace the loop functions by compiled ones (once); False if absent."""
    global _COMPILED, run_block, _test
    if _COMPILED:
        return True
    if not HAVE_NUMBA:
        return False
    from numba import njit as _njit  # the expensive import, only here

    _test = _njit(cache=True, nogil=True)(_test)  # run_block resolves it at compile time
    run_block = _njit(cache=True, nogil=True)(run_block)
    _COMPILED = True
    return True
