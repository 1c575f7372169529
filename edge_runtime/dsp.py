"""Streaming DSP shared by the device runtime and the training code.

Every object here is *stateful and block-wise*: ``push(block) -> block``. Feeding a signal in
any partition of blocks gives the same output (to float tolerance) as feeding it whole, which
a property test holds. Training code calls these very objects on whole records, so the model
sees exactly the preprocessing the device runs (no train/serve skew).

Arrays are ``(n_samples,)`` for one lead or ``(n_samples, n_leads)`` for several; filtering
is along axis 0 and leads never mix.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy import signal

# The compiled core of ``scipy.signal.sosfilt`` (identical arithmetic, none of the ~0.1 ms of
# per-call argument checks). It is private scipy API, so pyproject.toml bounds scipy to the
# tested minor, and if a scipy moves it the public ``sosfilt`` runs instead: tests force that
# fallback and hold it bit-equal to this path.
try:
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_core
except ImportError:
    _sosfilt_core = None

__all__ = [
    "design_bandpass",
    "design_highpass",
    "design_lowpass",
    "design_notch",
    "ecg_filter_sos",
    "SosFilter",
    "StreamingResampler",
    "RingBuffer",
    "filter_signal",
    "resample_signal",
]


def _as_2d(block: np.ndarray) -> tuple[np.ndarray, bool]:
    x = np.asarray(block, dtype=np.float64)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim != 2:
        raise ValueError(f"expected (n,) or (n, leads) samples, got shape {x.shape}")
    return x, False


# --------------------------------------------------------------------------- filter design
def design_highpass(fs: float, cutoff: float = 0.5, order: int = 2) -> np.ndarray:
    """Butterworth high-pass (baseline-wander removal) as second-order sections."""
    return signal.butter(order, cutoff, btype="highpass", fs=fs, output="sos")


def design_lowpass(fs: float, cutoff: float = 40.0, order: int = 2) -> np.ndarray:
    """Butterworth low-pass (EMG / aliasing); cutoff is clipped below Nyquist."""
    cutoff = min(cutoff, 0.45 * fs)
    return signal.butter(order, cutoff, btype="lowpass", fs=fs, output="sos")


def design_bandpass(
    fs: float, low: float = 0.5, high: float = 40.0, order: int = 2
) -> np.ndarray:
    """Butterworth band-pass; the usual monitoring band is 0.5-40 Hz (AHA monitor mode)."""
    high = min(high, 0.45 * fs)
    return signal.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")


def design_notch(fs: float, mains: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """IIR notch at the mains frequency (50 Hz Europe, 60 Hz Americas)."""
    if mains >= fs / 2:
        raise ValueError(f"notch at {mains} Hz is above Nyquist for fs={fs} Hz")
    b, a = signal.iirnotch(mains, quality, fs=fs)
    return signal.tf2sos(b, a)


def ecg_filter_sos(
    fs: float,
    highpass: float | None = 0.5,
    lowpass: float | None = 40.0,
    notch: float | None = None,
    order: int = 2,
) -> np.ndarray:
    """Cascade of the standard ECG conditioning filters as one sos array.

    ``notch=None`` skips the mains notch: the 40 Hz low-pass already attenuates 50/60 Hz, and
    a notch costs phase distortion near the QRS band; pass 50 or 60 for wide-band setups.
    """
    parts = []
    if highpass:
        parts.append(design_highpass(fs, highpass, order))
    if lowpass and lowpass < fs / 2:
        parts.append(design_lowpass(fs, lowpass, order))
    if notch:
        parts.append(design_notch(fs, notch))
    if not parts:
        raise ValueError("ecg_filter_sos: no filter selected")
    return np.vstack(parts)


# --------------------------------------------------------------------------- stateful filter
class SosFilter:
    """Causal IIR filter carrying its state (``zi``) across blocks.

    The state starts at the steady state for the first sample (``sosfilt_zi`` scaled by it),
    so a DC offset does not ring through the high-pass at start-up; the same rule applies to
    a whole signal, hence block-wise == whole-signal.
    """

    def __init__(self, sos: np.ndarray) -> None:
        self.sos = np.ascontiguousarray(np.atleast_2d(np.asarray(sos, dtype=np.float64)))
        self._zi_unit = signal.sosfilt_zi(self.sos)  # (sections, 2)
        # state as (leads, sections, 2), the layout of scipy's compiled core, so a push is one
        # copy of the block plus one call (``sosfilt`` re-validates and re-lays out ~10 arrays
        # per call, ~0.1 ms: more than the filtering of a 1 s block)
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the state (e.g. after a data gap: the next sample starts fresh)."""
        self._zi = None

    def push(self, block: np.ndarray) -> np.ndarray:
        """Filter one block; returns float64 of the same shape."""
        x, was_1d = _as_2d(block)
        if x.shape[0] == 0:
            return np.zeros((0,) if was_1d else (0, x.shape[1]))
        if self._zi is None:
            self._zi = np.ascontiguousarray(self._zi_unit[None, :, :] * x[0][:, None, None])
        elif self._zi.shape[0] != x.shape[1]:
            raise ValueError(f"lead count changed from {self._zi.shape[0]} to {x.shape[1]}")
        if _sosfilt_core is None:  # public API fallback (same arithmetic, slower per call)
            y, zi = signal.sosfilt(self.sos, x, axis=0, zi=self._zi.transpose(1, 2, 0))
            self._zi = np.ascontiguousarray(zi.transpose(2, 0, 1))
            return y[:, 0] if was_1d else y
        # exactly what sosfilt(axis=0) does after its checks: filter (leads, n) in place
        y = np.array(x.T, dtype=np.float64, order="C")
        _sosfilt_core(self.sos, y, self._zi)
        return y[0] if was_1d else y.T


