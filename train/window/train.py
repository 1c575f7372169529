"""Train and evaluate one window model run (HYP vs NORM, six findings, or 5 superclasses).

One run = one config: build the task's data (folds 1-8 / 9 / 10), fit the per-lead
normalisation on the training folds, train with early stopping on validation AUROC, choose the
operating points on validation (screening: sensitivity >= 0.95; balanced: Youden), then touch
the test fold once and report metrics with 95% bootstrap CIs over test patients. Every run
returns a JSON-able report; :func:`save_checkpoint` writes the checkpoint + model card.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from edge_runtime.provenance import provenance
from edge_runtime.windowing import WINDOW_FS, WINDOW_SECONDS, fit_normalisation, normalise
from train import distributed, losses
from train.checkpoint import read_checkpoint
from train.checkpoint import save_checkpoint as _save_checkpoint
from train.models import build
from train.models.complexity import count_params
from train.models.window_cnn import count_macs
from train.window import metrics as M
from train.window.augment import augment_batch
from train.window.cards import TASK_DEFINITION, runtime_task, training_data_text
from train.window.data import Conditioned, TaskData, build_task


@dataclass
class TrainConfig:
    """Everything that defines a run (stored verbatim in its JSON and model card)."""

    task: str = "hyp"
    arch: str = "window_se_cnn"
    source: str = "records100"  # training waveforms: records100 or device (train.window.data)
    arch_kwargs: dict = field(default_factory=dict)
    lead_set: str = "12"
    balance: str = "none"
    cost_fn_fp: float = 5.0  # explicit FN:FP cost ratio for balance="cost"
    focal_gamma: float = 2.0
    augment: bool = True
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8
    seed: int = 0
    init: str | None = None  # checkpoint to fine-tune from (pre-trained backbone)
    finetune: str = "full"
    n_boot: int = 1000
    evaluate_test: bool = True


# --------------------------------------------------------------------------- losses
def make_loss(cfg: TrainConfig, y_train: np.ndarray) -> nn.Module:
    """Loss for the configured balancing method, from the shared :mod:`train.losses`.

    weighted: BCE with ``pos_weight = n_neg / n_pos`` per class (inverse frequency; the shared
    ``class_weights`` normalises across classes, which for one binary output is a no-op, so the
    positive weight is computed here); focal: sigmoid focal loss, gamma 2; cost: BCE with an
    explicit false-negative cost ``cost_fn_fp`` and false-positive cost 1. sampler and
    undersample change what is drawn, not the loss (plain BCE).
    """
    n_cls = y_train.shape[1]
    pos = y_train.sum(axis=0)
    neg = len(y_train) - pos
    if cfg.balance == "weighted":
        pw = torch.tensor(neg / np.maximum(pos, 1), dtype=torch.float32)
        return losses.WeightedLoss("sigmoid", pw)
    if cfg.balance == "focal":
        return losses.FocalLoss("sigmoid", cfg.focal_gamma)
    if cfg.balance == "cost":
        cost = torch.tensor([[cfg.cost_fn_fp] * n_cls, [1.0] * n_cls], dtype=torch.float32)
        return losses.CostSensitiveLoss(cost, "sigmoid")
    return losses.WeightedLoss("sigmoid")


def _train_indices(cfg: TrainConfig, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-epoch training order: shuffled, class-balanced sampled, or NORM under-sampled."""
    n = len(y)
    if cfg.balance == "sampler":
        # weight each record by the inverse frequency of its rarest positive label (or of the
        # all-negative group): every class is drawn about equally often
        pos = y.sum(axis=0)
        inv = np.where(y > 0, 1.0 / np.maximum(pos, 1), 0.0).max(axis=1)
        neg_w = 1.0 / max(int((y.sum(axis=1) == 0).sum()), 1)
        w = np.where(inv > 0, inv, neg_w)
        return rng.choice(n, size=n, replace=True, p=w / w.sum())
    if cfg.balance == "undersample":
        posi = np.flatnonzero(y.max(axis=1) > 0)
        negi = np.flatnonzero(y.max(axis=1) == 0)
        negi = rng.choice(negi, size=min(len(negi), len(posi)), replace=False)
        return rng.permutation(np.r_[posi, negi])
    return rng.permutation(n)


# --------------------------------------------------------------------------- model helpers
def _set_trainable(model: nn.Module, mode: str) -> None:
    """Fine-tuning regimes: frozen = head only; partial = last conv stage + head; full = all."""
    for p in model.parameters():
        p.requires_grad = mode == "full"
    for p in model.head.parameters():
        p.requires_grad = True
    if mode == "partial":
        last = model.blocks[-1] if hasattr(model, "blocks") else _last_stage(model.body)
        for p in last.parameters():
            p.requires_grad = True


