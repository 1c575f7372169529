"""Every results table of README.md and docs/*.md, rendered from docs/results/*.json.

A number in the docs is only as good as the run behind it, so no results table is typed by
hand: each sits between two markers in a markdown page,

    <!-- results:NAME -->
    ...generated text, never edited by hand...
    <!-- /results:NAME -->

and this script renders NAME from the JSON files it names. Every block ends with a source
line: the command that wrote the JSON, the machine it ran on (CPU model and SIMD flags as the
JSON records them, or "not recorded") and the JSON path.

    python docs/tables.py --check   # exit 1 and a diff when a block differs from its JSON
    python docs/tables.py --write   # rewrite every block in place
    python docs/tables.py --list    # the table names and the JSON each reads

``tests/test_docs_tables.py`` runs ``--check`` in CI, so a rerun that changes a JSON either
changes the docs (``--write``) or fails the tests. It also checks that every markdown table
outside a block either has no measured numbers (marked ``<!-- table: static -->``: formats,
definitions, defaults) or is a table whose every number occurs in the JSON it names
(``<!-- table: checked FILE.json -->``).

Adding a table for a new JSON file takes a few lines:

1. Write a renderer and register it::

       @table("beats_crossdb", "beats_crossdb.json")
       def _beats_crossdb(d: dict) -> str:
           rows = [[name, pct(r["sveb_se"]), pct(r["sveb_ppv"])] for name, r in d["rows"].items()]
           return md(["row", "SVEB Se %", "SVEB +P %"], rows)

   ``d`` is the parsed JSON (for several files, one argument per file, in order). Return the
   table only: the source line is added for you. Helpers: :func:`md` (a markdown table),
   :func:`pct`, :func:`num`, :func:`mean_sd`.
2. A JSON that already carries its markdown tables as strings (the window studies do:
   ``table_hyp``, ...) needs no code: the block ``<!-- results:window_allcomers.table_hyp -->``
   renders key ``table_hyp`` of ``docs/results/window_allcomers.json``.
3. Put the empty markers where the table belongs and run ``python docs/tables.py --write``.

When a rerun changes a JSON's structure (a key renamed, a file split), ``--write`` and
``--check`` stop with exit code 2 naming the block, the page and the JSON it reads: update
that block's renderer here.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "results"
PAGES = ["README.md", "docs/*.md", "docs/deploy/*.md"]
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w.\-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- /results:(?P=name) -->)", re.S)

#: name -> (JSON file names, renderer)
TABLES: dict[str, tuple[tuple[str, ...], Callable[..., str]]] = {}


def table(name: str, *files: str) -> Callable:
    """Register ``fn(*parsed_json) -> markdown`` as the block ``name``."""
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        TABLES[name] = (files, fn)
        return fn
    return deco


# ---------------------------------------------------------------- formatting helpers

def num(x, digits: int = 1, sep: bool = False) -> str:
    """A number, or '-' for None; ``sep`` adds thousands separators."""
    if x is None:
        return "-"
    return f"{x:,.{digits}f}" if sep else f"{x:.{digits}f}"


def pct(x, digits: int = 2) -> str:
    """A fraction in percent."""
    return "-" if x is None else f"{100 * x:.{digits}f}"


def signed(x, digits: int = 2) -> str:
    return "-" if x is None else f"{x:+.{digits}f}"


def mean_sd(s, digits: int = 1) -> str:
    """``{"mean", "sd", "n"}`` -> 'm ± sd' (just 'm' for one run); plain numbers as they are."""
    if isinstance(s, dict):
        if s.get("mean") is None:
            return "-"
        out = f"{s['mean']:.{digits}f}"
        return out + (f" ± {s['sd']:.{digits}f}" if s.get("n", 1) > 1 else "")
    return num(s, digits)


def md(header: list[str], rows: list[list], align: list[str] | None = None) -> str:
    """A markdown table; ``align`` per column 'l' or 'r'."""
    align = align or ["l"] * len(header)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _find(d, keys: tuple[str, ...], depth: int = 0):
    """First value under any of ``keys`` in nested dicts (breadth-first, shallow)."""
    if not isinstance(d, dict) or depth > 3:
        return None
    for k in keys:
        if k in d and d[k] not in (None, "", []):
            return d[k]
    for v in d.values():
        hit = _find(v, keys, depth + 1)
        if hit is not None:
            return hit
    return None


def machine(d: dict) -> str:
    """The CPU a JSON says it ran on: model and SIMD flags, or 'CPU not recorded'."""
    model = _find(d, ("cpu_model", "proc_cpuinfo_model"))
    cpu = d.get("machine", {}).get("cpu") if isinstance(d.get("machine"), dict) else None
    if model is None and isinstance(cpu, dict):
        model = cpu.get("model")
    flags = _find(d, ("simd_flags", "flags_seen"))
    if model is None and flags is None:
        return "CPU not recorded in the JSON"
    out = str(model or "CPU model not recorded")
    if flags:
        keep = [f for f in flags if re.search(r"^avx2$|^avx512f$|vnni|asimd|neon|sve", f, re.I)]
        out += " (" + ", ".join(keep or flags) + ")"
    return out


#: JSON files written before their benchmark recorded its own command line
KNOWN_COMMANDS = {
    "fleet.json": "python bench/fleet.py",
    "web_overhead.json": "python bench/web_overhead.py",
    "isa_parity.json": "python bench/isa_parity.py run --label LABEL (one run per CPU class)",
}


def _command(name: str, d: dict) -> str:
    cmd = d.get("command") or d.get("equivalent_cli")
    if cmd:
        return f"`{cmd.strip()}`"
    if name in KNOWN_COMMANDS:
        return f"`{KNOWN_COMMANDS[name]}` (command not recorded in the JSON)"
    return "command not recorded"


def source(files: tuple[str, ...], data: list[dict]) -> str:
    """The provenance line under every generated table."""
    parts = [f"{_command(f, d)} on {machine(d)} -> `docs/results/{f}`"
             for f, d in zip(files, data, strict=True)]
    if len(parts) <= 2:
        return "*Source: " + "; ".join(parts) + ".*"
    return "*Sources (command on machine -> JSON):*\n\n" + "\n".join(f"- {x}" for x in parts)


# ---------------------------------------------------------------- README

@table("readme_results", "detectors.json", "beats_headline.json", "window_eval_hyp.json",
       "window_eval_findings6.json", "export_beat.json", "pipeline_int8_now.json",
       "pipeline_rss.json", "alarms.json", "protocol.json", "fleet.json")
def _readme_results(det, beats, hyp, f6, exp, pipe, rss, alarms, proto, fleet) -> str:
    s = det["mitdb"]["ecgedge stream 1 s"]["from_300s_150ms"]["non_paced_44"]
    b = beats["row"]["ds2_b"]
    v = pipe["variants"]["int8"]
    i8 = exp["parity_test"]["int8"]
    le = alarms["sets"]["all"]["lethal"]
    fz = proto["fuzz"]
    rows = [
        ["R-peak detection (MIT-BIH, 44 records, EC57)",
         f"Se {pct(s['gross_se'])} % / +P {pct(s['gross_ppv'])} %", "[detector](docs/detector.md)"],
        ["Beat classes on unseen patients (MIT-BIH DS2, detected beats)",
         f"VEB Se {mean_sd(b['veb_se'])} / +P {mean_sd(b['veb_ppv'])} %; "
         f"SVEB Se {mean_sd(b['sveb_se'])} / +P {mean_sd(b['sveb_ppv'])} %",
         "[beats](docs/beats.md)"],
        ["Hypertrophy screening (PTB-XL fold 10, shipped model)",
         f"AUROC {num(hyp['macro_auroc'], 3)}", "[window models](docs/window_models.md)"],
        ["Six findings (PTB-XL fold 10, shipped model)",
         f"macro AUROC {num(f6['macro_auroc'], 3)}", "[window models](docs/window_models.md)"],
        ["int8 export (beat model, DS2)",
         f"{pct(i8['agreement'])} % same decisions as fp32",
         "[export and portability](docs/portability.md)"],
        ["Whole pipeline, both int8 models, one core",
         f"{num(v['x_real_time_total'], 0, sep=True)}x real time",
         "[benchmarks](docs/benchmarks.md)"],
        ["Memory, live `ecgedge run`", f"{num(rss['run_live_mode']['peak_rss_mb'])} MB peak RSS",
         "[runtime](docs/runtime.md)"],
        ["VT/VF >= 4 s with a crisis alarm within 10 s (48 records)",
         f"{le['crisis_within_10s']}/{le['episodes']}", "[alarms](docs/alarms.md)"],
        ["Wire protocol fuzzing", f"{fz['crashes']} crashes in {fz['frames']:,} frames "
         f"({fz['mutated_frames']:,} mutated)", "[protocol](docs/protocol.md)"],
        [f"Central station, {fleet['beds']} beds over MQTT",
         f"{fleet['lost']} of {fleet['alerts_sent']:,} alerts lost; p99 "
         f"{num(fleet['latency_ms']['p99'], 2)} ms", "[web view](docs/web.md)"],
    ]
    return md(["capability", "headline number", "details"], rows)


@table("readme_hardware", "isa_parity.json", "arm64.json")
def _readme_hardware(isa, arm) -> str:
    how = {"x86-native": "native, full test splits",
           "x86-qemu-haswell": "emulated: `qemu-x86_64 -cpu Haswell`, fixed subset",
           "aarch64-qemu-cortex-a72": "emulated: `qemu-aarch64 -cpu cortex-a72`, subset",
           "aarch64-qemu-max": "emulated: `qemu-aarch64 -cpu max`, subset"}
    boards = {"x86-native": "x86-64 PCs and servers with AVX-512 VNNI (Ice Lake+, Zen 4+)",
              "x86-qemu-haswell": "x86-64 with AVX2, no VNNI (Haswell .. Skylake, Zen 1-3)",
              "aarch64-qemu-cortex-a72": "Raspberry Pi 4 (Cortex-A72, NEON)",
              "aarch64-qemu-max": "Raspberry Pi 5 class (Cortex-A76, dot-product)"}
    rows = []
    for run, label in how.items():
        r = isa["runs"].get(run)
        if r is None:
            continue
        agr = " / ".join(pct(r["tasks"][t]["onnx"]["agreement"]) + " %"
                         for t in ("beat", "hyp", "findings6"))
        rows.append([boards[run], r["cpu"]["isa_class"], label, agr,
                     "pass" if r.get("passed") else "FAIL"])
    cpus = ", ".join(arm["cpus"])
    ok = all(c.get("records") and all(x["passed"] for x in c["records"].values())
             for c in arm["cpus"].values())
    rows.append(["Raspberry Pi 4/5 whole runtime (demo, `ecgedge run`, tests)",
                 "aarch64", f"emulated: arm64 Debian root under QEMU ({cpus})",
                 "journals identical to x86" if ok else "journals differ", "pass" if ok
                 else "FAIL"])
    return md(["CPU / board", "ISA class", "how measured", "int8 vs fp32 agreement "
               "(beat / hyp / findings6)", "parity"], rows)


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
    if t.get("tflite"):
        tf = t["tflite"]
        out += f"; TFLite {pct(tf['agreement'])} % / {signed(100 * tf['metric_drop'])}"
    return out


@table("isa_parity", "isa_parity.json")
def _isa_parity(d) -> str:
    rows = []
    for run, r in d["runs"].items():
        tasks = r["tasks"]
        n = "/".join(str(tasks[t]["n"]) for t in ("beat", "hyp", "findings6"))
        data = ("full test" if r["data"].startswith("full") else "subset") + f" (n={n})"
        cells = [_isa_cell({**tasks[t], "_isa": r["cpu"]["isa_class"]})
                 for t in ("beat", "hyp", "findings6")]
        rows.append([run, f"{r['cpu']['isa_class']} ({', '.join(r['cpu']['flags_seen'])})",
                     data, *cells, r["passed"]])
    return md(["run", "ISA class (flags seen)", "data", "beat agr. / F1 drop",
               "hyp agr. / AUROC drop", "findings6 agr. / AUROC drop", "passed"], rows)


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


# ---------------------------------------------------------------- runtime

_VARIANTS = {"int8": "int8 (`beat.int8` + `hyp.int8`)", "fp32": "fp32 (`beat.fp32` + `hyp.fp32`)",
             "none": "detector only (no models)"}


def _pipeline_rows(d) -> list[list]:
    rows = []
    for key, v in d["variants"].items():
        st = v["x_real_time_per_stage"]
        win = "-" if not v.get("windows") else f"{st['window']:,.0f}x"
        bl, dl = v["beat_latency_s"], v["detector_latency_s"]
        rows.append([_VARIANTS.get(key, key), f"**{v['x_real_time_total']:,.0f}x**",
                     f"{st['detector']:,.0f}x", f"{st['beats']:,.0f}x", win,
                     f"{st['alerts+sinks']:,.0f}x", f"{bl['p50']:.2f} / {bl['p99']:.2f}",
                     f"{dl['p50']:.2f} / {dl['p99']:.2f}",
                     num(v["beat_model_ms_per_beat"], 3) if v.get("beat_batches") else "-",
                     num(v["window_model_ms_per_window"], 3) if v.get("windows") else "-",
                     f"{v['peak_rss_mb']:.0f} ({v['rss_after_imports_mb']:.0f})"])
    return rows


_PIPE_HEAD = ["variant (beat + window model)", "total x RT", "detector", "beats (windows+RR+model)",
              "window (resample+model)", "alerts+sinks", "beat latency p50 / p99 (s of signal)",
              "detector decision p50 / p99", "beat model ms/beat", "window model ms/window",
              "peak RSS MB (after imports)"]


@table("pipeline", "pipeline.json")
def _pipeline(d) -> str:
    best = d.get("best_of_runs", {})
    runs = best.get("x_real_time_total", {})
    note = ""
    if runs:
        note = "\n\nAll runs (x real time, total): " + "; ".join(
            f"{k} {', '.join(f'{x:,.0f}x' for x in v)}" for k, v in runs.items())
        p12 = best.get("ptbxl_12lead_x_real_time", {})
        if p12:
            note += ("; 12-lead 500 Hz PTB-XL stream (120 records, window model on 12 leads): "
                     + "; ".join(f"{k} {', '.join(f'{x:,.0f}x' for x in v)}"
                                 for k, v in p12.items()))
        note += "."
    return md(_PIPE_HEAD, _pipeline_rows(d), ["l"] + ["r"] * 10) + note


@table("pipeline_now", "pipeline_int8_now.json")
def _pipeline_now(d) -> str:
    return md(_PIPE_HEAD, _pipeline_rows(d), ["l"] + ["r"] * 10)


@table("asystole_delay", "pipeline_int8_now.json")
def _asystole(d) -> str:
    a = d["asystole_alarm_delay"]
    return md(["records", "missed", "delay after the last beat: median / max s",
               "alarm rule (no beat for)", "IEC 60601-2-27 limit"],
              [[a["records"], len(a["missed"]), f"{a['median_s']:.2f} / {a['max_s']:.2f}",
                f"{a['rule_no_beat_s']:g} s", f"{a['iec_60601_2_27_limit_s']:g} s"]],
              ["r", "r", "r", "r", "r"])


@table("beat_latency_parts", "pipeline.json")
def _latency_parts(d) -> str:
    v = d["variants"]["int8"]
    p = v["beat_latency_parts_s"]
    rows = [["detector decision (this beat)", num(v["detector_latency_s"]["p50"], 2),
             num(v["detector_latency_s"]["p99"], 2)],
            ["next beat's detector decision (the `post_rr` feature needs it)",
             num(p["r_to_successor_decided"]["p50"], 2),
             num(p["r_to_successor_decided"]["p99"], 2)],
            ["beat window end (through filter + resampler)", num(p["r_to_window_end"]["p50"], 2),
             num(p["r_to_window_end"]["p99"], 2)],
            ["**label (what the alert engine sees)**", f"**{v['beat_latency_s']['p50']:.2f}**",
             f"**{v['beat_latency_s']['p99']:.2f}**"]]
    return (md(["part (s of signal after the R peak)", "p50", "p99"], rows, ["l", "r", "r"]) +
            f"\n\nThe window end binds for {pct(p['window_end_binding_fraction'])} % of beats.")


@table("pipeline_rss", "pipeline_rss.json")
def _rss(d) -> str:
    im, fl = d["imports"], d["floor_mb"]
    rows = [["python alone / + numpy", f"{d['python_only_mb']} / {d['numpy_mb']}"]]
    for mod, what in (("scipy.signal", "+ `scipy.signal` (imports scipy.stats, interpolate, "
                       "optimize, special, linalg)"),
                      ("scipy.ndimage", "+ `scipy.ndimage` alone (detector's running max)"),
                      ("onnxruntime", "+ onnxruntime"),
                      ("wfdb", "+ `wfdb` (incl. pandas), only to read WFDB records and write "
                       "strips"),
                      ("numba", "+ numba (dev extra; not in the base install)")):
        if mod in im:
            rows.append([what, f"+{im[mod]['rss_after_numpy_mb']} "
                         f"({im[mod]['import_ms_cumulative']:.0f} ms import)"])
    for k, v in fl.items():
        rows.append([k, v])
    rows.append(["`ecgedge run` live: simulator over TCP, record 100, "
                 f"{d['run_live_mode']['signal_s']} s, beat.int8 + journal",
                 f"**{d['run_live_mode']['peak_rss_mb']}**"])
    rows.append(["`ecgedge run --record 100` (record mode: wfdb + the whole record in memory)",
                 f"**{d['run_record_mode']['peak_rss_mb']}**"])
    return md(["what", "peak RSS MB"], rows, ["l", "r"]) + (
        f"\n\n`ECGEDGE_NUMBA={d.get('ECGEDGE_NUMBA', 'unset')}`; {d.get('note', '')}")


# ---------------------------------------------------------------- protocol, web, alarms

@table("protocol_throughput", "protocol.json")
def _protocol(d) -> str:
    rows = []
    for r in d["throughput"]:
        lines = f" (lines: {r['samples_per_s']:,.0f})" if r["mode"] == "csv" else ""
        rows.append([r["stream"], r["mode"], f"{r['frames_per_s']:,.0f}{lines}",
                     f"{r['samples_per_s']:,.0f}", f"{r['x_realtime']:,.0f}"])
    return md(["stream", "mode", "frames/s", "samples/s per lead", "x real time"], rows,
              ["l", "l", "r", "r", "r"]) + f"\n\n{d.get('note', '')}."


@table("protocol_fuzz", "protocol.json")
def _fuzz(d) -> str:
    f = d["fuzz"]
    rows = [["frames / mutated", f"{f['frames']:,} / {f['mutated_frames']:,}"],
            ["mutations", ", ".join(f"{k} {v:,}" for k, v in f["mutations"].items())],
            ["crashes", f["crashes"]],
            ["chunks with exact sample accounting", f"{f['chunks_exact']} of {f['chunks']}"],
            ["samples sent = delivered + reported lost",
             f"{f['samples_sent']:,} = {f['samples_delivered']:,} + "
             f"{f['lost_samples_reported']:,}"],
            ["samples really lost (injected)", f"{f['lost_samples_true']:,}"],
            ["corrupted frames that passed the CRC-16 (expected ~)",
             f"{f['undetected_corrupt_frames']} ({f['undetected_expected_crc16']:.1f})"],
            ["damaged frames whose payload survived, delivered", f["recovered_frames"]],
            ["unexplained frames", f["unexplained_frames"]]]
    return md(["fuzz campaign", "result"], rows)


@table("fleet", "fleet.json")
def _fleet(d) -> str:
    pb = d["per_bed_per_s"]
    msgs = sum(v["messages"] for v in pb.values())
    byts = sum(v["bytes"] for v in pb.values())
    lat = d["latency_ms"]
    rows = [["beds, duration", f"{d['beds']}, {d['duration_s']:.0f} s ({d['publisher']})"],
            ["alerts (onsets + ends) sent / received",
             f"**{d['alerts_sent']} / {d['alerts_received']}: lost {d['lost']}, duplicated "
             f"{d['duplicated']}, unexpected {d['unexpected']}**"],
            ["alert published -> station received",
             f"p50 **{lat['p50']} ms**, p99 **{lat['p99']} ms**, max {lat['max']} ms"],
            ["CPU (share of one core, whole run)",
             f"broker {d['cpu_pct_of_one_core']['broker']} %, station "
             f"{d['cpu_pct_of_one_core']['station']} %"],
            ["RSS", f"broker {d['rss_mb']['broker']} MB, station {d['rss_mb']['station']} MB"],
            ["per bed, measured", "; ".join(f"{k} {v['messages']} msg/s x "
                                            f"{v['bytes_per_message']} B"
                                            for k, v in pb.items())
             + f"; total **{msgs:.2f} msg/s, {byts:.0f} B/s** payload"]]
    return md(["", ""], rows)


@table("web_overhead", "web_overhead.json")
def _web_overhead(d) -> str:
    rows = [["without the web view", num(d["median"]["without"]), num(d["best"]["without"]),
             ", ".join(num(x) for x in d["x_real_time_per_cpu_s"]["without"])],
            ["with `--web` and one client", num(d["median"]["with_web_1_client"]),
             num(d["best"]["with_web_1_client"]),
             ", ".join(num(x) for x in d["x_real_time_per_cpu_s"]["with_web_1_client"])]]
    return (md(["record " + d["record"] + f", {d['signal_s']:.0f} s, {d['beat_model']} beat model, "
                f"{d['block_s']} s blocks", "median x RT", "best x RT", "all runs"], rows,
               ["l", "r", "r", "l"]) +
            f"\n\nSlowdown: median {d['slowdown_pct_median']} %, best-of-{d['repeat']} "
            f"{d['slowdown_pct_best']} %; the web sink's own calls "
            f"{d['signal_path_web_pct_median']} % "
            "of the signal path.")


def _ba(a, b, fmt: str = "{}") -> str:
    """'before -> after', '-' for a value that is not there."""
    def f(x) -> str:
        return "-" if x is None else fmt.format(x)
    return f"{f(a)} -> {f(b)}"


def alarm_before_after(before: dict, after: dict, set_: str, rows: tuple[str, ...]) -> str:
    """Alarm rows of one record set, before -> after, then the EC57 VF and lethal lines."""
    b, a = before["sets"][set_], after["sets"][set_]
    cols = (("episodes", "{}"), ("detected", "{}"), ("sensitivity", "{:.1f}"), ("alarms", "{}"),
            ("true_alarms", "{}"), ("ppv", "{:.1f}"), ("false_per_hour", "{:.2f}"),
            ("delay_median_s", "{:.1f}"))
    out = []
    for r in rows:
        rb, ra = b["rows"].get(r, {}), a["rows"].get(r, {})
        out.append([r] + [_ba(rb.get(k), ra.get(k), f) for k, f in cols])
    vb, va = b["ec57"].get("VF", {}), a["ec57"].get("VF", {})
    lb, la = b["lethal"], a["lethal"]
    return (md(["alarm", "episodes", "detected", "Se %", "alarms", "true", "+P %", "false/h",
                "delay median s"], out) +
            "\n\nEC57 VF (test before = any crisis, after = vf alarm): " +
            ", ".join(f"{k} {vb.get(k)} -> {va.get(k)}" for k in ("ESe", "E+P", "DSe", "D+P")) +
            f"\n\nVT/VF >= 4 s with a crisis <= 10 s: {lb['crisis_within_10s']}/{lb['episodes']}"
            f" -> {la['crisis_within_10s']}/{la['episodes']}")


def _n_type(noise_row: dict, kind: str) -> int:
    """Alarms of one type (every severity) in a noise row's ``by_type`` ('vt:crisis': n)."""
    return sum(n for k, n in noise_row["by_type"].items() if k.split(":")[0] == kind)


