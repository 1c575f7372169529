"""``ecgedge eval window --checkpoint models/checkpoints/hyp.pt``: test-fold report of a saved
window model at its card's operating points, with patient-bootstrap CIs, plots and saliency.

The model is rebuilt from the checkpoint and fed through the card's own normalisation, so the
numbers are those of the artifact that export turns into ONNX, not of an in-memory copy.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import torch

from edge_runtime.errors import EcgEdgeError
from edge_runtime.windowing import normalise, to_model_layout
from train.window.options import eval_parser

REPO_ROOT = Path(__file__).resolve().parents[2]


def _curves_from_study(card: dict) -> dict | None:
    """Training curves of the run that produced this checkpoint (card or headline JSON)."""
    tr = card.get("training", {})
    if "curves" in tr:
        return tr["curves"]
    path = REPO_ROOT / "docs" / "results" / "window_headline.json"
    if not path.is_file():
        return None
    runs = json.loads(path.read_text()).get("runs", {}).get(card["task"], {})
    for reps in runs.values():
        for r in reps:
            if r.get("config") == tr.get("config"):
                return r.get("curves")
    return None


def evaluate_checkpoint(ckpt_path: Path, split: str = "test", data_dir=None,
                        figures: Path | None = None, n_saliency: int = 2, n_boot: int = 1000,
                        seed: int = 0) -> dict:
    """Metrics (+ figures) of one saved checkpoint on fold 9 ('val') or 10 ('test')."""
    from train.checkpoint import load_checkpoint
    from train.window import metrics as M
    from train.window.data import build_task, load_conditioned

    ck = load_checkpoint(ckpt_path, validate=False)  # super5 is a training-only task
    card, model = ck.card, ck.model
    from train.window.cards import label_task

    cond = load_conditioned(data_dir, source=card.get("training", {}).get("source",
                                                                          "records100"))
    td = build_task(cond, label_task(card), "12")
    li = [td.leads.index(lead) for lead in card["leads"]]
    idx = td.split[split]
    x_mv = td.x[idx][:, li, :]
    x = to_model_layout(normalise(np.swapaxes(x_mv, 1, 2), card["preprocessing"]["normalisation"]))
    with torch.no_grad():
        p = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    y = td.y[idx]
    pats = td.meta.patient_id[idx]
    classes = card["classes"]
    ops = card["operating_points"]
    rep = {
        "checkpoint": str(ckpt_path),
        "task": card["task"],
        "arch": card["arch"],
        "leads": card["leads"],
        "split": split,
        "n": int(len(idx)),
        "macro_auroc": float(np.nanmean([M.auroc(y[:, j], p[:, j]) for j in range(len(classes))])),
        "operating_points": ops,
        **{op: M.multilabel_report(y, p, classes, ops[op], pats, n_boot, seed) for op in ops},
    }
    if figures is not None:
        from train.window import plots
        from train.window.saliency import grad_cam, strip_png

        figures.mkdir(parents=True, exist_ok=True)
        tag = f"window_{card['task']}"
        title = f"{card['task']} {card['arch']} ({len(card['leads'])} leads), fold {split}"
        plots.roc_pr(y, p, classes, title, figures / f"{tag}_roc_pr.png")
        plots.confusion(y, p, classes, ops, title, figures / f"{tag}_confusion.png")
        cv = _curves_from_study(card)
        if cv:
            plots.curves({f"seed {card['training'].get('seed')}": cv}, title,
                         figures / f"{tag}_curves.png")
        saved = []
        ecg = td.meta.ecg_id[idx]
        for j, c in enumerate(classes):
            pos = np.flatnonzero(y[:, j] > 0)
            pos = pos[np.argsort(-p[pos, j])][:n_saliency]
            picks = [(i, "true +") for i in pos]
            if len(classes) == 1:  # HYP: also show the most confident NORM record
                neg = np.flatnonzero(y[:, j] == 0)
                picks.append((neg[np.argmin(p[neg, j])], "true -"))
            for i, kind in picks:
                _, heat = grad_cam(model, x[i], j, 1.0 if kind == "true +" else -1.0)
                name = f"{tag}_saliency_{c}_{int(ecg[i])}.png"
                strip_png(x_mv[i], heat, card["leads"],
                          f"ecg_id {int(ecg[i])} ({kind} {c}), p({c}) = {p[i, j]:.3f}; "
                          "Grad-CAM x |grad x input| per lead", figures / name)
                saved.append(name)
        rep["figures"] = sorted(f.name for f in figures.glob(f"{tag}_*.png"))
        rep["saliency"] = saved
    return rep


def main(argv: list[str]) -> int:
    args = eval_parser().parse_args(argv)
    path = Path(args.checkpoint)
    if not path.is_file():
        raise EcgEdgeError(f"checkpoint not found: {path}")
    rep = evaluate_checkpoint(path, args.split, args.data_dir,
                              Path(args.figures) if args.figures else None, args.saliency,
                              args.n_boot)
    rep["command"] = "ecgedge eval window " + " ".join(shlex.quote(a) for a in argv)
    for op in rep["operating_points"]:
        for c, m in rep[op]["per_class"].items():
            flag = "  (too few positives)" if m["too_few_positives"] else ""
            print(f"{rep['task']} {op:9s} {c:6s} n+={m['n_pos']:3d} AUROC "
                  f"{m['auroc']['value']:.3f} F1 {m['f1']['value']:.3f} sens "
                  f"{m['sensitivity']['value']:.3f} spec {m['specificity']['value']:.3f}{flag}")
    print(f"macro AUROC {rep['macro_auroc']:.3f}")
    if args.json:
        from train.window.train import write_json

        write_json(rep, Path(args.json))
    return 0
