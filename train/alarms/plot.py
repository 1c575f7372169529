"""Plot of the alarm benchmark: per alarm type Se/+P bars, false alarms/h by noise SNR.

matplotlib is optional (the ``plot`` extra); it is imported only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

from edge_runtime.errors import EcgEdgeError

__all__ = ["plot_alarms"]


def plot_alarms(out: dict, path: str | Path) -> None:
    """Left: episode Se and alarm +P per alarm type for each record set (all severities);
    right: arrhythmia and crisis alarms per hour of noise against SNR, per noise type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = out.get("sets", {})
    noise = out.get("noise", {})
    ncol = int(bool(sets)) + int(bool(noise))
    if ncol == 0:
        raise EcgEdgeError("nothing to plot")
    fig, axes = plt.subplots(1, ncol, figsize=(7.5 * ncol, 4.8), squeeze=False)
    ax_i = 0
    if sets:
        ax = axes[0, ax_i]
        ax_i += 1
        types = []
        for agg in sets.values():
            for key, r in agg["rows"].items():
                t, sev = key.split("/")
                if sev == "any" and r["judged"] and t not in types and (r["episodes"] or
                                                                         r["alarms"]):
                    types.append(t)
        width = 0.8 / (2 * len(sets))
        for j, (name, agg) in enumerate(sets.items()):
            for m, (metric, hatch) in enumerate((("sensitivity", ""), ("ppv", "//"))):
                vals = [(agg["rows"].get(f"{t}/any") or {}).get(metric) for t in types]
                xs = [i + (2 * j + m - len(sets) + 0.5) * width for i in range(len(types))]
                ax.bar(xs, [v if v is not None else 0 for v in vals], width, hatch=hatch,
                       color=f"C{j}", alpha=0.9 if m == 0 else 0.55,
                       label=f"{name} {'Se' if m == 0 else '+P'}")
        ax.set_xticks(range(len(types)), types, rotation=35, ha="right")
        ax.set_ylabel("%")
        ax.set_ylim(0, 105)
        ax.set_title("Episode sensitivity (solid) and alarm +P (hatched)")
        ax.legend(fontsize=7, ncol=2)
    if noise:
        ax = axes[0, ax_i]
        for i, nz in enumerate(sorted({d["noise"] for d in noise.values()} - {"none"})):
            pts = sorted((d["snr_db"], d["arrhythmia_per_h"], d["crisis_per_h"])
                         for d in noise.values() if d["noise"] == nz)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=f"C{i}",
                    label=f"{nz}: arrhythmia alarms")
            ax.plot([p[0] for p in pts], [p[2] for p in pts], "s--", color=f"C{i}",
                    label=f"{nz}: crisis alarms")
        if "clean" in noise:
            ax.axhline(noise["clean"]["arrhythmia_per_h"], color="gray", lw=1,
                       label="clean records, same segments")
        ax.invert_xaxis()
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("alarms per hour of noise")
        ax.set_title("Noise stress (NSTDB): every arrhythmia alarm is false")
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise EcgEdgeError(f"cannot write plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
