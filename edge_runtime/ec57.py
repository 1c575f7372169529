"""ANSI/AAMI EC57 beat-by-beat scoring: the one matcher and the QRS and beat-class statistics.

Everything that scores beats against a reference (``ecgedge report``, the run summary,
``ecgedge eval detector``, the beat-classifier evaluation, ``bench/``) calls this module, so
that a number means the same thing wherever it is printed. numpy only: it runs on the device.

Matching (what PhysioNet's ``bxb`` does):

* A reference beat and a test beat *match* when they are at most ``window_s`` apart (150 ms).
  Matching is one-to-one and closest first, so a double detection gives one TP and one FP,
  and a test beat can never count for two references.
* Counting starts ``start_s`` into the record (EC57 skips the first 5 min of MIT-BIH records
  as the detector's learning period; callers choose): a reference beat counts from its own
  time, a false detection from the test beat's time. Matching runs over the whole record, so
  a pair straddling the start is not split into an FN and an FP.
* Ventricular flutter/fibrillation episodes (``[`` .. ``]`` in MIT-BIH; only record 207) are
  excluded: there are no QRS complexes to detect; :func:`excluded_intervals` reads them.

Class statistics (EC57:1998/(R)2008 section 3 and Annex, as tabulated by de Chazal, O'Dwyer &
Reilly, IEEE TBME 51(7):1196-1206, 2004, Sec. II-E) over the confusion ``cm[ref, alg]`` of the
AAMI classes N, S, V, F, Q plus ``O``: column O = reference beats the detector missed, row O =
detections matching no reference beat.

- QRS: TP = all matched pairs; FN = column O; FP = row O.
- VEB: TP = Vv; FN = Vn + Vs + Vf + Vq + Vo (missed V beats included); FP = Nv + Sv + Ov
  (extra detections called V included); **F or Q beats called V are not false positives**;
  TN = N and S reference beats not called V.
- SVEB: TP = Ss; FN = Sn + Sv + Sf + Sq + So; FP = Ns + Vs + Fs + Os; **Q beats called S are
  not false positives**; TN = N, V, F reference beats not called S.
- N, F, Q: plain one-vs-rest Se/+P. Accuracy: correctly classified reference beats / all
  reference beats (missed ones are errors); macro-F1 over the classes present in the reference.

``Se = TP/(TP+FN)``, ``+P = TP/(TP+FP)``, ``FPR = FP/(FP+TN)``. *Gross* statistics pool the
counts over records, *average* statistics are the mean of the per-record values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = [
    "CLASSES", "LABELS", "MatchResult", "RecordStats", "class_indices", "class_pairs",
    "confusion", "counted_match", "ec57_metrics", "ec57_report", "excluded_intervals",
    "gross_average", "headline", "match_beats", "record_stats", "sveb_counts", "veb_counts",
]

CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
LABELS: tuple[str, ...] = CLASSES + ("O",)
N, S, V, Fu, Q, O = range(6)  # noqa: E741  (EC57 names the row "O")


# --------------------------------------------------------------------------- matching


@dataclass
class MatchResult:
    """Indices into the reference / test arrays: matched pairs, misses, false detections."""

    tp_ref_idx: np.ndarray
    tp_test_idx: np.ndarray
    fn_idx: np.ndarray
    fp_idx: np.ndarray

    def __iter__(self):  # allows ``tp_ref, tp_test, fn, fp = match_beats(...)``
        return iter((self.tp_ref_idx, self.tp_test_idx, self.fn_idx, self.fp_idx))


def match_beats(ref_samples: np.ndarray, test_samples: np.ndarray, fs: float,
                window_s: float = 0.15) -> MatchResult:
    """One-to-one closest-first matching of two beat-time lists within ``window_s``.

    Both inputs are sample indices (need not be sorted). Returns index arrays into the inputs,
    pairs aligned and sorted by reference time; ties go to the earlier reference, then the
    earlier test beat.
    """
    ref = np.asarray(ref_samples, dtype=np.int64).ravel()
    test = np.asarray(test_samples, dtype=np.int64).ravel()
    ro = np.argsort(ref, kind="stable")
    to = np.argsort(test, kind="stable")
    rs, ts = ref[ro], test[to]
    used_r = np.zeros(rs.size, dtype=bool)
    used_t = np.zeros(ts.size, dtype=bool)
    pr: list[int] = []
    pt: list[int] = []
    if rs.size and ts.size:
        # candidates: the two test beats either side of each reference beat; a third one
        # could only matter if both nearer ones went to other references < 150 ms away
        cand_j = np.searchsorted(ts, rs)[:, None] + np.array([-2, -1, 0, 1])[None, :]
        cand_i = np.broadcast_to(np.arange(rs.size)[:, None], cand_j.shape)
        ok = (cand_j >= 0) & (cand_j < ts.size)
        ci, cj = cand_i[ok], cand_j[ok]
        dist = np.abs(ts[cj] - rs[ci]).astype(np.float64)
        near = dist <= window_s * fs + 1e-9
        ci, cj, dist = ci[near], cj[near], dist[near]
        for k in np.lexsort((cj, ci, dist)).tolist():
            i, j = int(ci[k]), int(cj[k])
            if not (used_r[i] or used_t[j]):
                used_r[i] = used_t[j] = True
                pr.append(i)
                pt.append(j)
    pr_a = np.asarray(pr, dtype=np.int64)
    pt_a = np.asarray(pt, dtype=np.int64)
    srt = np.argsort(pr_a, kind="stable")
    return MatchResult(ro[pr_a[srt]], to[pt_a[srt]], np.sort(ro[~used_r]), np.sort(to[~used_t]))


def excluded_intervals(symbols: Iterable[str], samples: Iterable[int]) -> list[tuple[int, int]]:
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


def _outside(samples: np.ndarray, spans: list[tuple[int, int]] | None) -> np.ndarray:
    keep = np.ones(samples.size, dtype=bool)
    for a, b in spans or ():
        keep &= ~((samples >= a) & (samples <= b))
    return keep


def counted_match(ref_samples: np.ndarray, test_samples: np.ndarray, fs: float,
                  window_s: float = 0.15, start_s: float = 0.0,
                  exclude: list[tuple[int, int]] | None = None) -> MatchResult:
    """:func:`match_beats`, keeping only what EC57 counts (indices into the inputs).

    Beats inside ``exclude`` spans are dropped before matching; pairs and misses count when
    the reference beat is at or after ``start_s``, false detections when the test beat is.
    """
    ref = np.asarray(ref_samples, dtype=np.int64).ravel()
    test = np.asarray(test_samples, dtype=np.int64).ravel()
    r_keep = np.flatnonzero(_outside(ref, exclude))
    t_keep = np.flatnonzero(_outside(test, exclude))
    m = match_beats(ref[r_keep], test[t_keep], fs, window_s)
    tp_r, tp_t, fn, fp = r_keep[m.tp_ref_idx], t_keep[m.tp_test_idx], r_keep[m.fn_idx], \
        t_keep[m.fp_idx]
    s0 = int(round(start_s * fs))
    in_tp = ref[tp_r] >= s0
    return MatchResult(tp_r[in_tp], tp_t[in_tp], fn[ref[fn] >= s0], fp[test[fp] >= s0])


# --------------------------------------------------------------------------- QRS detection


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


def record_stats(record: str, ref_samples: np.ndarray, test_samples: np.ndarray, fs: float,
                 window_s: float = 0.15, start_s: float = 300.0,
                 exclude: list[tuple[int, int]] | None = None) -> RecordStats:
    """QRS TP/FN/FP of one record counted from ``start_s`` (see :func:`counted_match`)."""
    ref = np.asarray(ref_samples, dtype=np.int64)
    test = np.asarray(test_samples, dtype=np.int64)
    m = counted_match(ref, test, fs, window_s, start_s, exclude)
    s0 = int(round(start_s * fs))
    return RecordStats(
        record=record, tp=int(m.tp_ref_idx.size), fn=int(m.fn_idx.size),
        fp=int(m.fp_idx.size), n_ref=int((ref[_outside(ref, exclude)] >= s0).sum()),
        timing_ms=((test[m.tp_test_idx] - ref[m.tp_ref_idx]) / fs * 1000.0).tolist(),
    )


def gross_average(stats: list[RecordStats]) -> dict:
    """Gross (pooled counts) and average (mean of per-record) Se and +P, plus timing error."""
    tp = sum(s.tp for s in stats)
    fn = sum(s.fn for s in stats)
    fp = sum(s.fp for s in stats)
    ses = [s.se for s in stats if not np.isnan(s.se)]
    ppvs = [s.ppv for s in stats if not np.isnan(s.ppv)]
    timing = np.concatenate([np.asarray(s.timing_ms) for s in stats]) if stats else np.zeros(0)
    out = {
        "records": len(stats), "tp": tp, "fn": fn, "fp": fp,
        "gross_se": tp / (tp + fn) if tp + fn else float("nan"),
        "gross_ppv": tp / (tp + fp) if tp + fp else float("nan"),
        "gross_f1": 2 * tp / (2 * tp + fn + fp) if tp else 0.0,
        "avg_se": float(np.mean(ses)) if ses else float("nan"),
        "avg_ppv": float(np.mean(ppvs)) if ppvs else float("nan"),
    }
    if timing.size:
        q1, med, q3 = np.percentile(timing, [25, 50, 75])
        out.update(timing_median_ms=float(med), timing_iqr_ms=float(q3 - q1),
                   timing_abs_median_ms=float(np.median(np.abs(timing))))
    return out


# --------------------------------------------------------------------------- beat classes


def class_indices(labels: Iterable[str | None]) -> np.ndarray:
    """AAMI class letters -> indices 0..4; anything else (``None``, ``''``, ``'?'``) -> Q."""
    index = {c: i for i, c in enumerate(CLASSES)}
    return np.array([index.get(lab, Q) if lab is not None else Q for lab in labels],
                    dtype=np.int64)


def class_pairs(ref_samples: np.ndarray, ref_cls: np.ndarray, test_samples: np.ndarray,
                test_cls: np.ndarray, fs: float, window_s: float = 0.15, start_s: float = 0.0,
                exclude: list[tuple[int, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(ref class, alg class)`` per counted event: matched pairs, misses (alg O), extras (ref O).

    Class arrays hold indices 0..4 aligned with their sample arrays; feed the result to
    :func:`confusion` (or, with a record array, :func:`ec57_report`).
    """
    ref_cls = np.asarray(ref_cls, dtype=np.int64)
    test_cls = np.asarray(test_cls, dtype=np.int64)
    if ref_cls.size != np.size(ref_samples) or test_cls.size != np.size(test_samples):
        raise ValueError("class_pairs: one class per beat needed (sizes differ)")
    m = counted_match(ref_samples, test_samples, fs, window_s, start_s, exclude)
    ref = np.concatenate([ref_cls[m.tp_ref_idx], ref_cls[m.fn_idx], np.full(m.fp_idx.size, O)])
    alg = np.concatenate([test_cls[m.tp_test_idx], np.full(m.fn_idx.size, O), test_cls[m.fp_idx]])
    return ref.astype(np.int64), alg.astype(np.int64)


