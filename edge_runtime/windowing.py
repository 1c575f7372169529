"""Multi-lead 10 s window preprocessing shared by training and the device (no torch).

The window models see exactly what the device computes: the record (or stream) is resampled
to the model rate, conditioned with the causal :mod:`edge_runtime.dsp` filters named in the
model card, cut into 10 s windows and normalised per lead with constants stored in the card.

Normalisation is *fixed per lead* (``(x - mean[lead]) / std[lead]`` with the training-set
statistics), not a per-window z-score: hypertrophy criteria are voltage criteria (Sokolow-Lyon,
Cornell), so the absolute QRS amplitude must survive normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_runtime.dsp import ecg_filter_sos, filter_signal, resample_signal

#: Model input rate and window of the PTB-XL window models.
WINDOW_FS: float = 100.0
WINDOW_SECONDS: float = 10.0
#: Conditioning filter the device runs before the window models (causal Butterworth).
DEFAULT_FILTER: dict = {"highpass": 0.5, "lowpass": 40.0, "notch": None, "order": 2}
#: Values beyond this many per-lead standard deviations are clipped (electrode pops).
CLIP_SD: float = 20.0


def condition(signal: np.ndarray, fs: float, filt: dict | None = None) -> np.ndarray:
    """Causally filter a ``(n_samples, n_leads)`` signal with the card's filter settings."""
    f = dict(DEFAULT_FILTER if filt is None else filt)
    sos = ecg_filter_sos(
        fs,
        highpass=f.get("highpass"),
        lowpass=f.get("lowpass"),
        notch=f.get("notch"),
        order=int(f.get("order", 2)),
    )
    return filter_signal(np.asarray(signal, dtype=np.float64), sos)


def model_rate_signal(
    signal: np.ndarray, fs: float, fs_model: float = WINDOW_FS, filt: dict | None = None
) -> tuple[np.ndarray, float]:
    """The device path up to normalisation: causal resample to ``fs_model``, then condition.

    Returns ``(signal at fs_model, resampler delay in seconds)``. The one implementation of
    that path: :func:`record_windows` (``ecgedge predict``) and the training data
    (``train.window.data``, ``--source device``) call it, and the streaming window stage runs
    the same :class:`~edge_runtime.dsp.StreamingResampler` and filter block by block.
    """
    sig = np.asarray(signal, dtype=np.float64)
    delay_s = 0.0
    if abs(fs - fs_model) > 1e-9:
        from edge_runtime.dsp import StreamingResampler

        delay_s = StreamingResampler(fs, fs_model).delay_in / fs
        sig = resample_signal(sig, fs, fs_model)
    return condition(sig, fs_model, filt), delay_s


def fit_normalisation(x: np.ndarray, leads: Sequence[str]) -> dict:
    """Per-lead mean/std of conditioned training windows ``(n, samples, leads)``.

    Returns the card's ``preprocessing.normalisation`` entry.
    """
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=(0, 1))
    std = x.std(axis=(0, 1))
    std = np.where(std < 1e-6, 1.0, std)
    return {
        "kind": "per_lead_standard",
        "leads": list(leads),
        "mean": [float(v) for v in mean],
        "std": [float(v) for v in std],
        "clip_sd": CLIP_SD,
    }


def normalise(x: np.ndarray, norm: dict) -> np.ndarray:
    """Apply a card normalisation to ``(..., samples, leads)``; returns float32."""
    kind = norm.get("kind")
    if kind == "none":
        return np.asarray(x, dtype=np.float32)
    if kind != "per_lead_standard":
        raise ValueError(f"unknown normalisation kind: {kind!r}")
    mean = np.asarray(norm["mean"], dtype=np.float64)
    std = np.asarray(norm["std"], dtype=np.float64)
    z = (np.asarray(x, dtype=np.float64) - mean) / std
    clip = float(norm.get("clip_sd", CLIP_SD))
    return np.clip(z, -clip, clip).astype(np.float32)


def to_model_layout(x: np.ndarray) -> np.ndarray:
    """``(..., samples, leads)`` -> ``(..., leads, samples)`` float32 contiguous (model input)."""
    return np.ascontiguousarray(np.swapaxes(x, -1, -2), dtype=np.float32)


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start indices of the full windows of length ``window`` every ``hop`` samples."""
    if n_samples < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, hop, dtype=np.int64)


def record_windows(
    signal: np.ndarray,
    fs: float,
    card: dict,
    hop_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a record already restricted to the card's leads into model inputs.

    ``signal`` is ``(n_samples, n_leads)`` in mV at ``fs``. Returns ``(x, start_s)``: x is
    ``(n_windows, leads, samples)`` float32 and start_s each window's start in record seconds
    (corrected for the causal resampler's delay). Steps: resample to ``card["fs"]`` ->
    condition -> window -> normalise, the device's order.
    """
    fs_model = float(card["fs"])
    n_win = int(card["window"]["samples"])
    pre = card.get("preprocessing", {})
    sig, delay_s = model_rate_signal(signal, fs, fs_model, pre.get("filter"))
    hop = n_win if hop_s is None else max(1, int(round(hop_s * fs_model)))
    starts = window_starts(sig.shape[0], n_win, hop)
    if starts.size == 0:
        return np.zeros((0, sig.shape[1], n_win), dtype=np.float32), np.zeros(0)
    wins = np.stack([sig[s : s + n_win] for s in starts])
    wins = normalise(wins, pre.get("normalisation", {"kind": "none"}))
    start_s = np.maximum(starts / fs_model - delay_s, 0.0)
    return to_model_layout(wins), start_s
