"""Losses for imbalanced classification, generic over softmax and sigmoid outputs.

All take LOGITS. ``output="softmax"``: logits ``(n, C)``, target class indices ``(n,)``
(mutually exclusive classes, e.g. AAMI beats). ``output="sigmoid"``: logits ``(n, C)``,
multi-hot float targets ``(n, C)`` (independent findings, e.g. PTB-XL). Every loss returns the
mean over samples (and over classes for sigmoid), so learning rates transfer between them.

- :func:`class_weights`: inverse-frequency weights ``(N / (C * n_c)) ** power`` (power 1 is
  the "balanced" rule, 0.5 a softer one), normalised to mean 1.
- :class:`WeightedLoss`: cross-entropy / BCE with per-class weights (BCE: weight on positives).
- :class:`FocalLoss`: Lin et al. 2017, ``-alpha_c (1 - p_t)^gamma log p_t``.
- :class:`CostSensitiveLoss`: softmax -> cross-entropy plus the expected misclassification
  cost ``sum_j p_j * cost[y, j]`` (a cost matrix, e.g. calling a VEB "normal" costs more than
  the reverse); sigmoid -> BCE with separate false-negative / false-positive costs per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["class_weights", "WeightedLoss", "FocalLoss", "CostSensitiveLoss", "make_loss"]


def class_weights(labels: np.ndarray, n_classes: int, power: float = 1.0) -> torch.Tensor:
    """Inverse-frequency class weights from class indices ``(n,)`` or multi-hot ``(n, C)``.

    Absent classes get weight 0 (softmax) so they cannot dominate; weights have mean 1 over
    the classes present.
    """
    y = np.asarray(labels)
    counts = y.sum(axis=0) if y.ndim == 2 else np.bincount(y[y >= 0], minlength=n_classes)
    counts = counts.astype(np.float64)
    present = counts > 0
    w = np.zeros(n_classes)
    w[present] = (counts[present].sum() / (present.sum() * counts[present])) ** power
    w[present] /= w[present].mean()
    return torch.tensor(w, dtype=torch.float32)


def _check(output: str) -> None:
    if output not in ("softmax", "sigmoid"):
        raise ValueError(f"output must be 'softmax' or 'sigmoid', not {output!r}")


class WeightedLoss(nn.Module):
    """Cross-entropy (softmax) or BCE (sigmoid) with optional per-class weights."""

    def __init__(self, output: str = "softmax", weight: torch.Tensor | None = None) -> None:
        super().__init__()
        _check(output)
        self.output = output
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.output == "softmax":
            if self.weight is None:
                return F.cross_entropy(logits, target)
            # mean over samples (not the weighted mean), so the scale matches the others
            return (F.cross_entropy(logits, target, reduction="none") * self.weight[target]).mean()
        target = target.float()
        pos_weight = self.weight if self.weight is not None else None
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)


class FocalLoss(nn.Module):
    """Focal loss (Lin et al., ICCV 2017): down-weights easy examples by ``(1 - p_t)^gamma``."""

    def __init__(
        self, output: str = "softmax", gamma: float = 2.0, alpha: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        _check(output)
        self.output, self.gamma = output, float(gamma)
        self.register_buffer("alpha", alpha if alpha is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.output == "softmax":
            logp = F.log_softmax(logits, dim=1)
            logp_t = logp.gather(1, target[:, None])[:, 0]
            loss = -((1 - logp_t.exp()) ** self.gamma) * logp_t
            if self.alpha is not None:
                loss = loss * self.alpha[target]
            return loss.mean()
        t = target.float()
        logp = F.logsigmoid(logits)
        lognp = F.logsigmoid(-logits)
        p = logp.exp()
        pos = -((1 - p) ** self.gamma) * logp * t
        neg = -(p**self.gamma) * lognp * (1 - t)
        if self.alpha is not None:
            pos = pos * self.alpha
        return (pos + neg).mean()


class CostSensitiveLoss(nn.Module):
    """Cross-entropy plus expected misclassification cost.

    softmax: ``cost`` is a ``(C, C)`` matrix, ``cost[true, predicted]`` (diagonal 0); the
    loss is ``CE + lam * sum_j softmax_j * cost[y, j]``: a differentiable surrogate of the
    Bayes risk (Elkan 2001). sigmoid: ``cost`` is ``(2, C)``: row 0 the cost of a false
    negative, row 1 of a false positive, per class: ``c_fn * y * -log p + c_fp * (1-y) *
    -log(1-p)``.
    """

    def __init__(self, cost: torch.Tensor, output: str = "softmax", lam: float = 1.0) -> None:
        super().__init__()
        _check(output)
        self.output, self.lam = output, float(lam)
        self.register_buffer("cost", torch.as_tensor(cost, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.output == "softmax":
            ce = F.cross_entropy(logits, target)
            risk = (F.softmax(logits, dim=1) * self.cost[target]).sum(dim=1).mean()
            return ce + self.lam * risk
        t = target.float()
        c_fn, c_fp = self.cost[0], self.cost[1]
        loss = -(c_fn * t * F.logsigmoid(logits) + c_fp * (1 - t) * F.logsigmoid(-logits))
        return loss.mean()


def make_loss(
    kind: str,
    labels: np.ndarray,
    n_classes: int,
    output: str = "softmax",
    gamma: float = 2.0,
    power: float = 1.0,
    cost: Sequence[Sequence[float]] | None = None,
) -> nn.Module:
    """Build a loss by name: none | class_weights | focal | cost (see the module docstring)."""
    if kind in ("none", "ce", "sampler", "undersample"):
        return WeightedLoss(output)
    if kind == "class_weights":
        return WeightedLoss(output, class_weights(labels, n_classes, power))
    if kind == "focal":
        return FocalLoss(output, gamma, class_weights(labels, n_classes, 0.5))
    if kind == "cost":
        if cost is None:
            raise ValueError("cost-sensitive loss needs a cost matrix")
        return CostSensitiveLoss(torch.tensor(cost, dtype=torch.float32), output)
    raise ValueError(f"unknown loss kind {kind!r}")
