"""Beat-model checkpoints and their model cards (the contract shared with export/runtime)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import subprocess
from pathlib import Path

import torch

from edge_runtime.beats import RR_FEATURES, BeatConfig
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import AAMI_CLASSES
from train.models import build

REPO = Path(__file__).resolve().parents[2]


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def ids_hash(ids) -> str:
    return hashlib.sha1(",".join(sorted(map(str, ids))).encode()).hexdigest()[:12]


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
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def save_checkpoint(path: Path, arch: str, arch_kwargs: dict, model, card: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"arch": arch, "arch_kwargs": arch_kwargs, "state_dict": model.state_dict(),
                "card": card}, path)


def load_checkpoint(path):
    """``(model in eval mode, card)``; one-line error if the file is missing or not a beat model."""
    p = Path(path)
    if not p.is_file():
        raise EcgEdgeError(f"checkpoint not found: {path}")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise EcgEdgeError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(ck, dict) or ck.get("card", {}).get("task") != "beat":
        raise EcgEdgeError(f"{path} is not a beat-model checkpoint")
    model = build(ck["arch"], **ck["arch_kwargs"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    return model, ck["card"]
