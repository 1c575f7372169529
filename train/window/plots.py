"""Plots for window-model reports: ROC, PR, confusion matrices, training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from train.window import metrics as M  # noqa: E402


def roc_pr(y: np.ndarray, p: np.ndarray, classes: list[str], title: str, path: Path) -> None:
    """ROC and PR curves, one line per class (test fold)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    for j, c in enumerate(classes):
        if y[:, j].sum() == 0:
            continue
        fpr, tpr, _ = M.roc_curve(y[:, j], p[:, j])
        auc, npos = M.auroc(y[:, j], p[:, j]), int(y[:, j].sum())
        a.plot(fpr, tpr, label=f"{c} (AUROC {auc:.3f}, n+={npos})")
        rec, prec = M.pr_curve(y[:, j], p[:, j])
        b.plot(rec, prec, label=f"{c} (AP {M.auprc(y[:, j], p[:, j]):.3f})")
    a.plot([0, 1], [0, 1], "k:", lw=0.8)
    a.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC: {title}")
    b.set(xlabel="recall (sensitivity)", ylabel="precision", title=f"PR: {title}")
    for ax in (a, b):
        ax.legend(fontsize=7, loc="lower right" if ax is a else "lower left")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion(y: np.ndarray, p: np.ndarray, classes: list[str], ops: dict, title: str,
              path: Path) -> None:
    """2x2 confusion matrix per class at each operating point."""
    names = list(ops)
    fig, axes = plt.subplots(len(names), len(classes), figsize=(2.3 * len(classes) + 0.5,
                                                              2.3 * len(names)), squeeze=False)
    for i, op in enumerate(names):
        for j, c in enumerate(classes):
            t = ops[op][c]
            pred = p[:, j] >= t
            yy = y[:, j] > 0
            cm = np.array([[(~yy & ~pred).sum(), (~yy & pred).sum()],
                           [(yy & ~pred).sum(), (yy & pred).sum()]])
            ax = axes[i, j]
            ax.imshow(cm, cmap="Blues")
            for (r, q), v in np.ndenumerate(cm):
                ax.text(q, r, str(v), ha="center", va="center", fontsize=9)
            ax.set_xticks([0, 1], ["pred -", "pred +"], fontsize=7)
            ax.set_yticks([0, 1], ["true -", "true +"], fontsize=7)
            ax.set_title(f"{c} @{op}\nthr {t:.3f}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curves(curves_by_run: dict[str, dict], title: str, path: Path) -> None:
    """Training loss and validation AUROC per epoch for several runs (e.g. seeds)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for label, cv in curves_by_run.items():
        a.plot(cv["train_loss"], label=f"{label} train")
        a.plot(cv["val_loss"], "--", label=f"{label} val")
        b.plot(cv["val_auroc"], label=label)
    a.set(xlabel="epoch", ylabel="loss", title=f"loss: {title}")
    b.set(xlabel="epoch", ylabel="validation (macro) AUROC", title="validation AUROC (fold 9)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def forest(rows: list[dict], title: str, path: Path,
           keys: tuple[str, ...] = ("auroc", "auprc", "f1", "sensitivity", "specificity")) -> None:
    """One panel per metric: mean over seeds (dot), each seed (x), seed-0 95% CI (bar)."""
    fig, axes = plt.subplots(1, len(keys), figsize=(3.0 * len(keys), 0.45 * len(rows) + 1.4),
                             sharey=True)
    ys = np.arange(len(rows))[::-1]
    for ax, k in zip(axes, keys, strict=True):
        for y0, r in zip(ys, rows, strict=True):
            lo, hi = r[k]["ci95_seed0"]
            ax.plot([lo, hi], [y0, y0], color="0.6", lw=2)
            ax.plot(r[k]["values"], [y0] * len(r[k]["values"]), "x", color="C1", ms=4)
            ax.plot([r[k]["mean"]], [y0], "o", color="C0")
        ax.set_title(k, fontsize=9)
        ax.set_xlim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_yticks(ys, [r["row"] for r in rows], fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
