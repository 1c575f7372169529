"""Model registry: every trainable architecture registers itself under a name.

Checkpoints store ``arch`` + ``arch_kwargs``, so export and evaluation can rebuild the exact
module with :func:`build` without knowing which file defines it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

_REGISTRY: dict[str, type] = {}
# Modules that define architectures; each registers its classes on import.
_MODEL_MODULES: list[str] = [
    "train.models.window_cnn",
    "train.models.window_ensemble",
    "train.models.beat_cnn",
    "train.models.beat_ensemble",
]


def register(name: str) -> Callable[[type], type]:
    """Class decorator: make ``name`` buildable by :func:`build`."""

    def deco(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name registered twice: {name}")
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_all() -> None:
    for mod in _MODEL_MODULES:
        importlib.import_module(mod)


def available() -> list[str]:
    """Names of all registered architectures."""
    _load_all()
    return sorted(_REGISTRY)


def build(arch: str, **kwargs):
    """Instantiate a registered architecture."""
    _load_all()
    if arch not in _REGISTRY:
        raise KeyError(f"unknown architecture '{arch}' (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[arch](**kwargs)
