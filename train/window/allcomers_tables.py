"""Markdown tables for docs/window_allcomers.md from the committed JSON results.

``python -m train.window.allcomers_tables`` prints the tables made from
``docs/results/window_allcomers.json`` and ``docs/results/window_rate_agreement.json``, so the
page shows exactly what the JSON says.
"""

from __future__ import annotations

import json

from train.window.data import REPO_ROOT

RES = REPO_ROOT / "docs" / "results"


def _ci(m: dict) -> str:
    lo, hi = m.get("ci95", [float("nan")] * 2)
    return f"{m['value']:.3f} ({lo:.3f}-{hi:.3f})"


def hyp_tables(d: dict) -> str:
    """Fold-10 HYP tables (vs all comers, vs NORM-only) of the chosen model and the old one."""
    out = []
    for name, rep in d["hyp"]["reports"].items():
        out.append(f"**{name}** (operating points from fold 9: screening "
                   f"{rep['operating_points']['screening']:.4f}, balanced "
                   f"{rep['operating_points']['balanced']:.4f})\n")
        out.append("| fold 10 | n (HYP) | op | AUROC | AUPRC | F1 | sensitivity | specificity |")
        out.append("|---|---|---|---|---|---|---|---|")
        for tab in ("test_vs_all", "test_vs_norm"):
            t = rep[tab]
            for op in ("screening", "balanced"):
                m = t[op]
                out.append(f"| {tab[5:].replace('_', ' ')} | {t['n']} ({t['n_pos']}) | {op} | "
                           f"{_ci(m['auroc'])} | {_ci(m['auprc'])} | {_ci(m['f1'])} | "
                           f"{_ci(m['sensitivity'])} | {_ci(m['specificity'])} |")
        out.append("")
    return "\n".join(out)


def error_table(d: dict) -> str:
    """Non-HYP fold-10 records called HYP by the chosen model, per superclass and SCP code."""
    rep = d["hyp"]["reports"][d["hyp"]["chosen"]]["errors_test"]
    out = ["| op | false positives | NORM | MI | STTC | CD | no superclass | top SCP codes "
           "(called/of) |", "|---|---|---|---|---|---|---|---|"]
    for op in ("screening", "balanced"):
        e = rep[op]
        g = e["by_superclass"]

        def cell(k: str, g=g) -> str:
            return f"{g[k]['called_hyp']}/{g[k]['of']}" if k in g else "-"

        codes = ", ".join(f"{c['code']} {c['called_hyp']}/{c['of']}" for c in e["by_scp"][:6])
        out.append(f"| {op} | {e['false_positives']} of {rep['n_negatives']} | {cell('NORM')} | "
                   f"{cell('MI')} | {cell('STTC')} | {cell('CD')} | {cell('none')} | {codes} |")
    return "\n".join(out)


def ablation(d: dict) -> str:
    """Every candidate: fold-9 (selection) and fold-10 (report) AUROCs."""
    out = ["| HYP candidate | val vs all | val vs NORM | test vs all | test vs NORM |",
           "|---|---|---|---|---|"]
    for n, r in d["hyp"]["rows"].items():
        mark = " **(chosen)**" if n == d["hyp"]["chosen"] else ""
        out.append(f"| {n}{mark} | {r['val']['auroc_vs_all']:.3f} | "
                   f"{r['val']['auroc_vs_norm']:.3f} | {r['test']['auroc_vs_all']:.3f} | "
                   f"{r['test']['auroc_vs_norm']:.3f} |")
    cls = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
    out += ["", "| six-finding candidate | val macro | " + " | ".join(f"val {c}" for c in cls)
            + " | test macro | " + " | ".join(f"test {c}" for c in cls) + " |",
            "|---|" + "---|" * (2 * len(cls) + 2)]
    rows = dict(d["findings6"]["rows"])
    rows["chosen + rules"] = d["findings6"]["chosen_with_rules"]
    for n, r in rows.items():
        mark = " **(chosen)**" if n == d["findings6"]["chosen"] else ""
        v, t = r["val"], r["test"]
        out.append(f"| {n}{mark} | {v['macro_auroc']:.3f} | "
                   + " | ".join(f"{v['per_class'][c]:.3f}" for c in cls)
                   + f" | {t['macro_auroc']:.3f} | "
                   + " | ".join(f"{t['per_class'][c]:.3f}" for c in cls) + " |")
    out += ["", "| class | rule | val AUROC rule | val AUROC network | test AUROC rule | "
            "test AUROC network | val sens/spec at rule threshold | chosen |",
            "|---|---|---|---|---|---|---|---|"]
    for k, r in d["findings6"]["rules"].items():
        vt = r["val_at_rule_threshold"]
        out.append(f"| {k} | {r['rule']} | {r['val_auroc_rule']:.3f} | "
                   f"{r['val_auroc_network']:.3f} | {r['test_auroc_rule']:.3f} | "
                   f"{r['test_auroc_network']:.3f} | {vt['sensitivity']:.3f}/"
                   f"{vt['specificity']:.3f} | {r['chosen_source']} |")
    return "\n".join(out)


def agreement(d: dict) -> str:
    """100 Hz vs 500 Hz input: decisions and AUROC per model and class."""
    out = ["| models | artifact | class | balanced agreement (kappa) | screening agreement | "
           "mean / max abs dp | AUROC 100 Hz | AUROC 500 Hz |", "|---|---|---|---|---|---|---|---|"]
    sets = [("new", d["models"])]
    if "previous_models" in d:
        sets.append(("before issue 18", d["previous_models"]["models"]))
    for tag, models in sets:
        for name, m in models.items():
            for c, r in m["classes"].items():
                if c == "_rules":
                    for k, v in r.items():
                        if k != "hr_abs_diff_bpm":
                            out.append(f"| {tag} | {name} | {k} by {v['source']} | "
                                       f"{v['agreement']:.3f} ({v['kappa']:.3f}) | same | "
                                       f"HR diff mean {r['hr_abs_diff_bpm']['mean']:.2f} / "
                                       f"max {r['hr_abs_diff_bpm']['max']:.1f} bpm | - | - |")
                    continue
                au = r.get("auroc_vs_all") or r.get("auroc_findings")
                b, s = r.get("balanced", {}), r.get("screening", {})
                out.append(f"| {tag} | {name} | {c} | {b.get('agreement', float('nan')):.3f} "
                           f"({b.get('kappa', float('nan')):.3f}) | "
                           f"{s.get('agreement', float('nan')):.3f} | "
                           f"{r['mean_abs_diff']:.4f} / {r['max_abs_diff']:.3f} | "
                           f"{au['100hz']:.3f} | {au['500hz']:.3f} |")
    return "\n".join(out)


def main() -> int:
    d = json.loads((RES / "window_allcomers.json").read_text())
    print(hyp_tables(d))
    print(error_table(d), "\n")
    print(ablation(d), "\n")
    ra = RES / "window_rate_agreement.json"
    if ra.is_file():
        print(agreement(json.loads(ra.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
