"""One checkpoint -> shipped artifacts: fp32 ONNX, int8 ONNX (+ TFLite), cards, parity.

The order of work is what makes the result trustworthy:

1. rebuild the torch model strictly from the checkpoint;
2. export fp32 ONNX and compare it with torch on the test split (max |diff| of logits);
3. quantize with every calibration method (MinMax, Percentile, Entropy) and mixed-precision
   option (all int8; first layer float; first layer + classifier float) on the *training*
   calibration set, and keep, judged on the *validation* split only, the candidate that meets
   the int8 bounds with the fewest float layers and the best metric;
4. only then run the kept int8 model on the *test* split for the parity bounds;
5. write the artifacts into ``out_dir`` only if every bound holds, with cards that record the
   parity numbers, the calibration ids and the command - a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edge_runtime.errors import EcgEdgeError
from edge_runtime.provenance import git_commit, ids_hash, provenance
from export.checkpoint import Checkpoint, load_checkpoint, torch_logits
from export.datasets import ExportData, Split
from export.isa_card import tflite_section, write_tflite_section
from export.isa_gate import Target, check, native_only
from export.onnx_export import OPSET, export_onnx, save_checked, set_card
from export.parity import BOUNDS, ParityResult, artifact_logits, compare, val_score
from export.quantize import KEEP_FLOAT, METHODS, QuantConfig, describe_pre_process, quantize_onnx


@dataclass
class ExportReport:
    task: str
    artifacts: dict[str, str] = field(default_factory=dict)
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    method: str = ""
    failures: list[str] = field(default_factory=list)
    export: dict[str, Any] = field(default_factory=dict)
    checkpoint: str = ""
    parity_per_isa: dict[str, Any] = field(default_factory=dict)
    isa_dropped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "checkpoint": self.checkpoint,
            "command": self.export.get("command", ""),
            "created": self.export.get("exported", ""),
            "git_commit": self.export.get("git_commit", ""),
            "git_dirty": self.export.get("git_dirty"),
            "data": self.export.get("data", ""),
            "artifacts": self.artifacts,
            "quantization_method": self.method,
            "calibration_candidates_val": self.candidates,
            "parity_test": self.parity,
            "parity_per_isa": self.parity_per_isa,
            "dropped_by_isa_gate": self.isa_dropped,
            "failures": self.failures,
        }


def _pick(candidates: dict[str, dict[str, Any]], order: list[str]) -> str:
    """Choose on validation: candidates meeting the int8 bounds first, and among them the
    most fully quantized (earliest in ``order``), then the better metric; if none meets the
    bounds, the most faithful to torch (agreement, then metric)."""
    ok = [n for n in order if candidates[n]["meets_bounds"]]

    def metric(n: str) -> float:
        v = candidates[n]["value"]
        return round(v, 6) if np.isfinite(v) else -1.0

    if ok:
        first_kind = ok[0].split("+float:")[1] if "+float:" in ok[0] else "none"
        same = [n for n in ok if (n.split("+float:")[1] if "+float:" in n else "none")
                == first_kind]
        return max(same, key=lambda n: (metric(n), candidates[n]["agreement_with_torch"]))
    return max(order, key=lambda n: (candidates[n]["agreement_with_torch"], metric(n)))


def _ranked(candidates: dict[str, dict[str, Any]], order: list[str]) -> list[str]:
    """Every candidate in :func:`_pick`'s order of preference (its choice first)."""
    left, out = list(order), []
    while left:
        out.append(_pick({n: candidates[n] for n in left}, left))
        left.remove(out[-1])
    return out


def _gate(card, task, report, paths, data, ref_test, bounds, tgts, log):
    """The first candidate, in validation order, whose int8 test parity holds natively and
    on every reached ISA class; if none does, the validation choice (the caller then fails).
    Dropped candidates and why go to ``report.isa_dropped``."""
    first = None
    for name in _ranked(report.candidates, list(paths)):
        art = artifact_logits(paths[name], data.test.inputs)
        p8 = compare(card, "int8", ref_test, art, data.test.y, bounds)
        log(f"[{task}] int8 {name}: test parity {_fmt(p8)}")
        if not p8.passed:
            isa = {"targets": {}, "not_checked": [], "checked_all_passed": False,
                   "note": "native test parity failed; emulated classes not run"}
            report.isa_dropped[name] = "native: " + "; ".join(p8.failures())
        else:
            log(f"[{task}]   per-ISA parity of {name}:")
            isa = check(card, paths[name], data.test.inputs, data.test.y, ref_test, tgts,
                        bounds, log=log, native_logits=art)
            if isa["checked_all_passed"]:
                if isa["not_checked"]:
                    log(f"[{task}]   not checked: {', '.join(isa['not_checked'])}")
                log(f"[{task}] kept {name}")
                return name, p8, isa
            bad = [c for c, e in isa["targets"].items() if e["status"] == "failed"]
            report.isa_dropped[name] = "failed on " + ", ".join(bad)
        log(f"[{task}] dropped {name}: {report.isa_dropped[name]}")
        first = first or (name, p8, isa)
    assert first is not None
    return first


