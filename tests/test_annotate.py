"""``ecgedge annotate`` writes a WFDB .qrs file that wfdb.rdann reads back; bad input is one
line; plus the eval/bench dispatchers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from edge_runtime.cli import main as ecgedge
from edge_runtime.detect import detect_record
from edge_runtime.records import read_record

FIX = Path(__file__).parent / "fixtures"


def test_annotate_writes_readable_qrs(tmp_path, capsys):
    rc = ecgedge(["annotate", "--record", str(FIX / "mitdb119_1200s.hea"), "--out",
                  str(tmp_path), "--block-s", "0.1"])
    assert rc == 0
    ann = wfdb.rdann(str(tmp_path / "mitdb119_1200s"), "qrs")
    rec = read_record(FIX / "mitdb119_1200s")
    expected = [b.sample for b in detect_record(rec.signal[:, 0], rec.fs)]
    assert ann.sample.tolist() == expected
    assert set(ann.symbol) == {"N"} and ann.fs == 360
    assert "mitdb119_1200s: 25 beats" in capsys.readouterr().out


def test_annotate_missing_record_is_one_line(tmp_path, capsys):
    rc = ecgedge(["annotate", "--record", str(tmp_path / "nope"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "record not found" in err


def test_annotate_bad_channel(tmp_path, capsys):
    rc = ecgedge(["annotate", "--record", str(FIX / "mitdb105_400s"), "--channel", "3",
                  "--out", str(tmp_path)])
    assert rc == 1 and "no channel 3" in capsys.readouterr().err


def test_eval_and_bench_dispatch(capsys):
    assert ecgedge(["eval", "--help"]) == 0
    assert "detector" in capsys.readouterr().out
    assert ecgedge(["eval", "nosuch"]) == 2
    assert ecgedge(["bench", "nosuch"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err
    assert ecgedge(["bench", "--help"]) == 0


def test_eval_detector_on_two_records(tmp_path, capsys):
    from edge_runtime.datadir import find_data_dir

    if find_data_dir() is None:
        import pytest

        pytest.skip("MIT-BIH data dir not found (set ECGEDGE_DATA)")
    out = tmp_path / "r.json"
    rc = ecgedge(["eval", "detector", "--records", "100,119", "-q", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "gross Se" in text and out.is_file()
    import json

    res = json.loads(out.read_text())
    per = res["results"]["from_300s_window_150ms"]["per_record"]
    assert set(per) == {"100", "119"} and np.isfinite(res["speed_x_realtime"])
