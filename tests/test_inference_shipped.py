"""The shipped artifacts in models/: each loads with onnxruntime alone, carries a valid card
that passed parity at export, and (beat model) classifies the shipped MIT-BIH record 100 -
a DS2 record, never seen in training or calibration - sensibly."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from edge_runtime.inference import CARD_KEY, default_model_path, load_model, validate_card

MODELS = Path(__file__).resolve().parent.parent / "models"
ARTIFACTS = [(t, p) for t in ("beat", "hyp", "findings6") for p in ("fp32", "int8")]


@functools.lru_cache(maxsize=4)
def _record_100_beats(card_json: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beat windows + RR features of record 100 at its reference beats, computed once per
    beat front end (the extraction is the slow part, and the beat artifacts share it)."""
    from edge_runtime.beats import BeatConfig, extract_beats
    from edge_runtime.records import (
        AAMI_MAP,
        read_beat_annotations,
        read_record,
        shipped_record_path,
    )

    card = json.loads(card_json)
    rec = read_record(shipped_record_path("100"), leads=card["leads"])
    samples, symbols = read_beat_annotations(shipped_record_path("100"))
    x, rr = extract_beats(rec.signal, rec.fs, samples, BeatConfig.from_card(card))
    return x, rr, np.asarray([AAMI_MAP.get(s, "Q") for s in symbols])


def _path_or_skip(task: str, prec: str, fmt: str = "onnx") -> Path:
    path = default_model_path(task, prec, fmt)
    if not path.is_file():
        pytest.skip(f"{path.name} not shipped yet (run: ecgedge export build)")
    return path


@pytest.mark.parametrize(("task", "prec"), ARTIFACTS)
def test_shipped_onnx_loads_with_onnxruntime_alone(task: str, prec: str) -> None:
    path = _path_or_skip(task, prec)
    assert path.stat().st_size < 2_000_000, "shipped artifacts must stay small"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    card = validate_card(json.loads(sess.get_modelmeta().custom_metadata_map[CARD_KEY]))
    assert card["task"] == task
    assert (card["quantization"] is None) == (prec == "fp32")
    assert card["parity"]["passed"] is True
    assert card["training"]["train_ids"], "calibration/training ids must be recorded"
    feeds = {
        i.name: np.zeros([3, *s["shape"][1:]], dtype=np.float32)
        for i, s in zip(sess.get_inputs(), card["inputs"], strict=True)
    }
    (out,) = sess.run(None, feeds)
    assert out.shape == (3, len(card["classes"])) and np.all(np.isfinite(out))


@pytest.mark.parametrize(("prec", "fmt"), [(p, f) for f in ("onnx", "tflite")
                                           for p in ("fp32", "int8")])
def test_shipped_beat_model_on_record_100(prec: str, fmt: str) -> None:
    path = _path_or_skip("beat", prec, fmt)
    if fmt == "tflite":
        pytest.importorskip("ai_edge_litert", reason="loading .tflite needs ai-edge-litert")
    model = load_model(path)
    front_end = {k: model.card[k] for k in ("fs", "window", "leads", "preprocessing")}
    x, rr, truth = _record_100_beats(json.dumps(front_end, sort_keys=True))
    from edge_runtime.beat_input import BeatInputs

    p = model.predict(**BeatInputs(model.card)(x, rr))  # the card's RR subset, as on device
    pred = np.asarray(model.card["classes"])[p.argmax(axis=1)]
    normal = truth == "N"
    # Record 100: 2239 N beats, 33 S, 1 V. A working beat model calls most N beats N.
    assert normal.sum() > 2000
    assert np.mean(pred[normal] == "N") > 0.8