def _rewrite_card(path: Path, card: dict[str, Any]) -> None:
    model = onnx.load(str(path))
    set_card(model, card)
    save_checked(model, path)


def export_checkpoint(
    checkpoint: str | Path | Checkpoint,
    out_dir: str | Path,
    data: ExportData,
    methods: tuple[str, ...] = METHODS,
    keep_float: tuple[str, ...] = KEEP_FLOAT,
    tflite: bool = False,
    command: str = "",
    log=print,
    bounds: dict[str, dict[str, float]] | None = None,
    isa_targets: list[Target] | None = None,
) -> ExportReport:
    """Export one checkpoint; raises EcgEdgeError (and writes nothing) if parity fails.

    ``isa_targets`` (:func:`export.isa_gate.targets`): the ISA classes an int8 candidate
    must hold parity on; None = this CPU only, the others recorded as not checked."""
    ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    card, names, task = ck.card, ck.input_names, ck.card["task"]
    out_dir = Path(out_dir)
    bounds = {**BOUNDS, **(bounds or {})}
    report = ExportReport(task=task)
    for split_name, sp in (("calibration", data.calib), ("validation", data.val),
                           ("test", data.test)):
        if len(sp) == 0:
            raise EcgEdgeError(f"{task}: the {split_name} split is empty")
    from export.quantize import check_calibration_inputs

    for sp in (data.calib, data.val, data.test):
        check_calibration_inputs(card, sp.inputs)

    export_info = {
        "opset": OPSET,
        "exporter": "torch.onnx.export(dynamo=True)",
        **provenance(),
        "command": command,
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data.source,
    }
    report.export, report.checkpoint = export_info, str(ck.path)
    ref_val = torch_logits(ck.model, data.val.inputs, names)
    ref_test = torch_logits(ck.model, data.test.inputs, names)
    with tempfile.TemporaryDirectory(prefix="ecgedge_export_") as tmp_s:
        tmp = Path(tmp_s)
        fp32 = tmp / f"{task}.fp32.onnx"
        example = {k: v[:2] for k, v in data.calib.inputs.items()}
        log(f"[{task}] torch -> ONNX fp32 (opset {OPSET}, dynamic batch)")
        export_onnx(ck.model, {**card, "export": export_info}, fp32, example)
        p32 = compare(card, "fp32", ref_test, artifact_logits(fp32, data.test.inputs), data.test.y,
                      bounds["fp32"])
        report.parity["fp32"] = p32.to_dict()
        log(f"[{task}] fp32 test parity: {_fmt(p32)}")

        int8_paths: dict[str, Path] = {}
        configs: dict[str, QuantConfig] = {}
        floats: dict[str, list[str]] = {}
        pre: dict[str, dict[str, Any]] = {}
        for kf in keep_float:
            for m in methods:
                name = m if kf == "none" else f"{m}+float:{kf}"
                qc = QuantConfig(method=m, keep_float=kf)
                path = tmp / f"{task}.int8.{len(configs)}.onnx"
                notes: dict[str, Any] = {}
                floats[name] = quantize_onnx(fp32, path, data.calib.inputs, qc, notes=notes)
                if not pre:  # the same fp32 graph for every candidate: say it once
                    log(f"[{task}] {describe_pre_process(notes['pre_process'])}")
                pre[name] = notes["pre_process"]
                int8_paths[name], configs[name] = path, qc
                report.candidates[name] = val_score(
                    card, ref_val, artifact_logits(path, data.val.inputs), data.val.y,
                    bounds["int8"],
                )
                c = report.candidates[name]
                log(f"[{task}]   int8 {name:<28} val {c['metric']}={c['value']:.4f} "
                    f"agreement={c['agreement_with_torch']:.4f}"
                    f"{'  (meets bounds on val)' if c['meets_bounds'] else ''}")
        best, p8, isa = _gate(card, task, report, int8_paths, data, ref_test, bounds["int8"],
                              isa_targets if isa_targets is not None else native_only(), log)
        report.method = best
        report.parity["int8"] = p8.to_dict()
        report.parity_per_isa = isa

        calib_info = {
            "split": "train",
            "n": len(data.calib),
            "ids": data.calib_ids,
            "ids_hash": ids_hash(data.calib_ids),
            "selection": "on validation: meet the int8 bounds with the fewest float layers, "
            "then best metric; else closest to torch; then, in that order, the first whose "
            "test-split parity holds on every ISA class the export reached",
            "dropped_by_isa_gate": report.isa_dropped,
            "validation_ids_hash": ids_hash(data.val.ids),
            "candidates_tried": list(report.candidates),
            "chosen_val": report.candidates[best],
        }
        card32 = {**card, "export": export_info, "quantization": None,
                  "metrics_fp32": _metrics(p32), "parity": p32.to_dict()}
        card8 = {**card, "export": export_info,
                 "quantization": {**configs[best].to_dict(),
                                  "float_nodes": floats[best],
                                  "pre_process": pre[best],
                                  "tool": "onnxruntime.quantization.quantize_static",
                                  "calibration": calib_info},
                 "metrics_fp32": _metrics(p32), "metrics_int8": _metrics(p8),
                 "parity": p8.to_dict(), "parity_per_isa": isa}
        _rewrite_card(fp32, card32)
        _rewrite_card(int8_paths[best], card8)
        staged = {"fp32.onnx": fp32, "int8.onnx": int8_paths[best]}
        results: dict[str, ParityResult] = {}

        if tflite:
            from export.tflite import export_tflite

            for prec, path, res in export_tflite(ck, tmp, data, ref_val, ref_test, card32,
                                                 card8, log, bounds):
                staged[f"{prec}.tflite"] = path
                if prec == "int8":
                    write_tflite_section(path, tflite_section(res.to_dict(), isa, bounds["int8"]))
                report.parity[f"{prec}_tflite"] = res.to_dict()
                results[f"{prec}_tflite"] = res

        results["fp32"], results["int8"] = p32, p8
        for name, res in results.items():
            report.failures += [f"{name}: {f}" for f in res.failures()]
        report.failures += [f"int8 on {c}: agreement {e['agreement']:.4f}, drop "
                            f"{e['metric_drop'] * 100:+.2f} pt (n={e['n']}, {e['emulation']})"
                            for c, e in isa["targets"].items()
                            if e["status"] == "failed" and e.get("emulation")]
        if report.failures:
            raise EcgEdgeError(f"{task}: parity bound broken ({'; '.join(report.failures)}); "
                               "nothing written")
        out_dir.mkdir(parents=True, exist_ok=True)
        if not tflite:
            from export.tflite import remove_stale

            gone = remove_stale(out_dir, task)
            if gone:
                log(f"[{task}] removed {len(gone)} stale TFLite file(s) of an older export "
                    f"({', '.join(p.name for p in gone)}): TFLite not rebuilt (needs the "
                    "tflite-export extra and --tflite yes)")
        for suffix, path in staged.items():
            dst = out_dir / f"{task}.{suffix}"
            shutil.copyfile(path, dst)
            report.artifacts[suffix] = str(dst)
            if suffix.endswith(".tflite"):
                side = path.with_name(path.name + ".card.json")
                shutil.copyfile(side, dst.with_name(dst.name + ".card.json"))
    return report


def _metrics(p: ParityResult) -> dict[str, Any]:
    return {"split": "test", "n": p.n, p.metric: p.metric_artifact,
            f"{p.metric}_torch": p.metric_torch}


def _fmt(p: ParityResult) -> str:
    return (f"n={p.n} max|diff|={p.max_abs_diff:.2e} agreement={p.agreement:.4f} "
            f"{p.metric} torch={p.metric_torch:.4f} artifact={p.metric_artifact:.4f} "
            f"({'PASS' if p.passed else 'FAIL: ' + '; '.join(p.failures())})")


def write_report(report: ExportReport, path: str | Path) -> None:
    Path(path).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")


__all__ = ["export_checkpoint", "ExportReport", "Split", "write_report", "git_commit", "ids_hash",
           "artifact_logits"]
