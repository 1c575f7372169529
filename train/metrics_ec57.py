"""Beat-classification metrics as ANSI/AAMI EC57 defines them (gross and per record).

Confusion matrix ``cm[ref, alg]`` over the AAMI classes N, S, V, F, Q plus a sixth row/column
``O``: column O = reference beats the detector missed (condition b), row O = detections that
match no reference beat. Definitions follow ANSI/AAMI EC57:1998/(R)2008, section 3 and
Annex, as tabulated by de Chazal, O'Dwyer & Reilly (IEEE TBME 51(7):1196-1206, 2004, Sec. II-E):

- VEB:  TP = Vv;  FN = Vn + Vs + Vf + Vq + Vo (every reference V beat not called V, missed
  ones included);  FP = Nv + Sv (+ Ov, extra detections called V);  **F or Q beats called V
  are not false positives** (EC57 does not penalise calling fusion/unclassifiable beats V);
  TN = all N and S reference beats not called V.
  ``Se = TP/(TP+FN)``, ``+P = TP/(TP+FP)``, ``FPR = FP/(FP+TN)``.
- SVEB: TP = Ss;  FN = Sn + Sv + Sf + Sq + So;  FP = Ns + Vs + Fs (+ Os);  **Q beats called
  S are not false positives**;  TN = N, V, F reference beats not called S.
- N, F, Q (not EC57 headline classes, reported for completeness): plain one-vs-rest Se/+P.
- Accuracy: correctly classified reference beats / all reference beats (missed beats are
  errors); macro-F1: mean F1 over the classes present in the reference, from plain
  one-vs-rest counts.

Rows O (false detections) count as false positives above, which is stricter than leaving
them out; in condition (a) (reference positions) row and column O are empty.
"""

from __future__ import annotations

import numpy as np

CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
LABELS: tuple[str, ...] = CLASSES + ("O",)
N, S, V, Fu, Q, O = range(6)  # noqa: E741  (EC57 names the row "O")


def confusion(ref: np.ndarray, alg: np.ndarray) -> np.ndarray:
    """6x6 confusion ``cm[ref, alg]`` from class indices 0..5 (5 = O: none)."""
    cm = np.zeros((6, 6), dtype=np.int64)
    np.add.at(cm, (np.asarray(ref, dtype=np.int64), np.asarray(alg, dtype=np.int64)), 1)
    return cm


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def veb_counts(cm: np.ndarray) -> dict[str, int]:
    tp = cm[V, V]
    fn = cm[V].sum() - tp
    fp = cm[N, V] + cm[S, V] + cm[O, V]
    tn = cm[[N, S]].sum() - cm[N, V] - cm[S, V]
    return {"tp": int(tp), "fn": int(fn), "fp": int(fp), "tn": int(tn)}


def sveb_counts(cm: np.ndarray) -> dict[str, int]:
    tp = cm[S, S]
    fn = cm[S].sum() - tp
    fp = cm[N, S] + cm[V, S] + cm[Fu, S] + cm[O, S]
    tn = cm[[N, V, Fu]].sum() - cm[N, S] - cm[V, S] - cm[Fu, S]
    return {"tp": int(tp), "fn": int(fn), "fp": int(fp), "tn": int(tn)}


def _rates(c: dict[str, int]) -> dict:
    return {
        **c,
        "se": _ratio(c["tp"], c["tp"] + c["fn"]),
        "ppv": _ratio(c["tp"], c["tp"] + c["fp"]),
        "fpr": _ratio(c["fp"], c["fp"] + c["tn"]),
    }


def ec57_metrics(cm: np.ndarray) -> dict:
    """All class metrics of one confusion matrix (fractions, None where undefined)."""
    cm = np.asarray(cm, dtype=np.int64)
    out: dict = {"veb": _rates(veb_counts(cm)), "sveb": _rates(sveb_counts(cm))}
    n_ref = int(cm[:5].sum())
    out["n_ref"] = n_ref
    out["n_missed"] = int(cm[:5, O].sum())
    out["n_extra"] = int(cm[O, :5].sum())
    out["accuracy"] = _ratio(np.trace(cm[:5, :5]), n_ref)
    per, f1s = {}, []
    for i, c in enumerate(CLASSES):
        tp = cm[i, i]
        fn = cm[i].sum() - tp
        fp = cm[:, i].sum() - tp
        se, ppv = _ratio(tp, tp + fn), _ratio(tp, tp + fp)
        f1 = _ratio(2 * tp, 2 * tp + fn + fp)
        per[c] = {"n": int(cm[i].sum()), "se": se, "ppv": ppv, "f1": f1}
        if cm[i].sum() > 0:
            f1s.append(f1 or 0.0)
    out["per_class"] = per
    out["macro_f1"] = float(np.mean(f1s)) if f1s else None
    out["confusion"] = cm.tolist()
    out["labels"] = list(LABELS)
    return out


def ec57_report(ref: np.ndarray, alg: np.ndarray, record: np.ndarray) -> dict:
    """Gross metrics plus per-record metrics (EC57 reports both)."""
    ref, alg, record = np.asarray(ref), np.asarray(alg), np.asarray(record)
    gross = ec57_metrics(confusion(ref, alg))
    per_record = {
        str(r): ec57_metrics(confusion(ref[record == r], alg[record == r]))
        for r in sorted(set(record.tolist()))
    }
    return {"gross": gross, "per_record": per_record}


def headline(m: dict) -> dict[str, float | None]:
    """The numbers a table shows, in percent."""

    def pct(v):
        return None if v is None else round(100 * v, 2)

    return {
        "veb_se": pct(m["veb"]["se"]),
        "veb_ppv": pct(m["veb"]["ppv"]),
        "veb_fpr": pct(m["veb"]["fpr"]),
        "sveb_se": pct(m["sveb"]["se"]),
        "sveb_ppv": pct(m["sveb"]["ppv"]),
        "sveb_fpr": pct(m["sveb"]["fpr"]),
        "accuracy": pct(m["accuracy"]),
        "macro_f1": pct(m["macro_f1"]),
    }
