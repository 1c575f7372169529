"""Training windows made on the device path (issue 18 item 2).

``train.window.data.load_conditioned(source="device")`` makes each training waveform with
:func:`edge_runtime.windowing.model_rate_signal` from the 500 Hz file; the window stage of a
500 Hz device streams the same record through its own resampler, filter and per-lead
normalisation block by block. These tests hold the two equal: within 1e-5 (in units of the
lead's training standard deviation) after normalisation, float32 rounding being the only
difference.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.stages.window import WindowStage
from edge_runtime.windowing import DEFAULT_FILTER, WINDOW_FS, model_rate_signal, normalise

TOL = 1e-5  # normalised units (training SDs)
LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _card() -> dict:
    return {
        "task": "hyp", "classes": ["HYP"], "fs": WINDOW_FS, "leads": list(LEADS),
        "window": {"seconds": 10.0, "samples": 1000},
        "preprocessing": {"filter": dict(DEFAULT_FILTER), "normalisation": {
            "kind": "per_lead_standard", "leads": list(LEADS),
            "mean": [0.001 * i for i in range(12)], "std": [0.1 + 0.01 * i for i in range(12)],
            "clip_sd": 20.0}},
        "operating_points": {},
    }


class _Capture:
    """Stands in for the window model: keeps the inputs it is given."""

    def __init__(self, card: dict) -> None:
        self.card, self.inputs = card, []

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.inputs.append(x)
        return np.full((len(x), 1), 0.5, np.float32)


def _streamed(raw500: np.ndarray, block: int) -> np.ndarray:
    cap = _Capture(_card())
    st = WindowStage(cap, 500.0, list(range(12)), hop_s=10.0)
    for i in range(0, len(raw500), block):
        st.push(raw500[i:i + block])
    return np.concatenate(cap.inputs)


def _training_window(raw500: np.ndarray) -> np.ndarray:
    sig, _ = model_rate_signal(raw500, 500.0, WINDOW_FS, DEFAULT_FILTER)
    return np.swapaxes(normalise(sig[:1000], _card()["preprocessing"]["normalisation"]), 0, 1)


@pytest.mark.parametrize("block", [1, 37, 500, 5000])
def test_streamed_synthetic_500hz_equals_training_window(block):
    rng = np.random.default_rng(0)
    t = np.arange(5000) / 500.0
    raw = (np.sin(2 * np.pi * 1.2 * t)[:, None] * rng.uniform(0.2, 2.0, 12)
           + 0.05 * rng.standard_normal((5000, 12)))
    x = _streamed(raw, block)
    assert x.shape == (1, 12, 1000)
    np.testing.assert_allclose(x[0], _training_window(raw), atol=TOL, rtol=0)


def test_streamed_ptbxl_500hz_record_equals_device_training_window():
    from train.data import ptbxl

    try:
        meta = ptbxl.load_metadata()
    except Exception as exc:  # noqa: BLE001 - the data copy is optional
        pytest.skip(f"PTB-XL not available: {exc}")
    one = meta.subset(np.flatnonzero(meta.ecg_id == 1))
    if not ptbxl.available_mask(one, fs=500).all():
        pytest.skip("PTB-XL ecg_id 1 has no 500 Hz file in this data copy")
    raw, _, _ = ptbxl.load_waveforms(one, fs=500)
    x = _streamed(raw[0], 250)
    ref = _training_window(raw[0])
    assert np.abs(ref).max() > 0.5  # a real ECG, not zeros
    np.testing.assert_allclose(x[0], ref, atol=TOL, rtol=0)
