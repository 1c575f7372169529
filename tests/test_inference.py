"""Runtime-side model loading (edge_runtime.inference): cards, activations, input checks,
one-line errors, and that it works without torch. Models are built by hand with onnx.helper
(a linear layer), so these tests need neither torch nor trained weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import (
    CARD_KEY,
    card_path_for_tflite,
    load_model,
    read_card,
    sigmoid,
    softmax,
    validate_card,
)

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def card(output: str = "softmax", classes=("N", "S", "V")) -> dict:
    return {
        "schema": "ecgedge.model_card/1", "task": "beat", "arch": "linear",
        "classes": list(classes), "output": output,
        "inputs": [{"name": "x", "shape": [None, 1, 4], "dtype": "float32"},
                   {"name": "rr", "shape": [None, 2], "dtype": "float32"}],
        "fs": 180.0, "leads": ["MLII"], "window": {"before": 2, "after": 2},
    }


def linear_onnx(path: Path, w: np.ndarray, c: dict | None, extra_meta=None) -> Path:
    """logits = concat(flatten(x), rr) @ w: a model whose outputs are known exactly."""
    nodes = [
        helper.make_node("Flatten", ["x"], ["xf"], axis=1),
        helper.make_node("Concat", ["xf", "rr"], ["z"], axis=1),
        helper.make_node("MatMul", ["z", "w"], ["logits"]),
    ]
    g = helper.make_graph(
        nodes, "lin",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 4]),
         helper.make_tensor_value_info("rr", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", w.shape[1]])],
        [numpy_helper.from_array(w.astype(np.float32), "w")],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    if c is not None:
        helper.set_model_props(m, {CARD_KEY: json.dumps(c), **(extra_meta or {})})
    onnx.save(m, str(path))
    return path


@pytest.fixture()
def w() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)


def test_predict_softmax_matches_numpy(tmp_path, w) -> None:
    m = load_model(linear_onnx(tmp_path / "m.onnx", w, card()))
    rng = np.random.default_rng(1)
    x, rr = rng.standard_normal((5, 1, 4)), rng.standard_normal((5, 2))
    z = np.concatenate([x.reshape(5, 4), rr], axis=1) @ w
    np.testing.assert_allclose(m.logits(x=x, rr=rr), z, rtol=1e-5, atol=1e-5)
    p = m.predict(x=x, rr=rr)
    np.testing.assert_allclose(p, softmax(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert m.classes == ["N", "S", "V"] and m.task == "beat" and m.backend == "onnxruntime"
    # A single example without the batch axis is accepted.
    assert m.predict(x=x[0], rr=rr[0]).shape == (1, 3)


def test_predict_sigmoid(tmp_path, w) -> None:
    m = load_model(linear_onnx(tmp_path / "m.onnx", w, card("sigmoid")))
    x, rr = np.ones((2, 1, 4)), np.zeros((2, 2))
    z = np.concatenate([x.reshape(2, 4), rr], axis=1) @ w
    np.testing.assert_allclose(m.predict(x=x, rr=rr), 1 / (1 + np.exp(-z)), rtol=1e-5)


def test_activations_are_stable() -> None:
    assert np.all(np.isfinite(softmax(np.array([[1000.0, -1000.0, 0.0]]))))
    s = sigmoid(np.array([-800.0, 0.0, 800.0]))
    np.testing.assert_allclose(s, [0.0, 0.5, 1.0])


def test_input_errors_are_one_line(tmp_path, w) -> None:
    m = load_model(linear_onnx(tmp_path / "m.onnx", w, card()))
    x, rr = np.zeros((2, 1, 4)), np.zeros((2, 2))
    with pytest.raises(EcgEdgeError, match=r"input 'x' has shape \[2, 1, 5\]"):
        m.predict(x=np.zeros((2, 1, 5)), rr=rr)
    with pytest.raises(EcgEdgeError, match="missing model input 'rr'"):
        m.predict(x=x)
    with pytest.raises(EcgEdgeError, match="unexpected model input"):
        m.predict(x=x, rr=rr, foo=rr)
    with pytest.raises(EcgEdgeError, match="same batch size"):
        m.predict(x=x, rr=np.zeros((3, 2)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.pop("classes"), "missing field"),
        (lambda c: c.update(schema="other/2"), "unknown schema"),
        (lambda c: c.update(task="ecg"), "unknown task"),
        (lambda c: c.update(output="relu"), "softmax or sigmoid"),
        (lambda c: c["inputs"][0].update(shape=[1, 1, 4]), "batch"),
        (lambda c: c["inputs"][0].update(shape=[None, 0, 4]), "positive ints"),
        (lambda c: c.update(fs="fast"), "'fs' must be a number"),
        (lambda c: c.update(fs=-1), "'fs' must be positive"),
        (lambda c: c.update(leads=[]), "leads"),
        (lambda c: c.update(classes=["only"]), "at least two classes"),
    ],
)
def test_validate_card_rejects(mutate, message) -> None:
    c = card()
    mutate(c)
    with pytest.raises(EcgEdgeError, match=message):
        validate_card(c)


def test_artifacts_without_usable_card_are_refused(tmp_path, w) -> None:
    with pytest.raises(EcgEdgeError, match="no model card"):
        load_model(linear_onnx(tmp_path / "a.onnx", w, None))
    bad = tmp_path / "b.onnx"
    linear_onnx(bad, w, None, {CARD_KEY: "{not json"})
    m = onnx.load(str(bad))
    helper.set_model_props(m, {CARD_KEY: "{not json"})
    onnx.save(m, str(bad))
    with pytest.raises(EcgEdgeError, match="not valid JSON"):
        read_card(bad)
    c = card()
    c["inputs"][1]["name"] = "rr_features"
    with pytest.raises(EcgEdgeError, match="do not match its card"):
        load_model(linear_onnx(tmp_path / "c.onnx", w, c))
    with pytest.raises(EcgEdgeError, match="model file not found"):
        load_model(tmp_path / "missing.onnx")
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(EcgEdgeError, match="unknown model format"):
        load_model(tmp_path / "m.pt")
    (tmp_path / "junk.onnx").write_bytes(b"garbage")
    with pytest.raises(EcgEdgeError, match="not a loadable ONNX model"):
        load_model(tmp_path / "junk.onnx")
    (tmp_path / "m.tflite").write_bytes(b"x")
    with pytest.raises(EcgEdgeError, match="m.tflite.card.json not found"):
        read_card(tmp_path / "m.tflite")
    card_path_for_tflite(tmp_path / "m.tflite").write_text(json.dumps(card()))
    assert read_card(tmp_path / "m.tflite")["task"] == "beat"


def test_runtime_loads_models_without_torch(tmp_path, w) -> None:
    path = linear_onnx(tmp_path / "m.onnx", w, card())
    code = (
        "import sys, numpy as np\n"
        "sys.modules['torch'] = None  # any import of torch now fails\n"
        "from edge_runtime.inference import load_model\n"
        f"m = load_model({str(path)!r})\n"
        "p = m.predict(x=np.zeros((2, 1, 4)), rr=np.zeros((2, 2)))\n"
        "assert p.shape == (2, 3)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_tflite_loader_falls_back_to_tflite_runtime(monkeypatch) -> None:
    """ai-edge-litert first; a Pi with only tflite-runtime still loads .tflite; neither ->
    one-line error naming the extra."""
    import types

    from edge_runtime.inference import _tflite_interpreter_class, default_model_path

    real = pytest.importorskip("ai_edge_litert.interpreter").Interpreter
    fake_pkg = types.ModuleType("tflite_runtime")
    fake_mod = types.ModuleType("tflite_runtime.interpreter")
    fake_mod.Interpreter = real  # same API as tflite-runtime's Interpreter
    fake_pkg.interpreter = fake_mod
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", fake_pkg)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", fake_mod)
    assert _tflite_interpreter_class()[1] == "tflite_runtime"
    shipped = default_model_path("beat", "fp32", "tflite")
    if shipped.is_file():
        m = load_model(shipped)
        assert m.backend == "tflite_runtime"
        feeds = {s["name"]: np.zeros([2, *s["shape"][1:]], np.float32) for s in m.input_specs}
        assert m.predict(**feeds).shape == (2, len(m.classes))
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(EcgEdgeError, match=r"ecgedge\[tflite\]"):
        _tflite_interpreter_class()
