"""Tables of the cross-database study: CV ablation (OOF), final DS2 / SVDB rows, error table.

Numbers are EC57 gross statistics (:mod:`edge_runtime.ec57`) in percent. ``cv_section`` reads
only out-of-fold predictions of DS1 + SVDB; ``final_section`` is where DS2 is read, once, for
variants already chosen on CV.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.ec57 import confusion, ec57_metrics, headline
from train.beats.crossdb_cv import CVResult, variant_inputs
from train.beats.dataset import BeatSet
from train.beats.thresholds import apply_offsets, fit_offsets
from train.beats.train import veb_sveb_score
from train.data.mitdb import DS1
from train.data.svdb import SVDB

__all__ = ["cv_section", "final_section", "offsets_of", "ensemble", "error_table"]

HEAD = ("veb_se", "veb_ppv", "sveb_se", "sveb_ppv", "accuracy")


def _h(y: np.ndarray, pred: np.ndarray) -> dict:
    m = ec57_metrics(confusion(y, pred))
    return {**{k: headline(m)[k] for k in HEAD}, "score": round(veb_sveb_score(m), 4)}


def _sd(values: list[float | None]) -> dict:
    v = np.array([x for x in values if x is not None], dtype=float)
    return {"values": [None if x is None else round(x, 2) for x in values],
            "mean": round(float(v.mean()), 2) if v.size else None,
            "sd": round(float(v.std(ddof=1)), 2) if v.size > 1 else None}


def offsets_of(r: CVResult, cv: BeatSet) -> np.ndarray:
    """Offsets fitted on all OOF rows the variant may tune on (DS1 rows for DS1-only)."""
    fit = _fit_rows(r, cv)
    return fit_offsets(r.prob[fit], cv.y[fit])


def _fit_rows(r: CVResult, cv: BeatSet) -> np.ndarray:
    if r.variant.train_db == "ds1":
        return np.isin(cv.record, DS1)
    return np.ones(len(cv), dtype=bool)


def _variant_row(r: CVResult, cv: BeatSet) -> dict:
    y, prob = cv.y, r.prob
    arg = prob.argmax(axis=1)
    fit = _fit_rows(r, cv)
    cross = np.empty(len(y), dtype=np.int64)
    for k in np.unique(r.fold):  # offsets from the other folds' tunable rows
        m = r.fold == k
        cross[m] = apply_offsets(prob[m], fit_offsets(prob[~m & fit], y[~m & fit]))
    parts = {"all": np.ones(len(y), bool), "ds1": np.isin(cv.record, DS1),
             "svdb": np.isin(cv.record, SVDB)}
    per_fold = [ec57_metrics(confusion(y[r.fold == k], cross[r.fold == k]))
                for k in range(len(r.folds))]
    return {
        "variant": r.variant.to_dict(),
        "epochs": r.epochs, "seed": r.seed, "fold_seconds": r.seconds,
        "oof_argmax": {p: _h(y[m], arg[m]) for p, m in parts.items()},
        "oof_offsets_cross_fitted": {p: _h(y[m], cross[m]) for p, m in parts.items()},
        "sveb_se_per_fold": _sd([None if f["sveb"]["se"] is None else 100 * f["sveb"]["se"]
                                 for f in per_fold]),
        "veb_se_per_fold": _sd([None if f["veb"]["se"] is None else 100 * f["veb"]["se"]
                                for f in per_fold]),
        "offsets_all_oof": offsets_of(r, cv).tolist(),
        "score": _h(y, cross)["score"],
    }


def cv_section(results: dict[str, CVResult], cv: BeatSet, folds, epochs: int, cmd: str,
               prev: dict | None) -> dict:
    rows = dict((prev or {}).get("rows", {}))
    for name, r in results.items():
        rows[name] = _variant_row(r, cv)
    both = {n: v for n, v in rows.items() if v["variant"]["train_db"] == "ds1+svdb"}
    causal = {n: v for n, v in both.items()
              if not any("post" in f for f in v["variant"]["features"])}
    chosen = {
        "shipped": max(both, key=lambda n: both[n]["score"]) if both else None,
        "low_latency": max(causal, key=lambda n: causal[n]["score"]) if causal else None,
        "rule": "highest CV score (F1_VEB + F1_SVEB)/2 on pooled out-of-fold DS1+SVDB "
                "predictions with cross-fitted S/V offsets, among variants trained on "
                "DS1+SVDB; the low-latency choice is the best variant without post-RR "
                "features. DS2 never read.",
    }
    return {"cv": {
        "command": cmd,
        "folds": folds,
        "fold_rule": "train.beats.folds.make_folds (seed 16, 5 folds, records stratified "
                     "by S then V counts; one record = one patient)",
        "n_beats": {**cv.counts(), "total": len(cv)},
        "epochs": epochs,
        "epoch_rule": "fixed epoch count (last epoch kept), no epoch chosen on held-out folds",
        "rows": rows,
        "chosen": chosen,
    }}


def ensemble(r: CVResult, offsets: np.ndarray):
    """The variant's fold models as one :class:`BeatEnsemble` with ``offsets``."""
    import torch

    from train.models.beat_ensemble import BeatEnsemble

    model = BeatEnsemble(r.variant.arch, len(r.states), r.arch_kwargs)
    for m, s in zip(model.members, r.states, strict=True):
        m.load_state_dict(s)
    model.offsets.copy_(torch.as_tensor(offsets, dtype=torch.float32))
    return model.eval()


