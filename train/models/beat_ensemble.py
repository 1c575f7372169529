"""A fold/seed ensemble of beat models with calibrated decision offsets, as ONE graph.

``beat_ensemble`` holds ``n_members`` copies of one beat architecture (same kwargs, their own
weights: e.g. the five leave-records-out fold models) and outputs

    logits = log(mean_k softmax(member_k(x, rr))) + offsets

``offsets`` (one per class, a buffer saved with the weights) are the log-prior shifts chosen
on out-of-fold cross-validation predictions (:mod:`train.beats.thresholds`): adding ``b_c`` to
a log-probability is the same as moving that class's decision threshold, so the device's
unchanged ``argmax(softmax(logits))`` makes the calibrated S/V decisions, and the softmax the
runtime applies gives the renormalised, shifted probabilities. Everything is plain ops
(softmax, mean, log, add): it exports and quantizes like its members.
"""

from __future__ import annotations

import torch
from torch import nn

from train.models import build, register


@register("beat_ensemble")
class BeatEnsemble(nn.Module):
    """Mean of the members' softmax, in log space, plus per-class decision offsets."""

    def __init__(self, member_arch: str = "beat_cnn_rr", n_members: int = 1,
                 member_kwargs: dict | None = None, n_classes: int = 5) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(
            build(member_arch, n_classes=n_classes, **(member_kwargs or {}))
            for _ in range(n_members)
        )
        self.uses_rr = bool(getattr(self.members[0], "uses_rr", False))
        self.register_buffer("offsets", torch.zeros(n_classes))

    def forward(self, x: torch.Tensor, rr: torch.Tensor | None = None) -> torch.Tensor:
        p = torch.stack([torch.softmax(m(x, rr), dim=1) for m in self.members]).mean(dim=0)
        return torch.log(torch.clamp(p, min=1e-6)) + self.offsets
