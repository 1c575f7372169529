"""The detector at any amplitude scale (issue 14, item 8), as sleepecg tests its detector.

What is asserted, for every factor 10**k, k = -4 .. 4 (volts are k = -3, microvolts k = 3):
the same number of beats as the mV signal, at least 99 % of them on exactly the same sample,
and none more than 20 ms away. (On these records 0 or 1 beat moves, by <= 5 samples: a
factor that is not a power of two rounds the integer energies a little differently.) mV input
itself is never rescaled (``scale == 1``), so its beats are the ones it always had
(``test_detect.test_full_record_100_matches_stored_result`` holds them).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.datadir import find_data_dir
from edge_runtime.detect import StreamingDetector
from edge_runtime.records import read_record, shipped_record_path

FIX = Path(__file__).parent / "fixtures"
FACTORS = [10.0**k for k in range(-4, 5) if k != 0]


def _signal(name: str) -> tuple[np.ndarray, float]:
    """Record 100 (shipped), a MIT-BIH record from the data dir, or a 20 s test excerpt."""
    if name == "100":
        path = shipped_record_path("100")
    elif name.startswith("mitdb/"):
        root = find_data_dir()
        if root is None or not (root / f"{name}.hea").is_file():
            pytest.skip(f"MIT-BIH {name} not available (no data dir)")
        path = root / name
    else:
        path = FIX / name
    rec = read_record(path, sampto=int(300 * 360))
    return rec.signal, rec.fs


def _beats(x: np.ndarray, fs: float, block: int = 3600) -> tuple[np.ndarray, float]:
    det = StreamingDetector(fs)
    out = []
    for i in range(0, x.shape[0], block):
        out += det.push(x[i:i + block])
    out += det.flush()
    assert det.scale is not None
    return np.array([b.sample for b in out]), det.scale


@pytest.mark.parametrize("name", ["100", "mitdb/203", "mitdb/208", "mitdb105_400s",
                                  "mitdb119_1200s", "mitdb203_700s", "mitdb208_600s"])
def test_beats_do_not_depend_on_the_amplitude_scale(name):
    x, fs = _signal(name)
    ref, scale = _beats(x[:, 0], fs)
    assert scale == 1.0 and len(ref) > (300 if x.shape[0] > 60 * fs else 15)
    amp = _band_amplitude(x[:, 0], fs)
    for f in FACTORS:
        got, scale = _beats(x[:, 0] * f, fs)
        assert math.frexp(scale)[0] == 0.5  # a power of two: exact in floating point
        assert 2**-0.5 <= scale * f * amp <= 2**0.5  # brought back to mV-sized values
        assert len(got) == len(ref), (name, f)
        same = np.mean(got == ref)
        assert same >= 0.99, (name, f, same)
        assert np.abs(got - ref).max() <= 0.02 * fs, (name, f)


def _band_amplitude(x: np.ndarray, fs: float) -> float:
    """Band-passed amplitude of the mV signal's learning period (what the detector measures)."""
    from scipy import signal

    det = StreamingDetector(fs)
    b, a = det._bp_ba
    n = int(2 * fs)
    bp = signal.lfilter(b, a, x[:n], zi=signal.lfilter_zi(b, a) * x[0])[0]
    return float(np.abs(bp).max())


def test_two_leads_in_volts_give_the_mv_beats():
    x, fs = _signal("100")
    ref, _ = _beats(x, fs)
    got, scale = _beats(x / 1000.0, fs)
    assert scale == 1024.0
    assert len(got) == len(ref) and np.mean(got == ref) >= 0.99


def test_flat_start_then_signal_is_still_detected():
    """A flat learning period (lead off, zeros) keeps scale 1: nothing to normalise."""
    x, fs = _signal("100")
    y = np.concatenate([np.zeros(int(5 * fs)), x[:, 0]])
    got, scale = _beats(y, fs)
    ref, _ = _beats(x[:, 0], fs)
    assert scale == 1.0
    assert abs(len(got) - len(ref)) <= 2
