"""Run summary: ``ecgedge report JOURNAL`` and the EC57 agreement of a run.

From a journal written by ``ecgedge run`` (or the demo) it reports beats per class, the HR
trend, every alert episode (onset, escalation, end), data gaps and lost samples. When the
run's input was an annotated WFDB record (``--record``, or the journal's session source), it
also scores the beats against the reference as ANSI/AAMI EC57 does, through
:mod:`edge_runtime.ec57` (the same code as ``ecgedge eval``): one-to-one matching within
150 ms, QRS sensitivity (Se) and positive predictivity (+P), and VEB (class V) and SVEB
(class S) Se/+P in which missed beats and extra detections count. EC57 starts counting 5 min
into a MIT-BIH record (``--skip-s 300``); the default here is 0 s, so short runs get a score.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import wfdb

from edge_runtime.cli import make_parser
from edge_runtime.ec57 import (
    LABELS,
    class_indices,
    class_pairs,
    confusion,
    ec57_metrics,
    excluded_intervals,
)
from edge_runtime.errors import EcgEdgeError, nonneg_float
from edge_runtime.records import AAMI_MAP, read_beat_annotations, resolve_record_path
from edge_runtime.sinks.journal import read_journal

__all__ = ["ec57_agreement", "summarise_journal", "main"]


def _rounded(stats: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()}


def ec57_agreement(ref_samples: np.ndarray, ref_symbols: Sequence[str], det_samples: np.ndarray,
                   det_labels: Sequence[str | None], fs: float, skip_s: float = 0.0,
                   tol_s: float = 0.15, exclude: list[tuple[int, int]] | None = None) -> dict:
    """EC57 QRS Se/+P and (when labels exist) VEB/SVEB Se/+P/FPR and the confusion matrix.

    One call of :mod:`edge_runtime.ec57`: missed reference beats and extra detections count
    (column/row ``O`` of the confusion matrix), F or Q beats called V are not VEB false
    positives, Q beats called S are not SVEB false positives. Counting starts at ``skip_s``
    (by reference time for matches and misses, by detection time for extra detections);
    ``exclude`` are sample spans (VF episodes) left out altogether. Unlabelled detections
    count as Q.
    """
    ref_cls = class_indices(AAMI_MAP.get(s, "Q") for s in ref_symbols)
    det_cls = class_indices(det_labels)
    ref, alg = class_pairs(ref_samples, ref_cls, det_samples, det_cls, fs, tol_s, skip_s,
                           exclude)
    cm = confusion(ref, alg)
    m = ec57_metrics(cm)
    out = {"tolerance_s": tol_s, "skip_s": skip_s, "reference_beats": m["n_ref"],
           "detected_beats": int(cm[:, :5].sum()), "qrs": _rounded(m["qrs"])}
    if any(lab is not None for lab in det_labels):
        out["confusion_ref_rows"] = {a: {b: int(cm[i, j]) for j, b in enumerate(LABELS)}
                                     for i, a in enumerate(LABELS)}
        out["veb"] = _rounded(m["veb"])
        out["sveb"] = _rounded(m["sveb"])
    return out


def _vf_spans(record: str | Path, extension: str) -> list[tuple[int, int]]:
    """VF/flutter episodes of the reference (EC57 leaves them out); none if unreadable."""
    try:
        ann = wfdb.rdann(str(record), extension)
    except Exception:  # read_beat_annotations already reported a missing/bad file
        return []
    return excluded_intervals(ann.symbol, ann.sample)


def _episodes(records: list[dict]) -> list[dict]:
    eps: dict[str, dict] = {}
    for r in records:
        if r.get("event") != "alert":
            continue
        e = eps.setdefault(r["id"], {"id": r["id"], "type": r["type"],
                                     "start_s": r.get("start_s"), "end_s": None,
                                     "severity": r.get("severity"), "escalations": 0,
                                     "strip": r.get("strip")})
        e["severity"] = r.get("severity", e["severity"])
        if r.get("action") == "escalate":
            e["escalations"] += 1
        if r.get("action") == "end":
            e["end_s"] = r.get("end_s")
    return list(eps.values())


def summarise_journal(records: list[dict]) -> dict:
    """Beats per class, HR trend, alert episodes, gaps from journal records."""
    labels: list[str | None] = []
    samples: list[int] = []
    for r in records:
        if r.get("event") == "beats":
            labels += r.get("label", [])
            samples += r.get("sample", [])
        elif r.get("event") == "beat":
            labels.append(r.get("label"))
            samples.append(r.get("sample"))
    status = [r for r in records if r.get("event") == "status"]
    sessions = [r for r in records if r.get("event") == "session" and r.get("action") == "start"]
    eps = _episodes(records)
    hrs = [s["hr_bpm"] for s in status if s.get("hr_bpm") is not None]
    # a data_gap alarm is one episode of gaps; its latest record holds the running counts
    gap_ev: dict[str, dict] = {}
    for r in records:
        if r.get("event") == "alert" and r.get("type") == "data_gap":
            gap_ev[r["id"]] = r.get("evidence", {})
    return {
        "sessions": len(sessions),
        "source": sessions[-1].get("source") if sessions else None,
        "fs": sessions[-1].get("fs") if sessions else None,
        "beats": len(labels),
        "beats_per_class": dict(sorted(Counter(lab or "?" for lab in labels).items())),
        "hr_bpm": {"min": min(hrs), "median": float(np.median(hrs)), "max": max(hrs)}
        if hrs else None,
        "hr_trend": [(s["time_s"], s.get("hr_bpm")) for s in status][:: max(1, len(status) // 60)],
        "alerts": eps,
        "alert_counts": dict(sorted(Counter(e["type"] for e in eps).items())),
        "gaps": int(sum(ev.get("gaps", 1) for ev in gap_ev.values())),
        "lost_samples": int(sum(ev.get("lost_total", ev.get("lost", 0))
                                for ev in gap_ev.values())),
        "_samples": samples,
        "_labels": labels,
    }


def _print(summary: dict, out=None) -> None:
    w = (out or sys.stdout).write  # looked up per call: sys.stdout may be replaced
    w(f"source {summary['source']}  fs {summary['fs']}  sessions {summary['sessions']}\n")
    cls = " ".join(f"{k}:{v}" for k, v in summary["beats_per_class"].items())
    w(f"beats {summary['beats']}  [{cls}]\n")
    if summary["hr_bpm"]:
        h = summary["hr_bpm"]
        w(f"HR bpm min {h['min']:.0f}  median {h['median']:.0f}  max {h['max']:.0f}\n")
    w(f"gaps {summary['gaps']}  lost samples {summary['lost_samples']}\n")
    w(f"alerts {len(summary['alerts'])}: "
      + (", ".join(f"{k} x{v}" for k, v in summary["alert_counts"].items()) or "none") + "\n")
    for e in summary["alerts"][:50]:
        end = "active" if e["end_s"] is None else f"{e['end_s']:.1f}"
        w(f"  {e['severity']:<9} {e['type']:<14} {e['start_s']:>9.1f} -> {end:>9} s"
          f"{'  escalated' if e['escalations'] else ''}\n")
    if len(summary["alerts"]) > 50:
        w(f"  ... {len(summary['alerts']) - 50} more\n")
    ec = summary.get("ec57")
    if ec:
        q = ec["qrs"]
        w(f"EC57 vs reference ({ec['reference_beats']} beats): QRS Se {q['se']} +P {q['ppv']}"
          f" (missed {q['fn']}, extra {q['fp']})")
        for k in ("veb", "sveb"):
            if k in ec:
                w(f"  {k.upper()} Se {ec[k]['se']} +P {ec[k]['ppv']}")
        w("\n")


def _check_record(record: str, s: dict, records: list[dict]) -> None:
    """``--record`` must be the record the journal ran on: scoring another record's beats
    against this run would print EC57 numbers that mean nothing. One line when it is not."""
    path = resolve_record_path(record)
    hdr = wfdb.rdheader(str(path))
    src = s["source"]
    if src and Path(str(src) + ".hea").is_file():
        if Path(str(src)).name != path.name:
            raise EcgEdgeError(f"the journal is a run of record {Path(str(src)).name} ({src}), "
                               f"not of {path.name}")
    else:  # a live stream: its rate and length are all that can be checked
        print(f"ecgedge report: warning: the journal's stream came from {src}; nothing in it "
              f"says it was record {path.name}", file=sys.stderr)
    if abs(float(hdr.fs) - float(s["fs"])) > 1e-6:
        raise EcgEdgeError(f"record {path.name} is sampled at {hdr.fs:g} Hz, the journal's "
                           f"stream at {float(s['fs']):g} Hz: not the record it ran on")
    ends = [r.get("time_s") for r in records
            if r.get("event") == "session" and r.get("action") == "end"]
    if ends and ends[-1] is not None and hdr.sig_len and (
            float(ends[-1]) * float(s["fs"]) > hdr.sig_len + 1):
        raise EcgEdgeError(f"the journal's run lasted {float(ends[-1]):g} s, longer than record "
                           f"{path.name} ({hdr.sig_len / hdr.fs:g} s): not the record it ran on")


def main(argv: list[str]) -> int:
    p = make_parser("ecgedge report", "Summarise a run journal (JSONL) written by ecgedge run.")
    p.add_argument("journal", help="journal file (JSON lines)")
    p.add_argument("--record", help="annotated WFDB record to compare beats with (EC57)")
    p.add_argument("--annotator", default="atr", help="reference annotation extension")
    p.add_argument("--skip-s", type=nonneg_float, default=0.0,
                   help="start counting after this many seconds (EC57 on MIT-BIH: 300)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = p.parse_args(argv)
    records, bad = read_journal(args.journal)
    if not records:
        raise EcgEdgeError(f"journal {args.journal} holds no records")
    s = summarise_journal(records)
    s["unreadable_lines"] = bad
    rec = args.record
    if rec is None and s["source"] and Path(str(s["source"]) + ".atr").is_file():
        rec = s["source"]
    if rec is not None:
        if not s["fs"]:
            raise EcgEdgeError("journal has no session record: cannot tell its sample rate")
        if args.record is not None:
            _check_record(args.record, s, records)
        ref_s, ref_sym = read_beat_annotations(rec, extension=args.annotator)
        ends = [r.get("time_s") for r in records
                if r.get("event") == "session" and r.get("action") == "end"]
        if ends and ends[-1] is not None:  # compare only the part of the record that ran
            keep = ref_s < int(float(ends[-1]) * float(s["fs"]))
            ref_s, ref_sym = ref_s[keep], ref_sym[keep]
        s["ec57"] = ec57_agreement(ref_s, list(ref_sym), np.asarray(s["_samples"]),
                                   s["_labels"], float(s["fs"]), args.skip_s,
                                   exclude=_vf_spans(resolve_record_path(rec), args.annotator))
    s.pop("_samples")
    s.pop("_labels")
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print(s)
    return 0
