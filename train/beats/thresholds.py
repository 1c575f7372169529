"""Calibrated S and V decision thresholds as log-prior offsets, chosen on out-of-fold data.

A classifier trained with class weights or resampling has its S/V operating point set by the
training mix, not by what the device needs. Adding an offset ``b_c`` to class ``c``'s
log-probability before the argmax moves that class's decision threshold without retraining;
:class:`train.models.beat_ensemble.BeatEnsemble` bakes the offsets into the exported graph so
the device's argmax needs no change.

The offsets (``b_S``, ``b_V``; N, F, Q stay 0) are chosen on a grid to maximise the study's
score, ``(F1_VEB + F1_SVEB) / 2`` from EC57 counts, over *out-of-fold* cross-validation
predictions only. :func:`cross_fitted` reports what that choice is worth on unseen patients:
for each fold, offsets fitted on the other folds' out-of-fold predictions are applied to it.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.ec57 import confusion, ec57_metrics
from train.beats.train import veb_sveb_score

__all__ = ["GRID", "apply_offsets", "fit_offsets", "cross_fitted"]

#: Candidate offsets for S and V (natural-log units: +1.0 = odds x 2.7).
GRID = np.round(np.arange(-3.0, 3.01, 0.25), 2)


def apply_offsets(prob: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Class index of ``argmax(log p + offsets)`` per row."""
    return np.argmax(np.log(np.clip(prob, 1e-6, None)) + offsets, axis=1)


def _score(logp: np.ndarray, y: np.ndarray, b_s: float, b_v: float) -> float:
    z = logp.copy()
    z[:, 1] += b_s
    z[:, 2] += b_v
    return veb_sveb_score(ec57_metrics(confusion(y, z.argmax(axis=1))))


def fit_offsets(prob: np.ndarray, y: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """``(5,)`` offsets (only S and V non-zero) maximising the score on ``(prob, y)``.

    Coordinate search: V over the grid with S at 0, then S, then V again (the two classes
    interact only through beats both want), ties to the offset closest to 0."""
    logp = np.log(np.clip(prob, 1e-6, None))
    b_s = b_v = 0.0
    order = sorted(grid, key=abs)
    for which in ("v", "s", "v"):
        if which == "v":
            b_v = max(order, key=lambda b: _score(logp, y, b_s, b))
        else:
            b_s = max(order, key=lambda b: _score(logp, y, b, b_v))
    out = np.zeros(prob.shape[1], dtype=np.float32)
    out[1], out[2] = b_s, b_v
    return out


def cross_fitted(prob: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Predicted class per row with offsets fitted on the *other* folds' rows."""
    pred = np.empty(len(y), dtype=np.int64)
    for k in np.unique(fold):
        m = fold == k
        pred[m] = apply_offsets(prob[m], fit_offsets(prob[~m], y[~m]))
    return pred
