"""``ecgedge eval detector``: EC57 QRS-detection evaluation of the streaming detector.

Runs :class:`edge_runtime.detect.StreamingDetector` block by block over MIT-BIH records and
compares its beats with the reference beat labels (:func:`edge_runtime.ec57.record_stats`): QRS Se
and +P per record, gross and average, on all 48 records and on the 44 non-paced ones, counted
from 5 min (the EC57 learning period) and from 0 s, with the 150 ms match window and with a
tight 50 ms window (plus median/IQR of the R-peak timing error).

The functions here are reused by ``bench/detectors.py`` so that every detector is scored by
the same harness on the same records.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wfdb

from edge_runtime.cli import make_parser
from edge_runtime.datadir import resolve_data_dir
from edge_runtime.detect import DetectorConfig, StreamingDetector
from edge_runtime.ec57 import RecordStats, excluded_intervals, gross_average, record_stats
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import read_beat_annotations, read_record
from train.data.mitdb import ALL_RECORDS, DS1, DS2, NON_PACED, PACED

__all__ = [
    "EvalRecord",
    "load_eval_record",
    "run_streaming",
    "score_records",
    "format_table",
    "main",
]


@dataclass
class EvalRecord:
    """A record prepared for QRS evaluation."""

    name: str
    fs: float
    signal: np.ndarray  # (n,) one lead or (n, leads)
    ref: np.ndarray  # reference beat samples (beat labels only)
    exclude: list[tuple[int, int]]  # VF/flutter spans (EC57 excludes them)
    leads: list[str]


def load_eval_record(name: str, db_dir: Path, leads: str = "mlii") -> EvalRecord:
    """Read a record with its reference beats; ``leads`` is ``mlii`` (one lead) or ``all``."""
    path = db_dir / name
    head = read_record(path, sampto=1)
    if leads == "mlii":
        ch = [head.leads.index("MLII")] if "MLII" in head.leads else [0]
    elif leads == "all":
        ch = list(range(len(head.leads)))
    else:
        raise EcgEdgeError(f"unknown --leads {leads!r} (choose mlii or all)")
    rec = read_record(path, channels=ch)
    ref, _ = read_beat_annotations(path)
    ann = wfdb.rdann(str(path), "atr")
    sig = rec.signal[:, 0] if len(ch) == 1 else rec.signal
    return EvalRecord(name, rec.fs, sig, ref, excluded_intervals(ann.symbol, ann.sample),
                      rec.leads)


def run_streaming(
    signal: np.ndarray, fs: float, block_s: float = 1.0, config: DetectorConfig | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Stream ``signal`` through a fresh detector in blocks of ``block_s``.

    Returns ``(beat samples, decision delays in s, CPU seconds)``; the CPU time covers the
    detector only (``time.process_time`` around push/flush).
    """
    det = StreamingDetector(fs, config)
    step = max(1, int(round(block_s * fs)))
    beats = []
    t0 = time.process_time()
    for i in range(0, signal.shape[0], step):
        beats += det.push(signal[i : i + step])
    beats += det.flush()
    cpu = time.process_time() - t0
    samples = np.array([b.sample for b in beats], dtype=np.int64)
    delays = np.array([(b.decided_at - b.sample) / fs for b in beats])
    return samples, delays, cpu


def score_records(
    detections: dict[str, np.ndarray],
    records: dict[str, EvalRecord],
    window_s: float = 0.15,
    start_s: float = 300.0,
) -> dict[str, RecordStats]:
    """EC57 statistics of each record's detections."""
    return {
        name: record_stats(name, records[name].ref, det, records[name].fs, window_s, start_s,
                           records[name].exclude)
        for name, det in detections.items()
    }


def summarise(stats: dict[str, RecordStats]) -> dict:
    """Gross/average on all records given and on the non-paced ones among them."""
    every = list(stats.values())
    non_paced = [s for s in every if s.record not in PACED]
    return {"all": gross_average(every), "non_paced": gross_average(non_paced)}


def format_table(stats: dict[str, RecordStats], title: str) -> str:
    """Per-record table plus the gross/average lines, as bxb prints them (roughly)."""
    lines = [title, f"{'record':>6} {'n_ref':>6} {'TP':>6} {'FN':>5} {'FP':>5} "
             f"{'Se %':>7} {'+P %':>7}"]
    for s in stats.values():
        lines.append(f"{s.record:>6} {s.n_ref:>6} {s.tp:>6} {s.fn:>5} {s.fp:>5} "
                     f"{100 * s.se:7.2f} {100 * s.ppv:7.2f}")
    summ = summarise(stats)
    for key, label in (("all", f"all {summ['all']['records']}"),
                       ("non_paced", f"non-paced {summ['non_paced']['records']}")):
        g = summ[key]
        if not g["records"]:
            continue
        lines.append(
            f"{label:>12}: gross Se {100 * g['gross_se']:.3f} % +P {100 * g['gross_ppv']:.3f} %"
            f" (TP {g['tp']} FN {g['fn']} FP {g['fp']}); average Se {100 * g['avg_se']:.3f} %"
            f" +P {100 * g['avg_ppv']:.3f} %"
            + (f"; timing median {g['timing_median_ms']:+.1f} ms IQR {g['timing_iqr_ms']:.1f} ms"
               if "timing_median_ms" in g else "")
        )
    return "\n".join(lines)


