"""The README's tables: one headline number per capability, and hardware support."""

from __future__ import annotations

from doctables import md, mean_sd, num, pct, table
from doctables.allcomers import chosen_hyp, findings6_headline
from export.isa_card import ISA_CLASSES, table_from_results

# ---------------------------------------------------------------- README

@table("readme_results", "detectors.json", "beats_headline.json", "window_allcomers.json",
       "export_beat.json", "export_hyp.json", "export_findings6.json", "pipeline_int8_now.json",
       "pipeline_rss.json", "alarms.json", "protocol.json", "fleet.json")
def _readme_results(det, beats, allc, exp, exp_hyp, exp_f6, pipe, rss, alarms, proto,
                    fleet) -> str:
    s = det["mitdb"]["ecgedge stream 1 s"]["from_300s_150ms"]["non_paced_44"]
    b = beats["row"]["ds2_b"]
    v = pipe["variants"]["int8"]
    le = alarms["sets"]["all"]["lethal"]
    fz = proto["fuzz"]
    hyp = chosen_hyp(allc)
    alone, shipped, by_rule = findings6_headline(allc)
    f6 = (f"macro AUROC {num(shipped, 3)} with {', '.join(by_rule)} decided by the heart-rate "
          f"rule ({num(alone, 3)} network alone)" if by_rule
          else f"macro AUROC {num(alone, 3)}")
    agr = "; ".join(f"{task} {pct(e['parity_test']['int8']['agreement'])} %"
                    for task, e in (("beat", exp), ("hyp", exp_hyp), ("findings6", exp_f6)))
    rows = [
        ["R-peak detection (MIT-BIH, 44 records, EC57)",
         f"Se {pct(s['gross_se'])} % / +P {pct(s['gross_ppv'])} %", "[detector](docs/detector.md)"],
        ["Beat classes on unseen patients (MIT-BIH DS2, detected beats)",
         f"VEB Se {mean_sd(b['veb_se'])} / +P {mean_sd(b['veb_ppv'])} %; "
         f"SVEB Se {mean_sd(b['sveb_se'])} / +P {mean_sd(b['sveb_ppv'])} %",
         "[beats](docs/beats.md)"],
        ["Hypertrophy screening, HYP vs all comers (PTB-XL fold 10, shipped model)",
         f"AUROC {num(hyp['test_vs_all']['screening']['auroc']['value'], 3)} "
         f"({num(hyp['test_vs_norm']['screening']['auroc']['value'], 3)} vs NORM only)",
         "[all-comers window models](docs/window_allcomers.md)"],
        ["Six findings (PTB-XL fold 10, shipped model)", f6,
         "[all-comers window models](docs/window_allcomers.md)"],
        ["int8 export (DS2 beats, PTB-XL fold 10 windows)",
         f"same decisions as fp32: {agr}", "[export and portability](docs/portability.md)"],
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


#: the boards each ISA class stands for
BOARDS = {"x86-64 VNNI": "x86-64 PCs and servers with AVX-512 VNNI (Ice Lake+, Zen 4+)",
          "x86-64 AVX2, no VNNI": "x86-64 with AVX2, no VNNI (Haswell .. Skylake, Zen 1-3)",
          "aarch64 NEON, no dot-product": "Raspberry Pi 4 (Cortex-A72, NEON)",
          "aarch64 dot-product": "Raspberry Pi 5 class (Cortex-A76, dot-product)"}
HW_TASKS = ("beat", "hyp", "findings6")


def _how(entries: list[dict]) -> str:
    """How a class was reached, from the runs behind it (native or the emulator), and on
    what data (full test splits or the fixed subset)."""
    out = []
    for e in entries:
        emu = (e.get("emulation") or "").split(" (")[0]
        data = "full test splits" if (e.get("data") or "").startswith("full") else "fixed subset"
        txt = f"emulated: `{emu}`, {data}" if emu else f"native, {data}"
        if txt not in out:
            out.append(txt)
    return "; ".join(out) or "-"


@table("readme_hardware", "isa_parity.json", "arm64.json")
def _readme_hardware(isa, arm) -> str:
    """Per ISA class, each model's run on the most data (``export.isa_card``'s choice, the
    same the cards show): runs may hold only some of the models."""
    per_task = {t: table_from_results(isa, t, "onnx")["targets"] for t in HW_TASKS}
    rows = []
    for cls in ISA_CLASSES:
        got = {t: per_task[t][cls] for t in HW_TASKS if per_task[t][cls]["status"] != "not checked"}
        if not got:
            continue
        agr = " / ".join(pct(got[t]["agreement"]) + " %" if t in got else "not run"
                         for t in HW_TASKS)
        ok = all(e["status"] == "passed" for e in got.values())
        verdict = ("pass" if ok else "FAIL") + ("" if len(got) == len(HW_TASKS) else " (partial)")
        rows.append([BOARDS.get(cls, cls), cls, _how(list(got.values())), agr, verdict])
    cpus = ", ".join(arm["cpus"])
    ok = all(c.get("records") and all(x["passed"] for x in c["records"].values())
             for c in arm["cpus"].values())
    rows.append(["Raspberry Pi 4/5 whole runtime (demo, `ecgedge run`, tests)",
                 "aarch64", f"emulated: arm64 Debian root under QEMU ({cpus})",
                 "journals identical to x86" if ok else "journals differ", "pass" if ok
                 else "FAIL"])
    return md(["CPU / board", "ISA class", "how measured", "int8 vs fp32 agreement "
               "(beat / hyp / findings6)", "parity"], rows)
