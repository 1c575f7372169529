"""Markdown tables of ``docs/results/beats_crossdb.json`` (for docs/beats_crossdb.md).

    python -m train.beats.crossdb_tables [docs/results/beats_crossdb.json]

Prints, from the JSON only (no numbers typed by hand): the CV ablation, the DS2 rows
(conditions a and b), the cross-database rows, the fold-member spread, the int8 artifact rows
and the per-record DS2 error table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULT = Path(__file__).resolve().parents[2] / "docs" / "results" / "beats_crossdb.json"
COLS = ("veb_se", "veb_ppv", "sveb_se", "sveb_ppv")


def _c(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def _row(label: str, h: dict | None, extra: str = "") -> str:
    h = h or {}
    return f"| {label} | " + " | ".join(_c(h.get(k)) for k in COLS) + f" |{extra}"


def ablation(res: dict) -> list[str]:
    cv = res["cv"]
    out = ["| variant | what | decisions | part | VEB Se | VEB +P | SVEB Se | SVEB +P | "
           "CV score | SVEB Se per fold (mean +- sd) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in cv["rows"].items():
        for dec, key in (("argmax", "oof_argmax"), ("S/V offsets", "oof_offsets_cross_fitted")):
            for part in ("all", "ds1", "svdb"):
                h = r[key][part]
                spread = r["sveb_se_per_fold"] if key != "oof_argmax" and part == "all" else None
                sp = f"{spread['mean']} +- {spread['sd']}" if spread else ""
                score = f"{h['score']:.3f}"
                out.append(f"| {name} | {r['variant']['note']} | {dec} | {part} | "
                           + " | ".join(_c(h[k]) for k in COLS) + f" | {score} | {sp} |")
    return out


def final(res: dict) -> list[str]:
    fin = res.get("final", {}).get("variants", {})
    out = ["| model | data | condition | VEB Se | VEB +P | SVEB Se | SVEB +P |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for role, row in fin.items():
        for cond, key in (("(a) reference", "ds2_a"), ("(b) detector", "ds2_b")):
            out.append(_row(f"{role} ({row['variant']}) | DS2 | {cond}", row.get(key)))
        for cond, key in (("(a) reference", "svdb_a"), ("(b) detector", "svdb_b")):
            if key in row:
                out.append(_row(f"{role} ({row['variant']}) | SVDB all 38 (never trained on) "
                                f"| {cond}", row[key]))
    for label, h in (res.get("int8") or {}).items():
        if label.startswith("shipped int8"):
            out.append(_row(label, h))
    return out


def spread(res: dict) -> list[str]:
    fin = res.get("final", {}).get("variants", {})
    out = ["| model | DS2 (b) per fold member: SVEB Se | SVEB +P | VEB Se | VEB +P |",
           "| --- | --- | --- | --- | --- |"]
    for role, row in fin.items():
        m = row["ds2_b_members"]
        out.append(f"| {role} ({row['variant']}) | " + " | ".join(
            f"{m[k]['mean']} +- {m[k]['sd']} ({', '.join(str(v) for v in m[k]['values'])})"
            for k in ("sveb_se", "sveb_ppv", "veb_se", "veb_ppv")) + " |")
    return out


def errors(res: dict, key: str = "ds2_b_errors") -> list[str]:
    row = res.get("final", {}).get("variants", {}).get("shipped", {})
    tab = row.get(key) or {}
    out = ["| record | S n | S found | S missed | S false | V n | V found | V missed | V false |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    order = sorted(tab, key=lambda r: -(tab[r]["S_fn"] + tab[r]["S_fp"] + tab[r]["V_fn"]
                                        + tab[r]["V_fp"]))
    for r in order:
        e = tab[r]
        out.append(f"| {r} | {e['S_n']} | {e['S_tp']} | {e['S_fn']} | {e['S_fp']} | {e['V_n']} "
                   f"| {e['V_tp']} | {e['V_fn']} | {e['V_fp']} |")
    return out


def main(argv: list[str]) -> int:
    res = json.loads(Path(argv[0] if argv else RESULT).read_text())
    for title, lines in (("CV ablation (out-of-fold)", ablation(res)),
                         ("Final rows", final(res)), ("Fold-member spread", spread(res)),
                         ("DS2 (b) errors per record (shipped)", errors(res))):
        print(f"\n### {title}\n")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
