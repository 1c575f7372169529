"""Tables of the models: detector, beat classifier, export parity, latency, CPU classes."""

from __future__ import annotations

import re

from doctables import md, mean_sd, num, pct, signed, table

# ---------------------------------------------------------------- detector

_DET_NAMES = {"ecgedge stream 1 s": "**ecgedge stream, 1 s blocks**",
              "ecgedge stream 0.1 s": "ecgedge stream, 0.1 s blocks",
              "ecgedge stream 1 s, numpy backend": "ecgedge stream, 1 s, numpy backend (no numba)",
              "ecgedge stream 1 s, 2 leads": "ecgedge stream, 1 s, 2 leads fused",
              "wfdb xqrs": "wfdb `XQRS` (offline)", "neurokit2 neurokit": "NeuroKit2 `neurokit`",
              "neurokit2 pantompkins1985": "NeuroKit2 `pantompkins1985`",
              "neurokit2 hamilton2002": "NeuroKit2 `hamilton2002`",
              "sleepecg": "`sleepecg.detect_heartbeats`"}


@table("detectors_mitdb", "detectors.json")
def _detectors(d) -> str:
    rows = []
    for key, e in d["mitdb"].items():
        a = e["from_300s_150ms"]["non_paced_44"]
        al, z = e["from_300s_150ms"]["all_48"], e["from_0s_150ms"]["non_paced_44"]
        f50 = e["from_300s_50ms"]["non_paced_44"]
        rows.append([_DET_NAMES.get(key, key), pct(a["gross_se"]), pct(a["gross_ppv"]),
                     pct(a["gross_f1"]), f"{pct(a['avg_se'])} / {pct(a['avg_ppv'])}",
                     f"{pct(al['gross_se'])} / {pct(al['gross_ppv'])}",
                     f"{pct(z['gross_se'])} / {pct(z['gross_ppv'])}",
                     f"{signed(a['timing_median_ms'], 1)} ({num(a['timing_iqr_ms'])})",
                     pct(f50["gross_se"]), num(e.get("speed_x_realtime"), 0, sep=True),
                     num(e.get("peak_heap_mib_one_record"))])
    return md(["detector", "Se % (44)", "+P % (44)", "F1 % (44)", "avg Se / +P (44)",
               "Se / +P (all 48)", "Se / +P (44, from 0 s)", "timing median (IQR) ms",
               "Se % 50 ms (44)", "speed x real time", "heap MiB"], rows)


@table("detectors_ds", "detectors.json")
def _detectors_ds(d) -> str:
    e = d["mitdb"]["ecgedge stream 1 s"]["from_300s_150ms"]
    label = {"ds1": "DS1 (tuning)", "ds2": "DS2 (held out)", "non_paced_44": "44 non-paced",
             "all_48": "all 48"}
    rows = [[label[k], e[k]["records"], e[k]["tp"], e[k]["fn"], e[k]["fp"], pct(e[k]["gross_se"]),
             pct(e[k]["gross_ppv"])] for k in ("ds1", "ds2", "non_paced_44", "all_48")]
    return md(["set", "records", "TP", "FN (missed)", "FP (extra)", "Se %", "+P %"], rows,
              ["l", "r", "r", "r", "r", "r", "r"])


@table("detectors_noise", "detectors.json")
def _detectors_noise(d) -> str:
    rows = []
    for key, e in d["noise"].items():
        rows.append([_DET_NAMES.get(key, key)] + [
            f"{pct(e[n]['6']['se'], 1)} / {pct(e[n]['6']['ppv'], 1)}" for n in ("em", "ma", "bw")])
    return md(["detector", "em 6 dB", "ma 6 dB", "bw 6 dB"], rows)


# ---------------------------------------------------------------- beats

_BEAT_COLS = [("veb_se", "VEB Se"), ("veb_ppv", "VEB +P"), ("veb_fpr", "VEB FPR"),
              ("sveb_se", "SVEB Se"), ("sveb_ppv", "SVEB +P"), ("accuracy", "Acc"),
              ("macro_f1", "macro-F1")]


