"""ONNX fp32 -> int8 static quantization (QDQ, per-channel weights), calibrated on real data.

Configuration is data (:class:`QuantConfig`), so a chosen setting can be written into the
model card and reproduced. Calibration batches come from an in-memory array set drawn from the
*training* split only (see :mod:`export.datasets`); the reader supports the strided collection
of onnxruntime (``CalibStridedMinMax``) so histogram calibrators (Percentile, Entropy) keep
only one chunk of intermediate tensors in memory at a time.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from edge_runtime.errors import EcgEdgeError
from export.onnx_export import get_card, input_uses, save_checked, set_card

_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}
METHODS: tuple[str, ...] = tuple(_METHODS)
#: Layers that may stay in float (mixed precision), tried in this order of preference:
#: "none" = everything int8; "first" = the first Conv/Gemm (it sees the raw mV input, whose
#: 8-bit step is coarse next to the morphology it must resolve); "first+head" = also the
#: Gemm/MatMul layers after the last Conv (the classifier, where the decision margins are).
KEEP_FLOAT: tuple[str, ...] = ("none", "first", "first+head")
_WEIGHTED = ("Conv", "Gemm", "MatMul")


def float_nodes(model: onnx.ModelProto, keep_float: str) -> list[str]:
    """Names of the nodes that ``keep_float`` leaves unquantized (graph order)."""
    if keep_float not in KEEP_FLOAT:
        raise EcgEdgeError(f"unknown keep_float {keep_float!r} ({', '.join(KEEP_FLOAT)})")
    nodes = list(model.graph.node)
    weighted = [i for i, n in enumerate(nodes) if n.op_type in _WEIGHTED]
    out: list[int] = []
    if keep_float in ("first", "first+head") and weighted:
        out.append(weighted[0])
    if keep_float == "first+head":
        convs = [i for i, n in enumerate(nodes) if n.op_type == "Conv"]
        last_conv = convs[-1] if convs else -1
        out += [i for i in weighted if i > last_conv and nodes[i].op_type != "Conv"]
    return [nodes[i].name for i in sorted(set(out))]


@dataclass(frozen=True)
class QuantConfig:
    """One static-quantization setting (what goes into the card's ``quantization``)."""

    method: str = "minmax"
    percentile: float = 99.999
    per_channel: bool = True
    format: str = "QDQ"
    activations: str = "QUInt8"
    weights: str = "QInt8"
    keep_float: str = "none"
    #: Weights of the layers ``keep_float`` leaves in float are still stored as int8
    #: (per-channel, symmetric) behind a DequantizeLinear: the activations those layers see
    #: stay float (the reason to keep them), but the file does not carry fp32 weights.
    float_layer_weights: str = "int8"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.method != "percentile":
            d.pop("percentile")
        return d


class ArrayCalibrationReader(CalibrationDataReader):
    """Feeds ``{name: array}`` in batches; ``set_range`` restricts to a slice of batches."""

    def __init__(self, inputs: dict[str, np.ndarray], batch: int = 32) -> None:
        self.inputs = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()}
        n = {v.shape[0] for v in self.inputs.values()}
        if len(n) != 1:
            raise EcgEdgeError("calibration inputs have different numbers of examples")
        self.n = n.pop()
        self.batch = batch
        self.n_batches = (self.n + batch - 1) // batch
        self.set_range(0, self.n_batches)

    def __len__(self) -> int:
        return self.n_batches

    def set_range(self, start_index: int, end_index: int) -> None:
        self._order = iter(range(start_index, min(end_index, self.n_batches)))

    def get_next(self) -> dict[str, np.ndarray] | None:
        b = next(self._order, None)
        if b is None:
            return None
        sl = slice(b * self.batch, (b + 1) * self.batch)
        return {k: v[sl] for k, v in self.inputs.items()}

    def rewind(self) -> None:
        self.set_range(0, self.n_batches)