def confusion(ref: np.ndarray, alg: np.ndarray) -> np.ndarray:
    """6x6 confusion ``cm[ref, alg]`` from class indices 0..5 (5 = O: none)."""
    cm = np.zeros((6, 6), dtype=np.int64)
    np.add.at(cm, (np.asarray(ref, dtype=np.int64), np.asarray(alg, dtype=np.int64)), 1)
    return cm


def _ratio(a: float, b: float) -> float | None:
    return float(a / b) if b > 0 else None


def qrs_counts(cm: np.ndarray) -> dict[str, int]:
    """Detection counts of a confusion matrix: every matched pair is a TP whatever its class."""
    return {"tp": int(cm[:5, :5].sum()), "fn": int(cm[:5, O].sum()), "fp": int(cm[O, :5].sum())}


def veb_counts(cm: np.ndarray) -> dict[str, int]:
    tp = cm[V, V]
    fn = cm[V].sum() - tp
    fp = cm[N, V] + cm[S, V] + cm[O, V]
    tn = cm[[N, S]].sum() - cm[N, V] - cm[S, V]
    return {"tp": int(tp), "fn": int(fn), "fp": int(fp), "tn": int(tn)}


def sveb_counts(cm: np.ndarray) -> dict[str, int]:
    tp = cm[S, S]
    fn = cm[S].sum() - tp
    fp = cm[N, S] + cm[V, S] + cm[Fu, S] + cm[O, S]
    tn = cm[[N, V, Fu]].sum() - cm[N, S] - cm[V, S] - cm[Fu, S]
    return {"tp": int(tp), "fn": int(fn), "fp": int(fp), "tn": int(tn)}


