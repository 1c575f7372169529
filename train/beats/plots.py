"""Figures for the beat study: confusion matrices, per-record Se/+P, training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_figure(reports: dict[str, dict], path: Path, title: str) -> None:
    """One heatmap per condition (``{"(a) reference positions": gross_metrics, ...}``)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(reports), figsize=(5.2 * len(reports), 4.6))
    axes = np.atleast_1d(axes)
    for ax, (name, m) in zip(axes, reports.items(), strict=True):
        cm = np.asarray(m["confusion"])
        labels = m["labels"]
        keep = [i for i in range(6) if cm[i].sum() + cm[:, i].sum() > 0]
        cm = cm[np.ix_(keep, keep)]
        lab = [labels[i] for i in keep]
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(keep)):
            for j in range(len(keep)):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(lab)), lab)
        ax.set_yticks(range(len(lab)), lab)
        ax.set_xlabel("predicted (O = not detected)")
        ax.set_ylabel("reference (O = extra detection)")
        ax.set_title(name, fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def per_record_figure(per_record: dict[str, dict], path: Path, title: str) -> None:
    """VEB and SVEB Se / +P per DS2 record (bars), reference-beat counts in the labels."""
    plt = _plt()
    recs = sorted(per_record)
    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    x = np.arange(len(recs))
    for ax, cls in zip(axes, ("veb", "sveb"), strict=True):
        se = [per_record[r][cls]["se"] for r in recs]
        ppv = [per_record[r][cls]["ppv"] for r in recs]
        n = [per_record[r][cls]["tp"] + per_record[r][cls]["fn"] for r in recs]
        ax.bar(x - 0.2, [np.nan if v is None else 100 * v for v in se], 0.4, label="Se")
        ax.bar(x + 0.2, [np.nan if v is None else 100 * v for v in ppv], 0.4, label="+P")
        ax.set_ylabel(f"{cls.upper()} %")
        ax.set_ylim(0, 105)
        ax.legend(loc="lower right", fontsize=8)
        for xi, k in zip(x, n, strict=True):
            ax.text(xi, 101, str(k), ha="center", fontsize=6)
    axes[-1].set_xticks(x, recs, rotation=90)
    fig.suptitle(title + " (numbers: reference beats of the class)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def curves_figure(histories: dict[str, list[dict]], path: Path, title: str) -> None:
    """Training loss and DS1-validation score per epoch for several runs."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, h in histories.items():
        ep = [e["epoch"] for e in h]
        a1.plot(ep, [e["train_loss"] for e in h], label=name)
        a2.plot(ep, [e["val_score"] for e in h], label=name)
    a1.set_xlabel("epoch")
    a1.set_ylabel("train loss")
    a1.set_yscale("log")
    a2.set_xlabel("epoch")
    a2.set_ylabel("DS1-val score (F1_VEB + F1_SVEB)/2")
    a2.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