def check_calibration_inputs(card: dict[str, Any], inputs: dict[str, np.ndarray]) -> None:
    """One-line error if the calibration arrays do not have the model's input shapes."""
    for spec in card["inputs"]:
        name = spec["name"]
        if name not in inputs:
            raise EcgEdgeError(f"calibration set lacks model input '{name}'")
        x = np.asarray(inputs[name])
        want = list(spec["shape"][1:])
        if x.ndim != len(spec["shape"]) or list(x.shape[1:]) != want:
            raise EcgEdgeError(
                f"calibration input '{name}' has shape {list(x.shape)}, "
                f"the model expects [n, {', '.join(map(str, want))}]"
            )
        if x.shape[0] < 1:
            raise EcgEdgeError(f"calibration input '{name}' is empty")
        if not np.all(np.isfinite(x)):
            raise EcgEdgeError(f"calibration input '{name}' holds NaN or inf")


def quantize_onnx(
    fp32_path: str | Path,
    int8_path: str | Path,
    calib: dict[str, np.ndarray],
    config: QuantConfig,
    batch: int = 32,
    chunk_batches: int = 4,
    notes: dict[str, Any] | None = None,
) -> list[str]:
    """Statically quantize ``fp32_path`` to ``int8_path`` (card copied over, not updated).

    Returns the nodes whose activations stay float (see :data:`KEEP_FLOAT`), as
    ``"<op type>:<name>"``; their weights are int8 too unless ``config.float_layer_weights``
    is ``"float"``. ``notes``, when given, receives ``"pre_process"``: what the
    pre-quantization pass did (for the card; see :func:`preprocess`).
    """
    if config.float_layer_weights not in ("int8", "float"):
        raise EcgEdgeError("float_layer_weights must be 'int8' or 'float'")
    if config.method not in _METHODS:
        raise EcgEdgeError(f"unknown calibration method {config.method!r} ({', '.join(METHODS)})")
    fp32 = onnx.load(str(fp32_path))
    card = get_card(fp32)
    if card is None:
        raise EcgEdgeError(f"{fp32_path}: no model card; export it with ecgedge export first")
    check_calibration_inputs(card, calib)
    # Histogram calibrators stack the batches of a chunk, so every batch must be full: use
    # whole batches only (the export sizes calibration sets in multiples of 32).
    n = next(iter(calib.values())).shape[0]
    batch = min(batch, n)
    keep = (n // batch) * batch
    calib = {k: v[:keep] for k, v in calib.items()}
    reader = ArrayCalibrationReader(calib, batch=batch)
    # Strided collection needs the batch count to be a multiple of the stride.
    stride = max(1, min(chunk_batches, len(reader)))
    while len(reader) % stride:
        stride -= 1
    extra = {"CalibStridedMinMax": stride, "CalibTensorRangeSymmetric": False}
    if config.method == "percentile":
        extra["CalibPercentile"] = config.percentile
    extra.update(config.extra)
    with tempfile.TemporaryDirectory(prefix="ecgedge_q_") as tmp:
        pre = Path(tmp) / "pre.onnx"
        pre_note = preprocess(Path(fp32_path), pre)
        if notes is not None:
            notes["pre_process"] = pre_note
        out = Path(tmp) / "int8.onnx"
        pre_model = onnx.load(str(pre))
        exclude = float_nodes(pre_model, config.keep_float)
        ops = {n.name: n.op_type for n in pre_model.graph.node}
        logging.getLogger("root").setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                quantize_static(
                    str(pre),
                    str(out),
                    reader,
                    quant_format=getattr(QuantFormat, config.format),
                    per_channel=config.per_channel,
                    activation_type=getattr(QuantType, config.activations),
                    weight_type=getattr(QuantType, config.weights),
                    calibrate_method=_METHODS[config.method],
                    extra_options=extra,
                    nodes_to_exclude=exclude,
                )
        except EcgEdgeError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            msg = f"int8 quantization ({config.method}) failed: {first[:200]}"
            raise EcgEdgeError(msg) from None
        q = onnx.load(str(out))
    if config.float_layer_weights == "int8":
        weight_only_int8(q, exclude)
    set_card(q, card)
    q.producer_name = "ecgedge.export"
    save_checked(q, int8_path)
    return [f"{ops[n]}:{n}" for n in exclude]


def weight_only_int8(model: onnx.ModelProto, node_names: list[str]) -> list[str]:
    """Store the fp32 weight initializer of each named Conv/Gemm as int8 + DequantizeLinear.

    Per output channel, symmetric (zero point 0, scale = max|w| / 127): the layer still
    computes in float, so only the weight rounding error is added (for the first layer,
    whose *input* quantization is what costs accuracy, this error is far smaller). Returns
    the names of the weights converted.
    """
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    uses = input_uses(g)
    wanted = set(node_names)
    dq_nodes, done = [], []
    for n in g.node:
        if n.name not in wanted or n.op_type not in _WEIGHTED or len(n.input) < 2:
            continue
        w = n.input[1]
        if w not in inits or uses.get(w, 0) != 1 or inits[w].data_type != onnx.TensorProto.FLOAT:
            continue
        a = numpy_helper.to_array(inits[w]).astype(np.float32)
        axis = 0  # Conv: [out, in, k]; Gemm(transB=1) / torch Linear: [out, in]
        if n.op_type != "Conv" and not any(at.name == "transB" and at.i for at in n.attribute):
            axis = a.ndim - 1  # Gemm without transB and MatMul: [in, out]
        red = tuple(i for i in range(a.ndim) if i != axis)
        scale = (np.maximum(np.abs(a).max(axis=red), 1e-12) / 127.0).astype(np.float32)
        shape = [1] * a.ndim
        shape[axis] = -1
        q = np.clip(np.rint(a / scale.reshape(shape)), -127, 127).astype(np.int8)
        g.initializer.remove(inits[w])
        g.initializer.extend([
            numpy_helper.from_array(q, f"{w}_w8"),
            numpy_helper.from_array(scale, f"{w}_w8_scale"),
            numpy_helper.from_array(np.zeros(a.shape[axis], np.int8), f"{w}_w8_zero_point"),
        ])
        dq_nodes.append(helper.make_node(
            "DequantizeLinear", [f"{w}_w8", f"{w}_w8_scale", f"{w}_w8_zero_point"], [w],
            name=f"{n.name}_w8_dq", axis=axis,
        ))
        done.append(w)
    for node in reversed(dq_nodes):  # constants first keeps the graph topologically sorted
        g.node.insert(0, node)
    return done


def preprocess(src: Path, dst: Path) -> dict[str, Any]:
    """onnxruntime's recommended pre-quantization pass (shape inference + graph folding).

    Symbolic shape inference fails on the dynamo graphs' ReduceMean/Unsqueeze with a
    dynamic batch, so the pass is retried with ONNX shape inference only; that is what
    matters here (before the retry existed the whole pass was silently skipped, and the
    all-int8 candidates of all three tasks then missed the 99 % agreement bound on
    validation). The outcome is returned for the card (and the export log). If the pass
    fails even without symbolic shape inference, the export fails: quantizing the raw
    graph instead would ship a different, untested recipe without anyone knowing.
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src, dst = Path(src), Path(dst)
    errors: list[str] = []
    for skip_symbolic in (False, True):
        try:
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=skip_symbolic)
        except Exception as exc:  # noqa: BLE001 - reported below, never swallowed
            errors.append(_first_line(exc))
            continue
        note: dict[str, Any] = {"tool": "onnxruntime quant_pre_process",
                                "symbolic_shape_inference": not skip_symbolic}
        if errors:
            note["symbolic_shape_inference_error"] = errors[0]
        return note
    raise EcgEdgeError(f"{src.name}: quantization pre-processing (quant_pre_process) failed: "
                       f"{errors[-1]}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def describe_pre_process(note: dict[str, Any]) -> str:
    """One log line for the card's ``quantization.pre_process``."""
    if note.get("symbolic_shape_inference"):
        return "quantization pre-processing: quant_pre_process (full)"
    return ("quantization pre-processing: quant_pre_process without symbolic shape inference "
            f"(it failed: {note.get('symbolic_shape_inference_error', '?')}); recorded in "
            "the card")