def alarm_noise_before_after(before: dict, after: dict) -> str:
    """Noise stress rows present in both runs, before -> after."""
    rows = []
    for key, nb in before["noise"].items():
        na = after["noise"].get(key)
        if na is None:
            continue
        rows.append([key, _ba(nb["arrhythmia_per_h"], na["arrhythmia_per_h"]),
                     _ba(nb["warning_per_h"], na["warning_per_h"]), _ba(nb["crisis"], na["crisis"])]
                    + [_ba(_n_type(nb, t), _n_type(na, t)) for t in ("vf", "vt", "svt")])
    return md(["noise", "arrhythmia/h", "warning/h", "crisis (n)", "vf (n)", "vt (n)", "svt (n)"],
              rows)


_VF_DS1 = ("vf/any", "vt/any", "svt/any", "tachycardia/any", "bradycardia/any", "asystole/any",
           "pause/any", "af/any", "VFL:any-crisis/crisis")
_VF_DS2 = ("vt/any", "svt/any", "bradycardia/any", "asystole/any", "pause/any", "af/any")
table("vf_hr_ds1", "alarms_baseline.json", "alarms_vf_hr.json")(
    lambda b, a: alarm_before_after(b, a, "DS1", _VF_DS1))
table("vf_hr_ds2", "alarms_baseline.json", "alarms_vf_hr.json")(
    lambda b, a: alarm_before_after(b, a, "DS2", _VF_DS2))
