"""``ecgedge predict``: window cutting, lead matching, operating-point decisions, errors.

The model here is a tiny hand-built ONNX graph (mean over time -> linear), so the test needs
neither torch nor trained weights; the record is a synthetic WFDB file written to tmp_path.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import wfdb
from onnx import TensorProto, helper, numpy_helper

from edge_runtime import cli
from edge_runtime.inference import CARD_KEY, Model
from edge_runtime.predict import match_leads, predict_record
from edge_runtime.windowing import record_windows

LEADS = ["I", "II", "V1"]


def _card(classes: list[str]) -> dict:
    return {
        "schema": "ecgedge.model_card/1",
        "task": "findings6" if len(classes) > 1 else "hyp",
        "arch": "test_linear",
        "classes": classes,
        "output": "sigmoid",
        "inputs": [{"name": "x", "shape": [None, len(LEADS), 1000], "dtype": "float32"}],
        "fs": 100.0,
        "leads": LEADS,
        "window": {"seconds": 10.0, "samples": 1000},
        "preprocessing": {
            "filter": {"highpass": 0.5, "lowpass": 40.0, "notch": None, "order": 2},
            "normalisation": {"kind": "per_lead_standard", "leads": LEADS,
                              "mean": [0.0] * 3, "std": [0.2] * 3, "clip_sd": 20.0},
        },
        "features": [],
        "operating_points": {"screening": {c: 0.1 for c in classes},
                             "balanced": {c: 0.9 for c in classes}},
    }


def _onnx_model(path, classes: list[str]) -> None:
    """x (N, 3, 1000) -> ReduceMean(|x|) over time -> MatMul W -> logits (N, k)."""
    w = np.ones((len(LEADS), len(classes)), dtype=np.float32)
    nodes = [
        helper.make_node("Abs", ["x"], ["ax"]),
        helper.make_node("ReduceMean", ["ax", "axes"], ["m"], keepdims=0),
        helper.make_node("MatMul", ["m", "W"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "lin",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", len(LEADS), 1000])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(classes)])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.array([2]), "axes")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    m.metadata_props.append(onnx.StringStringEntryProto(key=CARD_KEY,
                                                        value=json.dumps(_card(classes))))
    onnx.save(m, str(path))


def _record(tmp_path, fs: int = 250, seconds: float = 25.0, leads=("I", "II", "V1", "V5")):
    t = np.arange(int(fs * seconds)) / fs
    rng = np.random.default_rng(0)
    sig = np.stack([np.sin(2 * np.pi * 1.2 * t) * (k + 1) * 0.5 + 0.01 * rng.standard_normal(len(t))
                    for k in range(len(leads))], axis=1)
    wfdb.wrsamp("rec", fs=fs, units=["mV"] * len(leads), sig_name=list(leads), p_signal=sig,
                fmt=["16"] * len(leads), adc_gain=[1000.0] * len(leads),
                baseline=[0] * len(leads), write_dir=str(tmp_path))
    return tmp_path / "rec"


def test_match_leads_case_insensitive_and_missing() -> None:
    assert match_leads(["i", "II", "aVR"], ["AVR", "I"]) == [2, 0]
    with pytest.raises(Exception, match="lacks lead"):
        match_leads(["I", "II"], ["V1"])


def test_record_windows_resamples_and_counts(tmp_path) -> None:
    card = _card(["HYP"])
    sig = np.random.default_rng(1).standard_normal((250 * 25, 3))
    x, starts = record_windows(sig, 250.0, card)
    assert x.shape == (2, 3, 1000) and x.dtype == np.float32
    assert starts[0] == 0.0 and 9.5 < starts[1] < 10.5
    x2, s2 = record_windows(sig, 250.0, card, hop_s=5.0)
    assert len(x2) == 4 and np.allclose(np.diff(s2[1:]), 5.0)


def test_predict_record_rows(tmp_path) -> None:
    classes = ["1dAVb", "RBBB"]
    _onnx_model(tmp_path / "m.onnx", classes)
    rows = predict_record(_record(tmp_path), Model(tmp_path / "m.onnx"))
    assert len(rows) == 2
    r = rows[0]
    assert set(r["probabilities"]) == set(classes)
    p = r["probabilities"]["RBBB"]
    assert 0.5 < p < 1.0  # sigmoid of a positive mean |x|
    assert r["decisions"]["screening"]["RBBB"] == (p >= 0.1)
    assert r["decisions"]["balanced"]["RBBB"] == (p >= 0.9)


def test_cli_predict_json_lines_and_errors(tmp_path, capsys) -> None:
    _onnx_model(tmp_path / "m.onnx", ["HYP"])
    rec = _record(tmp_path)
    assert cli.main(["predict", "--record", str(rec), "--model", str(tmp_path / "m.onnx")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "HYP" in json.loads(lines[1])["probabilities"]
    # a record without V1 -> one line, non-zero exit, no traceback
    rec2 = _record(tmp_path / "b" if (tmp_path / "b").mkdir() is None else tmp_path,
                   leads=("I", "II", "V5"))
    rc = cli.main(["predict", "--record", str(rec2), "--model", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "lacks lead(s) V1" in err and len(err.splitlines()) == 1
    # too short a record
    short = _record(tmp_path / "c" if (tmp_path / "c").mkdir() is None else tmp_path,
                    seconds=4.0)
    rc = cli.main(["predict", "--record", str(short), "--model", str(tmp_path / "m.onnx")])
    assert rc != 0 and "needs 10 s" in capsys.readouterr().err
    rc = cli.main(["predict", "--record", str(tmp_path / "nope"), "--model",
                   str(tmp_path / "m.onnx")])
    assert rc != 0 and "record not found" in capsys.readouterr().err
