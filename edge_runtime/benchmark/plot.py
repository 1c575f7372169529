"""The pipeline benchmark's figure (matplotlib is optional: without it, no figure)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def plot_pipeline(results: dict, path: Path, stages: tuple[str, ...]) -> None:
    """Bar charts of x real time per stage and beat latency per variant (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        print("matplotlib missing: no plot", file=sys.stderr)
        return
    vs = results["variants"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    names = list(vs)
    width = 0.8 / max(len(names), 1)
    for k, v in enumerate(names):
        vals = [vs[v]["x_real_time_per_stage"][s] or 0 for s in stages] + [
            vs[v]["x_real_time_total"]]
        axes[0].bar(np.arange(len(stages) + 1) + k * width, vals, width, label=v)
    axes[0].set_xticks(np.arange(len(stages) + 1) + width * (len(names) - 1) / 2)
    axes[0].set_xticklabels([*stages, "total"])
    axes[0].set_yscale("log")
    axes[0].axhline(1000, color="r", ls="--", lw=1, label="target 1000x")
    axes[0].set_ylabel("x real time (one core)")
    axes[0].legend()
    for v in names:
        axes[1].bar(v, vs[v]["beat_latency_s"]["p99"], color="C1")
        axes[1].bar(v, vs[v]["beat_latency_s"]["p50"], color="C0")
    axes[1].axhline(0.3, color="r", ls="--", lw=1, label="target p99 0.3 s")
    axes[1].set_ylabel("beat latency, s of signal (p50 blue, p99 orange)")
    axes[1].legend()
    fig.suptitle("ecgedge bedside pipeline on MIT-BIH (all records, one core)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)

