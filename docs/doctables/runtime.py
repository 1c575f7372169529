"""Tables of the runtime: pipeline speed, memory, latency, protocol, web, alarms."""

from __future__ import annotations

from doctables import md, num, pct, table

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


@table("beat_latency", "beat_latency.json")
def _beat_latency(d) -> str:
    names = {"standard": "standard", "low_latency": "low latency"}
    rows = []
    for rec in [*d["records"], "all three"]:
        for mode, label in names.items():
            r = d["total"][mode] if rec == "all three" else d["per_record"][mode][rec]
            lat = r["label_latency_s"]
            rows.append([rec, label, r["beats"], num(lat["median"], 3), num(lat["p95"], 3),
                         num(lat["max"], 3)])
    return md(["record", "mode", "beats", "median", "p95", "max"], rows,
              ["l", "l", "r", "r", "r", "r"])
