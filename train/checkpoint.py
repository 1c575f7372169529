"""The one reader/writer of training checkpoints (beats, windows, export all use it).

A checkpoint is ``{"arch", "arch_kwargs", "state_dict", "card"}`` written by ``torch.save``
and holding only tensors and plain containers (dict, list, str, int, float, bool, None), so
it is always read with ``torch.load(weights_only=True)``: a checkpoint path given on a
command line is never unpickled into arbitrary objects. :func:`save_checkpoint` converts
numpy scalars/arrays in the card to plain values (and refuses anything else) before writing.
Files written before that rule that hold numpy scalars in their card still load: the numpy
scalar/dtype reconstructors (data only, no code) are the only globals allowed on top of
torch's weights-only set.

:func:`load_checkpoint` rebuilds the module through :mod:`train.models`, loads the weights
*strictly* (a checkpoint that does not match its architecture is refused, not half-loaded)
and validates the card with the runtime's own :func:`edge_runtime.inference.validate_card`,
so nothing is evaluated or exported that the device would later refuse. Every failure is a
one-line :class:`EcgEdgeError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge_runtime.errors import EcgEdgeError

KEYS = ("arch", "arch_kwargs", "state_dict", "card")


def _numpy_globals() -> list:
    """numpy's scalar/dtype reconstructors: what old cards with numpy scalars need."""
    core = getattr(np, "_core", None) or np.core
    out: list = [core.multiarray.scalar, np.dtype]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return out


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


def first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:limit]


def plain(obj: Any, where: str = "card") -> Any:
    """``obj`` as plain JSON-like values (numpy scalars/arrays, tuples, Paths converted);
    raises ``TypeError`` naming the first value that is none of these."""
    if isinstance(obj, np.generic):  # before float: np.float64 subclasses float
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    raise TypeError(f"{where}: {type(obj).__name__} is not allowed in a checkpoint")


def save_checkpoint(
    path: str | Path, arch: str, arch_kwargs: dict, model: nn.Module, card: dict
) -> None:
    """Write the shared checkpoint format (tensors + plain containers only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"arch": str(arch), "arch_kwargs": plain(dict(arch_kwargs), "arch_kwargs"),
                "state_dict": state, "card": plain(card)}, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict (weights-only load, the four keys checked, card made plain)."""
    p = Path(path)
    if not p.is_file():
        raise EcgEdgeError(f"checkpoint not found: {p}")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EcgEdgeError(f"{p}: not a readable torch checkpoint ({first_line(exc)})") from None
    if not isinstance(ck, dict) or any(k not in ck for k in KEYS):
        have = sorted(ck) if isinstance(ck, dict) else type(ck).__name__
        raise EcgEdgeError(f"{p}: checkpoint must hold {', '.join(KEYS)} (has {have})")
    ck["card"] = plain(ck["card"]) if isinstance(ck["card"], dict) else ck["card"]
    ck["arch_kwargs"] = plain(dict(ck["arch_kwargs"] or {}), "arch_kwargs")
    return ck


def load_checkpoint(
    path: str | Path, task: str | None = None, validate: bool = True
) -> Checkpoint:
    """Read ``path``, check the card (and its ``task`` if given), rebuild strictly.

    ``validate=False`` skips the runtime's card check (training-only tasks the device does
    not run, e.g. ``super5``); the card must still be a dict naming the same arch.
    """
    from edge_runtime.inference import validate_card
    from train.models import build

    p = Path(path)
    ckpt = read_checkpoint(p)
    card = ckpt["card"]
    if validate:
        card = validate_card(card, source=f"{p}: card")
    elif not isinstance(card, dict) or "arch" not in card or "task" not in card:
        raise EcgEdgeError(f"{p}: card must be an object with 'arch' and 'task'")
    if task is not None and card["task"] != task:
        raise EcgEdgeError(f"{p}: a {card['task']!r} checkpoint, expected a {task!r} model")
    arch, kwargs = ckpt["arch"], ckpt["arch_kwargs"]
    if card["arch"] != arch:
        raise EcgEdgeError(f"{p}: card arch {card['arch']!r} differs from checkpoint arch {arch!r}")
    try:
        model = build(arch, **kwargs)
    except KeyError as exc:
        raise EcgEdgeError(f"{p}: {exc.args[0]}") from None
    except TypeError as exc:
        raise EcgEdgeError(f"{p}: arch_kwargs do not fit '{arch}' ({first_line(exc)})") from None
    try:
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        msg = " ".join(str(exc).split())[:240]
        raise EcgEdgeError(f"{p}: weights do not match architecture '{arch}': {msg}") from None
    model = model.float().eval()
    return Checkpoint(p, model, card, arch, kwargs)


__all__ = ["Checkpoint", "KEYS", "load_checkpoint", "plain", "read_checkpoint",
           "save_checkpoint"]
