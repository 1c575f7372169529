"""Loading training checkpoints into eval-mode modules, with one-line errors.

A checkpoint is ``torch.save({"arch", "arch_kwargs", "state_dict", "card"})`` (the contract
shared by the training issues). Export rebuilds the module through the registry in
:mod:`train.models`, loads the weights *strictly* (a checkpoint that does not match its
architecture is refused rather than silently half-loaded) and validates the card with the
runtime's own :func:`edge_runtime.inference.validate_card`, so nothing is exported that the
device would later refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import validate_card

_KEYS = ("arch", "arch_kwargs", "state_dict", "card")


@dataclass
class Checkpoint:
    """A rebuilt model (eval mode, CPU, float32) and its card."""

    path: Path
    model: nn.Module
    card: dict[str, Any]
    arch: str
    arch_kwargs: dict[str, Any]

    @property
    def input_names(self) -> list[str]:
        return [s["name"] for s in self.card["inputs"]]


def _first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read ``path``, rebuild its architecture and load the weights strictly."""
    from train.models import build

    p = Path(path)
    if not p.is_file():
        raise EcgEdgeError(f"checkpoint not found: {p}")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EcgEdgeError(f"{p}: not a readable torch checkpoint ({_first_line(exc)})") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in _KEYS):
        have = sorted(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
        raise EcgEdgeError(f"{p}: checkpoint must hold {', '.join(_KEYS)} (has {have})")
    card = validate_card(ckpt["card"], source=f"{p}: card")
    arch, kwargs = ckpt["arch"], dict(ckpt["arch_kwargs"] or {})
    if card["arch"] != arch:
        raise EcgEdgeError(f"{p}: card arch {card['arch']!r} differs from checkpoint arch {arch!r}")
    try:
        model = build(arch, **kwargs)
    except KeyError as exc:
        raise EcgEdgeError(f"{p}: {exc.args[0]}") from None
    except TypeError as exc:
        raise EcgEdgeError(f"{p}: arch_kwargs do not fit '{arch}' ({_first_line(exc)})") from None
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        msg = " ".join(str(exc).split())[:240]
        raise EcgEdgeError(f"{p}: weights do not match architecture '{arch}': {msg}") from None
    model = model.float().eval()
    return Checkpoint(p, model, card, arch, kwargs)


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
