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
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import CARD_KEY

OPSET = 18
OUTPUT_NAME = "logits"


def set_card(model: onnx.ModelProto, card: dict[str, Any]) -> None:
    """Store ``card`` as JSON in the model's metadata_props (replacing an older one)."""
    keep = [p for p in model.metadata_props if p.key != CARD_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    entry = model.metadata_props.add()
    entry.key = CARD_KEY
    entry.value = json.dumps(card, sort_keys=True)


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


def save_checked(model: onnx.ModelProto, path: str | Path) -> Path:
    """Strip debug info, check the graph (full shape inference), save it as one file."""
    strip_debug_info(model)
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
