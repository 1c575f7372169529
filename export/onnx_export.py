"""torch -> ONNX fp32 with the model card embedded, checked by ``onnx.checker``.

Uses the dynamo exporter (``torch.onnx.export(..., dynamo=True)``, the path torch maintains),
opset 18, a dynamic batch axis shared by all inputs, and one self-contained file (no external
data) so an artifact is a single copyable file. The card goes into ``metadata_props`` under
:data:`edge_runtime.inference.CARD_KEY`, where onnxruntime exposes it to the device without
the ``onnx`` package.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import CARD_KEY

OPSET = 18
OUTPUT_NAME = "logits"


#: Card sections that are reports (measured numbers), not inputs of inference: their floats
#: are written with 6 significant digits. Thresholds, normalisation constants and everything
#: else the runtime computes with keep full precision.
_REPORT_KEYS = ("metrics", "metrics_fp32", "metrics_int8", "parity", "curves", "chosen_val")


def _round_reports(obj: Any, inside: bool = False) -> Any:
    if isinstance(obj, float) and inside:
        return float(f"{obj:.6g}")
    if isinstance(obj, dict):
        return {k: _round_reports(v, inside or k in _REPORT_KEYS) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round_reports(v, inside) for v in obj]
    return obj


def card_json(card: dict[str, Any]) -> str:
    """The card as compact JSON (no spaces; report floats to 6 significant digits): every
    field is kept, but on a 100 KB int8 model 16-digit metrics and pretty separators were
    several KB of the file."""
    return json.dumps(_round_reports(card), sort_keys=True, separators=(",", ":"))


def set_card(model: onnx.ModelProto, card: dict[str, Any]) -> None:
    """Store ``card`` as JSON in the model's metadata_props (replacing an older one)."""
    keep = [p for p in model.metadata_props if p.key != CARD_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    entry = model.metadata_props.add()
    entry.key = CARD_KEY
    entry.value = card_json(card)


def get_card(model: onnx.ModelProto) -> dict[str, Any] | None:
    for p in model.metadata_props:
        if p.key == CARD_KEY:
            return json.loads(p.value)
    return None


def strip_debug_info(model: onnx.ModelProto) -> None:
    """Drop per-node exporter metadata (stack traces with local paths, fx node dumps, name
    scopes) and doc strings: debugging aids that were a third of a small model's file."""
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""


def _short(k: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        k, r = divmod(k, 36)
        s = digits[r] + s
        if k == 0:
            return "_" + s


def input_uses(graph: onnx.GraphProto) -> Counter[str]:
    """How many node inputs read each tensor name (to know when an initializer is shared)."""
    return Counter(x for n in graph.node for x in n.input)


def compact_graph(model: onnx.ModelProto) -> None:
    """Remove from the graph what inference does not read, the same for fp32 and int8.

    * ``value_info`` (intermediate shapes: onnxruntime infers them at load);
    * the zero-point input of DequantizeLinear nodes on int32 biases when it is all zeros
      (optional in ONNX, 0 by default; one int32 per channel per layer otherwise);
    * long tensor and node names (``body.9.0.weight_bias_quantized_zero_point``, repeated
      in every node that reads the tensor) become short ids; graph inputs and outputs keep
      their names, which the card and the runtime use.

    Idempotent, and it does not change a single output value.
    """
    g = model.graph
    del g.value_info[:]
    g.doc_string = ""
    inits = {i.name: i for i in g.initializer}
    uses = input_uses(g)
    for n in g.node:
        if n.op_type != "DequantizeLinear" or len(n.input) != 3 or n.input[2] not in inits:
            continue
        zp = inits[n.input[2]]
        if zp.data_type == onnx.TensorProto.INT32 and not numpy_helper.to_array(zp).any():
            uses[n.input[2]] -= 1
            if uses[n.input[2]] == 0:
                g.initializer.remove(zp)
            del n.input[2]
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    mapping: dict[str, str] = {}

    def short(name: str) -> str:
        if not name or name in keep:
            return name
        if name not in mapping:
            mapping[name] = _short(len(mapping))
        return mapping[name]

    for i in g.initializer:
        i.name = short(i.name)
    for k, n in enumerate(g.node):
        n.input[:] = [short(x) for x in n.input]
        n.output[:] = [short(x) for x in n.output]
        n.name = f"n{k}"


def save_checked(model: onnx.ModelProto, path: str | Path) -> Path:
    """Strip debug info, compact the graph, check it (full shape inference), save one file."""
    strip_debug_info(model)
    compact_graph(model)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).splitlines()[0]
        raise EcgEdgeError(f"exported graph fails onnx.checker: {first}") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return path


def export_onnx(
    model: nn.Module,
    card: dict[str, Any],
    path: str | Path,
    example: dict[str, np.ndarray],
    verbose: bool = False,
) -> Path:
    """Export ``model`` (eval mode, positional inputs in card order) to ``path``."""
    names = [s["name"] for s in card["inputs"]]
    args = tuple(torch.from_numpy(example[n]) for n in names)
    batch = torch.export.Dim("batch", min=1, max=65536)
    dynamic = {n: {0: batch} for n in names}
    sink = io.StringIO()
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(sink)
    try:
        with quiet, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model.eval(),
                args,
                input_names=names,
                output_names=[OUTPUT_NAME],
                dynamo=True,
                opset_version=OPSET,
                external_data=False,
                dynamic_shapes=dynamic,
                verbose=False,
            )
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"torch.onnx.export failed for '{card['arch']}': {first[:200]}"
        raise EcgEdgeError(msg) from None
    proto = program.model_proto
    set_card(proto, card)
    proto.producer_name = "ecgedge.export"
    proto.doc_string = f"ecgedge {card['task']} model ({card['arch']}); card in metadata_props"
    return save_checked(proto, path)
