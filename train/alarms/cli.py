"""``ecgedge eval alarms``: episode-level alarm benchmark of the shipped runtime on MIT-BIH.

Examples::

    ecgedge eval alarms --db mitdb                       # all 48 records: DS1, DS2, all
    ecgedge eval alarms --db mitdb --records DS2 --json alarms.json
    ecgedge eval alarms --db mitdb --records none --noise em,ma,bw --snr 24,12,6,0
    ecgedge eval alarms --db mitdb --records 100 --duration 120   # a quick smoke run

Per alarm type and severity it prints episode sensitivity, alarm positive predictivity,
false alarms per hour and alarm delay (matching rules: :mod:`edge_runtime.alarm_eval` and
docs/alarms.md), the EC57 AF/VF episode statistics, lethal-rhythm (VT/VF >= 4 s) crisis
detection within 10 s, and for the noise-stress set the arrhythmia alarms per hour of noise.
Runs without torch (numpy, wfdb, onnxruntime).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from edge_runtime.alarm_eval import ALARM_REFERENCE, RowStats
from edge_runtime.cli import make_parser
from edge_runtime.errors import EcgEdgeError
from train.alarms.run import (
    NOISE_RECORDS,
    RecordResult,
    evaluate_noisy,
    evaluate_record,
    load_models,
)

__all__ = ["main", "build_parser", "DS1", "DS2", "PACED", "ALL_RECORDS", "aggregate",
           "format_table", "noise_table", "run_benchmark"]

from train.data.mitdb import ALL_RECORDS, DS1, DS2, PACED  # de Chazal 2004 split

NOISE_TYPES = ("em", "ma", "bw")
DEFAULT_SNR = (24.0, 18.0, 12.0, 6.0, 0.0)


def build_parser():
    ap = make_parser("ecgedge eval alarms", __doc__)
    ap.add_argument("--db", default="mitdb", help="reference database (mitdb)")
    ap.add_argument("--records", default="all",
                    help="DS1, DS2, all, none, or a comma list (default all)")
    ap.add_argument("--noise", help="noise stress with these NSTDB records, e.g. em,ma,bw")
    ap.add_argument("--snr", default="24,18,12,6,0", help="noise-stress SNRs in dB")
    ap.add_argument("--noise-records", default=",".join(NOISE_RECORDS),
                    help="clean records the noise is added to")
    ap.add_argument("--duration", type=float, help="score only the first S seconds of each")
    ap.add_argument("--tol", type=float, default=5.0, help="matching tolerance, s (default 5)")
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"],
                    help="shipped beat model variant (default int8)")
    ap.add_argument("--data-dir", help="PhysioNet data dir (holds mitdb/, nstdb/)")
    ap.add_argument("--json", help="write the results as JSON here")
    ap.add_argument("--plot", help="write a PNG plot here (needs matplotlib)")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return ap


def _floats(text: str, flag: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise EcgEdgeError(f"{flag} wants numbers separated by commas, got '{text}'") from None


def select_records(spec: str) -> tuple[list[str], dict[str, list[str]]]:
    """Records to run and the named sets to report over them."""
    key = spec.strip()
    if key.lower() == "none":
        return [], {}
    if key.lower() == "all":
        return list(ALL_RECORDS), {"DS1": list(DS1), "DS2": list(DS2), "all": list(ALL_RECORDS)}
    if key.upper() in ("DS1", "DS2"):
        recs = list(DS1 if key.upper() == "DS1" else DS2)
        return recs, {key.upper(): recs}
    recs = [r.strip() for r in key.split(",") if r.strip()]
    bad = [r for r in recs if r not in ALL_RECORDS]
    if bad or not recs:
        raise EcgEdgeError(f"--records: not MIT-BIH records: {', '.join(bad) or spec}")
    return recs, {"selected": recs}


class Progress:
    """One stderr line per finished run, with the elapsed time (a bench takes minutes)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.done, self.quiet, self.t0 = total, 0, quiet, time.time()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.quiet:
            print(f"[{self.done}/{self.total}] {label} ({time.time() - self.t0:.0f} s)",
                  file=sys.stderr, flush=True)