table("vf_hr_noise", "alarms_baseline.json", "alarms_vf_hr_noise.json")(alarm_noise_before_after)


@table("quality_all", "alarms_baseline.json", "alarms_quality.json")
def _quality_all(before, after) -> str:
    """Absence and arrhythmia alarms on all 48 records before -> after the quality work."""
    def afd(rows: dict, key: str) -> str:
        r = rows[key]
        return f"{r['alarms']} / {r['false_alarms']} / {r['detected']} of {r['episodes']}"

    def noise(rows: dict) -> str:
        r = rows.get("noisy_signal/any") or rows["noise/any"]
        out = f"{r['detected']} of {r['episodes']}"
        if r["alarms"]:
            out += f" ({r['alarms']} alarms, {r['true_alarms']} true)"
        return out

    cols = []
    for d in (before, after):
        rows, le = d["sets"]["all"]["rows"], d["sets"]["all"]["lethal"]
        vfl = rows["VFL:any-crisis/crisis"]
        cols.append([afd(rows, "asystole/crisis"), afd(rows, "pause/any"),
                     afd(rows, "bradycardia/any"), afd(rows, "vt/crisis"), afd(rows, "svt/any"),
                     f"{le['crisis_within_10s']} / {le['episodes']}",
                     f"{vfl['detected']} / {vfl['episodes']} (max {vfl['delay_max_s']:.1f} s)",
                     noise(rows)])
    names = ["asystole (crisis)", "pause", "bradycardia", "vt (crisis)", "svt",
             "VT/VF >= 4 s with a crisis <= 10 s", "`(VFL` with a crisis",
             "noise technical alarm, reference noise episodes hit"]
    return md(["alarm", "before: alarms / false / Se", "after: alarms / false / Se"],
              [[n, b, a] for n, b, a in zip(names, *cols, strict=True)])