def _beat_table(rows: list[tuple[str, dict, str]]) -> str:
    return md(["row"] + [c for _, c in _BEAT_COLS] + ["DS1-val score"],
              [[n] + [mean_sd(r.get(k)) for k, _ in _BEAT_COLS] + [vs] for n, r, vs in rows])


@table("beats_headline", "beats_headline.json")
def _beats_headline(h) -> str:
    row = h["row"]
    rows = [("(a) reference positions", row["ds2_a"], mean_sd(row["val_score"], 2)),
            ("(b) project's streaming detector", row["ds2_b"], mean_sd(row["val_score"], 2))]
    for lit in h["literature"]:
        mark = "" if lit.get("verified", lit["work"].startswith("de Chazal")) else " *"
        rows.append((f"lit.{mark} {lit['work']}", {k: lit.get(k) for k, _ in _BEAT_COLS},
                     lit["tuned_on"]))
    rows.append(("target (b)", dict(h["targets"]), ""))
    lat, size = h["latency"], h["checkpoint_run"]["size"]
    return (f"{h['model']}, imbalance `{h['imbalance']}`, {h['label']}; DS2, mean ± sd over "
            f"seeds.\n\n" + _beat_table(rows) +
            f"\n\nLatency: 1 beat (post-RR); median R-to-class "
            f"{lat['beat_latency_s_median']:.2f} s, p95 {lat['beat_latency_s_p95']:.2f} s "
            f"(detector decision delay median {lat['detector_delay_s_median']:.2f} s). Size: "
            f"{size['params']} params, {size['macs'] / 1e6:.2f} MMAC/beat.")


def _beat_study(d) -> str:
    rows = []
    for k, r in d["rows"].items():
        size = r.get("size", {})
        extra = f" ({size['params']} p, {size['macs'] / 1e6:.2f} MMAC)" if size else ""
        rows.append((f"{k}{extra}", r["ds2_b"], mean_sd(r["val_score"], 2)))
    return (f"{d['label']}; DS2 condition (b) (condition (a) in the JSON); chosen on DS1-val: "
            f"`{d['chosen']}`.\n\n" + _beat_table(rows))


table("beats_models", "beats_models.json")(_beat_study)
table("beats_imbalance", "beats_imbalance.json")(_beat_study)


@table("beats_leaky", "beats_leaky.json")
def _beats_leaky(d) -> str:
    return (f"{d['model']}, {d['label']}: random beat-level split, same patients in train and "
            "test. NOT a valid estimate.\n\n" + _beat_table([("LEAKY random beat split",
                                                               d["row"], "-")]))


@table("beats_eval", "beats_eval.json")
def _beats_eval(d) -> str:
    rows = []
    for cond, name in (("condition_a", "(a) reference positions"),
                       ("condition_b", "(b) streaming detector")):
        g = d[cond]["gross"]
        rows.append([name, pct(g["veb"]["se"], 1), pct(g["veb"]["ppv"], 1),
                     pct(g["sveb"]["se"], 1), pct(g["sveb"]["ppv"], 1), pct(g["accuracy"], 1),
                     pct(g["macro_f1"], 1)])
    return md(["condition (shipped checkpoint, DS2)", "VEB Se", "VEB +P", "SVEB Se", "SVEB +P",
               "Acc", "macro-F1"], rows)


# ---------------------------------------------------------------- export, latency, portability

