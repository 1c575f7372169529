"""Packaging, CLI behaviour, the torch-free runtime, and the data loaders."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.cli import COMMANDS, main
from edge_runtime.datadir import find_data_dir, resolve_data_dir
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import (
    AAMI_MAP,
    read_beat_annotations,
    read_record,
    shipped_record_path,
)

REPO = Path(__file__).resolve().parent.parent
DATA = find_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared PhysioNet data dir not found")


def _run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=120, **kw
    )


def test_packages_import() -> None:
    import edge_runtime  # noqa: F401
    import export  # noqa: F401
    import firmware_sim  # noqa: F401
    import train  # noqa: F401


def test_edge_runtime_imports_without_torch() -> None:
    """Every edge_runtime module must import on a Pi, where torch is not installed."""
    code = textwrap.dedent(
        """
        import importlib, pkgutil, sys
        class BlockTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, BlockTorch())
        import edge_runtime
        failed = []
        for m in pkgutil.walk_packages(edge_runtime.__path__, "edge_runtime."):
            if m.name == "edge_runtime.__main__":
                continue
            try:
                importlib.import_module(m.name)
            except ImportError as exc:
                if "torch" in str(exc):
                    failed.append(f"{m.name}: {exc}")
        assert "torch" not in sys.modules, "torch got imported"
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    res = _run("-c", code)
    assert res.returncode == 0, res.stdout + res.stderr


def test_cli_help_lists_every_command() -> None:
    res = _run("-m", "edge_runtime", "--help")
    assert res.returncode == 0
    for name in COMMANDS:
        assert name in res.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_help_or_says_unbuilt(name: str) -> None:
    res = _run("-m", "edge_runtime", name, "--help")
    if "not implemented yet" in res.stderr:
        assert res.returncode == 2
    else:
        assert res.returncode == 0, res.stderr
        assert "usage" in res.stdout.lower()


def test_unknown_command_and_flag_are_one_line_errors() -> None:
    res = _run("-m", "edge_runtime", "frobnicate")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    for cmd in COMMANDS:
        res = _run("-m", "edge_runtime", cmd, "--no-such-flag")
        assert res.returncode == 2, (cmd, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, (cmd, res.stderr)
        assert "Traceback" not in res.stderr


def test_missing_data_dir_is_one_line_error(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(EcgEdgeError, match="data dir not found"):
        resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv("ECGEDGE_DATA", str(tmp_path / "nope"))
    with pytest.raises(EcgEdgeError, match="ECGEDGE_DATA"):
        resolve_data_dir()
    assert resolve_data_dir(tmp_path) == tmp_path


def test_missing_record_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(EcgEdgeError, match="record not found"):
        read_record(tmp_path / "nothing")
    with pytest.raises(EcgEdgeError, match="lacks lead"):
        read_record(shipped_record_path("100"), leads=["V1"])


def test_main_turns_user_errors_into_exit_codes(capsys) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_shipped_record_100() -> None:
    rec = read_record(shipped_record_path("100"))
    assert rec.fs == 360 and rec.leads == ["MLII", "V5"] and rec.signal.shape == (650000, 2)
    samples, symbols = read_beat_annotations(shipped_record_path("100"))
    assert len(samples) == 2273 and set(symbols) == {"N", "A", "V"}
    assert np.all(np.diff(samples) > 0)


def test_aami_mapping() -> None:
    groups = {c: sorted(s for s, k in AAMI_MAP.items() if k == c) for c in "NSVFQ"}
    assert groups == {
        "N": sorted("NLRej"),
        "S": sorted("AaJS"),
        "V": sorted("VE"),
        "F": ["F"],
        "Q": sorted("/fQ"),
    }


def test_mitdb_split_lists() -> None:
    from train.data import mitdb

    assert len(mitdb.DS1) == len(mitdb.DS2) == 22
    assert not set(mitdb.DS1) & set(mitdb.DS2)
    assert not set(mitdb.PACED) & (set(mitdb.DS1) | set(mitdb.DS2))
    assert len(mitdb.ALL_RECORDS) == 48 and len(mitdb.NON_PACED) == 44


@needs_data
def test_mitdb_loader_on_shared_data() -> None:
    from train.data import mitdb

    rec = mitdb.load_record("114", DATA)
    assert rec.leads == ["V5", "MLII"] and mitdb.mlii_channel(rec) == 1
    assert len(rec.ann_sample) == len(rec.aami) == 1879
    rec = mitdb.load_record("208", DATA, sampto=360 * 60)
    assert set(rec.aami) <= set("NSVFQ") and (rec.aami == "V").sum() > 0
    with pytest.raises(EcgEdgeError):
        mitdb.load_record("999", DATA)


@needs_data
def test_ptbxl_loader_on_shared_data() -> None:
    from train.data import ptbxl

    meta = ptbxl.load_metadata(DATA)
    assert len(meta) == 21798
    have = ptbxl.available_mask(meta, DATA)
    assert have.sum() == 1987
    sub = meta.subset(have)
    include, y, excluded = ptbxl.hyp_vs_norm(sub)
    assert (y == 1).sum() == 215 and (y == 0).sum() == 1007 and excluded == 1987 - 1222
    counts = dict(zip(ptbxl.FINDINGS, sub.findings.sum(0).tolist(), strict=True))
    assert counts == {"1dAVb": 63, "RBBB": 41, "LBBB": 34, "SB": 45, "AF": 100, "ST": 61}
    # official folds are patient-disjoint
    folds = {f: set(sub.patient_id[sub.strat_fold == f]) for f in range(1, 11)}
    assert not folds[10] & folds[9]
    assert not (folds[9] | folds[10]) & set().union(*(folds[f] for f in range(1, 9)))
    x, kept, missing = ptbxl.load_waveforms(meta.subset(np.arange(2010, 2030)), DATA)
    assert missing == 20 and x.shape == (0, 1000, 12)
    x, kept, missing = ptbxl.load_waveforms(sub.subset(np.arange(5)), DATA)
    assert x.shape == (5, 1000, 12) and missing == 0 and np.isfinite(x).all()


def test_ptbxl_finding_rule() -> None:
    from train.data.ptbxl import finding_labels

    # rhythm statements carry likelihood 0 in PTB-XL: presence is the label
    assert finding_labels({"SBRAD": 0.0, "NORM": 100.0}).tolist() == [0, 0, 0, 1, 0, 0]
    # diagnostic statements need likelihood > 0
    assert finding_labels({"1AVB": 0.0, "CRBBB": 100.0}).tolist() == [0, 1, 0, 0, 0, 0]
