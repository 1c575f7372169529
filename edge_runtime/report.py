"""Run summary: ``ecgedge report JOURNAL`` and the EC57-style agreement of a run.

From a journal written by ``ecgedge run`` (or the demo) it reports beats per class, the HR
trend, every alert episode (onset, escalation, end), data gaps and lost samples. When the
run's input was an annotated WFDB record (``--record``, or the journal's session source), it
also reports beat-by-beat agreement with the reference the way ANSI/AAMI EC57 does: a
detected beat matches a reference beat within 150 ms; QRS sensitivity (Se) and positive
predictivity (+P); and, for the AAMI classes, Se/+P of ventricular (VEB, class V) and
supraventricular (SVEB, class S) ectopic beats among the matched beats plus a confusion
matrix. (EC57 proper also excludes the first 5 min for some statistics; ``--skip-s``.)
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge_runtime.cli import make_parser
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import AAMI_CLASSES, AAMI_MAP, read_beat_annotations
from edge_runtime.sinks.journal import read_journal

__all__ = ["match_beats", "ec57_agreement", "summarise_journal", "main"]


def match_beats(ref: np.ndarray, det: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of two sorted sample arrays within ``tol`` samples.

    Returns ``(ref_idx, det_idx)`` of matched pairs. Each reference beat takes the closest
    unmatched detection inside the window (scan in time order, as EC57's ``bxb`` does).
    """
    ref = np.asarray(ref, dtype=np.int64)
    det = np.asarray(det, dtype=np.int64)
    ri, di = [], []
    j = 0
    for i, r in enumerate(ref):
        while j < len(det) and det[j] < r - tol:
            j += 1
        best, bestd = -1, tol + 1
        k = j
        while k < len(det) and det[k] <= r + tol:
            d = abs(int(det[k]) - int(r))
            if d < bestd:
                best, bestd = k, d
            k += 1
        if best >= 0:
            # the detection might be closer to the next reference beat: let that one have it
            if i + 1 < len(ref) and abs(int(ref[i + 1]) - int(det[best])) < bestd:
                continue
            ri.append(i)
            di.append(best)
            j = best + 1
    return np.asarray(ri, np.int64), np.asarray(di, np.int64)


def _se_p(tp: int, fn: int, fp: int) -> dict:
    return {"tp": tp, "fn": fn, "fp": fp,
            "se": round(tp / (tp + fn), 4) if tp + fn else None,
            "ppv": round(tp / (tp + fp), 4) if tp + fp else None}


def ec57_agreement(ref_samples: np.ndarray, ref_symbols: Sequence[str], det_samples: np.ndarray,
                   det_labels: Sequence[str | None], fs: float, skip_s: float = 0.0,
                   tol_s: float = 0.15) -> dict:
    """QRS Se/+P and (when labels exist) VEB/SVEB Se/+P and the AAMI confusion matrix."""
    ref_samples = np.asarray(ref_samples, np.int64)
    det_samples = np.asarray(det_samples, np.int64)
    skip = int(round(skip_s * fs))
    rk = ref_samples >= skip
    dk = det_samples >= skip
    ref_s = ref_samples[rk]
    ref_c = [AAMI_MAP.get(s, "Q") for s, k in zip(ref_symbols, rk, strict=True) if k]
    det_s = det_samples[dk]
    det_c = [lab for lab, k in zip(det_labels, dk, strict=True) if k]
    ri, di = match_beats(ref_s, det_s, int(round(tol_s * fs)))
    out = {"tolerance_s": tol_s, "skip_s": skip_s, "reference_beats": int(len(ref_s)),
           "detected_beats": int(len(det_s)),
           "qrs": _se_p(len(ri), len(ref_s) - len(ri), len(det_s) - len(di))}
    if any(c is not None for c in det_c):
        conf = {a: dict.fromkeys(AAMI_CLASSES, 0) for a in AAMI_CLASSES}
        for i, j in zip(ri, di, strict=True):
            p = det_c[j] if det_c[j] in AAMI_CLASSES else "Q"
            conf[ref_c[i]][p] += 1
        out["confusion_ref_rows"] = conf
        for name, cls in (("veb", "V"), ("sveb", "S")):
            tp = conf[cls][cls]
            fn = sum(conf[cls].values()) - tp
            fp = sum(conf[r][cls] for r in AAMI_CLASSES if r != cls)
            out[name] = _se_p(tp, fn, fp)
    return out


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
    gaps = [e for e in eps if e["type"] == "data_gap"]
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
        "gaps": len(gaps),
        "lost_samples": int(sum(r.get("evidence", {}).get("lost", 0) for r in records
                                if r.get("event") == "alert" and r.get("type") == "data_gap"
                                and r.get("action") == "onset")),
        "_samples": samples,
        "_labels": labels,
    }


def _print(summary: dict, out=sys.stdout) -> None:
    w = out.write
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
        w(f"EC57 vs reference ({ec['reference_beats']} beats): QRS Se {q['se']} +P {q['ppv']}")
        for k in ("veb", "sveb"):
            if k in ec:
                w(f"  {k.upper()} Se {ec[k]['se']} +P {ec[k]['ppv']}")
        w("\n")


def main(argv: list[str]) -> int:
    p = make_parser("ecgedge report", "Summarise a run journal (JSONL) written by ecgedge run.")
    p.add_argument("journal", help="journal file (JSON lines)")
    p.add_argument("--record", help="annotated WFDB record to compare beats with (EC57)")
    p.add_argument("--annotator", default="atr", help="reference annotation extension")
    p.add_argument("--skip-s", type=float, default=0.0, help="ignore the first seconds")
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
        ref_s, ref_sym = read_beat_annotations(rec, extension=args.annotator)
        ends = [r.get("time_s") for r in records
                if r.get("event") == "session" and r.get("action") == "end"]
        if ends and ends[-1] is not None:  # compare only the part of the record that ran
            keep = ref_s < int(float(ends[-1]) * float(s["fs"]))
            ref_s, ref_sym = ref_s[keep], ref_sym[keep]
        s["ec57"] = ec57_agreement(ref_s, list(ref_sym), np.asarray(s["_samples"]),
                                   s["_labels"], float(s["fs"]), args.skip_s)
    s.pop("_samples")
    s.pop("_labels")
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print(s)
    return 0
