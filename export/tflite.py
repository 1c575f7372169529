"""torch -> TFLite float (litert-torch) and int8 (ai-edge-quantizer, static w8/a8).

Optional: needs the ``tflite-export`` extra (large: jax, transformers, the LiteRT converter),
kept out of the base and dev installs. The device only needs an interpreter (ai-edge-litert
or tflite-runtime), see :mod:`edge_runtime.inference`.

The converter bakes the example batch (1) into the graph; the runtime loader runs larger
batches in chunks. Calibration uses the same training-split calibration set as the ONNX int8
model, fed one example per invocation.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import card_path_for_tflite
from export.checkpoint import Checkpoint
from export.datasets import ExportData
from export.parity import BOUNDS, ParityResult, artifact_logits, compare, val_score


def _quiet():
    """litert-torch and the quantizer print progress bars; keep the export log readable."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(contextlib.redirect_stderr(io.StringIO()))  # tqdm progress bars
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    logging.getLogger("absl").setLevel(logging.ERROR)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return stack


def convert_float(ck: Checkpoint, path: Path, example: dict[str, np.ndarray]) -> Path:
    import litert_torch

    args = tuple(torch.from_numpy(np.ascontiguousarray(example[n][:1])) for n in ck.input_names)
    try:
        with _quiet():
            edge = litert_torch.convert(ck.model.eval(), args)
            edge.export(str(path))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EcgEdgeError(f"litert-torch conversion failed: {first[:200]}") from None
    return path


#: int8 recipes tried in order of preference (full static int8 first); the first one that
#: meets the int8 bounds on the validation split is kept, as for ONNX.
TFLITE_RECIPES: tuple[str, ...] = ("static_wi8_ai8", "dynamic_wi8_afp32")


