"""The thinned waveform's wire format, shared by the web view and the MQTT ``wave`` topic.

A monitor trace at 25 mm/s needs ~125 samples a second (more are not visible), so the signal
is thinned by keeping every k-th sample (no filter: the displayed trace must show what came,
spikes included) and sent as µV in little-endian int16, base64 (``uv16``): ~50x cheaper to
encode than JSON floats and 2 bytes a sample before base64.
"""

from __future__ import annotations

import base64

import numpy as np

__all__ = ["uv16", "Thinner"]


def uv16(x: np.ndarray) -> str:
    """One lead in mV -> base64 of int16 µV (clipped to ±32.767 mV)."""
    return base64.b64encode(np.clip(np.rint(np.asarray(x) * 1000.0), -32767, 32767)
                            .astype("<i2").tobytes()).decode()


class Thinner:
    """Every ``step``-th sample of a stream that comes in blocks, the phase kept across them."""

    def __init__(self, fs: float, hz: float) -> None:
        self.step = max(1, int(round(fs / hz)))
        self.phase = 0  # offset of the next kept sample in the next block

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """The kept samples of ``x`` (a view) and the index in ``x`` of the first one."""
        first = self.phase
        kept = x[first::self.step]
        self.phase = (first + kept.shape[0] * self.step - x.shape[0] if kept.shape[0]
                      else first - x.shape[0])
        return kept, first
