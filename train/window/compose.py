"""Make shippable window checkpoints out of study runs: slice heads, join seeds into one graph.

* :func:`slice_heads`: a multi-task run (``task multi``: HYP, six findings, superclass heads)
  becomes a single-task checkpoint by keeping the rows of its last linear layer for the wanted
  classes: the same network, bit for bit, with fewer outputs.
* :func:`ensemble`: runs of one config that differ only in seed become one
  ``window_ensemble`` checkpoint (logits averaged inside the graph).

The card of the result keeps the first run's normalisation (every run of one source fits the
same training folds, so the statistics are identical; :func:`ensemble` checks it) and gets
its ``classes``, ``task``, ``label_task``, ``task_definition`` and operating points rewritten by
the caller (:mod:`train.window.allcomers`).
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from train.checkpoint import load_checkpoint
from train.checkpoint import save_checkpoint as _save
from train.models import build


def _head_linear(model: torch.nn.Module) -> torch.nn.Linear:
    lin = model.head.fc
    assert isinstance(lin, torch.nn.Linear)
    return lin


def slice_heads(src: str | Path, classes: list[str]) -> tuple[torch.nn.Module, dict, dict]:
    """(model with only ``classes`` as outputs, arch_kwargs, card copy) from checkpoint ``src``."""
    ck = load_checkpoint(src, validate=False)
    have = list(ck.card["classes"])
    rows = [have.index(c) for c in classes]
    kwargs = {**ck.arch_kwargs, "n_classes": len(classes)}
    model = build(ck.arch, **kwargs)
    state = dict(ck.model.state_dict())
    w, b = "head.fc.weight", "head.fc.bias"
    state[w] = state[w][rows].clone()
    state[b] = state[b][rows].clone()
    model.load_state_dict(state, strict=True)
    model.eval()
    card = copy.deepcopy(ck.card)
    card["classes"] = list(classes)
    card["sliced_from"] = {"classes": have, "kept": list(classes)}
    return model, kwargs, card


def ensemble(models: list[torch.nn.Module], member_arch: str, kwargs: dict) -> tuple[
        torch.nn.Module, dict]:
    """One ``window_ensemble`` holding ``models`` (same arch and kwargs) -> (model, kwargs)."""
    ek = {"member_arch": member_arch, "n_members": len(models),
          "n_leads": int(kwargs["n_leads"]), "n_classes": int(kwargs["n_classes"]),
          "member_kwargs": {k: v for k, v in kwargs.items() if k not in ("n_leads", "n_classes")}}
    ens = build("window_ensemble", **ek)
    for dst, src in zip(ens.members, models, strict=True):
        dst.load_state_dict(src.state_dict(), strict=True)
    ens.eval()
    return ens, ek


def save(path: str | Path, arch: str, kwargs: dict, model: torch.nn.Module, card: dict) -> None:
    """Write a checkpoint through the one writer (:func:`train.checkpoint.save_checkpoint`)."""
    card = {**card, "arch": arch}
    _save(Path(path), arch, kwargs, model, card)
