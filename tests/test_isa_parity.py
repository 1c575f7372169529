"""bench/isa_parity.py and bench/arm64_report.py: the pieces that decide what is compared
(ISA class, the fixed emulation subsets, journal comparison), on small synthetic inputs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


ip = _load("isa_parity")
rep = _load("arm64_report")


@pytest.mark.parametrize("machine, flags, want", [
    ("x86_64", {"AVX2", "AVX512F", "AVX512VNNI"}, "x86-64 VNNI"),
    ("x86_64", {"AVX2"}, "x86-64 AVX2, no VNNI"),
    ("x86_64", {"AVX2", "AVX512F", "AVX512BW"}, "x86-64 AVX2, no VNNI"),  # Skylake-SP
    ("aarch64", {"ASIMD"}, "aarch64 NEON, no dot-product"),
    ("aarch64", {"ASIMD", "ASIMDDP"}, "aarch64 dot-product"),
])
def test_isa_class(machine, flags, want) -> None:
    assert ip.isa_class(machine, flags) == want


def test_cpu_info_describes_this_process() -> None:
    info = ip.cpu_info()
    assert info["machine"] and info["isa_class"]
    assert set(info["flags_seen"]) <= set(ip.KERNEL_FLAGS)


def test_beat_subset_is_proportional_with_a_floor_and_fixed() -> None:
    y = np.repeat([0, 1, 2, 3, 4], [44000, 1800, 3200, 390, 7])
    idx = ip._subset_beats(y, 2000, 0)
    counts = np.bincount(y[idx], minlength=5)
    assert counts[4] == 7 and counts[3] >= 20  # rare classes present
    assert abs(counts[0] / len(idx) - 44000 / len(y)) < 0.02  # proportional otherwise
    assert np.array_equal(idx, ip._subset_beats(y, 2000, 0))
    assert len(np.unique(idx)) == len(idx)


def test_window_subset_covers_every_class() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random((255, 6)) < [0.5, 0.2, 0.1, 0.05, 0.05, 0.3]).astype(np.float32)
    idx = ip._subset_windows(y, 120, 0)
    assert len(idx) == 120 and len(np.unique(idx)) == 120
    assert np.all(y[idx].sum(axis=0) > 0)


def test_exact_int8_context_restores_the_runtime_choice() -> None:
    from edge_runtime import inference

    before = inference.ort_session_config
    with ip.exact_int8("off"):
        assert inference.ort_session_config() == {}
    with ip.exact_int8("on"):
        assert inference.ort_session_config() == {"session.x64quantprecision": "1"}
    assert inference.ort_session_config is before


def _journal(path: Path, samples, labels) -> Path:
    lines = [{"event": "beats", "sample": samples, "label": labels,
              "prob": [0.9] * len(samples)},
             {"event": "summary", "duration_s": 10.0, "beats": len(samples),
              "beats_per_class": {}, "alerts": {}}]
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    return path


def test_compare_journals(tmp_path) -> None:
    ref = _journal(tmp_path / "a.jsonl", list(range(0, 2000, 10)), ["N"] * 200)
    same = _journal(tmp_path / "b.jsonl", list(range(0, 2000, 10)), ["N"] * 200)
    r = rep.compare_journals(ref, same)
    assert r["positions_identical"] and r["label_agreement"] == 1.0 and r["passed"]
    one_off = _journal(tmp_path / "c.jsonl", list(range(0, 2000, 10)), ["N"] * 199 + ["V"])
    r = rep.compare_journals(ref, one_off)
    assert r["labels_differing"] == 1 and r["label_agreement"] == 0.995 and r["passed"]
    two_off = _journal(tmp_path / "d.jsonl", list(range(0, 2000, 10)), ["N"] * 198 + ["V"] * 2)
    assert not rep.compare_journals(ref, two_off)["passed"]
    moved = _journal(tmp_path / "e.jsonl", [1] + list(range(10, 2000, 10)), ["N"] * 200)
    r = rep.compare_journals(ref, moved)
    assert not r["positions_identical"] and not r["passed"]
