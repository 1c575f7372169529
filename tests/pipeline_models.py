"""Tiny hand-built ONNX models with real model cards, for the runtime tests (no torch).

A linear layer over the flattened inputs with fixed random weights: the outputs are not
clinically meaningful, but they are deterministic and exercise the full card contract.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BEAT_FEATURES = ["pre_rr", "post_rr", "local_rr", "long_rr", "pre_rr_norm", "post_rr_norm",
                 "local_rr_norm"]


def beat_card(leads=("MLII",), fs=180.0) -> dict:
    return {
        "schema": "ecgedge.model_card/1", "task": "beat", "arch": "linear-test",
        "classes": ["N", "S", "V", "F", "Q"], "output": "softmax",
        "inputs": [{"name": "x", "shape": [None, len(leads), 126], "dtype": "float32"},
                   {"name": "rr", "shape": [None, 7], "dtype": "float32"}],
        "fs": fs, "leads": list(leads), "window": {"before": 45, "after": 81},
        "preprocessing": {"filter": {"highpass": 0.5, "lowpass": 40.0, "notch": None,
                                     "order": 2},
                          "normalisation": {"kind": "subtract_window_median"}},
        "features": BEAT_FEATURES, "operating_points": {}, "git_commit": "test",
    }


def window_card(leads=("MLII", "V1"), classes=("HYP", "AF")) -> dict:
    return {
        "schema": "ecgedge.model_card/1", "task": "findings6", "arch": "linear-test",
        "classes": list(classes), "output": "sigmoid",
        "inputs": [{"name": "x", "shape": [None, len(leads), 1000], "dtype": "float32"}],
        "fs": 100.0, "leads": list(leads), "window": {"seconds": 10.0, "samples": 1000},
        "preprocessing": {"filter": {"highpass": 0.5, "lowpass": 40.0, "notch": None,
                                     "order": 2},
                          "normalisation": {"kind": "none"}},
        "operating_points": {"balanced": {c: 0.5 for c in classes}}, "git_commit": "test",
    }


def linear_onnx(path: Path, card: dict, seed: int = 0, scale: float = 0.05) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    ins = card["inputs"]
    sizes = [int(np.prod(s["shape"][1:])) for s in ins]
    w = (rng.standard_normal((sum(sizes), len(card["classes"]))) * scale).astype(np.float32)
    nodes, flat = [], []
    for s in ins:
        nodes.append(helper.make_node("Flatten", [s["name"]], [s["name"] + "_f"], axis=1))
        flat.append(s["name"] + "_f")
    if len(flat) > 1:
        nodes.append(helper.make_node("Concat", flat, ["z"], axis=1))
        z = "z"
    else:
        z = flat[0]
    nodes.append(helper.make_node("MatMul", [z, "w"], ["logits"]))
    g = helper.make_graph(
        nodes, "lin",
        [helper.make_tensor_value_info(s["name"], TensorProto.FLOAT, ["batch", *s["shape"][1:]])
         for s in ins],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                       ["batch", len(card["classes"])])],
        [numpy_helper.from_array(w, "w")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    helper.set_model_props(m, {"ecgedge_model_card": json.dumps(card)})
    onnx.save(m, str(path))
    return path


def without_post_rr(card: dict) -> dict:
    """``card`` as a low-latency beat card: ``features`` without post_rr/post_rr_norm (the RR
    input's declared width follows), so the runtime labels each beat without the next R."""
    import copy

    out = copy.deepcopy(card)
    feats = list(out.get("features") or BEAT_FEATURES)
    out["features"] = [f for f in feats if f not in ("post_rr", "post_rr_norm")]
    for spec in out["inputs"][1:]:
        spec["shape"] = [spec["shape"][0], len(out["features"])]
    return out
