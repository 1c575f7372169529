"""ANSI/AAMI EC57 beat-by-beat comparison of a test annotation set with a reference.

This is what PhysioNet's ``bxb`` does for QRS detection, reduced to its core so the
evaluation and the beat-classifier metrics share one matcher:

* A reference beat and a test beat *match* when they are at most ``window_s`` apart (150 ms
  in EC57). Matching is one-to-one: candidate pairs are taken closest first, so a double
  detection gives one TP and one FP, and a test beat can never count for two references.
* Counting starts ``start_s`` into the record (EC57 skips the first 5 minutes as the
  detector's learning period); a reference beat counts from its own time, a false positive
  from the test beat's time. Matching itself runs over the whole record so that a pair
  straddling the start is not split into an FN and an FP.
* Ventricular flutter/fibrillation episodes (between ``[`` and ``]`` annotations in MIT-BIH;
  only record 207 has them) are excluded from QRS comparison, as EC57 prescribes (there are
  no QRS complexes to detect in VF); :func:`excluded_intervals` reads them.

QRS sensitivity ``Se = TP / (TP + FN)`` and positive predictivity ``+P = TP / (TP + FP)``;
*gross* statistics pool the counts over records, *average* statistics are the mean of the
per-record values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = [
    "MatchResult",
    "RecordStats",
    "excluded_intervals",
    "gross_average",
    "match_beats",
    "record_stats",
]


@dataclass
class MatchResult:
    """Indices into the reference / test arrays: matched pairs, misses, false detections."""

    tp_ref_idx: np.ndarray
    tp_test_idx: np.ndarray
    fn_idx: np.ndarray
    fp_idx: np.ndarray

    def __iter__(self):  # allows ``tp_ref, tp_test, fn, fp = match_beats(...)``
        return iter((self.tp_ref_idx, self.tp_test_idx, self.fn_idx, self.fp_idx))


def match_beats(
    ref_samples: np.ndarray,
    test_samples: np.ndarray,
    fs: float,
    window_s: float = 0.15,
) -> MatchResult:
    """One-to-one closest-first matching of two beat-time lists within ``window_s``.

    Both inputs are sample indices (need not be sorted). Returns index arrays into the inputs:
    ``(tp_ref_idx, tp_test_idx, fn_idx, fp_idx)``, pairs aligned and sorted by reference time.
    """
    ref = np.asarray(ref_samples, dtype=np.int64).ravel()
    test = np.asarray(test_samples, dtype=np.int64).ravel()
    w = window_s * fs
    ro = np.argsort(ref, kind="stable")
    to = np.argsort(test, kind="stable")
    rs, ts = ref[ro], test[to]
    if rs.size and ts.size:
        pos = np.searchsorted(ts, rs)
        # the two test beats either side of each reference beat, and their neighbours
        cand_j = pos[:, None] + np.array([-2, -1, 0, 1])[None, :]
        cand_i = np.broadcast_to(np.arange(rs.size)[:, None], cand_j.shape)
        ok = (cand_j >= 0) & (cand_j < ts.size)
        ci, cj = cand_i[ok], cand_j[ok]
        dist = np.abs(ts[cj] - rs[ci]).astype(np.float64)
        near = dist <= w + 1e-9
        ci, cj, dist = ci[near], cj[near], dist[near]
        order = np.lexsort((cj, ci, dist))  # closest first; ties: earlier ref, earlier test
        used_r = np.zeros(rs.size, dtype=bool)
        used_t = np.zeros(ts.size, dtype=bool)
        pr: list[int] = []
        pt: list[int] = []
        for k in order.tolist():
            i, j = int(ci[k]), int(cj[k])
            if used_r[i] or used_t[j]:
                continue
            used_r[i] = used_t[j] = True
            pr.append(i)
            pt.append(j)
    else:
        used_r = np.zeros(rs.size, dtype=bool)
        used_t = np.zeros(ts.size, dtype=bool)
        pr, pt = [], []
    pr_a = np.asarray(pr, dtype=np.int64)
    pt_a = np.asarray(pt, dtype=np.int64)
    srt = np.argsort(pr_a, kind="stable")
    return MatchResult(
        tp_ref_idx=ro[pr_a[srt]],
        tp_test_idx=to[pt_a[srt]],
        fn_idx=np.sort(ro[~used_r]),
        fp_idx=np.sort(to[~used_t]),
    )


def excluded_intervals(symbols, samples) -> list[tuple[int, int]]:
    """``[start, end]`` sample spans of ventricular flutter/fibrillation episodes.

    MIT-BIH marks them with ``[`` (onset) and ``]`` (end); an episode left open runs to the end.
    """
    spans: list[tuple[int, int]] = []
    start = None
    for sym, s in zip(symbols, samples, strict=True):
        if sym == "[" and start is None:
            start = int(s)
        elif sym == "]" and start is not None:
            spans.append((start, int(s)))
            start = None
    if start is not None:
        spans.append((start, np.iinfo(np.int64).max))
    return spans


def _outside(samples: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(samples.size, dtype=bool)
    for a, b in spans:
        keep &= ~((samples >= a) & (samples <= b))
    return keep


@dataclass
class RecordStats:
    """EC57 QRS counts of one record, plus the timing error of the matched pairs."""

    record: str
    tp: int
    fn: int
    fp: int
    n_ref: int
    timing_ms: list[float] = field(default_factory=list, repr=False)

    @property
    def se(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def ppv(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    def as_dict(self, with_timing: bool = False) -> dict:
        d = asdict(self)
        if not with_timing:
            d.pop("timing_ms")
        d["se"] = self.se
        d["ppv"] = self.ppv
        return d


def record_stats(
    record: str,
    ref_samples: np.ndarray,
    test_samples: np.ndarray,
    fs: float,
    window_s: float = 0.15,
    start_s: float = 300.0,
    exclude: list[tuple[int, int]] | None = None,
) -> RecordStats:
    """Match, then count TP/FN (by reference time) and FP (by test time) from ``start_s``."""
    ref = np.asarray(ref_samples, dtype=np.int64)
    test = np.asarray(test_samples, dtype=np.int64)
    if exclude:
        ref = ref[_outside(ref, exclude)]
        test = test[_outside(test, exclude)]
    tp_r, tp_t, fn, fp = match_beats(ref, test, fs, window_s)
    s0 = int(round(start_s * fs))
    in_tp = ref[tp_r] >= s0
    timing = (test[tp_t][in_tp] - ref[tp_r][in_tp]) / fs * 1000.0
    return RecordStats(
        record=record,
        tp=int(in_tp.sum()),
        fn=int((ref[fn] >= s0).sum()),
        fp=int((test[fp] >= s0).sum()),
        n_ref=int((ref >= s0).sum()),
        timing_ms=timing.tolist(),
    )


def gross_average(stats: list[RecordStats]) -> dict:
    """Gross (pooled counts) and average (mean of per-record) Se and +P, plus timing error."""
    tp = sum(s.tp for s in stats)
    fn = sum(s.fn for s in stats)
    fp = sum(s.fp for s in stats)
    ses = [s.se for s in stats if not np.isnan(s.se)]
    ppvs = [s.ppv for s in stats if not np.isnan(s.ppv)]
    timing = np.concatenate([np.asarray(s.timing_ms) for s in stats]) if stats else np.zeros(0)
    se_g = tp / (tp + fn) if tp + fn else float("nan")
    ppv_g = tp / (tp + fp) if tp + fp else float("nan")
    f1 = 2 * tp / (2 * tp + fn + fp) if tp else 0.0
    out = {
        "records": len(stats),
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "gross_se": se_g,
        "gross_ppv": ppv_g,
        "gross_f1": f1,
        "avg_se": float(np.mean(ses)) if ses else float("nan"),
        "avg_ppv": float(np.mean(ppvs)) if ppvs else float("nan"),
    }
    if timing.size:
        q1, med, q3 = np.percentile(timing, [25, 50, 75])
        out.update(
            timing_median_ms=float(med),
            timing_iqr_ms=float(q3 - q1),
            timing_abs_median_ms=float(np.median(np.abs(timing))),
        )
    return out
