"""The chosen cross-database variant as the shipped beat checkpoint and its model card.

The checkpoint is the variant's fold ensemble (:class:`train.models.beat_ensemble.
BeatEnsemble`: the five leave-records-out fold models, softmax-averaged, with the S/V offsets
fitted on all out-of-fold predictions baked in), so ``ecgedge export build`` turns it into
one ONNX graph. The card says what the device needs (inputs, the RR feature subset the
runtime builds, the template channel) and where the numbers came from (data, folds,
validation scheme, DS2 metrics, the low-latency variant's numbers).
"""

from __future__ import annotations

from pathlib import Path

from edge_runtime.beats import RR_FEATURES
from train.beats.checkpoint import make_card, save_checkpoint
from train.beats.crossdb_cv import CVResult
from train.beats.crossdb_report import ensemble, offsets_of
from train.beats.dataset import BeatSet
from train.data.mitdb import DS1
from train.data.svdb import SVDB

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = REPO / "models" / "checkpoints" / "beat.pt"


def _metrics(res: dict, role: str) -> dict:
    fin = (res.get("final") or {}).get("variants", {}).get(role) or {}
    name = res["cv"]["chosen"].get(role) if role != "ds1_only" else "ds1_only"
    cvrow = res["cv"]["rows"].get(name) or {}
    out = {"variant": name,
           "cv_oof_cross_fitted_offsets": cvrow.get("oof_offsets_cross_fitted"),
           "cv_sveb_se_per_fold": cvrow.get("sveb_se_per_fold")}
    if fin:
        out.update({"ds2_condition_a": fin["ds2_a"], "ds2_condition_b": fin["ds2_b"],
                    "ds2_condition_b_fold_members": fin["ds2_b_members"],
                    "latency": fin["latency"]})
    return out


def ship(r: CVResult, cv: BeatSet, res: dict, cmd: str, data_dir, log,
         out: Path = CHECKPOINT) -> dict:
    """Write the ensemble checkpoint + card; returns the card."""
    from train.beats.crossdb_cv import CONFIG

    off = offsets_of(r, cv)
    model = ensemble(r, off)
    post = any("post" in f for f in r.variant.features)
    shipped = _metrics(res, "shipped")
    metrics = {
        "ds2_condition_a": shipped.get("ds2_condition_a"),
        "ds2_condition_b": shipped.get("ds2_condition_b"),
        "ds2_condition_b_fold_members": shipped.get("ds2_condition_b_fold_members"),
        "cv_oof": shipped["cv_oof_cross_fitted_offsets"],
        "cv_sveb_se_per_fold": shipped["cv_sveb_se_per_fold"],
        "low_latency_variant": _metrics(res, "low_latency"),
        "ds1_only_variant": _metrics(res, "ds1_only"),
        "source": "docs/results/beats_crossdb.json",
        "note": "DS2 = unseen patients, read once for variants chosen on CV; (b) = beats "
                "from edge_runtime.detect; fp32 torch numbers (the int8 artifact's are in "
                "docs/results/beats_crossdb.json 'int8')",
    }
    lat = (res.get("final") or {}).get("variants", {}).get("shipped", {}).get("latency", {})
    train_ids = list(DS1) + list(SVDB)
    card = make_card("beat_ensemble", model, CONFIG, ["MLII"], train_ids, [], cmd, r.seed,
                     metrics, lat)
    card["inputs"][1]["shape"] = [None, len(r.variant.features)]
    card["features"] = list(r.variant.features)
    card["latency"]["post_rr_beats"] = 1 if post else 0
    card["decision"] = {
        "kind": "log-prior offsets added inside the graph: logits = log(mean member softmax) "
                "+ offsets; the device's argmax is the calibrated decision",
        "offsets": dict(zip(card["classes"], [round(float(v), 4) for v in off], strict=True)),
        "chosen_on": "all out-of-fold CV predictions (DS1 + SVDB), grid search of "
                     "(F1_VEB + F1_SVEB)/2",
    }
    card["training"].update({
        "data": "MIT-BIH Arrhythmia Database v1.0.0 DS1 (22 records) + MIT-BIH "
                "Supraventricular Arrhythmia Database (38 records of ../shared/data/svdb, "
                "128 Hz, ECG1 as the model lead) (PhysioNet)",
        "split": "leave-records-out 5-fold CV over DS1 + SVDB (one record = one patient); "
                 "the shipped model is the ensemble of the 5 fold models (each trained on 4 "
                 "folds); test: MIT-BIH DS2 (22 records), read once; paced 102 104 107 217 "
                 "excluded",
        "validation": "out-of-fold predictions of the 5 folds: variant, features, template, "
                      "imbalance and S/V offsets chosen there; epochs fixed",
        "folds": res["cv"]["folds"],
        "epochs_per_member": r.epochs,
        "members": len(r.states),
        "member_arch": r.variant.arch,
        "variant": r.variant.to_dict(),
        "command": cmd + " && ecgedge export build models/checkpoints/beat.pt",
        "rr_features_available": list(RR_FEATURES),
    })
    kw = {"member_arch": r.variant.arch, "n_members": len(r.states),
          "member_kwargs": dict(r.arch_kwargs)}
    save_checkpoint(out, "beat_ensemble", kw, model, card)
    log(f"checkpoint ({r.variant.name}, {len(r.states)} fold members) -> {out}")
    return card