@table("export_parity", "export_beat.json", "export_hyp.json", "export_findings6.json")
def _export_parity(*tasks) -> str:
    rows = []
    for d in tasks:
        for kind, p in d["parity_test"].items():
            scheme = "-" if kind == "fp32" else f"QDQ per-channel, {d['quantization_method']}"
            rows.append([d["task"], f"`models/{d['task']}.{kind}.onnx`", scheme, p["n"],
                         f"{p['max_abs_diff_logits']:.2e}", pct(p["agreement"]) + " %",
                         f"{p['metric']} {p['metric_torch']:.4f} -> {p['metric_artifact']:.4f}",
                         "pass" if p["passed"] else "FAIL"])
    return md(["task", "artifact", "int8 scheme (chosen on validation)", "test n",
               "max abs diff (logits)", "agreement", "metric torch -> artifact", "parity"],
              rows, ["l", "l", "l", "r", "r", "r", "l", "l"])


@table("inference_latency", "inference.json")
def _inference(d) -> str:
    load = d["machine"].get("load_avg_at_start")
    note = f"Load average at start {load[0]:.2f}; " if load else ""
    return (f"{note}{d['settings']['intra_op_threads']} intra-op thread(s); median of repeated "
            "calls after warm-up, alternating turns across backends; peak RSS of a fresh "
            "process that loads only the runtime and the model.\n\n" + d["table_markdown"])


@table("inference_targets", "inference.json")
def _inference_targets(d) -> str:
    rows = []
    for task, r in d["results"].items():
        b = r["backends"]
        size = b["ort_int8"]["size_bytes"] / b["ort_fp32"]["size_bytes"]
        lat = b["ort_int8"]["batch1"]["median_ms"] / b["ort_fp32"]["batch1"]["median_ms"]
        vs = b["ort_fp32"]["batch1"]["speedup_vs_torch"]
        rows.append([task, f"{size:.3f} " + ("met" if size <= 0.35 else "**not met**"),
                     f"{lat:.2f} " + ("met" if lat <= 0.6 else "**not met**"),
                     f"{vs:.2f} " + ("met" if vs >= 3 else "**not met**")])
    return md(["model", "int8/fp32 file (<= 0.35)", "int8 / ORT fp32 latency b1 (<= 0.6)",
               "ORT fp32 vs torch b1 (>= 3)"], rows, ["l", "r", "r", "r"])


def _isa_cell(t: dict) -> str:
    o = t["onnx"]
    out = f"{pct(o['agreement'])} % / {signed(100 * o['metric_drop'])}"
    w = t.get("onnx_without_exact_int8")
    if w and "no VNNI" in t.get("_isa", ""):
        out += f" (no option: {pct(w['agreement'])} % / {signed(100 * w['metric_drop'])})"
    tf = t.get("tflite")
    if tf and "agreement" in tf:  # a run without the TFLite file records {"skipped": why}
        out += f"; TFLite {pct(tf['agreement'])} % / {signed(100 * tf['metric_drop'])}"
    return out


#: the int8 models of bench/isa_parity.py, in column order
ISA_TASKS = ("beat", "hyp", "findings6")


def isa_rows(d: dict, tasks: tuple[str, ...], full: str) -> list[list]:
    """One row per parity run holding any of ``tasks`` (a run may hold only some: '-' for
    the others): run, ISA class and flags, data (``full`` or subset, n per task), the
    agreement / metric-drop cell per task, passed."""
    rows = []
    for run, r in d["runs"].items():
        held = r["tasks"]
        if not any(t in held for t in tasks):
            continue
        n = "/".join(str(held[t]["n"]) if t in held else "-" for t in tasks)
        data = (full if r["data"].startswith("full") else "subset") + f" (n={n})"
        cells = [_isa_cell({**held[t], "_isa": r["cpu"]["isa_class"]}) if t in held else "-"
                 for t in tasks]
        rows.append([run, f"{r['cpu']['isa_class']} ({', '.join(r['cpu']['flags_seen'])})",
                     data, *cells, r["passed"]])
    return rows


@table("isa_parity", "isa_parity.json")
def _isa_parity(d) -> str:
    return md(["run", "ISA class (flags seen)", "data", "beat agr. / F1 drop",
               "hyp agr. / AUROC drop", "findings6 agr. / AUROC drop", "passed"],
              isa_rows(d, ISA_TASKS, "full test"))


