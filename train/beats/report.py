"""Markdown tables of the beat study from ``docs/results/beats_*.json`` (for the README)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"
COLS = [("veb_se", "VEB Se"), ("veb_ppv", "VEB +P"), ("veb_fpr", "VEB FPR"),
        ("sveb_se", "SVEB Se"), ("sveb_ppv", "SVEB +P"), ("accuracy", "Acc"),
        ("macro_f1", "macro-F1")]


def _cell(s, digits: int = 1) -> str:
    if isinstance(s, dict):
        if s.get("mean") is None:
            return "-"
        m, sd = s["mean"], s["sd"]
        return f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if s.get("n", 1) > 1 else "")
    return "-" if s is None else f"{s:.1f}"


def _table(rows: list[tuple[str, dict, str]]) -> str:
    head = "| row | " + " | ".join(c for _, c in COLS) + " | DS1-val score |"
    sep = "|---" * (len(COLS) + 2) + "|"
    lines = [head, sep]
    for name, r, vs in rows:
        lines.append(f"| {name} | " + " | ".join(_cell(r.get(k)) for k, _ in COLS)
                     + f" | {vs} |")
    return "\n".join(lines)


def _load(name: str):
    p = RESULTS / name
    return json.loads(p.read_text()) if p.is_file() else None


def main() -> int:
    out = []
    h = _load("beats_headline.json")
    if h:
        row = h["row"]
        out.append(f"**Headline** ({h['model']}, imbalance `{h['imbalance']}`, "
                   f"{h['label']}; DS2, mean ± sd over seeds):\n")
        rows = [("(a) reference positions", row["ds2_a"], _cell(row["val_score"], 2)),
                ("(b) project's streaming detector", row["ds2_b"], _cell(row["val_score"], 2))]
        for lit in h["literature"]:
            mark = "" if lit.get("verified", lit["work"].startswith("de Chazal")) else " *"
            rows.append((f"lit.{mark} {lit['work']}", {k: lit.get(k) for k, _ in COLS},
                         lit["tuned_on"]))
        rows.append(("target (b)", {k: v for k, v in h["targets"].items()}, ""))
        out.append(_table(rows))
        lat = h["latency"]
        out.append(f"\nLatency: 1 beat (post-RR); median R-to-class "
                   f"{lat['beat_latency_s_median']:.2f} s, p95 {lat['beat_latency_s_p95']:.2f} s "
                   f"(detector decision delay median {lat['detector_delay_s_median']:.2f} s). "
                   f"Size: {h['checkpoint_run']['size']['params']} params, "
                   f"{h['checkpoint_run']['size']['macs'] / 1e6:.2f} MMAC/beat.\n")
    for name, title in (("beats_models.json", "Model comparison"),
                        ("beats_imbalance.json", "Imbalance study (beat_cnn_rr)")):
        d = _load(name)
        if not d:
            continue
        out.append(f"\n**{title}** — {d['label']}; DS2 condition (b) (condition (a) in the "
                   f"JSON); chosen on DS1-val: `{d['chosen']}`\n")
        rows = []
        for k, r in d["rows"].items():
            size = r.get("size", {})
            extra = f" ({size['params']} p, {size['macs'] / 1e6:.2f} MMAC)" if size else ""
            rows.append((f"{k}{extra}", r["ds2_b"], _cell(r["val_score"], 2)))
        out.append(_table(rows))
    lk = _load("beats_leaky.json")
    if lk:
        out.append(f"\n**Leaky comparison row** ({lk['model']}): random beat-level split, "
                   "same patients in train and test — NOT a valid estimate:\n")
        out.append(_table([("LEAKY random beat split", lk["row"], "-")]))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