def aggregate(results: list[RecordResult]) -> dict:
    """Rows, EC57 and lethal-rhythm statistics summed over ``results``."""
    rows: dict[tuple[str, str], RowStats] = {}
    hours = sum(r.hours for r in results)
    for r in results:
        for key, st in r.rows.items():
            rows.setdefault(key, RowStats()).add(st)
    for key in [k for k, st in rows.items() if k[1] != "any" and st.alarms == 0]:
        del rows[key]  # a severity no alarm of this type reached in these records
    for st in rows.values():
        st.hours = hours
    ec57: dict[str, dict] = {}
    for r in results:
        for kind, d in r.ec57.items():
            acc = ec57.setdefault(kind, {})
            for k, v in d.items():
                acc[k] = acc.get(k, 0) + v
    for d in ec57.values():
        d["ESe"] = _pct(d["TPs"], d["TPs"] + d["FN"])
        d["E+P"] = _pct(d["TPp"], d["TPp"] + d["FP"])
        d["DSe"] = _pct(d["overlap_ref_s"], d["ref_s"])
        d["D+P"] = _pct(d["overlap_test_s"], d["test_s"])
    lethal = [x for r in results for x in r.lethal]
    hit = [x for x in lethal if x["crisis_delay_s"] is not None and x["crisis_delay_s"] <= 10]
    order = {t: i for i, t in enumerate(ALARM_REFERENCE)}
    keyf = lambda k: (order.get(k[0], 99), k[0], k[1] != "any", k[1])  # noqa: E731
    return {
        "records": len(results), "hours": round(hours, 3),
        "without_beat_model": [r.name for r in results if r.models.get("beat_model") is False],
        "rows": {f"{t}/{s}": rows[(t, s)].to_dict() for t, s in sorted(rows, key=keyf)},
        "ec57": ec57,
        "lethal": {"episodes": len(lethal), "crisis_within_10s": len(hit),
                   "sensitivity": _pct(len(hit), len(lethal)),
                   "missed": [x for x in lethal if x not in hit]},
    }


def _pct(a: float, b: float) -> float | None:
    return round(100.0 * a / b, 2) if b else None


