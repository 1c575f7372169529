"""Export hygiene: a failing pre-quantization pass is never silent (it fails the export, or
a partial fallback is recorded in the card and the log); TFLite cards state the quantization
the recipe really did; an export without TFLite removes older .tflite files and says so."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from onnxruntime.quantization import shape_inference  # noqa: E402

from edge_runtime.errors import EcgEdgeError  # noqa: E402
from export.datasets import ExportData  # noqa: E402
from export.onnx_export import export_onnx, get_card  # noqa: E402
from export.pipeline import export_checkpoint  # noqa: E402
from export.quantize import QuantConfig, quantize_onnx  # noqa: E402
from tests import small_beat  # noqa: E402

torch.set_num_threads(1)


_split = small_beat.split


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return small_beat.write_checkpoint(tmp_path_factory.mktemp("ck") / "beat.pt")


@pytest.fixture()
def fp32(ckpt, tmp_path) -> Path:
    from export.checkpoint import load_checkpoint

    ck = load_checkpoint(ckpt)
    return export_onnx(ck.model, ck.card, tmp_path / "m.onnx", _split(2, 0).inputs)


def test_failing_pre_processing_fails_the_quantization(fp32, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("shape inference exploded\nsecond line")

    monkeypatch.setattr(shape_inference, "quant_pre_process", broken)
    with pytest.raises(EcgEdgeError, match="pre-processing .* failed: RuntimeError: shape "
                                           "inference exploded$"):
        quantize_onnx(fp32, tmp_path / "q.onnx", _split(64, 1).inputs, QuantConfig())
    assert not (tmp_path / "q.onnx").exists()  # nothing quantized from the raw graph


def _symbolic_fails(monkeypatch) -> None:
    real = shape_inference.quant_pre_process

    def partial(src, dst, skip_symbolic_shape=False, **kw):
        if not skip_symbolic_shape:
            raise TypeError("'NoneType' object is not iterable")
        return real(src, dst, skip_symbolic_shape=True, **kw)

    monkeypatch.setattr(shape_inference, "quant_pre_process", partial)


def test_partial_pre_processing_is_recorded(fp32, tmp_path, monkeypatch):
    _symbolic_fails(monkeypatch)
    notes: dict = {}
    quantize_onnx(fp32, tmp_path / "q.onnx", _split(64, 1).inputs, QuantConfig(), notes=notes)
    pre = notes["pre_process"]
    assert pre["symbolic_shape_inference"] is False
    assert pre["symbolic_shape_inference_error"].startswith("TypeError: 'NoneType'")
    assert (tmp_path / "q.onnx").is_file()


def test_export_records_pre_processing_and_removes_stale_tflite(ckpt, tmp_path, monkeypatch):
    _symbolic_fails(monkeypatch)
    out = tmp_path / "models"
    out.mkdir()
    stale = [out / "beat.fp32.tflite", out / "beat.fp32.tflite.card.json",
             out / "beat.int8.tflite", out / "beat.int8.tflite.card.json"]
    for p in stale:
        p.write_text("from an older export")
    other = out / "hyp.int8.tflite"  # another task's files are not this export's business
    other.write_text("keep")
    lines: list[str] = []
    data = ExportData(_split(64, 1), _split(64, 2), _split(64, 3), "synthetic", ["t1"])
    relaxed = {"int8": {"min_agreement": 0.0, "max_metric_drop": 1.0}}
    export_checkpoint(ckpt, out, data, methods=("minmax",), keep_float=("none",),
                      tflite=False, log=lines.append, bounds=relaxed)
    q = get_card(onnx.load(str(out / "beat.int8.onnx")))["quantization"]
    assert q["pre_process"]["symbolic_shape_inference"] is False
    assert "TypeError" in q["pre_process"]["symbolic_shape_inference_error"]
    pre_lines = [m for m in lines if "pre-processing" in m]
    assert len(pre_lines) == 1 and "without symbolic shape inference" in pre_lines[0]
    assert not any(p.exists() for p in stale)
    assert other.read_text() == "keep"
    removed = [m for m in lines if "stale TFLite" in m]
    assert len(removed) == 1 and "removed 4 stale" in removed[0]
    assert "beat.int8.tflite" in removed[0]


# recipes as ai-edge-quantizer's recipe.dynamic_wi8_afp32() / static_wi8_ai8() return them
_W8 = {"num_bits": 8, "symmetric": True, "granularity": "CHANNELWISE", "dtype": "INT",
       "block_size": 0}
DYNAMIC = [{"regex": ".*", "operation": "*", "algorithm_key": "min_max_uniform_quantize",
            "op_config": {"weight_tensor_config": _W8, "compute_precision": "INTEGER",
                          "explicit_dequantize": False, "skip_checks": False}}]
STATIC = [{"regex": ".*", "operation": "*", "algorithm_key": "min_max_uniform_quantize",
           "op_config": {"activation_tensor_config": {"num_bits": 8, "symmetric": False,
                                                      "granularity": "TENSORWISE",
                                                      "dtype": "INT"},
                         "weight_tensor_config": _W8, "compute_precision": "INTEGER",
                         "explicit_dequantize": False, "skip_checks": False}}]
ONNX_Q = {"method": "percentile", "activations": "QUInt8", "weights": "QInt8",
          "calibration": {"split": "train", "n": 64, "candidates_tried": ["minmax"],
                          "chosen_val": {}}, "float_nodes": [], "pre_process": {}}


def test_tflite_card_states_the_real_quantization():
    from export.tflite import tflite_quantization

    dyn = tflite_quantization("dynamic_wi8_afp32", DYNAMIC, ONNX_Q, {"x": 1})
    assert dyn["method"].startswith("dynamic range") and dyn["calibration"] is None
    assert dyn["activations"].startswith("float32")
    assert dyn["weights"] == "int8 symmetric per-channel" and dyn["per_channel"] is True
    assert dyn["tool"] == "ai-edge-quantizer recipe.dynamic_wi8_afp32"
    assert not {"float_nodes", "pre_process", "keep_float"} & set(dyn)  # ONNX-only facts
    st = tflite_quantization("static_wi8_ai8", STATIC, ONNX_Q, {})
    assert st["method"] == "static, min/max calibration"
    assert st["activations"] == "int8 asymmetric per-tensor"
    assert st["calibration"] == {"split": "train", "n": 64}
    assert "QUInt8" not in str(dyn) + str(st)  # the ONNX activation type is not copied
