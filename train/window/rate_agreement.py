"""100 Hz vs 500 Hz input of the same records through the shipped window models (issue 18).

``python -m train.window.rate_agreement`` runs ``models/{hyp,findings6}.int8.onnx`` (and
fp32) with the runtime's own record path (:func:`edge_runtime.windowing.record_windows`: at
500 Hz the causal resampler, then the card's filter and normalisation) on every PTB-XL record
that has both files (ecg_id 1-500 in this copy), once from PhysioNet's 100 Hz file and once
from the 500 Hz file, and reports per class: the decision agreement at each operating point,
Cohen's kappa, the probability differences and AUROC at each rate (HYP: vs all comers and vs
NORM-only). The records span all folds (training ones included): this measures the input
path, not generalisation. Writes ``docs/results/window_rate_agreement.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
from pathlib import Path

import numpy as np

from edge_runtime.inference import Model
from edge_runtime.provenance import provenance
from edge_runtime.windowing import record_windows
from train.data import ptbxl
from train.window import metrics as M
from train.window.data import REPO_ROOT
from train.window.hyp_screen import hyp_labels
from train.window.train import write_json


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two boolean decision vectors (NaN if chance agreement is 1)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    po = float((a == b).mean())
    pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return (po - pe) / (1 - pe) if pe < 1 else float("nan")


def probabilities(model: Model, raw: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One 10 s window per record through the runtime path -> ((n, classes), inputs)."""
    card = model.card
    li = [ptbxl.LEADS.index(lead) for lead in card["leads"]]
    x = np.concatenate([record_windows(r[:, li], fs, card)[0][:1] for r in raw])
    return model.predict(**{card["inputs"][0]["name"]: x}), x


def rule_agreement(card: dict, x1: np.ndarray, x5: np.ndarray) -> dict:
    """Decisions of the card's rate/rhythm rules (:mod:`edge_runtime.rhythm_rules`) on the
    same windows at both input rates: agreement and heart-rate differences."""
    from edge_runtime.rhythm_rules import card_rule_classes, window_rule_decisions

    classes = card_rule_classes(card)
    if not classes:
        return {}
    r1 = [window_rule_decisions(card, w) for w in x1]
    r5 = [window_rule_decisions(card, w) for w in x5]
    hr1 = np.array([e["hr_bpm"] if e["hr_bpm"] is not None else np.nan for e, _ in r1])
    hr5 = np.array([e["hr_bpm"] if e["hr_bpm"] is not None else np.nan for e, _ in r5])
    out = {"hr_abs_diff_bpm": {"mean": float(np.nanmean(np.abs(hr1 - hr5))),
                               "p95": float(np.nanpercentile(np.abs(hr1 - hr5), 95)),
                               "max": float(np.nanmax(np.abs(hr1 - hr5)))}}
    for c, src in classes.items():
        a = np.array([d[c] for _, d in r1])
        b = np.array([d[c] for _, d in r5])
        out[c] = {"source": src, "agreement": float((a == b).mean()), "kappa": kappa(a, b),
                  "positive_100hz": int(a.sum()), "positive_500hz": int(b.sum())}
    return out


def compare(model: Model, raw100: np.ndarray, raw500: np.ndarray, meta) -> dict:
    """Per-class agreement of one artifact between the two input rates."""
    card = model.card
    (p1, x1), (p5, x5) = probabilities(model, raw100, 100.0), probabilities(model, raw500, 500.0)
    classes = list(card["classes"])
    if card["task"] == "hyp":
        y, hn = hyp_labels(meta)
        labels = {"vs_all": (y[:, None], np.ones(len(y), bool)), "vs_norm": (y[:, None], hn)}
    else:
        labels = {"findings": (meta.findings, np.ones(len(meta), bool))}
    out = {}
    for j, c in enumerate(classes):
        d = np.abs(p1[:, j] - p5[:, j])
        row = {"mean_abs_diff": float(d.mean()), "p95_abs_diff": float(np.percentile(d, 95)),
               "max_abs_diff": float(d.max())}
        for op, th in (card.get("operating_points") or {}).items():
            a, b = p1[:, j] >= th[c], p5[:, j] >= th[c]
            row[op] = {"threshold": th[c], "agreement": float((a == b).mean()),
                       "kappa": kappa(a, b), "positive_100hz": int(a.sum()),
                       "positive_500hz": int(b.sum()), "n_differ": int((a != b).sum())}
        for name, (yy, m) in labels.items():
            row[f"auroc_{name}"] = {"100hz": M.auroc(yy[m, j], p1[m, j]),
                                    "500hz": M.auroc(yy[m, j], p5[m, j]), "n": int(m.sum()),
                                    "n_pos": int(yy[m, j].sum())}
        out[c] = row
    rules = rule_agreement(card, x1, x5)
    if rules:
        out["_rules"] = rules
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="hyp.int8.onnx,hyp.fp32.onnx,findings6.int8.onnx,"
                    "findings6.fp32.onnx", help="artifacts under models/, comma-separated")
    ap.add_argument("--json", default=str(REPO_ROOT / "docs" / "results" /
                                          "window_rate_agreement.json"), help="report path")
    ap.add_argument("--previous", help="an earlier report of this script (e.g. of the models "
                    "shipped before): its models are kept under previous_models")
    args = ap.parse_args(argv)
    import json

    previous = json.loads(Path(args.previous).read_text()) if args.previous else None
    meta_all = ptbxl.load_metadata()
    both = ptbxl.available_mask(meta_all, fs=100) & ptbxl.available_mask(meta_all, fs=500)
    meta = meta_all.subset(both)
    raw100, _, _ = ptbxl.load_waveforms(meta, fs=100)
    raw500, _, _ = ptbxl.load_waveforms(meta, fs=500)
    rep = {"command": "python -m train.window.rate_agreement", "n_records": int(len(meta)),
           "ecg_ids": [int(meta.ecg_id.min()), int(meta.ecg_id.max())],
           "folds": {int(f): int((meta.strat_fold == f).sum()) for f in np.unique(meta.strat_fold)},
           "path": "edge_runtime.windowing.record_windows (500 Hz: StreamingResampler -> card "
                   "filter -> normalisation); first 10 s window of each record",
           "models": {}}
    for name in args.models.split(","):
        model = Model(REPO_ROOT / "models" / name)
        tr = model.card.get("training", {})
        rep["models"][name] = {"label_task": model.card.get("label_task", model.card["task"]),
                               "training_source": tr.get("source", "records100"),
                               "card_created": model.card.get("created"),
                               "classes": compare(model, raw100, raw500, meta)}
        print(name, {c: (r.get("balanced", {}).get("agreement"), round(r["mean_abs_diff"], 4))
                     for c, r in rep["models"][name]["classes"].items() if c != "_rules"},
              rep["models"][name]["classes"].get("_rules"), flush=True)
    if previous:
        rep["previous_models"] = {"git_commit": previous.get("git_commit"),
                                  "created": previous.get("created"),
                                  "models": previous["models"]}
    rep["machine"] = {"cpu": platform.processor() or platform.machine(),
                      "python": platform.python_version()}
    rep.update(provenance())
    rep["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    write_json(rep, Path(args.json))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