@table("quality_noise", "alarms_baseline.json", "alarms_quality.json")
def _quality_noise(before, after) -> str:
    rows = []
    for snr in ("6", "0"):
        for kind in ("em", "ma", "bw"):
            b, a = before["noise"][f"{kind}@{snr}"], after["noise"][f"{kind}@{snr}"]
            rows.append([f"{kind} {snr} dB", f"{b['crisis_per_h']:.1f}, {b['warning_per_h']:.1f}",
                         f"{a['crisis_per_h']:.1f}, {a['warning_per_h']:.1f}",
                         f"{a['noise_alarm_pct']:.1f} %"])
    return md(["noise, SNR", "before: crisis/h, warnings/h", "after: crisis/h, warnings/h",
               "noisy_signal covers"], rows)


def _alarm_sets(d: dict, names: tuple[str, ...]) -> str:
    from train.alarms.cli import format_table

    return "```\n" + "\n".join(format_table(n, d["sets"][n]) for n in names) + "\n```"


def _alarm_noise(d: dict) -> str:
    from train.alarms.cli import noise_table

    return "```\n" + noise_table(d["noise"]) + "\n```"


for _f, _tag in (("alarms.json", "alarms"), ("alarms_baseline.json", "alarms_baseline")):
    for _set in ("DS1", "DS2", "all"):
        table(f"{_tag}_{_set.lower()}", _f)(lambda d, s=_set: _alarm_sets(d, (s,)))
    table(f"{_tag}_noise", _f)(_alarm_noise)


