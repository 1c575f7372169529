"""The tables of docs/window_allcomers.md: the shipped window models (HYP vs all comers,
six findings with the heart-rate rule), the candidates they were chosen from on fold 9,
100 vs 500 Hz agreement and per-CPU-class int8 parity.

One implementation: ``python -m train.window.allcomers_tables`` prints these same renderers.
"""

from __future__ import annotations

from doctables import md, pct, table
from export.isa_card import ISA_CLASSES, table_from_results

CLASSES = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
#: the targets the window models were built against (fold 10), in the order shown
TARGET_AUROC = {"hyp_vs_all": 0.90, "hyp_vs_norm": 0.95, "findings6": 0.97, "SB": 0.97,
                "ST": 0.97}
WINDOW_TASKS = ("hyp", "findings6")


def _ci(m: dict) -> str:
    lo, hi = m.get("ci95", [float("nan")] * 2)
    return f"{m['value']:.3f} ({lo:.3f}-{hi:.3f})"


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def chosen_hyp(d: dict) -> dict:
    """The fold-10 report of the HYP model chosen on fold 9 (the shipped one)."""
    return d["hyp"]["reports"][d["hyp"]["chosen"]]


def findings6_headline(d: dict) -> tuple[float, float, list[str]]:
    """Fold-10 macro AUROC of the chosen six-finding network alone and as shipped (with the
    classes a rule decides), and those classes."""
    f = d["findings6"]
    alone = f["rows"][f["chosen"]]["test"]["macro_auroc"]
    shipped = f["chosen_with_rules"]["test"]["macro_auroc"]
    by_rule = [c for c, r in f["rules"].items() if r["chosen_source"] != "network"]
    return alone, shipped, by_rule


def isa_summary(isa: dict, tasks=WINDOW_TASKS) -> tuple[list[str], list[str], bool]:
    """ISA classes where every task passed, classes not checked, whether any TFLite ran."""
    passed, unchecked = [], []
    for cls in ISA_CLASSES:
        st = [table_from_results(isa, t, "onnx")["targets"][cls]["status"] for t in tasks]
        if all(s == "passed" for s in st):
            passed.append(cls)
        elif "not checked" in st:
            unchecked.append(cls)
    tflite = any((r.get("tasks") or {}).get(t, {}).get("tflite", {}).get("agreement")
                 is not None for r in isa["runs"].values() for t in tasks)
    return passed, unchecked, tflite


@table("allcomers_targets", "window_allcomers.json", "isa_parity.json")
def _targets(d: dict, isa: dict) -> str:
    rep = chosen_hyp(d)
    rows = []
    for key, tab, what in (("hyp_vs_all", "test_vs_all", "HYP vs all comers"),
                           ("hyp_vs_norm", "test_vs_norm", "HYP vs NORM")):
        t = rep[tab]
        au = t["screening"]["auroc"]
        rows.append([f"{what} AUROC >= {TARGET_AUROC[key]:.2f}",
                     f"{_ci(au)}, n={t['n']}, {t['n_pos']} HYP",
                     _met(au["value"] >= TARGET_AUROC[key])])
    alone, shipped, by_rule = findings6_headline(d)
    rule_txt = f"; {shipped:.3f} with {', '.join(by_rule)} by the rate rule" if by_rule else ""
    rows.append([f"six findings macro AUROC >= {TARGET_AUROC['findings6']:.2f}",
                 f"{alone:.3f} network alone{rule_txt}",
                 _met(shipped >= TARGET_AUROC["findings6"])])
    for cls in ("SB", "ST"):
        r = d["findings6"]["rules"][cls]
        rule, net = r["test_auroc_rule"], r["test_auroc_network"]
        if r["chosen_source"] == "network":
            txt, used = f"{net:.3f} network (decides {cls}); rate rule {rule:.3f}", net
        else:
            txt, used = f"{rule:.3f} rate rule (decides {cls}); network {net:.3f}", rule
        rows.append([f"{cls} AUROC >= {TARGET_AUROC[cls]:.2f}", txt,
                     _met(used >= TARGET_AUROC[cls])])
    passed, unchecked, tflite = isa_summary(isa)
    full = {t: table_from_results(isa, t, "onnx")["targets"]["x86-64 VNNI"] for t in WINDOW_TASKS}
    agr = ", ".join(f"{t} {pct(full[t].get('agreement'))} %" for t in WINDOW_TASKS)
    fmt = "ONNX and TFLite" if tflite else "ONNX only (no TFLite run)"
    rows.append(["int8 parity on every CPU class",
                 f"passed on {'; '.join(passed) or 'none'}: {agr} agreement on fold 10 "
                 f"(x86-64 VNNI, full split); {fmt}",
                 _met(not unchecked and len(passed) == len(ISA_CLASSES))
                 + (" (ONNX)" if not tflite else "")])
    return md(["target (fold 10)", "result", "met?"], rows)