def quantize_int8(float_path: Path, path: Path, calib: dict[str, np.ndarray],
                  names: list[str], recipe_name: str = "static_wi8_ai8") -> Path:
    from ai_edge_quantizer import quantizer, recipe

    n = next(iter(calib.values())).shape[0]
    samples = [
        {f"args_{i}": np.ascontiguousarray(calib[name][j : j + 1], dtype=np.float32)
         for i, name in enumerate(names)}
        for j in range(n)
    ]
    try:
        with _quiet():
            qt = quantizer.Quantizer(str(float_path))
            qt.load_quantization_recipe(getattr(recipe, recipe_name)())
            result = (qt.calibrate({"serving_default": samples}, num_threads=1)
                      if qt.need_calibration else None)
            qt.quantize(result).export_model(str(path), overwrite=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EcgEdgeError(f"ai-edge-quantizer int8 failed: {first[:200]}") from None
    return path


def tflite_quantization(name: str, recipe_cfg: list[dict[str, Any]],
                        onnx_quant: dict[str, Any], tried: dict[str, Any]) -> dict[str, Any]:
    """The card's ``quantization`` for a .tflite int8 model, read from the recipe it was
    made with (not copied from the ONNX int8 card, whose method and activation type are
    those of a different tool): a dynamic-range recipe has float activations and no
    calibration; a static one has int8 activations calibrated on the training examples."""
    rules = [r.get("op_config", {}) for r in recipe_cfg]
    if not rules:
        raise EcgEdgeError(f"ai-edge-quantizer recipe {name} has no rules")
    act = rules[0].get("activation_tensor_config")
    wt = rules[0].get("weight_tensor_config") or {}
    if any(r.get("activation_tensor_config") != act or r.get("weight_tensor_config") != wt
           for r in rules[1:]):
        raise EcgEdgeError(f"ai-edge-quantizer recipe {name}: mixed rules are not described")

    def txt(v: Any) -> str:  # recipe values are strings, or enums of the quantizer
        return str(getattr(v, "value", v))

    def tensor(cfg: dict[str, Any]) -> str:
        kind = "int" if txt(cfg.get("dtype", "INT")).upper() == "INT" else txt(cfg["dtype"])
        sym = "symmetric" if cfg.get("symmetric") else "asymmetric"
        gran = txt(cfg.get("granularity", "TENSORWISE")).lower().replace("wise", "")
        return f"{kind}{cfg.get('num_bits', 8)} {sym} per-{gran}"

    algo = {txt(r.get("algorithm_key", "?")) for r in recipe_cfg}
    q: dict[str, Any] = {
        "tool": f"ai-edge-quantizer recipe.{name}",
        "format": "tflite int8 (float I/O)",
        "algorithm": ",".join(sorted(algo)),
        "weights": tensor(wt) if wt else "float32",
        "per_channel": txt(wt.get("granularity", "")).upper() == "CHANNELWISE",
        "compute_precision": txt(rules[0].get("compute_precision", "?")).lower(),
        "recipes_tried_val": tried,
    }
    if act:  # static: activation ranges from calibration (min/max over the examples)
        q["method"] = "static, min/max calibration"
        q["activations"] = tensor(act)
        q["calibration"] = {k: v for k, v in onnx_quant["calibration"].items()
                            if k not in ("candidates_tried", "chosen_val")}
    else:  # dynamic range: weights int8, activations float, quantized per inference
        q["method"] = ("dynamic range (int8 weights; activations quantized at run time, "
                       "no calibration)")
        q["activations"] = ("float32 (quantized on the fly by the int8 kernels)"
                            if q["compute_precision"] == "integer" else "float32")
        q["calibration"] = None
    return q


def remove_stale(out_dir: Path, task: str) -> list[Path]:
    """Delete ``<task>.{fp32,int8}.tflite`` (and cards) left in ``out_dir`` by an older export.

    Called when an export rewrites the ONNX artifacts without TFLite: the old .tflite files
    would otherwise sit beside the new ONNX ones as if made from the same export (different
    calibration, parity, possibly another checkpoint). Returns what was removed."""
    gone = []
    for prec in ("fp32", "int8"):
        for p in (out_dir / f"{task}.{prec}.tflite",
                  card_path_for_tflite(out_dir / f"{task}.{prec}.tflite")):
            if p.is_file():
                p.unlink()
                gone.append(p)
    return gone


def _write_card(path: Path, card: dict[str, Any]) -> None:
    card_path_for_tflite(path).write_text(json.dumps(card, indent=1, sort_keys=True) + "\n",
                                          encoding="utf-8")


def export_tflite(
    ck: Checkpoint,
    tmp: Path,
    data: ExportData,
    ref_val: np.ndarray,
    ref_test: np.ndarray,
    card32: dict[str, Any],
    card8: dict[str, Any],
    log=print,
    bounds: dict[str, dict[str, float]] | None = None,
    recipes: tuple[str, ...] = TFLITE_RECIPES,
) -> list[tuple[str, Path, ParityResult]]:
    """Float and int8 .tflite with cards beside them, each compared with torch on test.

    ``recipes``: the int8 recipes offered, in order of preference (a subset of
    :data:`TFLITE_RECIPES`); fewer when a per-ISA parity run dropped one (the ISA gate's rule:
    the next candidate in validation order), recorded in the card."""
    import litert_torch

    if not recipes or set(recipes) - set(TFLITE_RECIPES):
        raise EcgEdgeError(f"TFLite int8 recipes must be among {', '.join(TFLITE_RECIPES)}")

    bounds = {**BOUNDS, **(bounds or {})}
    task, names = ck.card["task"], ck.input_names
    out: list[tuple[str, Path, ParityResult]] = []
    f32 = tmp / f"{task}.fp32.tflite"
    log(f"[{task}] torch -> TFLite float (litert-torch)")
    convert_float(ck, f32, data.calib.inputs)
    conv = {"converter": f"litert-torch {getattr(litert_torch, '__version__', '?')}"}
    _write_card(f32, {**card32, "export": {**card32["export"], **conv}})
    p32 = compare(ck.card, "fp32", ref_test, artifact_logits(f32, data.test.inputs),
                  data.test.y, bounds["fp32"])
    log(f"[{task}] TFLite fp32 test parity: max|diff|={p32.max_abs_diff:.2e} "
        f"agreement={p32.agreement:.4f} ({'PASS' if p32.passed else 'FAIL'})")
    _write_card(f32, {**card32, "export": {**card32["export"], **conv}, "parity": p32.to_dict()})
    out.append(("fp32", f32, p32))

    tried: dict[str, dict[str, Any]] = {}
    i8 = tmp / f"{task}.int8.tflite"
    chosen = None
    for rname in recipes:
        path = tmp / f"{task}.int8.{rname}.tflite"
        log(f"[{task}] TFLite int8 ({rname}, ai-edge-quantizer; {len(data.calib)} training "
            "examples)")
        quantize_int8(f32, path, data.calib.inputs, names, rname)
        _write_card(path, card8)  # provisional, so the runtime loader accepts it
        tried[rname] = val_score(ck.card, ref_val, artifact_logits(path, data.val.inputs),
                                  data.val.y, bounds["int8"])
        log(f"[{task}]   val {tried[rname]['metric']}={tried[rname]['value']:.4f} agreement="
            f"{tried[rname]['agreement_with_torch']:.4f}"
            f"{'  (meets bounds on val)' if tried[rname]['meets_bounds'] else ''}")
        if tried[rname]["meets_bounds"]:
            chosen = rname
            break
    if chosen is None:
        chosen = max(tried, key=lambda r: tried[r]["agreement_with_torch"])
    path = tmp / f"{task}.int8.{chosen}.tflite"
    path.replace(i8)
    card_path_for_tflite(path).replace(card_path_for_tflite(i8))
    p8 = compare(ck.card, "int8", ref_test, artifact_logits(i8, data.test.inputs),
                 data.test.y, bounds["int8"])
    log(f"[{task}] TFLite int8 kept {chosen}; test parity: agreement={p8.agreement:.4f} "
        f"{p8.metric} drop={p8.metric_drop:.4f} ({'PASS' if p8.passed else 'FAIL'})")
    from ai_edge_quantizer import recipe

    q = tflite_quantization(chosen, getattr(recipe, chosen)(), card8["quantization"], tried)
    q["recipes_offered"] = list(recipes)
    _write_card(i8, {**card8, "export": {**card8["export"], **conv}, "quantization": q,
                     "metrics_int8": {"split": "test", "n": p8.n,
                                      p8.metric: p8.metric_artifact},
                     "parity": p8.to_dict()})
    out.append(("int8", i8, p8))
    return out