def filter_signal(x: np.ndarray, sos: np.ndarray) -> np.ndarray:
    """Whole-signal version of :class:`SosFilter` (same causal filter, same start-up)."""
    return SosFilter(sos).push(x)


# --------------------------------------------------------------------------- resampler
class StreamingResampler:
    """Causal polyphase rational resampler (``fs_out/fs_in = up/down``), block-wise.

    Output sample ``k`` sits at input time ``k * down / up`` and is computed as soon as the
    input sample at or before that time has arrived, from the anti-aliasing FIR of
    ``scipy.signal.resample_poly`` (Kaiser window, beta 5, 10 zero crossings per side). The
    FIR is applied causally, so the output lags by ``delay_in`` input samples (half the FIR).
    Samples before the first input are taken equal to the first input (no start-up step).
    """

    def __init__(self, fs_in: float, fs_out: float, half_zero_crossings: int = 10) -> None:
        ratio = Fraction(fs_out).limit_denominator(10_000) / Fraction(fs_in).limit_denominator(
            10_000
        )
        self.up, self.down = ratio.numerator, ratio.denominator
        g = gcd(self.up, self.down)
        self.up //= g
        self.down //= g
        self.fs_in, self.fs_out = float(fs_in), float(fs_out)
        half_len = 0
        if self.up == self.down == 1:
            self._h_poly = np.ones((1, 1))
        else:
            max_rate = max(self.up, self.down)
            half_len = half_zero_crossings * max_rate
            h = signal.firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))
            h *= self.up
            taps = -(-len(h) // self.up)  # ceil
            h = np.concatenate([h, np.zeros(taps * self.up - len(h))])
            # row p holds taps h[p], h[p+up], h[p+2up], ... (polyphase branch p)
            self._h_poly = h.reshape(taps, self.up).T.copy()
        self.taps = self._h_poly.shape[1]
        #: group delay of the causal FIR, in input samples (the FIR centre tap)
        self.delay_in = half_len / self.up
        # the last `taps` inputs, (taps, leads): the first output not yet produced may sit
        # just before the newest input (m_k = n_in - 1), so its oldest tap reads n_in - taps
        self._hist: np.ndarray | None = None
        self._n_in = 0  # inputs consumed so far
        self._n_out = 0  # outputs produced so far
        self._rows: np.ndarray | None = None  # periodic table of branch rows (_branch_rows)

    def _branch_rows(self, k0: int, n: int) -> np.ndarray:
        """``h_poly[(k * down) % up]`` for ``k0 <= k < k0 + n`` as a contiguous ``(n, taps)``.

        The branch of output ``k`` depends on ``k mod up`` only, so the rows are a slice of
        one cached periodic table (no per-push gather).
        """
        r0 = k0 % self.up
        if self._rows is None or len(self._rows) < r0 + n:
            reps = -(-(r0 + n) // self.up) + 1
            branch = (np.arange(self.up * reps) * self.down) % self.up
            self._rows = np.ascontiguousarray(self._h_poly[branch])
        return self._rows[r0 : r0 + n]

    def _gather(self, buf: np.ndarray, k0: int, n: int, offset: int) -> np.ndarray:
        """``buf[m_k - offset - t]`` for outputs ``k0 <= k < k0 + n``, as ``(n, taps, leads)``.

        Equals fancy indexing with ``m_k = (k * down) // up``, but as ``up`` strided copies:
        outputs ``k`` of one residue class mod ``up`` read inputs ``down`` apart. The copies
        read a time-reversed buffer, so each output's ``(taps, leads)`` block is contiguous.
        """
        rev = buf[::-1].copy()  # rev[i] = buf[len(buf) - 1 - i]
        last = len(buf) - 1
        if (k0 * self.down) // self.up - offset < self.taps - 1:  # never: hist holds enough
            raise RuntimeError("StreamingResampler: history too short")
        out = np.empty((n, self.taps, buf.shape[1]))
        s0, s1 = rev.strides
        for r in range(min(self.up, n)):
            start = ((k0 + r) * self.down) // self.up - offset  # buf row of tap 0
            cnt = len(range(r, n, self.up))
            view = as_strided(rev[last - start :], shape=(cnt, self.taps, buf.shape[1]),
                              strides=(-self.down * s0, s0, s1), writeable=False)
            out[r :: self.up] = view
        return out

    def push(self, block: np.ndarray) -> np.ndarray:
        """Consume input samples; return every output sample now computable."""
        x, was_1d = _as_2d(block)
        if self._hist is None:
            if x.shape[0] == 0:
                return np.zeros((0,) if was_1d else (0, x.shape[1]))
            self._hist = np.repeat(x[:1], self.taps, axis=0)
        buf = np.concatenate([self._hist, x], axis=0)  # buf[0] is input index n_in - taps
        n_total = self._n_in + x.shape[0]
        # output k is ready when floor(k*down/up) <= n_total-1
        k_end = ((n_total - 1) * self.up) // self.down + 1 if n_total else 0
        n_k = k_end - self._n_out
        if n_k > 0:
            offset = self._n_in - self.taps
            vals = self._gather(buf, self._n_out, n_k, offset)  # (K, taps, leads)
            y = np.einsum("kt,ktc->kc", self._branch_rows(self._n_out, n_k), vals)
        else:
            y = np.zeros((0, x.shape[1]))
        self._n_out = k_end
        self._n_in = n_total
        self._hist = buf[-self.taps :]
        return y[:, 0] if was_1d else y


def resample_signal(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Whole-signal version of :class:`StreamingResampler` (identical output)."""
    return StreamingResampler(fs_in, fs_out).push(x)


# --------------------------------------------------------------------------- ring buffer
class RingBuffer:
    """Fixed-capacity per-lead sample store addressed by *absolute* sample index.

    Stages downstream (beat windowing, the sliding multi-lead window, event strips) ask for
    ``get(start, stop)`` in the stream's own sample numbering; asking for samples that were
    already overwritten or not yet received raises ``IndexError`` instead of returning junk.
    """

    def __init__(self, capacity: int, n_leads: int = 1, dtype: type = np.float64) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = int(capacity)
        self.n_leads = int(n_leads)
        self._data = np.zeros((self.capacity, self.n_leads), dtype=dtype)
        self.total = 0  # samples ever pushed; next absolute index

    @property
    def start(self) -> int:
        """Oldest absolute index still held."""
        return max(0, self.total - self.capacity)

    def push(self, block: np.ndarray) -> None:
        """Append samples ``(n,)`` or ``(n, n_leads)``."""
        x = np.asarray(block)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.n_leads:
            raise ValueError(f"expected {self.n_leads} leads, got {x.shape[1]}")
        n = x.shape[0]
        if n >= self.capacity:
            x = x[-self.capacity :]
            self.total += n - self.capacity
            n = self.capacity
        i = self.total % self.capacity
        first = min(n, self.capacity - i)
        self._data[i : i + first] = x[:first]
        self._data[: n - first] = x[first:]
        self.total += n

    def get(self, start: int, stop: int) -> np.ndarray:
        """Samples with absolute indices ``start <= i < stop`` as ``(stop-start, n_leads)``."""
        if start < self.start or stop > self.total or start > stop:
            raise IndexError(
                f"samples [{start}, {stop}) not held (have [{self.start}, {self.total}))"
            )
        i0 = start % self.capacity
        n = stop - start
        if i0 + n <= self.capacity:  # one contiguous piece (a copy, as fancy indexing gave)
            return self._data[i0 : i0 + n].copy()
        return np.concatenate([self._data[i0:], self._data[: i0 + n - self.capacity]])

    def latest(self, n: int) -> np.ndarray:
        """The newest ``n`` samples (fewer if fewer were pushed)."""
        n = min(n, self.total, self.capacity)
        return self.get(self.total - n, self.total)