def _rates(c: dict[str, int]) -> dict:
    out = {**c, "se": _ratio(c["tp"], c["tp"] + c["fn"]), "ppv": _ratio(c["tp"], c["tp"] + c["fp"])}
    if "tn" in c:
        out["fpr"] = _ratio(c["fp"], c["fp"] + c["tn"])
    return out


def ec57_metrics(cm: np.ndarray) -> dict:
    """All statistics of one confusion matrix (fractions, None where undefined)."""
    cm = np.asarray(cm, dtype=np.int64)
    out: dict = {"qrs": _rates(qrs_counts(cm)), "veb": _rates(veb_counts(cm)),
                 "sveb": _rates(sveb_counts(cm))}
    n_ref = int(cm[:5].sum())
    out["n_ref"] = n_ref
    out["n_missed"] = int(cm[:5, O].sum())
    out["n_extra"] = int(cm[O, :5].sum())
    out["accuracy"] = _ratio(np.trace(cm[:5, :5]), n_ref)
    per, f1s = {}, []
    for i, c in enumerate(CLASSES):
        tp = cm[i, i]
        fn = cm[i].sum() - tp
        fp = cm[:, i].sum() - tp
        f1 = _ratio(2 * tp, 2 * tp + fn + fp)
        per[c] = {"n": int(cm[i].sum()), "se": _ratio(tp, tp + fn), "ppv": _ratio(tp, tp + fp),
                  "f1": f1}
        if cm[i].sum() > 0:
            f1s.append(f1 or 0.0)
    out["per_class"] = per
    out["macro_f1"] = float(np.mean(f1s)) if f1s else None
    out["confusion"] = cm.tolist()
    out["labels"] = list(LABELS)
    return out


def ec57_report(ref: np.ndarray, alg: np.ndarray, record: np.ndarray) -> dict:
    """Gross metrics plus per-record metrics (EC57 reports both)."""
    ref, alg, record = np.asarray(ref), np.asarray(alg), np.asarray(record)
    per_record = {
        str(r): ec57_metrics(confusion(ref[record == r], alg[record == r]))
        for r in sorted(set(record.tolist()))
    }
    return {"gross": ec57_metrics(confusion(ref, alg)), "per_record": per_record}


def headline(m: dict) -> dict[str, float | None]:
    """The numbers a table shows, in percent."""

    def pct(v):
        return None if v is None else round(100 * v, 2)

    keys = [("veb", "se"), ("veb", "ppv"), ("veb", "fpr"), ("sveb", "se"), ("sveb", "ppv"),
            ("sveb", "fpr")]
    out = {f"{a}_{b}": pct(m[a][b]) for a, b in keys}
    out["accuracy"] = pct(m["accuracy"])
    out["macro_f1"] = pct(m["macro_f1"])
    return out
