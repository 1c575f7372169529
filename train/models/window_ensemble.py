"""Seed ensemble of window models inside one graph (one exported artifact, one card).

``(batch, leads, samples) -> mean of the members' logits``: the members share the input, so
the graph runs them side by side and one int8 export quantises all of them. Logits are
averaged (not probabilities): the output stays a logit, as every window card's ``output:
sigmoid`` contract expects.
"""

from __future__ import annotations

import torch
from torch import nn

from train.models import build, register


@register("window_ensemble")
class WindowEnsemble(nn.Module):
    """``n_members`` copies of ``member_arch`` (each with ``member_kwargs``), logits averaged."""

    def __init__(self, member_arch: str = "window_se_cnn", n_members: int = 3,
                 n_leads: int = 12, n_classes: int = 1,
                 member_kwargs: dict | None = None) -> None:
        super().__init__()
        kw = {"n_leads": n_leads, "n_classes": n_classes, **(member_kwargs or {})}
        self.members = nn.ModuleList(build(member_arch, **kw) for _ in range(n_members))
        self.member_arch = member_arch

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The first member's last feature map (for saliency)."""
        return self.members[0].features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members], dim=0).mean(dim=0)
