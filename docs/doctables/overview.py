"""The README's tables: one headline number per capability, and hardware support."""

from __future__ import annotations

from doctables import md, mean_sd, num, pct, table

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
