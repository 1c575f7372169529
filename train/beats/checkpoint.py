"""Beat-model checkpoints and their model cards (the contract shared with export/runtime)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from edge_runtime.beats import RR_FEATURES, BeatConfig
from edge_runtime.provenance import git_commit, ids_hash, provenance
from edge_runtime.records import AAMI_CLASSES
from train import checkpoint as _ck

REPO = Path(__file__).resolve().parents[2]
__all__ = ["make_card", "save_checkpoint", "load_checkpoint", "git_commit", "ids_hash"]


def make_card(
    arch: str,
    model,
    config: BeatConfig,
    leads: list[str],
    train_ids: list[str],
    val_ids: list[str],
    command: str,
    seed: int,
    metrics: dict,
    latency: dict | None = None,
) -> dict:
    """Model card per the project's ``ecgedge.model_card/1`` schema."""
    uses_rr = bool(getattr(model, "uses_rr", False))
    chans = len(leads) * config.channels_per_lead
    inputs = [{"name": "x", "shape": [None, chans, config.length], "dtype": "float32"}]
    if uses_rr:
        inputs.append({"name": "rr", "shape": [None, len(RR_FEATURES)], "dtype": "float32"})
    return {
        "schema": "ecgedge.model_card/1",
        "task": "beat",
        "arch": arch,
        "classes": list(AAMI_CLASSES),
        "output": "softmax",
        "inputs": inputs,
        "fs": float(config.fs),
        "leads": list(leads),
        "window": {"before": config.before, "after": config.after},
        "preprocessing": {
            "filter": {"highpass": config.highpass, "lowpass": config.lowpass,
                       "notch": config.notch, "order": config.order, "causal": True,
                       "applied_at": "native rate, before resampling"},
            "resampling": "edge_runtime.dsp.StreamingResampler (causal polyphase)",
            "normalisation": {"kind": "subtract_window_median", "units": "mV"},
            "rr": {"local_beats": config.local_beats, "long_beats": config.long_beats},
            "template": ({"beats": config.template_beats,
                          "kind": "per-sample median of the previous beats' windows",
                          "channels": "per lead: [beat, beat - template]"}
                         if config.template_beats > 0 else None),
            "code": "edge_runtime.beats.BeatWindower",
        },
        "features": list(RR_FEATURES) if uses_rr else [],
        "operating_points": {},
        "latency": {"post_rr_beats": 1 if uses_rr else 0, **(latency or {})},
        "training": {
            "data": "MIT-BIH Arrhythmia Database v1.0.0 (PhysioNet)",
            "split": "inter-patient de Chazal 2004: DS1 train/val (patient-wise hold-out), "
            "DS2 test; paced 102 104 107 217 excluded",
            "ids_hash": ids_hash(train_ids),
            "train_ids": list(train_ids),
            "val_ids": list(val_ids),
            "command": command,
            "seed": int(seed),
        },
        "metrics": metrics,
        **provenance(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def save_checkpoint(path: Path, arch: str, arch_kwargs: dict, model, card: dict) -> None:
    """Write the shared checkpoint format (:func:`train.checkpoint.save_checkpoint`)."""
    _ck.save_checkpoint(path, arch, arch_kwargs, model, card)


def load_checkpoint(path):
    """``(model in eval mode, card)``; one-line error if the file is missing or not a beat model."""
    ck = _ck.load_checkpoint(path, task="beat")
    return ck.model, ck.card
