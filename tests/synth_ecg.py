"""Built test ECGs for the heart-rate meter and the VF stage (EC13-style waveforms, ours).

Beats are sums of Gaussian bumps placed at given times, so every amplitude and interval is
known exactly. Shapes (lead II-like, mV):

* normal beat ``N``: QRS 1.0 mV, ~80 ms wide (sigma 12 ms), T wave at R + 300 ms, 180 ms wide
  (sigma 40 ms), amplitude ``t_mv`` (EC13 4.1.2.1 c tall T-wave test: QRS 1 mV / 100 ms,
  T 180 ms, QT 350 ms);
* ventricular beat ``V``: wide QRS (sigma 30 ms, ~140 ms) of 1.5 mV, discordant T wave
  (-0.6 mV, sigma 60 ms) at R + 360 ms.
"""

from __future__ import annotations

import numpy as np

FS = 360.0


def _bump(t: np.ndarray, centre: float, sigma: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - centre) / sigma) ** 2)


#: (offset from R in s, sigma in s, amplitude in mV) of the N beat's P, Q, R, S bumps (T apart)
_N_PQRS = ((-0.16, 0.025, 0.12), (-0.02, 0.006, -0.1), (0.0, 0.012, 1.0), (0.025, 0.008, -0.2))
#: the same with every sigma >= 10 ms (see :func:`band_limited_beats`)
_N_PQRS_SMOOTH = ((-0.16, 0.025, 0.12), (-0.03, 0.010, -0.12), (0.0, 0.012, 1.0),
                  (0.035, 0.010, -0.25))


def beats_signal(times_s: list[float], kinds: list[str], duration_s: float, fs: float = FS,
                 t_mv: float = 0.3, v_t_mv: float = -0.6, noise_mv: float = 0.0,
                 seed: int = 0, pqrs: tuple = _N_PQRS) -> np.ndarray:
    """An ECG with a beat of kind ``N`` or ``V`` at each time (s); ``(n,)`` in mV."""
    t = np.arange(int(round(duration_s * fs))) / fs
    x = np.zeros_like(t)
    for tb, k in zip(times_s, kinds, strict=True):
        lo, hi = np.searchsorted(t, [tb - 0.6, tb + 0.8])
        tt = t[lo:hi]
        if k == "N":
            seg = _bump(tt, tb + pqrs[0][0], pqrs[0][1], pqrs[0][2])
            for off, sigma, amp in pqrs[1:]:
                seg = seg + _bump(tt, tb + off, sigma, amp)
            seg = seg + _bump(tt, tb + 0.30, 0.040, t_mv)
        else:
            seg = _bump(tt, tb, 0.030, 1.5) + _bump(tt, tb + 0.36, 0.060, v_t_mv)
        x[lo:hi] += seg
    if noise_mv > 0:
        x += np.random.default_rng(seed).normal(0.0, noise_mv, x.size)
    return x


def rhythm(pattern: list[tuple[str, float]], duration_s: float,
           start_s: float = 0.5) -> tuple[list[float], list[str]]:
    """Repeat ``pattern`` of ``(kind, interval to the next beat in s)`` until ``duration_s``."""
    times, kinds = [], []
    t, i = start_s, 0
    while t < duration_s - 0.8:
        k, rr = pattern[i % len(pattern)]
        times.append(t)
        kinds.append(k)
        t += rr
        i += 1
    return times, kinds


def sinus(rate_bpm: float, duration_s: float, start_s: float = 0.5, **kw) -> np.ndarray:
    times, kinds = rhythm([("N", 60.0 / rate_bpm)], duration_s, start_s)
    return beats_signal(times, kinds, duration_s, **kw)


def flutter(duration_s: float, freq_hz: float = 4.5, amp_mv: float = 1.0, fs: float = FS,
            seed: int = 0) -> np.ndarray:
    """Ventricular flutter: a sine-like oscillation, slowly drifting frequency and amplitude."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * fs))) / fs
    f = freq_hz * (1 + 0.05 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f) / fs
    a = amp_mv * (1 + 0.15 * np.sin(2 * np.pi * 0.3 * t))
    return a * np.sin(phase) + rng.normal(0, 0.02, t.size)


def fibrillation(duration_s: float, amp_mv: float = 0.6, fs: float = FS,
                 seed: int = 0) -> np.ndarray:
    """Coarse VF: chaotic waves (random-phase sum of 3.5-6.5 Hz components, wandering)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * fs))) / fs
    x = np.zeros_like(t)
    for f in rng.uniform(3.5, 6.5, 6):
        drift = 0.3 * np.cumsum(rng.normal(0, 1, t.size)) / np.sqrt(fs * 20)
        x += rng.uniform(0.4, 1.0) * np.sin(2 * np.pi * f * t + drift + rng.uniform(0, 6))
    x *= amp_mv / (np.percentile(np.abs(x), 95) + 1e-12)
    return x + rng.normal(0, 0.02, t.size)


def band_limited_beats(times_s: list[float], kinds: list[str], duration_s: float,
                       fs: float = FS) -> np.ndarray:
    """A continuous-time ECG sampled at ``fs``, band-limited so that 128 Hz does not alias it.

    Like :func:`beats_signal` (P, Q, R, S, T as Gaussian bumps; ``N`` and ``V`` beats) but
    every bump has sigma >= 10 ms: a Gaussian's spectrum falls as exp(-(2 pi f sigma)^2 / 2),
    at 64 Hz (Nyquist of 128 Hz) to 3e-4 of its peak. So sampling it at 128, 250, 360 or
    500 Hz gives the same signal (to that level): a fair input for comparing the front end
    across device rates. Shapes are ours, not a clinical standard.
    """
    return beats_signal(times_s, kinds, duration_s, fs, pqrs=_N_PQRS_SMOOTH)
