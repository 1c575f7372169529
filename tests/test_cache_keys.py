"""Caches of derived data are keyed on the source of the code that derives them.

A cache keyed on configuration alone serves stale beats/waveforms after a DSP or detector
change; these tests change a copy of a hashed source file and require every key to move.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_runtime import provenance
from edge_runtime.beats import BeatConfig
from edge_runtime.provenance import source_files, source_hash
from train.beats.dataset import BEAT_SOURCES, config_key
from train.window.data import WINDOW_SOURCES, cache_key

REPO = Path(__file__).resolve().parents[1]


def _names(files: list[Path]) -> set[str]:
    return {p.relative_to(REPO).as_posix() for p in files}


def test_source_lists_cover_the_code_each_cache_depends_on():
    beats = _names(source_files(BEAT_SOURCES))
    assert {"edge_runtime/dsp.py", "edge_runtime/beats.py", "edge_runtime/beat_rr.py",
            "train/beats/dataset.py"} <= beats
    window = _names(source_files(WINDOW_SOURCES))
    assert {"edge_runtime/dsp.py", "edge_runtime/windowing.py"} <= window
    pytest.importorskip("torch", reason="the detection cache lives in train.beats (torch)")
    from train.beats.evaluate import DETECT_SOURCES

    det = _names(source_files(DETECT_SOURCES))
    assert {"edge_runtime/dsp.py", "edge_runtime/detect/streaming.py",
            "edge_runtime/detect/frontend.py", "edge_runtime/detect/config.py",
            "edge_runtime/detect/amplitude.py", "edge_runtime/detect/_kernel.py",
            "edge_runtime/beats.py"} <= det


def test_source_hash_follows_file_content(tmp_path):
    f = tmp_path / "dsp.py"
    shutil.copyfile(REPO / "edge_runtime" / "dsp.py", f)
    h0 = source_hash([], files=[f])
    assert h0 == source_hash([], files=[f])  # stable
    f.write_text(f.read_text() + "\n# a change\n")
    assert source_hash([], files=[f]) != h0


@pytest.fixture
def copied_sources(tmp_path, monkeypatch):
    """Hash tmp copies of the real source files instead of the files themselves."""
    real = provenance.source_files
    copies: dict[Path, Path] = {}

    def fake(modules):
        out = []
        for p in real(modules):
            if p not in copies:
                dst = tmp_path / p.relative_to(REPO)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(p, dst)
                copies[p] = dst
            out.append(copies[p])
        return out

    monkeypatch.setattr(provenance, "source_files", fake)

    def edit(rel: str) -> None:
        p = copies[REPO / rel]
        p.write_text(p.read_text() + "\n# changed\n")

    return edit


def test_changing_dsp_changes_beat_and_window_keys(copied_sources):
    cfg = BeatConfig()
    k_beat, k_win = config_key(cfg, 1, "ref:100"), cache_key([1, 2, 3])
    assert (k_beat, k_win) == (config_key(cfg, 1, "ref:100"), cache_key([1, 2, 3]))
    copied_sources("edge_runtime/dsp.py")
    assert config_key(cfg, 1, "ref:100") != k_beat
    assert cache_key([1, 2, 3]) != k_win


def test_changing_the_detector_kernel_changes_the_detection_key(copied_sources):
    pytest.importorskip("torch", reason="the detection cache lives in train.beats (torch)")
    from train.beats.evaluate import DETECT_SOURCES

    cfg = BeatConfig()
    k_det = config_key(cfg, 1, "det:100", sources=DETECT_SOURCES)
    k_ref = config_key(cfg, 1, "ref:100")
    copied_sources("edge_runtime/detect/_kernel.py")
    assert config_key(cfg, 1, "det:100", sources=DETECT_SOURCES) != k_det
    assert config_key(cfg, 1, "ref:100") == k_ref  # the reference-position cache does not use it