def hyp_report(name: str, rep: dict) -> str:
    """Fold-10 HYP table of one model (vs all comers, vs NORM-only) at both operating points."""
    head = (f"**{name}** (operating points from fold 9: screening "
            f"{rep['operating_points']['screening']:.4f}, balanced "
            f"{rep['operating_points']['balanced']:.4f})\n\n")
    rows = []
    for tab in ("test_vs_all", "test_vs_norm"):
        t = rep[tab]
        for op in ("screening", "balanced"):
            m = t[op]
            rows.append([tab[5:].replace("_", " "), f"{t['n']} ({t['n_pos']})", op,
                         *(_ci(m[k]) for k in ("auroc", "auprc", "f1", "sensitivity",
                                               "specificity"))])
    return head + md(["fold 10", "n (HYP)", "op", "AUROC", "AUPRC", "F1", "sensitivity",
                      "specificity"], rows)


@table("allcomers_hyp_chosen", "window_allcomers.json")
def _hyp_chosen(d: dict) -> str:
    return hyp_report(d["hyp"]["chosen"], chosen_hyp(d))


@table("allcomers_hyp_baseline", "window_allcomers.json")
def _hyp_baseline(d: dict) -> str:
    return "\n\n".join(hyp_report(n, r) for n, r in d["hyp"]["reports"].items()
                       if n != d["hyp"]["chosen"])


@table("allcomers_hyp_errors", "window_allcomers.json")
def _hyp_errors(d: dict) -> str:
    rep = chosen_hyp(d)["errors_test"]
    rows = []
    for op in ("screening", "balanced"):
        e = rep[op]
        g = e["by_superclass"]
        cells = [f"{g[k]['called_hyp']}/{g[k]['of']}" if k in g else "-"
                 for k in ("NORM", "MI", "STTC", "CD", "none")]
        codes = ", ".join(f"{c['code']} {c['called_hyp']}/{c['of']}" for c in e["by_scp"][:6])
        rows.append([op, f"{e['false_positives']} of {rep['n_negatives']}", *cells, codes])
    return md(["op", "false positives", "NORM", "MI", "STTC", "CD", "no superclass",
               "top SCP codes (called/of)"], rows)


@table("allcomers_hyp_candidates", "window_allcomers.json")
def _hyp_candidates(d: dict) -> str:
    rows = []
    for n, r in d["hyp"]["rows"].items():
        mark = " **(chosen)**" if n == d["hyp"]["chosen"] else ""
        rows.append([n + mark, *(f"{r[s][k]:.3f}" for s in ("val", "test")
                                 for k in ("auroc_vs_all", "auroc_vs_norm"))])
    return md(["HYP candidate", "val vs all", "val vs NORM", "test vs all", "test vs NORM"], rows)


@table("allcomers_findings6_candidates", "window_allcomers.json")
def _findings6_candidates(d: dict) -> str:
    rows = []
    cand = dict(d["findings6"]["rows"])
    cand["chosen + rules"] = d["findings6"]["chosen_with_rules"]
    for n, r in cand.items():
        mark = " **(chosen)**" if n == d["findings6"]["chosen"] else ""
        cells = []
        for s in ("val", "test"):
            cells += [f"{r[s]['macro_auroc']:.3f}", *(f"{r[s]['per_class'][c]:.3f}"
                                                      for c in CLASSES)]
        rows.append([n + mark, *cells])
    head = ["six-finding candidate", *(f"{s} {c}" for s in ("val", "test")
                                       for c in ("macro", *CLASSES))]
    return md(head, rows)


