"""One training run end to end: train on DS1-train, select on DS1-val, test on DS2 (a and b).

Also the leaky comparison: the same model trained on a random *beat-level* split of all 44
records (beats of every test patient are in training), shown only to explain why beat-level
accuracies of ~0.99 in the prior work do not transfer to unseen patients.
"""

from __future__ import annotations

import numpy as np
import torch

from edge_runtime.beats import BeatConfig
from edge_runtime.ec57 import ec57_report, headline
from train.beats.dataset import DS1_TRAIN, DS1_VAL, BeatSet
from train.beats.evaluate import DetectedSet, evaluate_a, evaluate_b
from train.beats.train import TrainConfig, evaluate_set, train_beat_model
from train.models.beat_cnn import count_macs


def model_size(model, config: BeatConfig, leads: int) -> dict:
    x = torch.zeros(1, leads, config.length)
    rr = torch.ones(1, 7)
    params = sum(p.numel() for p in model.parameters())
    return {"params": int(params), "macs": count_macs(model, x, rr),
            "int8_weights_kib_est": round(params / 1024, 1)}


def run_inter_patient(
    cfg: TrainConfig,
    beats: BeatSet,
    det: DetectedSet | None,
    config: BeatConfig,
    progress: bool = False,
    log=print,
) -> tuple[dict, torch.nn.Module]:
    """Train on DS1-train, pick epoch on DS1-val, evaluate once on DS2 (conditions a, b)."""
    lab = beats.labelled()
    tr, va = lab.records(DS1_TRAIN), lab.records(DS1_VAL)
    from train.data.mitdb import DS2

    ds2 = beats.records(DS2)
    model, hist, best_epoch, val_m = train_beat_model(cfg, tr, va, progress=progress, log=log)
    out = {
        "config": cfg.to_dict(),
        "split": "inter-patient DS1->DS2",
        "train_records": list(DS1_TRAIN),
        "val_records": list(DS1_VAL),
        "n_train": {**tr.counts(), "total": len(tr)},
        "best_epoch": best_epoch,
        "val": headline(val_m),
        "history": hist,
        "size": model_size(model, config, beats.x.shape[1]),
        "ds2_a": evaluate_a(model, ds2),
    }
    if det is not None:
        out["ds2_b"] = evaluate_b(model, det)
    return out, model


def run_leaky(cfg: TrainConfig, beats: BeatSet, config: BeatConfig, log=print) -> dict:
    """Random beat-level 80/10/10 split over all 44 records (leaky; comparison only)."""
    lab = beats.labelled()
    rng = np.random.default_rng(1234 + cfg.seed)
    perm = rng.permutation(len(lab))
    n = len(lab)
    te, va, tr = perm[: n // 10], perm[n // 10 : n // 5], perm[n // 5 :]
    sel = lambda idx: lab.subset(np.isin(np.arange(n), idx))  # noqa: E731
    model, hist, best_epoch, val_m = train_beat_model(cfg, sel(tr), sel(va), progress=False,
                                                      log=log)
    test = sel(te)
    m = evaluate_set(model, test)
    from train.beats.train import predict

    pred = predict(model, test.x, test.rr).argmax(axis=1)
    return {
        "config": cfg.to_dict(),
        "split": "LEAKY random beat-level 80/10/10 over all 44 records (same patients in "
        "train and test)",
        "best_epoch": best_epoch,
        "val": headline(val_m),
        "test": headline(m),
        "test_report": ec57_report(test.y, pred, test.record)["gross"],
        "history": hist,
    }
