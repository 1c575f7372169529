"""TFLite artifacts for a task whose ONNX artifacts are already shipped, without touching them.

``ecgedge export build`` writes ONNX and TFLite together, but the converter (the
``tflite-export`` extra) is large and often missing from the environment that made the ONNX
files; a full re-export would then rewrite the ONNX artifacts (new cards, possibly another
int8 candidate) just to add the .tflite pair. This path converts the checkpoint with the
ONNX cards read from the shipped files, so the .tflite cards describe the same export, and
only ``<task>.{fp32,int8}.tflite`` (+ ``.card.json``) are written.

It refuses, writing nothing, unless the shipped ONNX artifacts belong to the checkpoint: the
fp32 ONNX must match torch on the test split within the fp32 bound, and the calibration
sample drawn now must be the one the int8 ONNX card records (same ids hash), because the
TFLite int8 is calibrated on it and its card says so.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import card_path_for_tflite, read_card
from edge_runtime.provenance import ids_hash, provenance
from export.checkpoint import Checkpoint, torch_logits
from export.datasets import ExportData
from export.isa_card import tflite_section, write_tflite_section
from export.parity import BOUNDS, artifact_logits, compare


def _shipped_cards(ck: Checkpoint, out_dir: Path, data: ExportData, ref_test,
                   bounds: dict[str, dict[str, float]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fp32 and int8 ONNX cards, after checking they belong to this checkpoint/data."""
    task = ck.card["task"]
    f32, i8 = out_dir / f"{task}.fp32.onnx", out_dir / f"{task}.int8.onnx"
    for p in (f32, i8):
        if not p.is_file():
            raise EcgEdgeError(f"{p} not found: the TFLite-only path converts next to shipped "
                               "ONNX artifacts (run `ecgedge export build` first)")
    card32, card8 = read_card(f32), read_card(i8)

    def training(card: dict[str, Any]) -> dict[str, Any]:  # the ONNX card rounds the curves
        return {k: v for k, v in (card.get("training") or {}).items() if k != "curves"}

    if training(card32) != training(ck.card):
        raise EcgEdgeError(f"{f32.name}: its card's training section differs from "
                           f"{ck.path.name}'s: not made from this checkpoint")
    cal = (card8.get("quantization") or {}).get("calibration") or {}
    if cal.get("ids_hash") != ids_hash(data.calib_ids):
        raise EcgEdgeError(f"{i8.name} was calibrated on ids hash {cal.get('ids_hash')}, this "
                           f"data gives {ids_hash(data.calib_ids)} (another --seed or data?)")
    p = compare(ck.card, "fp32", ref_test, artifact_logits(f32, data.test.inputs), data.test.y,
                bounds["fp32"])
    if not p.passed:
        raise EcgEdgeError(f"{f32.name} does not match {ck.path.name} on test "
                           f"({'; '.join(p.failures())}): not made from this checkpoint")
    return card32, card8


def _onnx_digests(out_dir: Path, task: str) -> dict[str, str]:
    """SHA-256 of the shipped ONNX pair, recorded in the report: the proof it was not touched."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out_dir.glob(f"{task}.*.onnx"))}


def _add_dropped(path: Path, dropped: dict[str, str]) -> None:
    """Say in the int8 card which recipes the per-ISA parity dropped, and why."""
    cp = card_path_for_tflite(path)
    card = json.loads(cp.read_text(encoding="utf-8"))
    card["quantization"]["dropped_by_isa_gate"] = dict(dropped)
    cp.write_text(json.dumps(card, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def rebuild_tflite(ck: Checkpoint, out_dir: str | Path, data: ExportData, command: str = "",
                   log=print, bounds: dict[str, dict[str, float]] | None = None,
                   isa_dropped: dict[str, str] | None = None) -> dict[str, Any]:
    """Write ``<task>.{fp32,int8}.tflite`` and cards into ``out_dir``; the ONNX files there
    are only read. Returns a report (artifacts, test parity); raises EcgEdgeError and
    writes nothing if a parity bound fails. ``isa_dropped``: recipe -> why it was dropped
    (its TFLite parity failed on an ISA class); the others are offered in
    :data:`export.tflite.TFLITE_RECIPES` order and the reasons go to the int8 card."""
    from export.tflite import TFLITE_RECIPES, export_tflite

    out_dir = Path(out_dir)
    bounds = {**BOUNDS, **(bounds or {})}
    task, names = ck.card["task"], ck.input_names
    ref_val = torch_logits(ck.model, data.val.inputs, names)
    ref_test = torch_logits(ck.model, data.test.inputs, names)
    card32, card8 = _shipped_cards(ck, out_dir, data, ref_test, bounds)
    conv = {"tflite_command": command, "tflite_exported":
            datetime.now(UTC).isoformat(timespec="seconds"),
            **{f"tflite_{k}": v for k, v in provenance().items()}}
    card32 = {**card32, "export": {**card32["export"], **conv}}
    card8 = {**card8, "export": {**card8["export"], **conv}}
    report: dict[str, Any] = {"task": task, "checkpoint": str(ck.path), "command": command,
                              "created": conv["tflite_exported"], **provenance(),
                              "data": data.source, "onnx_sha256": _onnx_digests(out_dir, task),
                              "isa_dropped": dict(isa_dropped or {}),
                              "artifacts": {}, "parity_test": {}, "failures": []}
    with tempfile.TemporaryDirectory(prefix="ecgedge_tflite_") as tmp_s:
        tmp = Path(tmp_s)
        recipes = tuple(r for r in TFLITE_RECIPES if r not in (isa_dropped or {}))
        staged = export_tflite(ck, tmp, data, ref_val, ref_test, card32, card8, log, bounds,
                               recipes)
        for prec, path, res in staged:
            if prec == "int8":
                write_tflite_section(path, tflite_section(
                    res.to_dict(), card8.get("parity_per_isa") or {}, bounds["int8"]))
                if isa_dropped:
                    _add_dropped(path, isa_dropped)
            report["parity_test"][f"{prec}_tflite"] = res.to_dict()
            report["failures"] += [f"{prec}_tflite: {f}" for f in res.failures()]
        report["quantization_int8_tflite"] = read_card(tmp / f"{task}.int8.tflite")[
            "quantization"]
        if report["failures"]:
            raise EcgEdgeError(f"{task}: TFLite parity bound broken "
                               f"({'; '.join(report['failures'])}); nothing written")
        out_dir.mkdir(parents=True, exist_ok=True)
        for prec, path, _ in staged:
            dst = out_dir / path.name
            shutil.copyfile(path, dst)
            shutil.copyfile(card_path_for_tflite(path), card_path_for_tflite(dst))
            report["artifacts"][f"{prec}.tflite"] = str(dst)
    if _onnx_digests(out_dir, task) != report["onnx_sha256"]:  # by construction; checked
        raise EcgEdgeError(f"{task}: the ONNX artifacts changed during the TFLite rebuild")
    return report