@table("isa_latency", "isa_parity.json")
def _isa_latency(d) -> str:
    rows = []
    for run, r in d["runs"].items():
        for t, v in r["tasks"].items():
            lat = v.get("latency_int8_onnx")
            if not lat:
                continue
            b1, b32 = lat["b1"], lat["b32"]
            rows.append([run, t, f"{b1['exact_ms']:.3f} / {b1['default_ms']:.3f} "
                         f"({b1['ratio_exact_over_default']:.2f}x)",
                         f"{b32['exact_ms']:.2f} / {b32['default_ms']:.2f} "
                         f"({b32['ratio_exact_over_default']:.2f}x)"])
    return md(["run", "model", "batch 1: exact / default ms (ratio)",
               "batch 32: exact / default ms (ratio)"], rows)


@table("arm64", "arm64.json")
def _arm64(d) -> str:
    rows = []
    for cpu, c in d["cpus"].items():
        demo = next((x for x in c.get("demo", []) if x.startswith("demo check")), "")
        m = re.search(r"(\d+) beats detected .* vs (\d+) reference.*lost in transit (\d+)", demo)
        demo_cell = f"{m[1]}/{m[2]} beats, {m[3]} lost" if m else "-"
        recs = " / ".join(f"{r['beats_arm']} beats, positions identical={r['positions_identical']}"
                          f", labels {pct(r['label_agreement'], 1)} %"
                          for r in c["records"].values())
        par = all(p["passed"] for p in c.get("parity", {}).values())
        t = c["timings"]
        wall = " / ".join(f"{t[k]['wall_s']:.0f}" for k in ("demo", "run_100", "parity", "tests"))
        flags = c["cpu_probe"][0].split(" ", 1)[1] if c.get("cpu_probe") else "-"
        rows.append([cpu, flags, demo_cell, recs, f"passed={par}", "; ".join(c.get("tests", [])),
                     wall])
    return (f"Records {', '.join(next(iter(d['cpus'].values()))['records'])}, 600 s each; "
            f"{d['speed_note']}.\n\n" +
            md(["QEMU CPU", "flags seen", "demo (60 s)", "records (aarch64 vs x86 journal)",
                "parity (subset)", "runtime tests", "emulated wall s: demo / run 100 / parity / "
                "tests"], rows))


@table("ddp_check", "ddp_check.json")
def _ddp_check(d) -> str:
    runs = {(r["seed"], r["processes"]): r["metrics"] for r in d["runs"]}
    seeds = sorted({s for s, _ in runs})
    nproc = d["config"]["nproc"]
    rows = [[s, num(runs[s, 1]["val_auroc"], 4), num(runs[s, nproc]["val_auroc"], 4),
             num(runs[s, 1]["test_auroc"], 4), num(runs[s, nproc]["test_auroc"], 4)]
            for s in seeds]
    sm = d["summary"]
    rows.append(["mean ± sd"] + [
        f"{sm[m][f'mean_{k}']:.4f} ± {sm[m][f'sd_{k}']:.4f}"
        for m in ("val_auroc",) for k in ("1", "2")] + [
        f"{sm[m][f'mean_{k}']:.4f} ± {sm[m][f'sd_{k}']:.4f}"
        for m in ("test_auroc",) for k in ("1", "2")])
    per_seed = md(["seed", "1 process: val AUROC (fold 9)", f"{nproc} processes: val AUROC",
                   "1 process: test AUROC (fold 10)", f"{nproc} processes: test AUROC"], rows)
    verdict = md(["metric", f"mean difference ({nproc} - 1)", "tolerance", "verdict"], [
        [label, signed(sm[m]["mean_diff"], 4), num(sm[m]["tolerance"], 4),
         "pass" if sm[m]["passed"] else "FAIL"]
        for m, label in (("val_auroc", "val macro AUROC (fold 9)"),
                         ("test_auroc", "test macro AUROC (fold 10)"))])
    return per_seed + "\n\n" + verdict
