"""One checkpoint -> shipped artifacts: fp32 ONNX, int8 ONNX (+ TFLite), cards, parity.

The order of work is what makes the result trustworthy:

1. rebuild the torch model strictly from the checkpoint;
2. export fp32 ONNX and compare it with torch on the test split (max |diff| of logits);
3. quantize with every calibration method on the *training* calibration set and keep the
   method whose int8 model scores best on the *validation* split (ties: closest to torch);
4. only then run the kept int8 model on the *test* split for the parity bounds;
5. write the artifacts into ``out_dir`` only if every bound holds, with cards that record the
   parity numbers, the calibration ids and the command - a failed export leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import load_model
from export.checkpoint import Checkpoint, load_checkpoint, torch_logits
from export.datasets import ExportData, Split
from export.onnx_export import OPSET, export_onnx, save_checked, set_card
from export.parity import BOUNDS, ParityResult, compare, decisions, probabilities, task_metric
from export.quantize import METHODS, QuantConfig, quantize_onnx

_REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=_REPO, capture_output=True, text=True, timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def ids_hash(ids: list[str]) -> str:
    return hashlib.sha1(",".join(sorted(map(str, ids))).encode()).hexdigest()[:16]


def artifact_logits(path: Path, inputs: dict[str, np.ndarray], batch: int = 512) -> np.ndarray:
    """Logits of an artifact through the device's own loader (edge_runtime.inference)."""
    model = load_model(path, threads=1)
    n = next(iter(inputs.values())).shape[0]
    outs = [
        model.logits(**{k: v[i : i + batch] for k, v in inputs.items()}) for i in range(0, n, batch)
    ]
    return np.concatenate(outs)


@dataclass
class ExportReport:
    task: str
    artifacts: dict[str, str] = field(default_factory=dict)
    parity: dict[str, dict[str, Any]] = field(default_factory=dict)
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)
    method: str = ""
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "artifacts": self.artifacts,
            "quantization_method": self.method,
            "calibration_candidates_val": self.candidates,
            "parity_test": self.parity,
            "failures": self.failures,
        }


def _val_score(card: dict[str, Any], ref: np.ndarray, art: np.ndarray, y: np.ndarray) -> dict:
    pr, pa = probabilities(card, ref), probabilities(card, art)
    name, m = task_metric(card, y, pa)
    agree = float(np.mean(decisions(card, pr) == decisions(card, pa)))
    return {"metric": name, "value": m, "agreement_with_torch": agree,
            "mean_abs_prob_diff": float(np.mean(np.abs(pr - pa)))}


def _pick(candidates: dict[str, dict[str, float]]) -> str:
    def key(m: str) -> tuple[float, float, float]:
        c = candidates[m]
        v = c["value"] if np.isfinite(c["value"]) else -1.0
        return (round(v, 6), c["agreement_with_torch"], -c["mean_abs_prob_diff"])

    return max(candidates, key=key)


def _rewrite_card(path: Path, card: dict[str, Any]) -> None:
    model = onnx.load(str(path))
    set_card(model, card)
    save_checked(model, path)


def export_checkpoint(
    checkpoint: str | Path | Checkpoint,
    out_dir: str | Path,
    data: ExportData,
    methods: tuple[str, ...] = METHODS,
    tflite: bool = False,
    command: str = "",
    log=print,
    bounds: dict[str, dict[str, float]] | None = None,
) -> ExportReport:
    """Export one checkpoint; raises EcgEdgeError (and writes nothing) if parity fails."""
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
        "git_commit": git_commit(),
        "command": command,
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": data.source,
    }
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
        for m in methods:
            qc = QuantConfig(method=m)
            path = tmp / f"{task}.int8.{m}.onnx"
            log(f"[{task}] int8 static QDQ per-channel, calibration={m} on {len(data.calib)} "
                "training examples")
            quantize_onnx(fp32, path, data.calib.inputs, qc)
            int8_paths[m] = path
            report.candidates[m] = _val_score(
                card, ref_val, artifact_logits(path, data.val.inputs), data.val.y
            )
            c = report.candidates[m]
            log(f"[{task}]   val {c['metric']}={c['value']:.4f} "
                f"agreement={c['agreement_with_torch']:.4f}")
        best = _pick(report.candidates)
        report.method = best
        p8 = compare(card, "int8", ref_test,
                     artifact_logits(int8_paths[best], data.test.inputs), data.test.y,
                     bounds["int8"])
        report.parity["int8"] = p8.to_dict()
        log(f"[{task}] kept {best}; int8 test parity: {_fmt(p8)}")

        calib_info = {
            "split": "train",
            "n": len(data.calib),
            "ids": data.calib_ids,
            "ids_hash": ids_hash(data.calib_ids),
            "selection": "best validation metric (ties: agreement with torch)",
            "validation_ids_hash": ids_hash(data.val.ids),
            "candidates_val": report.candidates,
        }
        card32 = {**card, "export": export_info, "quantization": None,
                  "metrics_fp32": _metrics(p32), "parity": p32.to_dict()}
        card8 = {**card, "export": export_info,
                 "quantization": {**QuantConfig(method=best).to_dict(),
                                  "tool": "onnxruntime.quantization.quantize_static",
                                  "calibration": calib_info},
                 "metrics_fp32": _metrics(p32), "metrics_int8": _metrics(p8),
                 "parity": p8.to_dict()}
        _rewrite_card(fp32, card32)
        _rewrite_card(int8_paths[best], card8)
        staged = {"fp32.onnx": fp32, "int8.onnx": int8_paths[best]}
        results: dict[str, ParityResult] = {}

        if tflite:
            from export.tflite import export_tflite

            for prec, path, res in export_tflite(ck, tmp, data, ref_test, card32, card8, log,
                                                 bounds):
                staged[f"{prec}.tflite"] = path
                report.parity[f"{prec}_tflite"] = res.to_dict()
                results[f"{prec}_tflite"] = res

        results["fp32"], results["int8"] = p32, p8
        for name, res in results.items():
            report.failures += [f"{name}: {f}" for f in res.failures()]
        if report.failures:
            raise EcgEdgeError(f"{task}: parity bound broken ({'; '.join(report.failures)}); "
                               "nothing written")
        out_dir.mkdir(parents=True, exist_ok=True)
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


__all__ = ["export_checkpoint", "ExportReport", "Split", "write_report", "git_commit"]
