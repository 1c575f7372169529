"""Export path on tiny randomly initialised models (never shipped): checkpoint loading,
ONNX fp32 with card, int8 QDQ quantization, parity, CLI errors. Real data is not needed here;
the real-checkpoint export is exercised by ``ecgedge export build`` and the shipped-artifact
tests in test_inference_shipped.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

from torch import nn  # noqa: E402

from edge_runtime.cli import main as ecgedge_main  # noqa: E402
from edge_runtime.errors import EcgEdgeError  # noqa: E402
from edge_runtime.inference import CARD_KEY, load_model  # noqa: E402
from export.checkpoint import load_checkpoint, torch_logits  # noqa: E402
from export.datasets import ExportData, Split, _sample  # noqa: E402
from export.parity import compare, macro_f1  # noqa: E402
from export.pipeline import export_checkpoint  # noqa: E402
from export.quantize import ArrayCalibrationReader, QuantConfig, quantize_onnx  # noqa: E402
from train.models import register  # noqa: E402

torch.set_num_threads(1)
BEAT_LEN = 64


@register("test_tiny_beat")
class TinyBeat(nn.Module):
    """Test-only beat model: conv on the window + the RR features -> 5 AAMI logits."""

    def __init__(self, channels: int = 4, n_rr: int = 3) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(1, channels, 5, padding=2), nn.BatchNorm1d(channels), nn.ReLU(),
            nn.MaxPool1d(2), nn.Conv1d(channels, channels, 3, padding=1), nn.ReLU(),
        )
        self.fc = nn.Linear(channels + n_rr, 5)

    def forward(self, x: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([self.conv(x).mean(dim=2), rr], dim=1))


@register("test_tiny_window")
class TinyWindow(nn.Module):
    """Test-only multi-label window model."""

    def __init__(self, leads: int = 3, n_classes: int = 2) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(leads, 4, 7, stride=2), nn.ReLU())
        self.fc = nn.Linear(4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).amax(dim=2))


def beat_card(n_rr: int = 3) -> dict:
    return {
        "schema": "ecgedge.model_card/1", "task": "beat", "arch": "test_tiny_beat",
        "classes": ["N", "S", "V", "F", "Q"], "output": "softmax",
        "inputs": [{"name": "x", "shape": [None, 1, BEAT_LEN], "dtype": "float32"},
                   {"name": "rr", "shape": [None, n_rr], "dtype": "float32"}],
        "fs": 180.0, "leads": ["MLII"], "window": {"before": 24, "after": 40},
        "preprocessing": {"filter": {"highpass": 0.5, "lowpass": 40.0, "notch": None,
                                     "order": 2}, "normalisation": {"kind": "none"}},
        "features": ["pre_rr", "post_rr", "local_rr"][:n_rr], "operating_points": {},
        "training": {"data": "synthetic", "split": "unit-test", "train_ids": ["t1"]},
        "metrics": {}, "git_commit": "test", "created": "2026-01-01",
    }


def window_card() -> dict:
    return {
        "schema": "ecgedge.model_card/1", "task": "findings6", "arch": "test_tiny_window",
        "arch_kwargs": {}, "classes": ["A", "B"], "output": "sigmoid",
        "inputs": [{"name": "x", "shape": [None, 3, 200], "dtype": "float32"}],
        "fs": 100.0, "leads": ["I", "II", "V1"], "window": {"seconds": 2.0, "samples": 200},
        "operating_points": {"balanced": {"A": 0.4, "B": 0.6}},
        "training": {"train_ids": ["1"]},
    }


def save_ckpt(path: Path, model: nn.Module, card: dict, arch_kwargs: dict) -> Path:
    torch.save({"arch": card["arch"], "arch_kwargs": arch_kwargs,
                "state_dict": model.state_dict(), "card": card}, path)
    return path


def beat_split(n: int, seed: int, n_rr: int = 3) -> Split:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, BEAT_LEN)).astype(np.float32)
    rr = rng.uniform(0.4, 1.4, (n, n_rr)).astype(np.float32)
    return Split({"x": x, "rr": rr}, rng.integers(0, 5, n), [f"r{seed}"])


@pytest.fixture(scope="module")
def beat_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = TinyBeat().eval()
    return save_ckpt(tmp_path_factory.mktemp("ck") / "beat.pt", model, beat_card(),
                     {"channels": 4, "n_rr": 3})


@pytest.fixture(scope="module")
def beat_data() -> ExportData:
    return ExportData(beat_split(128, 1), beat_split(96, 2), beat_split(160, 3),
                      "synthetic", ["t1"])


@pytest.fixture(scope="module")
def exported(beat_ckpt, beat_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    # Random weights on random inputs give near-tied logits, so int8 decisions can flip; the
    # int8 bounds are relaxed here (the real bounds are held on real checkpoints).
    relaxed = {"int8": {"min_agreement": 0.0, "max_metric_drop": 1.0}}
    report = export_checkpoint(beat_ckpt, out, beat_data, methods=("minmax", "percentile"),
                               keep_float=("none", "first"), command="pytest",
                               log=lambda m: None, bounds=relaxed)
    return out, report


def test_checkpoint_roundtrip(beat_ckpt) -> None:
    ck = load_checkpoint(beat_ckpt)
    assert ck.arch == "test_tiny_beat" and not ck.model.training
    assert ck.input_names == ["x", "rr"]


def test_fp32_onnx_matches_torch_and_carries_card(exported, beat_ckpt, beat_data) -> None:
    out, report = exported
    p = out / "beat.fp32.onnx"
    model = onnx.load(str(p))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version >= 18
    assert not list(out.glob("*.data")), "no external data files"
    assert not any(n.metadata_props for n in model.graph.node), "exporter debug info stripped"
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param, "batch axis must be dynamic"
    card = json.loads({m.key: m.value for m in model.metadata_props}[CARD_KEY])
    assert card["task"] == "beat" and card["quantization"] is None
    assert card["parity"]["passed"] and card["export"]["command"] == "pytest"
    # Outputs of the artifact through the runtime loader vs torch, for an unseen batch size.
    ck = load_checkpoint(beat_ckpt)
    t = beat_split(37, 9)
    ref = torch_logits(ck.model, t.inputs, ck.input_names)
    got = load_model(p).logits(**t.inputs)
    assert got.shape == (37, 5)
    assert np.max(np.abs(ref - got)) < 1e-4
    assert report.parity["fp32"]["max_abs_diff_logits"] < 1e-4


def test_int8_is_qdq_per_channel_and_smaller(exported) -> None:
    out, report = exported
    q = onnx.load(str(out / "beat.int8.onnx"))
    ops = {n.op_type for n in q.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # per-channel weights: some DequantizeLinear has a vector of scales
    inits = {i.name: i for i in q.graph.initializer}
    per_channel = [n for n in q.graph.node if n.op_type == "DequantizeLinear"
                   and n.input[1] in inits and len(inits[n.input[1]].dims) == 1
                   and inits[n.input[1]].dims[0] > 1]
    assert per_channel
    card = load_model(out / "beat.int8.onnx").card
    assert report.method.startswith(card["quantization"]["method"])
    assert card["quantization"]["calibration"]["split"] == "train"
    assert set(card["quantization"]["calibration"]["candidates_tried"]) == {
        "minmax", "percentile", "minmax+float:first", "percentile+float:first"}
    # Relaxed bounds: every candidate meets them, so the all-int8 one must be kept.
    assert card["quantization"]["keep_float"] == "none"
    assert card["quantization"]["float_nodes"] == []
    assert "metrics_int8" in card
    probs = load_model(out / "beat.int8.onnx").predict(**beat_split(8, 4).inputs)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_parity_failure_writes_nothing(beat_ckpt, beat_data, tmp_path) -> None:
    strict = {"fp32": {"max_abs_diff": 0.0}}
    with pytest.raises(EcgEdgeError, match="parity bound broken"):
        export_checkpoint(beat_ckpt, tmp_path / "o", beat_data, methods=("minmax",),
                          keep_float=("none",), log=lambda m: None, bounds=strict)
    assert not (tmp_path / "o").exists()


def test_calibration_shape_checked(tmp_path, beat_ckpt) -> None:
    fp32 = tmp_path / "m.onnx"
    from export.onnx_export import export_onnx

    ck = load_checkpoint(beat_ckpt)
    export_onnx(ck.model, ck.card, fp32, beat_split(2, 0).inputs)
    bad = beat_split(16, 0).inputs | {"rr": np.zeros((16, 4), np.float32)}
    with pytest.raises(EcgEdgeError, match="calibration input 'rr' has shape"):
        quantize_onnx(fp32, tmp_path / "q.onnx", bad, QuantConfig())
    with pytest.raises(EcgEdgeError, match="lacks model input 'x'"):
        quantize_onnx(fp32, tmp_path / "q.onnx", {"rr": bad["rr"]}, QuantConfig())


def test_sigmoid_model_entropy_calibration(tmp_path) -> None:
    torch.manual_seed(1)
    card = window_card()
    ck = save_ckpt(tmp_path / "w.pt", TinyWindow().eval(), card, {})
    rng = np.random.default_rng(0)

    def sp(n: int) -> Split:
        return Split({"x": rng.standard_normal((n, 3, 200)).astype(np.float32)},
                     rng.integers(0, 2, (n, 2)).astype(np.float32), ["1"])

    data = ExportData(sp(64), sp(64), sp(64), "synthetic", ["1"])
    relaxed = {"int8": {"min_agreement": 0.0, "max_metric_drop": 1.0}}
    rep = export_checkpoint(ck, tmp_path / "m", data, methods=("entropy",),
                            keep_float=("none",), log=lambda m: None, bounds=relaxed)
    assert rep.method == "entropy"
    assert rep.parity["fp32"]["metric"] == "macro_auroc"
    assert rep.parity["int8"]["exact_match"] is not None
    m = load_model(tmp_path / "m" / "findings6.int8.onnx")
    p = m.predict(x=rng.standard_normal((3, 200)).astype(np.float32))  # single example
    assert p.shape == (1, 2) and np.all((p >= 0) & (p <= 1))


def test_bad_checkpoints_are_one_line_errors(tmp_path, beat_ckpt, capsys) -> None:
    wrong = save_ckpt(tmp_path / "wrong.pt", TinyBeat(channels=6), beat_card(),
                      {"channels": 4, "n_rr": 3})
    with pytest.raises(EcgEdgeError, match="weights do not match architecture"):
        load_checkpoint(wrong)
    unknown = beat_card() | {"arch": "nope"}
    torch.save({"arch": "nope", "arch_kwargs": {}, "state_dict": {}, "card": unknown},
               tmp_path / "u.pt")
    with pytest.raises(EcgEdgeError, match="unknown architecture"):
        load_checkpoint(tmp_path / "u.pt")
    torch.save({"arch": "test_tiny_beat", "state_dict": {}}, tmp_path / "k.pt")
    with pytest.raises(EcgEdgeError, match="checkpoint must hold"):
        load_checkpoint(tmp_path / "k.pt")
    nocard = beat_card()
    del nocard["classes"]
    save_ckpt(tmp_path / "c.pt", TinyBeat(), nocard, {"channels": 4, "n_rr": 3})
    with pytest.raises(EcgEdgeError, match="missing field"):
        load_checkpoint(tmp_path / "c.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    rc = ecgedge_main(["export", "build", str(tmp_path / "junk.pt")])
    err = capsys.readouterr().err
    assert rc != 0 and err.count("\n") == 1 and "not a readable torch checkpoint" in err


def test_inspect_cli(exported, tmp_path, capsys) -> None:
    out, _ = exported
    assert ecgedge_main(["export", "inspect", str(out / "beat.int8.onnx")]) == 0
    text = capsys.readouterr().out
    assert "task        beat" in text and "calibration=" in text
    assert ecgedge_main(["export", "inspect", "--json", str(out / "beat.fp32.onnx")]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == ["N", "S", "V", "F", "Q"]
    # An ONNX file without a card is refused in one line.
    m = onnx.load(str(out / "beat.fp32.onnx"))
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "nocard.onnx"))
    rc = ecgedge_main(["export", "inspect", str(tmp_path / "nocard.onnx")])
    err = capsys.readouterr().err
    assert rc != 0 and "no model card" in err and err.count("\n") == 1


def test_keep_float_leaves_first_layer_unquantized(beat_ckpt, tmp_path) -> None:
    from export.onnx_export import export_onnx
    from export.quantize import float_nodes

    ck = load_checkpoint(beat_ckpt)
    fp32 = export_onnx(ck.model, ck.card, tmp_path / "m.onnx", beat_split(2, 0).inputs)
    names = float_nodes(onnx.load(str(fp32)), "first+head")
    ops = {n.name: n.op_type for n in onnx.load(str(fp32)).graph.node}
    assert [ops[n] for n in names] == ["Conv", "Gemm"]
    kept = quantize_onnx(fp32, tmp_path / "q.onnx", beat_split(64, 1).inputs,
                         QuantConfig(keep_float="first"))
    assert len(kept) == 1
    q = onnx.load(str(tmp_path / "q.onnx"))
    first_conv = next(n for n in q.graph.node if n.op_type == "Conv")
    # its input is the raw float graph input, not a DequantizeLinear output
    assert first_conv.input[0] == "x"
    # ... but its weights are stored as int8 behind a per-channel DequantizeLinear
    producer = {o: n for n in q.graph.node for o in n.output}
    dq = producer[first_conv.input[1]]
    inits = {i.name: i for i in q.graph.initializer}
    assert dq.op_type == "DequantizeLinear"
    assert inits[dq.input[0]].data_type == onnx.TensorProto.INT8
    assert list(inits[dq.input[1]].dims) == [4]  # one scale per output channel
    # float_layer_weights="float" keeps the fp32 weight initializer instead
    quantize_onnx(fp32, tmp_path / "qf.onnx", beat_split(64, 1).inputs,
                  QuantConfig(keep_float="first", float_layer_weights="float"))
    qf = onnx.load(str(tmp_path / "qf.onnx"))
    conv_f = next(n for n in qf.graph.node if n.op_type == "Conv")
    assert conv_f.input[1] in {i.name for i in qf.graph.initializer}
    # the int8-weight layer stays close to the all-float one
    x = beat_split(16, 5).inputs
    a = load_model(tmp_path / "q.onnx").logits(**x)
    b = load_model(tmp_path / "qf.onnx").logits(**x)
    assert np.max(np.abs(a - b)) < 0.1 * (np.max(np.abs(b)) + 1e-6) + 1e-3


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy"])
@pytest.mark.parametrize("n", [128, 70, 20])
def test_every_calibration_method_runs(method, n, beat_ckpt, tmp_path) -> None:
    """Every calibration method quantizes, also with a calibration set that is not a whole
    number of batches (histogram calibrators stack batches: a short last batch used to be
    an 'inhomogeneous shape' error) and with fewer examples than one batch."""
    from export.onnx_export import export_onnx
    from export.quantize import METHODS

    assert method in METHODS
    ck = load_checkpoint(beat_ckpt)
    fp32 = export_onnx(ck.model, ck.card, tmp_path / "m.onnx", beat_split(2, 0).inputs)
    quantize_onnx(fp32, tmp_path / "q.onnx", beat_split(n, 2).inputs, QuantConfig(method=method))
    m = load_model(tmp_path / "q.onnx")
    assert m.card["task"] == "beat"
    p = m.predict(**beat_split(3, 4).inputs)
    assert p.shape == (3, 5) and np.all(np.isfinite(p))


def test_artifacts_are_compact_and_keep_card(exported) -> None:
    """What inference does not read is gone (value_info, zero bias zero points, long
    names); graph input/output names and every card field stay."""
    out, report = exported
    for prec in ("fp32", "int8"):
        m = onnx.load(str(out / f"beat.{prec}.onnx"))
        assert len(m.graph.value_info) == 0
        assert [i.name for i in m.graph.input] == ["x", "rr"]
        assert [o.name for o in m.graph.output] == ["logits"]
        assert all(len(n.name) <= 8 for n in m.graph.node)
        raw = next(p.value for p in m.metadata_props if p.key == CARD_KEY)
        card = json.loads(raw)
        assert raw == json.dumps(card, sort_keys=True, separators=(",", ":"))  # compact JSON
        assert card["training"]["train_ids"] == ["t1"] and card["export"]["command"] == "pytest"
    q = onnx.load(str(out / "beat.int8.onnx"))
    inits = {i.name: i for i in q.graph.initializer}
    for n in q.graph.node:
        if n.op_type == "DequantizeLinear" and len(n.input) == 3:
            assert inits[n.input[2]].data_type != onnx.TensorProto.INT32
    card = load_model(out / "beat.int8.onnx").card
    assert card["quantization"]["calibration"]["ids"] == ["t1"]
    assert card["metrics_int8"]["n"] == report.parity["int8"]["n"]


def test_compact_graph_keeps_outputs(beat_ckpt, tmp_path) -> None:
    from export.onnx_export import compact_graph

    ck = load_checkpoint(beat_ckpt)
    x = beat_split(8, 3).inputs
    from export.onnx_export import export_onnx

    path = export_onnx(ck.model, ck.card, tmp_path / "m.onnx", beat_split(2, 0).inputs)
    before = load_model(path).logits(**x)
    m = onnx.load(str(path))
    compact_graph(m)  # idempotent on an already compact graph
    onnx.save(m, str(tmp_path / "m2.onnx"))
    np.testing.assert_array_equal(load_model(tmp_path / "m2.onnx").logits(**x), before)


def test_calibration_reader_strides_and_sampler() -> None:
    r = ArrayCalibrationReader({"x": np.zeros((70, 2), np.float32)}, batch=32)
    assert len(r) == 3
    r.set_range(1, 3)
    sizes = []
    while (b := r.get_next()) is not None:
        sizes.append(len(b["x"]))
    assert sizes == [32, 6]
    y = np.array([0] * 95 + [1] * 5)
    pick = _sample(np.arange(100), y, 40, seed=0)
    assert len(pick) == 40 and len(set(pick)) == 40 and (y[pick] == 1).sum() >= 5


def test_parity_metrics() -> None:
    assert macro_f1(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 0]), 5) == pytest.approx(
        (0.8 + 2 / 3) / 2
    )
    card = beat_card()
    ref = np.array([[2.0, 0, 0, 0, 0], [0, 2.0, 0, 0, 0]])
    art = np.array([[2.0, 0, 0, 0, 0], [0, 0, 2.0, 0, 0]])
    res = compare(card, "int8", ref, art, np.array([0, 1]))
    assert res.agreement == 0.5 and not res.passed
    assert res.metric_torch == 1.0 and res.metric_drop > 0.005
    assert any("agreement" in f for f in res.failures())


def test_tflite_float_and_int8(beat_ckpt, beat_data, tmp_path) -> None:
    pytest.importorskip("litert_torch", reason="TFLite export needs the tflite-export extra")
    pytest.importorskip("ai_edge_quantizer", reason="needs the tflite-export extra")
    pytest.importorskip("ai_edge_litert", reason="loading .tflite needs ai-edge-litert")
    relaxed = {"int8": {"min_agreement": 0.0, "max_metric_drop": 1.0}}
    small = ExportData(beat_split(32, 1), beat_split(32, 2), beat_split(48, 3), "synthetic",
                       ["t1"])
    rep = export_checkpoint(beat_ckpt, tmp_path, small, methods=("minmax",),
                            keep_float=("none",), tflite=True, log=lambda m: None,
                            bounds=relaxed)
    assert rep.parity["fp32_tflite"]["max_abs_diff_logits"] < 1e-4
    for prec in ("fp32", "int8"):
        m = load_model(tmp_path / f"beat.{prec}.tflite")
        assert m.backend in ("ai_edge_litert", "tflite_runtime")
        assert m.card["parity"]["passed"]
        p = m.predict(**beat_split(5, 7).inputs)  # batch 5 through a batch-1 graph
        assert p.shape == (5, 5)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    # The int8 graph really holds int8 tensors (weights and activations).
    details = load_model(tmp_path / "beat.int8.tflite")._backend.interp.get_tensor_details()
    assert sum(d["dtype"] == np.int8 for d in details) >= 4


def test_calibration_ids_must_be_training_ids() -> None:
    from edge_runtime.datadir import find_data_dir
    from export.datasets import load_export_data

    if find_data_dir() is None:
        pytest.skip("shared PhysioNet data dir not found")
    card = beat_card() | {"window": {"before": 45, "after": 81}}
    card["training"] = {"train_ids": ["101", "100"]}  # 100 is a DS2 (test) record
    with pytest.raises(EcgEdgeError, match="include DS2 test records"):
        load_export_data(card)
    card["training"] = {}
    with pytest.raises(EcgEdgeError, match="no training.train_ids"):
        load_export_data(card)


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tflite_only_refuses_onnx_of_another_checkpoint_or_sample(exported, beat_ckpt,
                                                                  tmp_path) -> None:
    """``ecgedge export tflite`` reads the shipped ONNX cards: it refuses, before converting
    anything, when they are missing or were calibrated on another sample."""
    from export.tflite_rebuild import rebuild_tflite

    out, _ = exported
    ck = load_checkpoint(beat_ckpt)
    with pytest.raises(EcgEdgeError, match="not found"):
        rebuild_tflite(ck, tmp_path, ExportData(beat_split(8, 1), beat_split(8, 2),
                                                beat_split(8, 3), "synthetic", ["t1"]))
    other = ExportData(beat_split(8, 1), beat_split(8, 2), beat_split(8, 3), "synthetic",
                       ["t2"])
    with pytest.raises(EcgEdgeError, match="calibrated on ids hash"):
        rebuild_tflite(ck, out, other, log=lambda m: None)
    assert not list(out.glob("*.tflite"))


def test_tflite_only_leaves_onnx_bytes_alone(exported, beat_ckpt, tmp_path) -> None:
    pytest.importorskip("litert_torch", reason="TFLite export needs the tflite-export extra")
    pytest.importorskip("ai_edge_quantizer", reason="needs the tflite-export extra")
    pytest.importorskip("ai_edge_litert", reason="loading .tflite needs ai-edge-litert")
    import shutil

    from export.tflite_rebuild import rebuild_tflite

    src, _ = exported
    for p in src.glob("beat.*.onnx"):
        shutil.copyfile(p, tmp_path / p.name)
    before = {p.name: _sha(p) for p in tmp_path.glob("*.onnx")}
    relaxed = {"int8": {"min_agreement": 0.0, "max_metric_drop": 1.0}}
    small = ExportData(beat_split(32, 1), beat_split(32, 2), beat_split(48, 3), "synthetic",
                       ["t1"])
    rep = rebuild_tflite(load_checkpoint(beat_ckpt), tmp_path, small, command="pytest",
                         log=lambda m: None, bounds=relaxed,
                         isa_dropped={"static_wi8_ai8": "test"})
    assert {p.name: _sha(p) for p in tmp_path.glob("*.onnx")} == before == rep["onnx_sha256"]
    assert set(rep["artifacts"]) == {"fp32.tflite", "int8.tflite"}
    assert rep["parity_test"]["fp32_tflite"]["max_abs_diff_logits"] < 1e-4
    onnx_card = load_model(tmp_path / "beat.int8.onnx").card
    card = load_model(tmp_path / "beat.int8.tflite").card
    assert card["export"]["command"] == onnx_card["export"]["command"]  # the same export
    assert card["export"]["tflite_command"] == "pytest"
    q = card["quantization"]
    assert q["recipes_offered"] == ["dynamic_wi8_afp32"]
    assert q["dropped_by_isa_gate"] == {"static_wi8_ai8": "test"}
    assert q["tool"] == "ai-edge-quantizer recipe.dynamic_wi8_afp32"