# ---------------------------------------------------------------- engine

def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        raise FileNotFoundError(f"docs/results/{name} is missing")
    return json.loads(path.read_text())


def render(name: str) -> str:
    """The text of block ``name``: its table(s), then the source line."""
    if name in TABLES:
        files, fn = TABLES[name]
        data = [_load(f) for f in files]
        return fn(*data).rstrip() + "\n\n" + source(files, data)
    stem, _, key = name.partition(".")
    if key:  # a markdown table stored in the JSON itself
        d = _load(f"{stem}.json")
        if key not in d:
            raise KeyError(f"docs/results/{stem}.json has no key '{key}'")
        return str(d[key]).rstrip() + "\n\n" + source((f"{stem}.json",), [d])
    raise KeyError(f"unknown results table '{name}' (see python docs/tables.py --list)")


def pages() -> list[Path]:
    out: list[Path] = []
    for pat in PAGES:
        out += sorted(REPO.glob(pat))
    return out


class TableError(Exception):
    """A block that cannot be rendered: which one, where, and why (e.g. a JSON key a rerun
    renamed: update that table's renderer)."""


def rendered(text: str, where: str = "") -> str:
    """``text`` with every results block re-rendered."""
    def sub(m: re.Match) -> str:
        try:
            return f"{m[1]}{render(m['name'])}\n{m[4]}"
        except (KeyError, TypeError, ValueError, FileNotFoundError, IndexError) as exc:
            files = TABLES.get(m["name"], (("?",), None))[0]
            raise TableError(f"{where}: block '{m['name']}' (reads {', '.join(files)}): "
                             f"{type(exc).__name__}: {exc}") from exc
    return BLOCK.sub(sub, text)


