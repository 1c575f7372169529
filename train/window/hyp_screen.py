"""HYP as a screening task on all comers: operating points on fold 9, fold-10 tables, errors.

The bedside device sees everyone, so the primary table is HYP vs *every other record* (other
pathologies included); HYP vs NORM-only is the secondary table, computed with the same model
and the same thresholds on the NORM-only subset of the fold. Operating points come from fold 9
(all comers): ``screening`` = the most specific threshold with sensitivity >= 0.95,
``balanced`` = Youden. The error analysis counts which non-HYP records (by diagnostic
superclass and by SCP code) are called HYP at each operating point.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from train.data import ptbxl
from train.window import metrics as M

KEYS = ("auroc", "auprc", "f1", "sensitivity", "specificity")
#: SCP codes left out of the error analysis: sinus rhythm says nothing about the error
SKIP_CODES = frozenset({"SR"})


def hyp_labels(meta: ptbxl.PtbxlMeta) -> tuple[np.ndarray, np.ndarray]:
    """(y HYP-vs-all as int8, mask of the HYP-or-NORM-only records)."""
    is_hyp = np.array(["HYP" in s for s in meta.superclasses])
    norm_only = np.array([s == frozenset({"NORM"}) for s in meta.superclasses])
    return is_hyp.astype(np.int8), is_hyp | norm_only


def operating_points(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Screening (sensitivity >= 0.95) and balanced (Youden) thresholds."""
    return {"screening": M.screening_threshold(y, p, 0.95), "balanced": M.youden_threshold(y, p)}


def table(y: np.ndarray, p: np.ndarray, patients: np.ndarray, ops: dict[str, float],
          n_boot: int = 1000, seed: int = 0) -> dict:
    """Per operating point: metrics with 95% patient-bootstrap CIs (+ counts)."""
    out = {"n": int(len(y)), "n_pos": int(y.sum())}
    for name, th in ops.items():
        m = M.patient_bootstrap(y, p, patients, th, n_boot, seed, keys=KEYS)
        out[name] = {"threshold": th, **m}
    return out


def called_hyp(meta: ptbxl.PtbxlMeta, y: np.ndarray, p: np.ndarray,
               ops: dict[str, float], top: int = 12) -> dict:
    """Which non-HYP records are called HYP at each operating point.

    ``by_superclass``: false positives / records of that group (a record counts for each of
    its superclasses; ``none`` = no diagnostic superclass). ``by_scp``: the most frequent SCP
    codes among the false positives, with how many records of the fold carry that code.
    """
    neg = np.flatnonzero(y == 0)
    groups = [sorted(meta.superclasses[i]) or ["none"] for i in neg]
    n_group = Counter(g for gs in groups for g in gs)
    scp_all = Counter(c for i in neg for c in meta.scp_codes[i] if c not in SKIP_CODES)
    out = {"n_negatives": int(len(neg))}
    for name, th in ops.items():
        fp = [k for k, i in enumerate(neg) if p[i] >= th]
        g = Counter(x for k in fp for x in groups[k])
        scp = Counter(c for k in fp for c in meta.scp_codes[neg[k]] if c not in SKIP_CODES)
        out[name] = {
            "threshold": th,
            "false_positives": len(fp),
            "by_superclass": {k: {"called_hyp": g.get(k, 0), "of": n_group[k],
                                  "rate": round(g.get(k, 0) / n_group[k], 4)}
                              for k in sorted(n_group)},
            "by_scp": [{"code": c, "called_hyp": n, "of": scp_all[c]}
                       for c, n in scp.most_common(top)],
        }
    return out


def hyp_report(meta: ptbxl.PtbxlMeta, p: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """The full HYP report of one score vector ``p`` over every record of ``meta``.

    Thresholds from fold 9 (all comers); fold-10 tables (all comers, NORM-only subset) and
    the error analysis of both folds.
    """
    y, hn = hyp_labels(meta)
    va, te = meta.fold_mask(ptbxl.VAL_FOLD), meta.fold_mask(ptbxl.TEST_FOLD)
    ops = operating_points(y[va], p[va])
    pats = meta.patient_id
    return {
        "operating_points": ops,
        "val": {"auroc_vs_all": M.auroc(y[va], p[va]),
                "auroc_vs_norm": M.auroc(y[va & hn], p[va & hn]),
                "auprc_vs_all": M.auprc(y[va], p[va])},
        "test_vs_all": table(y[te], p[te], pats[te], ops, n_boot, seed),
        "test_vs_norm": table(y[te & hn], p[te & hn], pats[te & hn], ops, n_boot, seed),
        "errors_test": called_hyp(meta.subset(te), y[te], p[te], ops),
        "errors_val": called_hyp(meta.subset(va), y[va], p[va], ops),
    }
