"""Training loop for beat classifiers, with the imbalance strategies of the study.

One function, :func:`train_beat_model`, trains a registered beat architecture on DS1-train
beats and picks the epoch by a score on the patient-wise DS1 hold-out (never DS2):
``score = (F1_VEB + F1_SVEB) / 2`` from EC57 counts (the two classes EC57 reports), with F1
``2TP / (2TP + FN + FP)``. Same budget (epochs, batch, optimiser) for every model.

Imbalance strategies (``imbalance=``): ``none`` (plain CE), ``class_weights`` (inverse
frequency, clipped at 100x), ``focal`` (gamma 2, sqrt-inverse-frequency alpha), ``sampler``
(weighted random sampler, sqrt-inverse-frequency, epoch = dataset size), ``cost``
(CE + expected cost, missing an S or V costs 4x), ``undersample`` (each epoch a fresh random
subset of N beats, 3x the other classes together).

Augmentation (training only): amplitude x U(0.7, 1.3), Gaussian noise 0.02 mV, time shift
+-4 samples at 180 Hz (+-22 ms: the detector's R placement differs from the annotator's).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from edge_runtime.ec57 import confusion, ec57_metrics, headline
from train.beats.dataset import BeatSet
from train.beats.options import IMBALANCE  # torch-free: the parsers offer it
from train.losses import WeightedLoss, class_weights, make_loss
from train.models import build

# cost[true, predicted]; missing an ectopic beat costs more than a false alarm
COST = [
    [0, 1, 1, 1, 1],
    [4, 0, 4, 4, 4],
    [4, 4, 0, 4, 4],
    [2, 2, 1, 0, 2],
    [1, 1, 1, 1, 0],
]


@dataclass
class TrainConfig:
    arch: str = "beat_cnn_rr"
    arch_kwargs: dict = field(default_factory=dict)
    imbalance: str = "class_weights"
    epochs: int = 12
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    augment: bool = True
    threads: int = 1
    #: "best": keep the epoch with the best hold-out score; "last": keep the final epoch (the
    #: cross-validated study fixes the epoch count instead of choosing it on the held-out fold)
    select: str = "best"

    def to_dict(self) -> dict:
        return asdict(self)


def _set_seed(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def veb_sveb_score(m: dict) -> float:
    def f1(c):
        d = 2 * c["tp"] + c["fn"] + c["fp"]
        return 2 * c["tp"] / d if d else 0.0

    return 0.5 * (f1(m["veb"]) + f1(m["sveb"]))


def predict(model, x: np.ndarray, rr: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Softmax probabilities ``(n, classes)``."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i : i + batch]), torch.from_numpy(rr[i : i + batch]))
            out.append(torch.softmax(logits, dim=1).numpy())
    if not out:
        return np.zeros((0, 5), np.float32)
    return np.concatenate(out)


def evaluate_set(model, data: BeatSet) -> dict:
    pred = predict(model, data.x, data.rr).argmax(axis=1)
    return ec57_metrics(confusion(data.y, pred))


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    scale = torch.empty(n, 1, 1).uniform_(0.7, 1.3, generator=gen)
    x = x * scale + 0.02 * torch.randn(x.shape, generator=gen)
    shift = int(torch.randint(-4, 5, (1,), generator=gen))
    if shift:
        x = torch.roll(x, shift, dims=2)
        if shift > 0:
            x[:, :, :shift] = x[:, :, shift : shift + 1]
        else:
            x[:, :, shift:] = x[:, :, shift - 1 : shift]
    return x


def _epoch_indices(y: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    n = len(y)
    if cfg.imbalance == "sampler":
        w = class_weights(y, 5, power=0.5).numpy()[y]
        return rng.choice(n, size=n, replace=True, p=w / w.sum())
    if cfg.imbalance == "undersample":
        normal = np.flatnonzero(y == 0)
        other = np.flatnonzero(y != 0)
        keep = rng.choice(normal, size=min(len(normal), 3 * len(other)), replace=False)
        return rng.permutation(np.concatenate([keep, other]))
    return rng.permutation(n)


def train_beat_model(
    cfg: TrainConfig,
    train: BeatSet,
    val: BeatSet | None,
    progress: bool = True,
    log=print,
):
    """Train; return ``(best_model, history, best_epoch, best_val_metrics)``.

    ``cfg.select == "last"`` keeps the final epoch; ``val`` None skips the per-epoch check
    (then the metrics returned are None)."""
    if cfg.select not in ("best", "last"):
        raise ValueError(f"unknown epoch selection {cfg.select!r}")
    torch.set_num_threads(cfg.threads)
    _set_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    in_leads = train.x.shape[1]
    model = build(cfg.arch, in_leads=in_leads, **cfg.arch_kwargs)
    y = train.y
    if cfg.imbalance == "class_weights":
        w = class_weights(y, 5, power=1.0)
        w = torch.clamp(w, max=100 * float(w[w > 0].min()))
        loss_fn = WeightedLoss("softmax", w / w[w > 0].mean())
    elif cfg.imbalance in IMBALANCE:
        loss_fn = make_loss(cfg.imbalance, y, 5, cost=COST)
    else:
        raise ValueError(f"unknown imbalance strategy {cfg.imbalance!r}")
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = int(np.ceil(len(_epoch_indices(y, cfg, rng)) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch + 1
    )
    xt, rt, yt = torch.from_numpy(train.x), torch.from_numpy(train.rr), torch.from_numpy(y)
    history, best = [], (-1.0, 0, None, None)
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.time()
        model.train()
        idx = _epoch_indices(y, cfg, rng)
        batches = range(0, len(idx), cfg.batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(batches, desc=f"{cfg.arch} ep{epoch}", leave=False, unit="b")
        total, count = 0.0, 0
        for i in batches:
            b = torch.from_numpy(idx[i : i + cfg.batch_size])
            if len(b) < 2:
                continue
            xb = xt[b]
            if cfg.augment:
                xb = _augment(xb, gen)
            loss = loss_fn(model(xb, rt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched.last_epoch < sched.total_steps - 1:
                sched.step()
            total += float(loss.detach()) * len(b)
            count += len(b)
        if val is None:
            history.append({"epoch": epoch, "train_loss": total / max(count, 1),
                            "seconds": round(time.time() - t0, 1)})
            log(f"  epoch {epoch:2d} loss {history[-1]['train_loss']:.4f} "
                f"({history[-1]['seconds']} s)")
            if epoch == cfg.epochs:
                best = (0.0, epoch, copy.deepcopy(model.state_dict()), None)
            continue
        m = evaluate_set(model, val)
        score = veb_sveb_score(m)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / max(count, 1),
                "val_score": score,
                "val": headline(m),
                "seconds": round(time.time() - t0, 1),
            }
        )
        h = history[-1]
        log(
            f"  epoch {epoch:2d} loss {h['train_loss']:.4f} val score {score:.3f} "
            f"VEB Se/+P {h['val']['veb_se']}/{h['val']['veb_ppv']} "
            f"SVEB Se/+P {h['val']['sveb_se']}/{h['val']['sveb_ppv']} ({h['seconds']} s)"
        )
        if score > best[0] or (cfg.select == "last" and epoch == cfg.epochs):
            best = (score, epoch, copy.deepcopy(model.state_dict()), m)
    model.load_state_dict(best[2])
    model.eval()
    return model, history, best[1], best[3]