def _last_stage(body: nn.Sequential) -> nn.Module:
    """The last conv block (+ its SE gate) of a WindowCNN body."""
    mods = list(body)
    start = max(i for i, m in enumerate(mods) if isinstance(m, nn.Sequential))
    return nn.ModuleList(mods[start:])


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """Sigmoid probabilities for normalised inputs (n, C, L)."""
    model.eval()
    dev = next(model.parameters()).device  # CPU, or this rank's GPU under torchrun
    out = []
    for i in range(0, len(x), batch):
        out.append(torch.sigmoid(model(torch.from_numpy(x[i : i + batch]).to(dev))).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1))


def _macro_auroc(y: np.ndarray, p: np.ndarray) -> float:
    vals = [M.auroc(y[:, j], p[:, j]) for j in range(y.shape[1])]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def _val_scores(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(validation BCE, validation macro AUROC): the early-stopping evidence of an epoch."""
    pv = predict_proba(model, x)
    vloss = float(nn.functional.binary_cross_entropy(
        torch.from_numpy(pv).clamp(1e-6, 1 - 1e-6), torch.from_numpy(y)))
    return vloss, _macro_auroc(y, pv)


# --------------------------------------------------------------------------- one run
def run(cfg: TrainConfig, cond: Conditioned, quiet: bool = False) -> tuple[nn.Module, dict]:
    """Train + validate (+ test once) one config; returns (best model, report dict).

    Under torchrun (:mod:`train.distributed`) every rank trains its shard of each global
    batch; only rank 0 validates, evaluates and gets a report (other ranks return ``{}``).
    """
    t0 = time.time()
    ddp = distributed.current()
    ddp.check_batch(cfg.batch_size)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)  # the epoch order: the same on every rank
    gen = torch.Generator().manual_seed(ddp.rank_seed(cfg.seed))
    torch.set_num_threads(1)
    assert cond.source == cfg.source, (cond.source, cfg.source)
    data: TaskData = build_task(cond, cfg.task, cfg.lead_set)
    tr, va, te = (data.split[k] for k in ("train", "val", "test"))
    # normalisation from the training folds only, in the device's (samples, leads) layout
    norm = fit_normalisation(np.swapaxes(data.x[tr], 1, 2), data.leads)
    xs = {
        k: np.ascontiguousarray(
            np.swapaxes(normalise(np.swapaxes(data.x[idx], 1, 2), norm), 1, 2)
        )
        for k, idx in data.split.items()
    }
    ys = {k: data.y[idx] for k, idx in data.split.items()}

    kwargs = {"n_leads": len(data.leads), "n_classes": len(data.classes), **cfg.arch_kwargs}
    model = build(cfg.arch, **kwargs)
    if cfg.init:
        ck = read_checkpoint(cfg.init)
        state = {k: v for k, v in ck["state_dict"].items() if not k.startswith("head.")}
        missing, _ = model.load_state_dict(state, strict=False)
        assert all(k.startswith("head.") for k in missing), missing
        _set_trainable(model, cfg.finetune)
    ddp.seed_rank_streams(cfg.seed)
    net = ddp.wrap(model)  # DDP under torchrun; ``model`` stays the unwrapped module
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
    loss_fn = make_loss(cfg, ys["train"]).to(ddp.device)

    curves: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_auroc": []}
    best, best_state, best_epoch, bad = -np.inf, None, -1, 0
    bar = tqdm(range(cfg.epochs), desc=f"{cfg.task}/{cfg.arch}/{cfg.balance}/s{cfg.seed}",
               disable=quiet or not ddp.is_main, leave=False, file=sys.stderr)
    for epoch in bar:
        model.train()
        if cfg.init and cfg.finetune == "frozen":
            model.eval()  # frozen backbone keeps its BN statistics
        order = _train_indices(cfg, ys["train"], rng)
        tot, nb = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            bi = order[i : i + cfg.batch_size]
            if not ddp.keep_batch(len(bi)):
                continue
            bi = ddp.shard(bi)  # this rank's part of the global batch (all of it alone)
            xb = torch.from_numpy(xs["train"][bi])
            if cfg.augment:
                xb = augment_batch(xb, gen)
            xb, yb = ddp.to_device(xb, torch.from_numpy(ys["train"][bi]))
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach())
            nb += 1
        ddp.sync_buffers(model)  # all ranks hold rank 0's BN statistics
        vloss, vauc = ddp.from_main(lambda: _val_scores(model, xs["val"], ys["val"]))
        tloss = ddp.mean_loss(tot, nb)
        curves["train_loss"].append(tloss)
        curves["val_loss"].append(vloss)
        curves["val_auroc"].append(vauc)
        sched.step(vauc)
        bar.set_postfix(loss=f"{tloss:.3f}", val_auroc=f"{vauc:.3f}")
        if vauc > best + 1e-4:
            best, best_state, best_epoch, bad = vauc, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.cpu().eval()
    if not ddp.is_main:
        return model, {}  # evaluation, operating points and files: rank 0 only

    # operating points on validation
    pv = predict_proba(model, xs["val"])
    ops = {"screening": {}, "balanced": {}}
    for j, c in enumerate(data.classes):
        if ys["val"][:, j].sum() > 0:
            ops["screening"][c] = M.screening_threshold(ys["val"][:, j], pv[:, j], 0.95)
            ops["balanced"][c] = M.youden_threshold(ys["val"][:, j], pv[:, j])
        else:
            ops["screening"][c] = ops["balanced"][c] = 0.5
    half = {c: 0.5 for c in data.classes}
    report = {
        "config": asdict(cfg),
        "task": cfg.task,
        "classes": data.classes,
        "leads": data.leads,
        "data": data.info,
        "model": {"params": count_params(model),
                  "macs": count_macs(model, len(data.leads), data.x.shape[2])},
        "best_epoch": best_epoch,
        "epochs_run": len(curves["val_auroc"]),
        "curves": curves,
        "normalisation": norm,
        "operating_points": ops,
        "val": {"macro_auroc": _macro_auroc(ys["val"], pv),
                "balanced": M.multilabel_report(ys["val"], pv, data.classes, ops["balanced"])},
    }
    if cfg.evaluate_test:
        pt = predict_proba(model, xs["test"])
        pats = data.meta.patient_id[te]
        report["test"] = {
            "macro_auroc": _macro_auroc(ys["test"], pt),
            **{name: M.multilabel_report(ys["test"], pt, data.classes, th, pats, cfg.n_boot,
                                         cfg.seed)
               for name, th in (("at_0.5", half), ("screening", ops["screening"]),
                                ("balanced", ops["balanced"]))},
        }
        report["test_predictions"] = {
            "ecg_id": data.meta.ecg_id[te].tolist(),
            "patient_id": pats.tolist(),
            "y": ys["test"].astype(int).tolist(),
            "p": np.round(pt, 5).tolist(),
        }
    report["seconds"] = round(time.time() - t0, 1)
    report["_state"] = {"norm": norm, "kwargs": kwargs, "train_ids": data.meta.ecg_id[tr].tolist()}
    return model, report


def model_card(cfg: TrainConfig, report: dict, command: str) -> dict:
    """The ecgedge.model_card/1 dict for a trained window model."""
    st = report["_state"]
    return {
        "schema": "ecgedge.model_card/1",
        "task": runtime_task(cfg.task),
        "label_task": cfg.task,
        "task_definition": TASK_DEFINITION.get(cfg.task, {}),
        "arch": cfg.arch,
        "classes": report["classes"],
        "output": "sigmoid",
        "inputs": [{"name": "x", "shape": [None, len(report["leads"]), 1000],
                    "dtype": "float32"}],
        "fs": WINDOW_FS,
        "leads": report["leads"],
        "window": {"seconds": WINDOW_SECONDS, "samples": int(WINDOW_FS * WINDOW_SECONDS)},
        "preprocessing": {"filter": report["data"].get("filter", {
            "highpass": 0.5, "lowpass": 40.0, "notch": None, "order": 2}),
            "normalisation": st["norm"]},
        "features": [],
        "operating_points": report["operating_points"],
        "training": {
            "data": training_data_text(report["data"].get("source", "records100")),
            "source": report["data"].get("source", "records100"),
            "split": "strat_fold 1-8 train, 9 validation, 10 test (patient-disjoint)",
            "ids_hash": report["data"]["ids_hash"]["train"],
            "train_ids": st["train_ids"],
            "command": command,
            "seed": cfg.seed,
            "config": report["config"],
            "curves": report["curves"],
        },
        "metrics": {k: report["test"][k] for k in ("macro_auroc", "screening", "balanced")}
        if "test" in report else {},
        "model": report["model"],
        **provenance(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def save_checkpoint(model: nn.Module, cfg: TrainConfig, report: dict, path: Path,
                    command: str) -> dict:
    """Write ``{"arch", "arch_kwargs", "state_dict", "card"}`` (the shared contract)."""
    card = model_card(cfg, report, command)
    _save_checkpoint(path, cfg.arch, report["_state"]["kwargs"], model, card)
    return card


def public(report: dict) -> dict:
    """The report without private fields, ready for JSON."""
    return {k: v for k, v in report.items() if not k.startswith("_")}


def write_json(obj: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=float, allow_nan=True) + "\n")