def blocks() -> dict[str, list[Path]]:
    """Block name -> the pages that hold it."""
    out: dict[str, list[Path]] = {}
    for p in pages():
        for m in BLOCK.finditer(p.read_text()):
            out.setdefault(m["name"], []).append(p)
    return out


def check() -> list[str]:
    """A unified diff per page whose blocks differ from their JSON ([] when all agree)."""
    diffs = []
    for p in pages():
        old = p.read_text()
        rel = str(p.relative_to(REPO))
        new = rendered(old, rel)
        if new != old:
            diffs.append("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                      rel, rel + " (from JSON)")))
    return diffs


# ---------------------------------------------------------------- tables outside blocks

MARKER = re.compile(r"<!-- table: (?P<kind>static|checked|tested|one-off)\b(?P<arg>[^>]*)-->")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")


def loose_tables(text: str) -> list[tuple[int, str, str]]:
    """Markdown tables outside results blocks: (line number, marker line, table text)."""
    text = BLOCK.sub(lambda m: "\n" * m[0].count("\n"), text)  # keep line numbers
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and \
                re.match(r"\s*\|\s*:?-", lines[i + 1]):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            out.append((i + 1, lines[k].strip() if k >= 0 else "", "\n".join(lines[i:j])))
            i = j
        else:
            i += 1
    return out


def _json_numbers(files: list[str]) -> set[str]:
    """Every number in the JSON files, formatted as a table might show it."""
    vals: list[float] = []

    def walk(x) -> None:
        if isinstance(x, bool):
            return
        if isinstance(x, (int, float)):
            vals.append(float(x))
        elif isinstance(x, str):
            vals.extend(float(t.replace(",", "")) for t in NUMBER.findall(x))
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    for f in files:
        walk(_load(f))
    out: set[str] = set()
    for v in vals:
        for x in (v, 100 * v) if abs(v) <= 1.5 else (v,):
            for d in range(5):
                out.add(f"{abs(x):.{d}f}")
    return out


def unmatched_numbers(table_text: str, files: list[str]) -> list[str]:
    """Numbers of a hand-written table that occur in none of ``files`` (at the shown
    precision, fractions also as percent)."""
    have = _json_numbers(files)
    table_text = re.sub(r"\]\([^)]*\)", "]", table_text)  # link targets are not numbers
    return [t for t in NUMBER.findall(table_text)
            if t.lstrip("+-").replace(",", "") not in have]


def lint() -> list[str]:
    """Problems with tables outside results blocks: each table with digits needs a marker on
    the line before it, and a ``checked`` table's numbers must all be in its JSON."""
    problems = []
    for p in pages():
        rel = p.relative_to(REPO)
        for line, marker, tbl in loose_tables(p.read_text()):
            body = "\n".join(tbl.split("\n")[2:])
            if not re.search(r"\d", body):
                continue
            m = MARKER.fullmatch(marker)
            if m is None:
                problems.append(f"{rel}:{line}: table with numbers outside a results block and "
                                "without a <!-- table: static|checked FILE.json|tested FILE|"
                                "one-off REASON --> marker")
                continue
            arg = m["arg"].strip()
            if m["kind"] == "checked":
                files = arg.split()
                missing = [f for f in files if not (RESULTS / f).is_file()]
                if not files or missing:
                    problems.append(f"{rel}:{line}: checked against missing JSON {missing}")
                    continue
                bad = unmatched_numbers(body, files)
                if bad:
                    problems.append(f"{rel}:{line}: numbers not in {', '.join(files)}: "
                                    f"{', '.join(bad[:12])}")
            elif m["kind"] == "tested":
                if not arg or not (REPO / arg.split()[0]).is_file():
                    problems.append(f"{rel}:{line}: 'tested' needs an existing test file")
            elif m["kind"] == "one-off" and not arg:
                problems.append(f"{rel}:{line}: 'one-off' needs the reason")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python docs/tables.py", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="exit 1 with a diff if any block is stale")
    g.add_argument("--write", action="store_true", help="rewrite every block from its JSON")
    g.add_argument("--list", action="store_true", help="table names and the JSON each reads")
    a = ap.parse_args(argv)
    try:
        return _run(a)
    except TableError as exc:
        print(f"docs/tables.py: {exc}", file=sys.stderr)
        return 2


def _run(a: argparse.Namespace) -> int:
    if a.list:
        where = blocks()
        for name in sorted(set(TABLES) | set(where)):
            files = TABLES[name][0] if name in TABLES else (name.partition(".")[0] + ".json",)
            pages_ = ", ".join(str(p.relative_to(REPO)) for p in where.get(name, [])) or "unused"
            print(f"{name:28s} {', '.join(files):60s} {pages_}")
        return 0
    if a.write:
        for p in pages():
            old = p.read_text()
            new = rendered(old, str(p.relative_to(REPO)))
            if new != old:
                p.write_text(new)
                print(f"wrote {p.relative_to(REPO)}")
        return 0
    diffs, problems = check(), lint()
    for d in diffs:
        print(d)
    for q in problems:
        print(q)
    if diffs:
        print("docs differ from docs/results/*.json: run python docs/tables.py --write",
              file=sys.stderr)
    return 1 if diffs or problems else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
