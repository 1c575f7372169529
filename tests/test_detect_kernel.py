"""The detector's compiled-loop source (``edge_runtime.detect._kernel``) against the numpy
backend, with and without numba.

The headline detector speed comes from ``_kernel.run_block`` compiled by numba, but numba is
optional (not on a Pi's base install). Its Python source is valid, uncompiled Python doing
the same arithmetic, so it is run here *without* numba - loaded as a fresh module copy, never
the compiled one - on real MIT-BIH records and on a synthetic signal, and held to give exactly
the numpy backend's beats (samples, decision times, flags, scores). When numba is installed
(the dev extra), the compiled kernel is held to the same answer.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.datadir import find_data_dir
from edge_runtime.detect import Beat, StreamingDetector, _kernel, frontend
from edge_runtime.records import read_record

_DATA = find_data_dir()
MITDB = (_DATA / "mitdb") if _DATA else Path("../shared/data/mitdb")
MINUTES = 5  # per record: long enough for learning, search-back, noise and ectopy


@pytest.fixture
def python_kernel(monkeypatch):
    """Route the detector's 'numba' backend to an uncompiled copy of the kernel source."""
    spec = importlib.util.spec_from_file_location("_kernel_uncompiled", _kernel.__file__)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.HAVE_NUMBA = True
    mod.compile_kernel = lambda: True  # keep the plain Python functions
    assert inspect.isfunction(mod.run_block) and inspect.isfunction(mod._test)
    calls = {"n": 0}
    run_block = mod.run_block

    def counted(*args):
        calls["n"] += 1
        return run_block(*args)

    mod.run_block = counted
    mod.calls = calls
    monkeypatch.setattr(frontend, "_kernel", mod)
    return mod


def _run(x: np.ndarray, fs: float, backend: str, block: int = 360) -> tuple[list[Beat], str]:
    det = StreamingDetector(fs, backend=backend)
    out: list[Beat] = []
    for i in range(0, x.size, block):
        out += det.push(x[i : i + block])
    return out + det.flush(), det.backend


def _synthetic(fs: float = 250.0, seconds: float = 60.0, seed: int = 3) -> np.ndarray:
    """Gaussian QRS-like spikes at jittered RR (with one long pause and premature beats),
    baseline wander and noise: exercises learning, search-back and the T-wave rule."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    x = 0.3 * np.sin(2 * np.pi * 0.3 * t) + 0.02 * rng.standard_normal(t.size)
    r, k = 1.0, 0
    while r < seconds - 1:
        amp = 1.0 if k % 7 else 0.45  # some small beats (search-back territory)
        x += amp * np.exp(-0.5 * ((t - r) / 0.012) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - r - 0.3) / 0.05) ** 2)  # T wave
        rr = 0.8 + 0.08 * rng.standard_normal()
        r += 2.2 if k == 30 else (0.45 if k % 11 == 5 else rr)
        k += 1
    return x


def test_uncompiled_kernel_equals_numpy_on_synthetic_signal(python_kernel):
    x = _synthetic()
    ref, b0 = _run(x, 250.0, "numpy")
    got, b1 = _run(x, 250.0, "numba")
    assert (b0, b1) == ("numpy", "numba") and python_kernel.calls["n"] > 0  # it really ran
    assert len(ref) > 50
    assert got == ref


@pytest.mark.parametrize("name", ["100", "208"])
def test_uncompiled_kernel_equals_numpy_on_mitdb(python_kernel, name):
    if not (MITDB / f"{name}.hea").is_file():
        pytest.skip(f"MIT-BIH record {name} not found under {MITDB} (shared data absent)")
    rec = read_record(MITDB / name)
    x = rec.signal[: int(MINUTES * 60 * rec.fs), 0]
    ref, _ = _run(x, rec.fs, "numpy")
    got, backend = _run(x, rec.fs, "numba", block=500)
    assert backend == "numba" and python_kernel.calls["n"] >= x.size // 500
    assert len(ref) > MINUTES * 50
    assert got == ref


def test_compiled_kernel_equals_numpy():
    if not _kernel.HAVE_NUMBA:
        pytest.skip("numba not installed (dev extra): only the uncompiled kernel is tested")
    x = _synthetic(fs=360.0, seconds=120.0)
    ref, _ = _run(x, 360.0, "numpy")
    got, backend = _run(x, 360.0, "numba")
    assert backend == "numba" and _kernel._COMPILED
    assert not inspect.isfunction(_kernel.run_block)  # a numba dispatcher, not Python
    assert got == ref