def _parse_records(spec: str) -> list[str]:
    named = {"all": ALL_RECORDS, "nonpaced": NON_PACED, "ds1": DS1, "ds2": DS2}
    if spec.lower() in named:
        return list(named[spec.lower()])
    recs = [r.strip() for r in spec.split(",") if r.strip()]
    bad = [r for r in recs if r not in ALL_RECORDS]
    if bad:
        raise EcgEdgeError(f"not a MIT-BIH Arrhythmia record: {bad[0]}")
    return recs


def evaluate(
    records: list[str], data_dir: str | None, leads: str, block_s: float, quiet: bool = False
) -> dict:
    """Run the detector over ``records`` and return the full result dictionary."""
    db = resolve_data_dir(data_dir) / "mitdb"
    if not db.is_dir():
        raise EcgEdgeError(f"MIT-BIH directory not found: {db}")
    recs: dict[str, EvalRecord] = {}
    dets: dict[str, np.ndarray] = {}
    delays = []
    cpu = dur = 0.0
    for name in records:
        rec = load_eval_record(name, db, leads)
        recs[name] = rec
        samples, dl, c = run_streaming(rec.signal, rec.fs, block_s)
        dets[name] = samples
        delays.append(dl[samples >= 2 * rec.fs])  # after the 2 s learning period
        cpu += c
        dur += rec.signal.shape[0] / rec.fs
        if not quiet:
            print(f"  {name}: {samples.size} beats", file=sys.stderr, flush=True)
    dl_all = np.concatenate(delays) if delays else np.zeros(0)
    out: dict = {"records": records, "leads": leads, "block_s": block_s, "results": {}}
    for start_s in (300.0, 0.0):
        for window_s in (0.15, 0.05):
            key = f"from_{int(start_s)}s_window_{int(window_s * 1000)}ms"
            st = score_records(dets, recs, window_s, start_s)
            out["results"][key] = {
                "summary": summarise(st),
                "per_record": {k: v.as_dict() for k, v in st.items()},
                "_stats": st,
            }
    out["speed_x_realtime"] = dur / cpu if cpu > 0 else float("nan")
    out["delay_s"] = {
        "median": float(np.median(dl_all)) if dl_all.size else float("nan"),
        "p99": float(np.percentile(dl_all, 99)) if dl_all.size else float("nan"),
        "max": float(dl_all.max()) if dl_all.size else float("nan"),
    }
    return out


def main(argv: list[str]) -> int:
    parser = make_parser(
        "ecgedge eval detector",
        "EC57 beat-by-beat QRS evaluation of the streaming R-peak detector on MIT-BIH.",
    )
    parser.add_argument("--db", default="mitdb", choices=["mitdb"], help="database (mitdb)")
    parser.add_argument("--records", default="all",
                        help="all | nonpaced | ds1 | ds2 | comma list (default all 48)")
    parser.add_argument("--leads", default="mlii", choices=["mlii", "all"],
                        help="MLII only (default) or both leads fused")
    parser.add_argument("--block-s", type=float, default=1.0, help="streaming block (s)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--data-dir", help="data dir (default $ECGEDGE_DATA or ../shared/data)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-record progress")
    args = parser.parse_args(argv)
    if args.block_s <= 0:
        raise EcgEdgeError("--block-s must be positive")
    records = _parse_records(args.records)
    res = evaluate(records, args.data_dir, args.leads, args.block_s, args.quiet)
    for key in ("from_300s_window_150ms", "from_0s_window_150ms", "from_300s_window_50ms"):
        print(format_table(res["results"][key]["_stats"], f"\n== EC57 QRS, {key} =="))
    print(f"\nspeed: {res['speed_x_realtime']:.0f}x real time (one core, block {args.block_s} s);"
          f" decision delay median {1000 * res['delay_s']['median']:.0f} ms, p99 "
          f"{1000 * res['delay_s']['p99']:.0f} ms, max {1000 * res['delay_s']['max']:.0f} ms")
    if args.json:
        for v in res["results"].values():
            v.pop("_stats")
        res["command"] = "ecgedge eval detector " + " ".join(argv)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=1))
        print(f"wrote {args.json}")
    return 0
