"""Model size and compute: parameter and multiply-accumulate counts (reported for a Pi budget).

One implementation for every architecture (beat and window models): MACs are counted with
forward hooks from the shapes Conv1d, Linear and GRU layers actually see on one example, so
the count follows the real forward pass (strides, pooling) without a separate formula per model.
BN, ReLU, pooling and SE scaling are a rounding error next to these and are not counted.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["count_params", "count_macs"]


def count_params(model: nn.Module) -> int:
    """Trainable parameter count."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, *inputs: torch.Tensor | None) -> int:
    """Multiply-accumulates of one forward pass on one example (batch 1).

    ``inputs`` are the model's forward arguments; only their first item is used.
    """
    total = 0

    def conv_hook(m: nn.Conv1d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0]

    def lin_hook(m: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() // out.shape[0] * m.in_features

    def gru_hook(m: nn.GRU, inp, _out) -> None:
        nonlocal total
        steps = inp[0].shape[1] if m.batch_first else inp[0].shape[0]
        total += steps * 3 * m.hidden_size * (m.input_size + m.hidden_size)

    kinds = ((nn.Conv1d, conv_hook), (nn.Linear, lin_hook), (nn.GRU, gru_hook))
    hooks = [m.register_forward_hook(h) for m in model.modules()
             for kind, h in kinds if isinstance(m, kind)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*(None if t is None else t[:1] for t in inputs))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return int(total)
