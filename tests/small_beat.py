"""A small test-only beat model with its card, random splits and a checkpoint writer, for the
export tests that need a real torch model but not a trained one (imports torch: import it
only after ``pytest.importorskip("torch")``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.datasets import Split
from train.models import register

N = 48  # samples per beat window
ARCH = "test_small_beat"


@register(ARCH)
class SmallBeat(nn.Module):
    """Test-only beat model (conv + RR -> 5 logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU())
        self.fc = nn.Linear(4 + 2, 5)

    def forward(self, x: torch.Tensor, rr: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([self.conv(x).mean(dim=2), rr], dim=1))


def card() -> dict:
    return {
        "schema": "ecgedge.model_card/1", "task": "beat", "arch": ARCH,
        "classes": ["N", "S", "V", "F", "Q"], "output": "softmax",
        "inputs": [{"name": "x", "shape": [None, 1, N], "dtype": "float32"},
                   {"name": "rr", "shape": [None, 2], "dtype": "float32"}],
        "fs": 180.0, "leads": ["MLII"], "window": {"before": 16, "after": 32},
        "training": {"train_ids": ["t1"]},
    }


def split(n: int, seed: int) -> Split:
    """``n`` random beats (windows, RR features, labels) from ``seed``."""
    rng = np.random.default_rng(seed)
    return Split({"x": rng.standard_normal((n, 1, N)).astype(np.float32),
                  "rr": rng.uniform(0.4, 1.4, (n, 2)).astype(np.float32)},
                 rng.integers(0, 5, n), [f"r{seed}"])


def write_checkpoint(path: Path) -> Path:
    """An untrained SmallBeat (seed 0) in the training checkpoint format."""
    torch.manual_seed(0)
    torch.save({"arch": ARCH, "arch_kwargs": {}, "state_dict": SmallBeat().eval().state_dict(),
                "card": card()}, path)
    return path
