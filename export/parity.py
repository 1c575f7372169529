"""Parity of an exported artifact with the torch model it came from.

Three checks per artifact, on the real *test* split (issue 7's bounds, kept as data in
:data:`BOUNDS`):

* ``max_abs_diff`` of the logits vs torch eager (fp32 artifacts: < 1e-4);
* decision agreement with torch (int8: >= 99 %): top-1 for softmax models; for sigmoid
  models, agreement of every (example, class) decision at the card's "balanced" operating
  point (0.5 where the card has none) - multi-label models have no single top-1;
* the task metric's drop vs torch (int8: <= 0.5 points): macro-F1 for beat models,
  AUROC (macro over classes with both labels present) for window models.

The validation-split scoring of quantization candidates (:func:`val_score`) and the running
of an artifact through the device loader (:func:`artifact_logits`) live here too: both the
ONNX pipeline and the TFLite exporter use them, and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.inference import load_model, sigmoid, softmax
from train.window.metrics import auroc

BOUNDS: dict[str, dict[str, float]] = {
    "fp32": {"max_abs_diff": 1e-4},
    "int8": {"min_agreement": 0.99, "max_metric_drop": 0.005},
}


def probabilities(card: dict[str, Any], logits: np.ndarray) -> np.ndarray:
    return softmax(logits) if card["output"] == "softmax" else sigmoid(logits)


def thresholds(card: dict[str, Any]) -> np.ndarray:
    """Per-class decision thresholds of the card's balanced operating point (default 0.5)."""
    classes = card["classes"]
    ops = card.get("operating_points") or {}
    op = ops.get("balanced") or {}
    if isinstance(op, dict) and isinstance(op.get("thresholds"), dict):
        op = op["thresholds"]
    out = []
    for c in classes:
        v = op.get(c) if isinstance(op, dict) else None
        if isinstance(v, dict):
            v = v.get("threshold")
        out.append(float(v) if isinstance(v, int | float) else 0.5)
    return np.asarray(out, dtype=np.float64)


def decisions(card: dict[str, Any], probs: np.ndarray) -> np.ndarray:
    if card["output"] == "softmax":
        return probs.argmax(axis=1)
    return probs >= thresholds(card)[None, :]


def macro_f1(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes present in the reference (absent classes are undefined)."""
    f1s = []
    for c in range(n_classes):
        t, p = y == c, pred == c
        if not t.any():
            continue
        tp = float(np.sum(t & p))
        denom = float(t.sum() + p.sum())
        f1s.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(f1s)) if f1s else float("nan")


def task_metric(card: dict[str, Any], y: np.ndarray, probs: np.ndarray) -> tuple[str, float]:
    """(name, value) of the metric the task reports."""
    if card["output"] == "softmax":
        return "macro_f1", macro_f1(np.asarray(y), probs.argmax(axis=1), probs.shape[1])
    y2 = np.asarray(y).reshape(len(y), -1)
    vals = [auroc(y2[:, j], probs[:, j]) for j in range(probs.shape[1])]
    vals = [v for v in vals if np.isfinite(v)]
    return "macro_auroc", float(np.mean(vals)) if vals else float("nan")


def artifact_logits(path: Path, inputs: dict[str, np.ndarray], batch: int = 512) -> np.ndarray:
    """Logits of an artifact through the device's own loader (edge_runtime.inference)."""
    model = load_model(path, threads=1)
    n = next(iter(inputs.values())).shape[0]
    outs = [
        model.logits(**{k: v[i : i + batch] for k, v in inputs.items()}) for i in range(0, n, batch)
    ]
    return np.concatenate(outs)


def val_score(
    card: dict[str, Any], ref: np.ndarray, art: np.ndarray, y: np.ndarray, bounds: dict
) -> dict:
    """Validation score of one int8 candidate (the test split is never looked at here)."""
    pr, pa = probabilities(card, ref), probabilities(card, art)
    name, m = task_metric(card, y, pa)
    _, m_ref = task_metric(card, y, pr)
    agree = float(np.mean(decisions(card, pr) == decisions(card, pa)))
    meets = agree >= bounds.get("min_agreement", 0.0) and (
        m_ref - m <= bounds.get("max_metric_drop", np.inf)
    )
    return {"metric": name, "value": m, "value_torch": m_ref, "agreement_with_torch": agree,
            "mean_abs_prob_diff": float(np.mean(np.abs(pr - pa))), "meets_bounds": bool(meets)}


@dataclass
class ParityResult:
    kind: str  # "fp32" | "int8"
    n: int
    max_abs_diff: float
    agreement: float
    metric: str
    metric_torch: float
    metric_artifact: float
    exact_match: float | None = None
    bounds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.bounds:
            self.bounds = dict(BOUNDS[self.kind])

    @property
    def metric_drop(self) -> float:
        return self.metric_torch - self.metric_artifact

    def failures(self) -> list[str]:
        """Broken bounds, as one readable phrase each (empty when parity holds)."""
        b = self.bounds
        out = []
        if "max_abs_diff" in b and not self.max_abs_diff < b["max_abs_diff"]:
            out.append(f"max |diff| {self.max_abs_diff:.2e} >= {b['max_abs_diff']:.0e}")
        if "min_agreement" in b and not self.agreement >= b["min_agreement"]:
            out.append(f"agreement {self.agreement:.4f} < {b['min_agreement']}")
        if "max_metric_drop" in b and not self.metric_drop <= b["max_metric_drop"]:
            out.append(f"{self.metric} drop {self.metric_drop:.4f} > {b['max_metric_drop']}")
        return out

    @property
    def passed(self) -> bool:
        return not self.failures()

    def to_dict(self) -> dict[str, Any]:
        return {
            "split": "test",
            "n": self.n,
            "max_abs_diff_logits": self.max_abs_diff,
            "agreement": self.agreement,
            "exact_match": self.exact_match,
            "metric": self.metric,
            "metric_torch": self.metric_torch,
            "metric_artifact": self.metric_artifact,
            "metric_drop": self.metric_drop,
            "bounds": self.bounds,
            "passed": self.passed,
        }


def compare(
    card: dict[str, Any],
    kind: str,
    ref_logits: np.ndarray,
    art_logits: np.ndarray,
    y: np.ndarray,
    bounds: dict[str, float] | None = None,
) -> ParityResult:
    """Compare an artifact's logits with torch's on the same examples."""
    ref_logits = np.asarray(ref_logits, dtype=np.float64)
    art_logits = np.asarray(art_logits, dtype=np.float64)
    if ref_logits.shape != art_logits.shape:
        raise ValueError(f"output shapes differ: {ref_logits.shape} vs {art_logits.shape}")
    pr, pa = probabilities(card, ref_logits), probabilities(card, art_logits)
    dr, da = decisions(card, pr), decisions(card, pa)
    exact = None
    if card["output"] == "sigmoid":
        exact = float(np.mean(np.all(dr == da, axis=1)))
    name, m_ref = task_metric(card, y, pr)
    _, m_art = task_metric(card, y, pa)
    return ParityResult(
        kind=kind,
        n=int(ref_logits.shape[0]),
        max_abs_diff=float(np.max(np.abs(ref_logits - art_logits))) if ref_logits.size else 0.0,
        agreement=float(np.mean(dr == da)),
        metric=name,
        metric_torch=m_ref,
        metric_artifact=m_art,
        exact_match=exact,
        bounds=dict(bounds or BOUNDS[kind]),
    )