@table("allcomers_rules", "window_allcomers.json")
def _rules(d: dict) -> str:
    rows = []
    for k, r in d["findings6"]["rules"].items():
        vt = r["val_at_rule_threshold"]
        rows.append([k, r["rule"], *(f"{r[x]:.3f}" for x in (
            "val_auroc_rule", "val_auroc_network", "test_auroc_rule", "test_auroc_network")),
            f"{vt['sensitivity']:.3f}/{vt['specificity']:.3f}", r["chosen_source"]])
    return md(["class", "rule", "val AUROC rule", "val AUROC network", "test AUROC rule",
               "test AUROC network", "val sens/spec at rule threshold", "chosen"], rows)


@table("allcomers_shipped", "window_allcomers.json")
def _shipped(d: dict) -> str:
    rows = []
    for task, s in d["shipped"].items():
        cfg = d["configs"].get(s["candidate"].split(":")[0])
        members = d["ensembles"].get(s["candidate"])
        if members:
            seeds = ", ".join(str(d["configs"][m.split(":")[0]]["seed"]) for m in members)
            model = f"`{s['arch']}` of {len(members)} `window_se_cnn` (seeds {seeds})"
            src = d["configs"][members[0].split(":")[0]]["source"]
        else:
            model = f"`{s['arch']}`, seed {cfg['seed']}"
            src = cfg["source"]
        ops = s["operating_points"]
        if len(ops["screening"]) == 1:
            (c, scr), = ops["screening"].items()
            op = f"{c}: screening {scr:.4f}, balanced {ops['balanced'][c]:.4f}"
        else:
            op = "per class, in the card"
        rules = [c for c, src_ in d[task].get("decision_sources", {}).items()
                 if src_ != "network"] if task == "findings6" else []
        what = {"hyp": "HYP vs all comers (`label_task: hyp_all`)",
                "findings6": "six findings" + (f"; {', '.join(rules)} decided by the rate rule "
                                               "(card `rules`)" if rules else "")}[task]
        rows.append([f"`models/{task}.{{fp32,int8}}.onnx`",
                     f"{'device path' if src == 'device' else src}, folds 1-8", model, what, op])
    return md(["artifact", "trained on", "model", "task definition", "operating points (fold 9)"],
              rows)


def _agreement_rows(tag: str, models: dict) -> list[list[str]]:
    rows = []
    for name, m in models.items():
        for c, r in m["classes"].items():
            if c == "_rules":
                hr = r["hr_abs_diff_bpm"]
                for k, v in r.items():
                    if k != "hr_abs_diff_bpm":
                        rows.append([tag, name, f"{k} by {v['source']}",
                                     f"{v['agreement']:.3f} ({v['kappa']:.3f})", "same",
                                     f"HR diff mean {hr['mean']:.2f} / max {hr['max']:.1f} bpm",
                                     "-", "-"])
                continue
            au = r.get("auroc_vs_all") or r.get("auroc_findings")
            b, s = r.get("balanced", {}), r.get("screening", {})
            rows.append([tag, name, c, f"{b.get('agreement', float('nan')):.3f} "
                         f"({b.get('kappa', float('nan')):.3f})",
                         f"{s.get('agreement', float('nan')):.3f}",
                         f"{r['mean_abs_diff']:.4f} / {r['max_abs_diff']:.3f}",
                         f"{au['100hz']:.3f}", f"{au['500hz']:.3f}"])
    return rows


@table("allcomers_rate_agreement", "window_rate_agreement.json")
def _rate_agreement(d: dict) -> str:
    rows = _agreement_rows("shipped", d["models"])
    if "previous_models" in d:
        rows += _agreement_rows("previous (records100)", d["previous_models"]["models"])
    return md(["models", "artifact", "class", "balanced agreement (kappa)",
               "screening agreement", "mean / max abs dp", "AUROC 100 Hz", "AUROC 500 Hz"], rows)


@table("isa_parity_window", "isa_parity.json")
def _isa_parity_window(d: dict) -> str:
    from doctables.models import isa_rows

    rows = isa_rows(d, WINDOW_TASKS, "full fold 10")
    return md(["run", "ISA class (flags seen)", "data", "hyp agr. / AUROC drop",
               "findings6 agr. / AUROC drop", "passed"], rows)

