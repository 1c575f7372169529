"""Leave-records-out CV of beat-model variants over MIT-BIH DS1 + SVDB (out-of-fold predictions).

A *variant* fixes everything the study compares: the training databases (DS1 + SVDB, or DS1
alone), the RR features (all seven, or without the post-RR pair: the low-latency model that
labels a beat ~0.5 s after its R), the template channel, the imbalance handling. For each of
the :mod:`train.beats.folds` folds a model is trained on the other folds' records (restricted
to DS1 for a DS1-only variant) for a fixed number of epochs (no epoch chosen on the held-out
fold), and predicts the held-out fold's records. The pooled out-of-fold (OOF) probabilities
are what every choice is made on; the fold models are kept and become the shipped fold
ensemble. DS2 is not read here.

Results are cached under ``runs/beats/crossdb/`` keyed by the variant, the folds, the epochs
and the seed, so a rerun resumes.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from edge_runtime.beats import RR_FEATURES, BeatConfig
from train.beats.dataset import CACHE_DIR, BeatSet
from train.beats.train import TrainConfig, predict, train_beat_model
from train.data.mitdb import DS1

__all__ = ["CONFIG", "Variant", "VARIANTS", "LOW_LATENCY_FEATURES", "CVResult", "run_variant",
           "variant_inputs"]

RUN_DIR = CACHE_DIR / "crossdb"
#: The beat front end of the study: the shipped config (template channel of 32 beats).
CONFIG = BeatConfig(template_beats=32)
#: The causal subset: every RR feature but the post-RR pair (no wait for the next beat).
LOW_LATENCY_FEATURES: tuple[str, ...] = tuple(f for f in RR_FEATURES if "post" not in f)


@dataclass(frozen=True)
class Variant:
    name: str
    train_db: str = "ds1+svdb"  # or "ds1"
    features: tuple[str, ...] = RR_FEATURES
    template: bool = True
    imbalance: str = "class_weights"
    arch: str = "beat_cnn_rr"
    note: str = ""

    @property
    def rr_cols(self) -> list[int]:
        return [RR_FEATURES.index(f) for f in self.features]

    def to_dict(self) -> dict:
        return asdict(self)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("base", note="DS1+SVDB, 7 RR features, template channel, class weights"),
    Variant("low_latency", features=LOW_LATENCY_FEATURES,
            note="as base without post_rr/post_rr_norm (labelled ~0.5 s after R)"),
    Variant("ds1_only", train_db="ds1", note="as base, trained on DS1 records only"),
    Variant("no_template", template=False, note="as base without the beat-minus-template "
            "channel"),
    Variant("undersample", imbalance="undersample",
            note="as base, N undersampled to 3x the other classes per epoch, plain CE"),
)}


def variant_inputs(beats: BeatSet, v: Variant) -> BeatSet:
    """The variant's view of beats cut with the template config: channel 0 (the beat, the
    same samples a no-template config cuts) alone when ``template`` is off, its RR columns."""
    x = beats.x if v.template else np.ascontiguousarray(beats.x[:, :1])
    return BeatSet(x, np.ascontiguousarray(beats.rr[:, v.rr_cols]), beats.y, beats.record,
                   beats.sample)


@dataclass
class CVResult:
    variant: Variant
    folds: list[list[str]]
    epochs: int
    seed: int
    prob: np.ndarray  # (n, 5) OOF probabilities, aligned with the CV beats
    fold: np.ndarray  # (n,) held-out fold of each beat
    states: list[dict] = field(default_factory=list)  # fold models' state dicts
    arch_kwargs: dict = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)


def _key(v: Variant, folds, epochs: int, seed: int, n: int) -> str:
    blob = json.dumps({"v": v.to_dict(), "folds": folds, "epochs": epochs, "seed": seed,
                       "n": n}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def run_variant(v: Variant, cv: BeatSet, folds: list[list[str]], epochs: int, seed: int = 0,
                width: int = 16, log=print) -> CVResult:
    """Train one model per fold (others' records) and predict the held-out fold."""
    path = RUN_DIR / f"{v.name}_{_key(v, folds, epochs, seed, len(cv))}.pt"
    if path.is_file():
        z = torch.load(path, map_location="cpu", weights_only=True)
        log(f"[{v.name}] cached CV run {path.name}")
        return CVResult(v, folds, epochs, seed, z["prob"].numpy(), z["fold"].numpy(),
                        z["states"], z["arch_kwargs"], z["seconds"])
    data = variant_inputs(cv, v)
    kw = {"in_leads": int(data.x.shape[1]), "width": width, "n_rr": len(v.features)}
    prob = np.full((len(cv), 5), np.nan, dtype=np.float32)
    fold = np.full(len(cv), -1, dtype=np.int64)
    states, secs = [], []
    for k, held in enumerate(folds):
        out = np.isin(data.record, held)
        train_mask = ~out & (np.isin(data.record, DS1) if v.train_db == "ds1" else True)
        tr = data.subset(train_mask)
        cfg = TrainConfig(arch=v.arch, arch_kwargs={"width": width, "n_rr": len(v.features)},
                          imbalance=v.imbalance, epochs=epochs, seed=seed, select="last")
        t = time.time()
        log(f"[{v.name}] fold {k}: train {len(tr)} beats ({len(set(tr.record.tolist()))} "
            f"records), hold out {int(out.sum())} ({len(held)} records)")
        model, _, _, _ = train_beat_model(cfg, tr, None, progress=False, log=log)
        prob[out] = predict(model, data.x[out], data.rr[out])
        fold[out] = k
        states.append({n: t_.detach().clone() for n, t_ in model.state_dict().items()})
        secs.append(round(time.time() - t, 1))
        log(f"[{v.name}] fold {k} done in {secs[-1]} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"prob": torch.from_numpy(prob), "fold": torch.from_numpy(fold),
                "states": states, "arch_kwargs": kw, "seconds": secs}, path)
    return CVResult(v, folds, epochs, seed, prob, fold, states, kw, secs)


def cv_beats(beats: BeatSet, records) -> BeatSet:
    """The labelled beats of the CV records (DS1 + SVDB)."""
    return beats.labelled().records(list(records))


def record_counts(cv: BeatSet) -> dict[str, dict[str, int]]:
    """Reference AAMI counts per record (what the folds are stratified on)."""
    from train.beats.dataset import CLASS_INDEX

    out: dict[str, dict[str, int]] = {}
    for r in sorted(set(cv.record.tolist())):
        y = cv.y[cv.record == r]
        out[r] = {c: int((y == i).sum()) for c, i in CLASS_INDEX.items()}
    return out