def _member(r: CVResult, k: int, offsets: np.ndarray):
    from train.models.beat_ensemble import BeatEnsemble

    m = ensemble(r, offsets)
    one = BeatEnsemble(r.variant.arch, 1, r.arch_kwargs)
    one.members[0].load_state_dict(m.members[k].state_dict())
    one.offsets.copy_(m.offsets)
    return one.eval()


def _det_view(det, r: CVResult):
    from train.beats.evaluate import DetectedSet

    return DetectedSet(variant_inputs(det.beats, r.variant), det.decided_at, det.ref_record,
                       det.ref_sample, det.ref_y)


def error_table(report: dict) -> dict:
    """Per-record S and V counts of an ``ec57_report`` (where the errors are)."""
    out = {}
    for rec, m in report["per_record"].items():
        s, v = m["sveb"], m["veb"]
        out[rec] = {"S_n": s["tp"] + s["fn"], "S_tp": s["tp"], "S_fn": s["fn"], "S_fp": s["fp"],
                    "V_n": v["tp"] + v["fn"], "V_tp": v["tp"], "V_fn": v["fn"], "V_fp": v["fp"]}
    return out


def final_section(results: dict[str, CVResult], beats: BeatSet, cv: BeatSet, chosen: dict,
                  cmd: str, data_dir, log) -> dict:
    """DS2 (a)/(b) of the chosen variants and the cross-database rows (reads DS2 once)."""
    from train.beats.crossdb_cv import CONFIG
    from train.beats.evaluate import detected_beats, evaluate_a, evaluate_b, latency_summary
    from train.data.mitdb import DS2

    det2 = detected_beats(DS2, CONFIG, data_dir, progress=False)
    ds2 = beats.records(DS2)
    out: dict = {"command": cmd, "variants": {}}
    roles = {"shipped": chosen.get("shipped"), "low_latency": chosen.get("low_latency"),
             "with_post_rr": "base", "ds1_only": "ds1_only"}
    done: dict[str, str] = {}
    for role, name in roles.items():
        if name is None or name not in results:
            continue
        if name in done:  # the same variant in two roles: evaluated once
            out["variants"][role] = {**out["variants"][done[name]], "same_as": done[name]}
            continue
        done[name] = role
        r = results[name]
        off = offsets_of(r, cv)
        model = ensemble(r, off)
        post = any("post" in f for f in r.variant.features)
        log(f"[final] {role} = {name}: DS2 (a), (b)")
        a = evaluate_a(model, variant_inputs(ds2, r.variant))
        b = evaluate_b(model, _det_view(det2, r))
        row = {"variant": name, "offsets": off.tolist(),
               "ds2_a": headline(a["gross"]), "ds2_b": headline(b["gross"]),
               "latency": latency_summary(det2, CONFIG, post_rr=post)}
        members = [headline(evaluate_b(_member(r, k, off), _det_view(det2, r))["gross"])
                   for k in range(len(r.states))]
        row["ds2_b_members"] = {"sveb_se": _sd([m["sveb_se"] for m in members]),
                                "sveb_ppv": _sd([m["sveb_ppv"] for m in members]),
                                "veb_se": _sd([m["veb_se"] for m in members]),
                                "veb_ppv": _sd([m["veb_ppv"] for m in members])}
        if role == "shipped":
            row["ds2_b_errors"] = error_table(b)
            row["ds2_a_errors"] = error_table(a)
            row["confusion_b"] = b["gross"]["confusion"]
        if role == "ds1_only":  # never trained on SVDB: all 38 records are unseen
            log("[final] ds1_only on SVDB (a), (b)")
            detsv = detected_beats(SVDB, CONFIG, data_dir, progress=False)
            row["svdb_a"] = headline(evaluate_a(model, variant_inputs(beats.records(SVDB),
                                                                        r.variant))["gross"])
            row["svdb_b"] = headline(evaluate_b(model, _det_view(detsv, r))["gross"])
        out["variants"][role] = row
    return out

