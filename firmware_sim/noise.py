"""Calibrated noise mixing in the manner of the NSTDB's ``nst`` tool (Moody, Muldrow & Mark,
"A noise stress test for arrhythmia detectors", Computers in Cardiology 11:381-384, 1984).

The noise records ``bw`` (baseline wander), ``em`` (electrode motion) and ``ma`` (muscle
artifact) of the MIT-BIH Noise Stress Test Database are added to a clean ECG with the standard
protocol of ``nst``: a noise-free learning period of ``start_s`` (5 min), then noise switched
on and off in alternating ``segment_s`` (2 min) segments until the end of the record.

SNR definition (the one ``nst`` documents, reimplemented here; the code is ours):

* Signal: for every reference QRS, the peak-to-peak amplitude of the clean signal within
  +-``qrs_half_s`` (50 ms) of the annotation; the largest 5 % and smallest 5 % are discarded
  and the mean ``A`` of the rest is the QRS amplitude. The signal power is that of a sine
  wave of peak-to-peak amplitude ``A``: ``S = A**2 / 8``.
* Noise: the noise signal is cut into 1-s chunks; in each chunk the mean is removed and the
  mean square taken; the largest 5 % and smallest 5 % of chunks are discarded and the mean of
  the rest is the noise power ``N``.
* ``SNR = 10 log10(S / (a**2 N))``, so the gain applied to the noise during noisy segments is
  ``a = sqrt(S / (N * 10**(SNR/10)))``.

At each switch the noise contribution gets an offset so that the output does not step (what
``nst`` does with its offsets ``b``): ``out = clean + a_k * noise + b_k`` with ``b_k`` chosen
for continuity. The noise record is aligned sample for sample with the clean one and rewound
when it is shorter. Used by the detector noise stress test and by the simulator's fault
injection.
"""

from __future__ import annotations

import numpy as np

__all__ = ["qrs_power", "noise_power", "noise_gain", "noise_schedule", "mix_nst_noise"]


def _trimmed_mean(values: np.ndarray, trim: float = 0.05) -> float:
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size == 0:
        raise ValueError("no values to average")
    k = int(np.floor(trim * v.size))
    core = v[k : v.size - k] if v.size - 2 * k > 0 else v
    return float(core.mean())


def qrs_power(
    clean: np.ndarray, fs: float, qrs_samples: np.ndarray, qrs_half_s: float = 0.05
) -> float:
    """``S = A**2 / 8`` with ``A`` the trimmed-mean QRS peak-to-peak amplitude (one lead)."""
    x = np.asarray(clean, dtype=np.float64).ravel()
    q = np.asarray(qrs_samples, dtype=np.int64)
    h = max(1, int(round(qrs_half_s * fs)))
    q = q[(q - h >= 0) & (q + h < x.size)]
    if q.size == 0:
        raise ValueError("no reference QRS inside the signal to measure its amplitude")
    win = x[q[:, None] + np.arange(-h, h + 1)[None, :]]
    pp = win.max(axis=1) - win.min(axis=1)
    a = _trimmed_mean(pp)
    return a * a / 8.0


def noise_power(noise: np.ndarray, fs: float, chunk_s: float = 1.0) -> float:
    """Trimmed mean over 1-s chunks of the mean-removed mean square of the noise (one lead)."""
    n = np.asarray(noise, dtype=np.float64).ravel()
    c = max(2, int(round(chunk_s * fs)))
    k = n.size // c
    if k == 0:
        raise ValueError("noise shorter than one chunk")
    chunks = n[: k * c].reshape(k, c)
    ms = ((chunks - chunks.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)
    return _trimmed_mean(ms)


def noise_gain(signal_power: float, noise_pow: float, snr_db: float) -> float:
    """Gain ``a`` that puts noise of power ``noise_pow`` at ``snr_db`` below ``signal_power``."""
    if noise_pow <= 0:
        raise ValueError("noise power must be positive")
    return float(np.sqrt(signal_power / (noise_pow * 10.0 ** (snr_db / 10.0))))


def noise_schedule(
    n_samples: int, fs: float, start_s: float = 300.0, segment_s: float = 120.0
) -> np.ndarray:
    """Boolean mask: True where noise is on (from ``start_s``, alternating ``segment_s``)."""
    t = np.arange(n_samples) / fs
    on = t >= start_s
    seg = np.floor((t - start_s) / segment_s).astype(np.int64)
    return on & (seg % 2 == 0)


def mix_nst_noise(
    clean: np.ndarray,
    noise: np.ndarray,
    fs: float,
    snr_db: float,
    qrs_samples: np.ndarray,
    start_s: float = 300.0,
    segment_s: float = 120.0,
) -> np.ndarray:
    """Add ``noise`` to ``clean`` at ``snr_db`` (per lead) with the ``nst`` protocol.

    ``clean`` is ``(n,)`` or ``(n, leads)``; ``noise`` ``(m,)`` or ``(m, noise_leads)`` at the
    same ``fs`` (lead ``j`` of the clean signal gets noise lead ``j % noise_leads``, as in
    ``nst``). ``qrs_samples`` are the reference beat positions used to measure the signal size.
    Returns the noisy signal with the shape of ``clean``.
    """
    x = np.asarray(clean, dtype=np.float64)
    one = x.ndim == 1
    x2 = x[:, None] if one else x
    nz = np.asarray(noise, dtype=np.float64)
    nz2 = nz[:, None] if nz.ndim == 1 else nz
    n = x2.shape[0]
    if nz2.shape[0] < n:  # rewind the noise record as nst does
        reps = -(-n // nz2.shape[0])
        nz2 = np.tile(nz2, (reps, 1))
    nz2 = nz2[:n]
    mask = noise_schedule(n, fs, start_s, segment_s)
    switches = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    bounds = np.concatenate([[0], switches, [n]])
    out = x2.copy()
    for j in range(x2.shape[1]):
        nj = nz2[:, j % nz2.shape[1]]
        a_on = noise_gain(qrs_power(x2[:, j], fs, qrs_samples), noise_power(nj, fs), snr_db)
        contrib = np.zeros(n)
        prev_a, prev_b = 0.0, 0.0
        for s, e in zip(bounds[:-1], bounds[1:], strict=True):
            a = a_on if mask[s] else 0.0
            if s > 0:  # continuity: a*n[s] + b == prev_a*n[s] + prev_b
                b = prev_a * nj[s] + prev_b - a * nj[s]
            else:
                b = 0.0
            contrib[s:e] = a * nj[s:e] + b
            prev_a, prev_b = a, b
        out[:, j] += contrib
    return out[:, 0] if one else out
