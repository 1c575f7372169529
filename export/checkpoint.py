"""Checkpoints for export: the shared loader plus helpers to run the eager model.

Loading lives in :mod:`train.checkpoint` (one loader for training, evaluation and export,
weights-only, strict, card validated with the runtime's own
:func:`edge_runtime.inference.validate_card`); it is re-exported here so export code and its
callers keep one import path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from train.checkpoint import Checkpoint, load_checkpoint

__all__ = ["Checkpoint", "load_checkpoint", "example_inputs", "torch_logits"]


def example_inputs(card: dict[str, Any], batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 inputs shaped as the card says (for tracing and smoke tests)."""
    rng = np.random.default_rng(seed)
    return {
        s["name"]: rng.standard_normal((batch, *s["shape"][1:])).astype(np.float32)
        for s in card["inputs"]
    }


@torch.no_grad()
def torch_logits(
    model: nn.Module, inputs: dict[str, np.ndarray], names: list[str], batch: int = 256
) -> np.ndarray:
    """Run the eager model in batches; inputs are passed positionally in card order."""
    n = next(iter(inputs.values())).shape[0]
    outs = []
    for i in range(0, n, batch):
        args = [torch.from_numpy(np.ascontiguousarray(inputs[k][i : i + batch])) for k in names]
        outs.append(model(*args).float().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), dtype=np.float32)