def _f(x, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def format_table(name: str, agg: dict) -> str:
    """Plain-text table of one record set."""
    nobeat = agg.get("without_beat_model") or []
    note = f" (no beat model on {', '.join(nobeat)}: leads do not fit)" if nobeat else ""
    lines = [f"== {name}: {agg['records']} records, {agg['hours']:.2f} h{note} ==",
             f"{'alarm/severity':<24}{'ep':>5}{'det':>5}{'Se%':>7}{'alarms':>7}{'TP':>6}"
             f"{'+P%':>7}{'FA/h':>7}{'delay med/max s':>17}"]
    for key, r in agg["rows"].items():
        tp = r["true_alarms"] if r["judged"] else "-"
        lines.append(f"{key:<24}{r['episodes']:>5}{r['detected']:>5}{_f(r['sensitivity']):>7}"
                     f"{r['alarms']:>7}{tp:>6}{_f(r['ppv']):>7}"
                     f"{_f(r['false_per_hour'], '{:.2f}'):>7}"
                     f"{_f(r['delay_median_s']):>9}/{_f(r['delay_max_s']):<7}")
    for kind, d in agg["ec57"].items():
        if d["TPs"] + d["FN"] + d["TPp"] + d["FP"] == 0:
            continue
        se = f"EC57 {kind}: ESe {_f(d['ESe'])} ({d['TPs']}/{d['TPs'] + d['FN']})  "
        lines.append(se + f"E+P {_f(d['E+P'])} ({d['TPp']}/{d['TPp'] + d['FP']})  "
                     f"DSe {_f(d['DSe'])}  D+P {_f(d['D+P'])}")
    le = agg["lethal"]
    if le["episodes"]:
        lines.append(f"VT/VF >= 4 s with a crisis alarm <= 10 s after onset: "
                     f"{le['crisis_within_10s']}/{le['episodes']} ({_f(le['sensitivity'])} %)")
    return "\n".join(lines)


def noise_table(noise: dict) -> str:
    """Noise stress: arrhythmia alarms per hour of noise, by noise type and SNR (arrh: every
    severity; warn: arrhythmia warnings; crisis: arrhythmia crises)."""
    lines = ["== noise stress (every arrhythmia alarm while noise is on is false) ==",
             f"{'noise':<7}{'SNR dB':>7}{'noise h':>9}{'arrh':>6}{'arrh/h':>8}{'warn/h':>8}"
             f"{'crisis':>7}{'crisis/h':>9}{'noise alarm %':>15}  top types"]
    for d in noise.values():
        top = ", ".join(f"{k} {v}" for k, v in sorted(d["by_type"].items(),
                                                      key=lambda kv: -kv[1])[:4])
        lines.append(f"{d['noise']:<7}{_f(d['snr_db'], '{:g}'):>7}{d['noise_h']:>9.2f}"
                     f"{d['arrhythmia']:>6}{d['arrhythmia_per_h']:>8.1f}"
                     f"{d['warning_per_h']:>8.1f}{d['crisis']:>7}"
                     f"{d['crisis_per_h']:>9.1f}{_f(d['noise_alarm_pct']):>15}  {top}")
    return "\n".join(lines)


def _noise_aggregate(runs: list[RecordResult], noise: str, snr: float | None) -> dict:
    by: dict[str, int] = {}
    for r in runs:
        for k, v in r.noise["by_type"].items():
            by[k] = by.get(k, 0) + v
    h = sum(r.noise["noise_s"] for r in runs) / 3600.0
    arr = sum(r.noise["arrhythmia"] for r in runs)
    cri = sum(r.noise["crisis"] for r in runs)
    warn = sum(r.noise["warning"] for r in runs)
    cov = sum(r.noise["noise_alarm_covered_s"] for r in runs)
    return {"noise": noise, "snr_db": snr, "runs": len(runs), "noise_h": round(h, 4),
            "arrhythmia": arr, "arrhythmia_per_h": round(arr / h, 3) if h else 0.0,
            "warning": warn, "warning_per_h": round(warn / h, 3) if h else 0.0,
            "crisis": cri, "crisis_per_h": round(cri / h, 3) if h else 0.0,
            "noise_alarm_pct": _pct(cov, h * 3600.0), "by_type": dict(sorted(by.items())),
            "per_run": {r.name: r.summary(full=False) for r in runs}}


def run_benchmark(args) -> dict:
    """Run what ``args`` selects; return the JSON-able result (tables printed by main)."""
    from edge_runtime.datadir import resolve_data_dir

    if args.db != "mitdb":
        raise EcgEdgeError(f"--db {args.db}: only mitdb has the rhythm annotations needed")
    if args.duration is not None and not args.duration > 0:
        raise EcgEdgeError(f"--duration must be > 0 s, got {args.duration:g}")
    if not args.tol >= 0:
        raise EcgEdgeError(f"--tol must be >= 0 s, got {args.tol:g}")
    root = resolve_data_dir(args.data_dir)
    mitdb = root / "mitdb"
    records, sets = select_records(args.records)
    noises = [n.strip() for n in (args.noise or "").split(",") if n.strip()]
    bad = [n for n in noises if n not in NOISE_TYPES]
    if bad:
        raise EcgEdgeError(f"--noise: unknown NSTDB noise {', '.join(bad)} (em, ma, bw)")
    snrs = _floats(args.snr, "--snr") if noises else []
    nrecs = [r.strip() for r in args.noise_records.split(",") if r.strip()] if noises else []
    for r in records + nrecs:
        if not (mitdb / f"{r}.hea").is_file():
            raise EcgEdgeError(f"record {r} not found in {mitdb}")
    for n in noises:
        if not (root / "nstdb" / f"{n}.hea").is_file():
            raise EcgEdgeError(f"NSTDB noise record {n} not found in {root / 'nstdb'}")
    if not records and not noises:
        raise EcgEdgeError("nothing to do: --records none and no --noise")
    models = load_models(args.precision)
    if models.beat is None:
        raise EcgEdgeError("no beat model: the alarm benchmark scores the shipped runtime")
    prog = Progress(len(records) + len(nrecs) * (1 + len(noises) * len(snrs)), args.quiet)
    results: dict[str, RecordResult] = {}
    for r in records:
        results[r] = evaluate_record(mitdb / r, models, args.duration, args.tol)
        prog.step(f"record {r}")
    out: dict = {"db": args.db, "tolerance_s": args.tol, "duration_s": args.duration,
                 "precision": args.precision, "sets": {}, "records": {}}
    for name, recs in sets.items():
        out["sets"][name] = aggregate([results[r] for r in recs if r in results])
    out["records"] = {r: res.summary() for r, res in results.items()}
    if noises:
        out["noise_records"] = nrecs
        noise: dict[str, dict] = {}
        clean = []
        for r in nrecs:
            clean.append(evaluate_noisy(mitdb / r, None, None, models, args.duration, args.tol))
            prog.step(f"clean {r}")
        noise["clean"] = _noise_aggregate(clean, "none", None)
        for nz in noises:
            for snr in snrs:
                runs = []
                for r in nrecs:
                    runs.append(evaluate_noisy(mitdb / r, root / "nstdb" / nz, snr, models,
                                               args.duration, args.tol))
                    prog.step(f"{r} + {nz} @ {snr:g} dB")
                noise[f"{nz}@{snr:g}"] = _noise_aggregate(runs, nz, snr)
        out["noise"] = noise
    return out


def print_tables(out: dict) -> None:
    for name, agg in out["sets"].items():
        print(format_table(name, agg))
        print()
    if "noise" in out:
        print(noise_table(out["noise"]))


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    out = run_benchmark(args)
    out["command"] = "ecgedge eval alarms " + " ".join(argv)
    print_tables(out)
    if args.json:
        try:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        except OSError as exc:
            raise EcgEdgeError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    if args.plot:
        from train.alarms.plot import plot_alarms

        plot_alarms(out, args.plot)
    return 0
