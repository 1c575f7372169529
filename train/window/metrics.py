"""Window-model metrics: AUROC, AUPRC, thresholded rates, operating points, bootstrap CIs.

Written out (numpy only) because they are the product's reported numbers and because the
bootstrap must resample *patients*, not records: PTB-XL has patients with several records,
and resampling records would make the intervals too narrow.
"""

from __future__ import annotations

import numpy as np

MIN_POSITIVES = 10  # fewer test positives than this: the class is flagged "too few"


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve = P(score_pos > score_neg) with ties counted half
    (Mann-Whitney U via average ranks). NaN if a class is absent."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auprc(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision (step-wise area under precision-recall), as the field reports it."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-np.asarray(s, dtype=np.float64), kind="mergesort")
    ys = y[order]
    s_sorted = np.asarray(s, dtype=np.float64)[order]
    tp = np.cumsum(ys)
    fp = np.cumsum(~ys)
    # evaluate only at the last index of each group of tied scores
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(ys) - 1]
    prec = tp[last] / (tp[last] + fp[last])
    rec = tp[last] / n_pos
    rec_prev = np.r_[0.0, rec[:-1]]
    return float(np.sum((rec - rec_prev) * prec))


def roc_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) with thresholds descending; predict positive when s >= thr."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    thr = np.unique(s)[::-1]
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    order = np.argsort(-s, kind="mergesort")
    ss, ys = s[order], y[order]
    idx = np.searchsorted(-ss, -thr, side="right")  # count of s >= thr
    tp = np.r_[0, np.cumsum(ys)][idx]
    fp = np.r_[0, np.cumsum(~ys)][idx]
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    return fpr, tpr, np.r_[np.inf, thr]


def pr_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) over descending thresholds (for plots)."""
    y = np.asarray(y).astype(bool)
    order = np.argsort(-np.asarray(s, dtype=np.float64), kind="mergesort")
    tp = np.cumsum(y[order])
    fp = np.cumsum(~y[order])
    return tp / max(int(y.sum()), 1), tp / np.maximum(tp + fp, 1)


def binary_metrics(y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """Thresholded metrics (predict positive when s >= threshold) plus AUROC/AUPRC."""
    y = np.asarray(y).astype(bool)
    p = np.asarray(s) >= threshold
    tp = int((p & y).sum())
    tn = int((~p & ~y).sum())
    fp = int((p & ~y).sum())
    fn = int((~p & y).sum())

    def div(a: float, b: float) -> float:
        return float(a / b) if b else float("nan")

    sens = div(tp, tp + fn)
    spec = div(tn, tn + fp)
    prec = div(tp, tp + fp)
    f1 = div(2 * tp, 2 * tp + fp + fn)
    return {
        "auroc": auroc(y, s),
        "auprc": auprc(y, s),
        "f1": f1,
        "precision": prec,
        "sensitivity": sens,
        "specificity": spec,
        "fnr": div(fn, tp + fn),
        "fpr": div(fp, tn + fp),
        "accuracy": div(tp + tn, len(y)),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }


def screening_threshold(y: np.ndarray, s: np.ndarray, min_sens: float = 0.95) -> float:
    """Highest threshold whose sensitivity is >= ``min_sens`` (most specific screening point)."""
    fpr, tpr, thr = roc_curve(y, s)
    ok = np.flatnonzero(tpr >= min_sens)
    if ok.size == 0:
        return float(np.min(s))
    return float(thr[ok[0]]) if np.isfinite(thr[ok[0]]) else float(np.max(s)) + 1e-6


def youden_threshold(y: np.ndarray, s: np.ndarray) -> float:
    """Threshold maximising sensitivity + specificity - 1 (the balanced operating point)."""
    fpr, tpr, thr = roc_curve(y, s)
    j = tpr - fpr
    j[~np.isfinite(thr)] = -np.inf
    return float(thr[int(np.argmax(j))])


def f1_threshold(y: np.ndarray, s: np.ndarray) -> float:
    """Threshold maximising F1 (used only on validation, to report F1 at a tuned point)."""
    best, best_t = -1.0, 0.5
    for t in np.unique(s):
        f = binary_metrics(y, s, t)["f1"]
        if f > best:
            best, best_t = f, float(t)
    return best_t


def patient_bootstrap(
    y: np.ndarray,
    s: np.ndarray,
    patients: np.ndarray,
    threshold: float,
    n_boot: int = 1000,
    seed: int = 0,
    keys: tuple[str, ...] = (
        "auroc", "auprc", "f1", "sensitivity", "specificity", "fnr", "fpr", "accuracy",
    ),
) -> dict[str, dict[str, float]]:
    """Point estimates + 95% percentile CIs, resampling *patients* with replacement."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(s, dtype=np.float64)
    point = binary_metrics(y, s, threshold)
    uniq, inv = np.unique(np.asarray(patients), return_inverse=True)
    members = [np.flatnonzero(inv == i) for i in range(len(uniq))]
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(n_boot):
        pick = rng.integers(0, len(uniq), len(uniq))
        idx = np.concatenate([members[i] for i in pick])
        m = binary_metrics(y[idx], s[idx], threshold)
        for k in keys:
            draws[k].append(m[k])
    out = {}
    for k in keys:
        v = np.asarray(draws[k], dtype=np.float64)
        v = v[np.isfinite(v)]
        lo, hi = (np.percentile(v, [2.5, 97.5]) if v.size else (np.nan, np.nan))
        out[k] = {"value": point[k], "ci95": [float(lo), float(hi)]}
    for k in ("tp", "fp", "tn", "fn", "precision"):
        out[k] = {"value": point[k]}
    return out


def multilabel_report(
    y: np.ndarray,
    s: np.ndarray,
    classes: list[str],
    thresholds: dict[str, float],
    patients: np.ndarray | None = None,
    n_boot: int = 0,
    seed: int = 0,
) -> dict:
    """Per-class metrics (at each class's threshold) + macro AUROC; small classes flagged."""
    per = {}
    aurocs = []
    for j, c in enumerate(classes):
        n_pos = int(y[:, j].sum())
        if n_boot and patients is not None:
            m = patient_bootstrap(y[:, j], s[:, j], patients, thresholds[c], n_boot, seed)
        else:
            bm = binary_metrics(y[:, j], s[:, j], thresholds[c])
            m = {k: {"value": v} for k, v in bm.items()}
        m["n_pos"] = n_pos
        m["threshold"] = thresholds[c]
        m["too_few_positives"] = n_pos < MIN_POSITIVES
        per[c] = m
        if np.isfinite(m["auroc"]["value"]):
            aurocs.append(m["auroc"]["value"])
    return {"per_class": per, "macro_auroc": float(np.mean(aurocs)) if aurocs else float("nan")}
