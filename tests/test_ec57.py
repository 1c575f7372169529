"""EC57 beat-by-beat matcher on hand-made annotation pairs, and against wfdb's comparator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from wfdb.processing import compare_annotations

from edge_runtime.detect import detect_record
from edge_runtime.records import read_beat_annotations, read_record, shipped_record_path
from train.ec57 import excluded_intervals, gross_average, match_beats, record_stats

FS = 360.0
W = 54  # 150 ms at 360 Hz


def test_perfect_match():
    ref = np.array([100, 400, 700])
    tp_r, tp_t, fn, fp = match_beats(ref, ref + 3, FS)
    assert tp_r.tolist() == [0, 1, 2] and tp_t.tolist() == [0, 1, 2]
    assert fn.size == 0 and fp.size == 0


def test_false_positive_and_false_negative():
    ref = np.array([100, 400, 700, 1000])
    test = np.array([102, 550, 698, 1001])  # 400 missed, 550 is an extra detection
    tp_r, tp_t, fn, fp = match_beats(ref, test, FS)
    assert tp_r.tolist() == [0, 2, 3] and tp_t.tolist() == [0, 2, 3]
    assert fn.tolist() == [1] and fp.tolist() == [1]


def test_double_detection_is_one_tp_one_fp():
    ref = np.array([1000])
    test = np.array([990, 1005])  # both in the window: the closer one matches
    tp_r, tp_t, fn, fp = match_beats(ref, test, FS)
    assert tp_t.tolist() == [1] and fp.tolist() == [0] and fn.size == 0


def test_window_edge_is_inclusive():
    ref = np.array([1000, 3000])
    tp_r, _, fn, fp = match_beats(ref, np.array([1000 + W, 3000 - W - 1]), FS)
    assert tp_r.tolist() == [0] and fn.tolist() == [1] and fp.tolist() == [1]


def test_one_test_beat_cannot_match_two_references():
    ref = np.array([1000, 1040])  # two references 111 ms apart
    _, tp_t, fn, fp = match_beats(ref, np.array([1020]), FS)
    assert tp_t.tolist() == [0] and fn.size == 1 and fp.size == 0


def test_unsorted_inputs_give_original_indices():
    ref = np.array([700, 100, 400])
    test = np.array([401, 99])
    tp_r, tp_t, fn, fp = match_beats(ref, test, FS)
    assert sorted(zip(tp_r.tolist(), tp_t.tolist(), strict=True)) == [(1, 1), (2, 0)]
    assert fn.tolist() == [0] and fp.size == 0


def test_empty_inputs():
    tp_r, _, fn, fp = match_beats(np.array([5, 10]), np.array([], dtype=int), FS)
    assert tp_r.size == 0 and fn.tolist() == [0, 1] and fp.size == 0
    _, _, fn, fp = match_beats(np.array([], dtype=int), np.array([3]), FS)
    assert fn.size == 0 and fp.tolist() == [0]


def test_counting_starts_at_start_s_and_respects_exclusions():
    fs = 100.0
    ref = np.array([100, 29_990, 30_100, 40_000, 50_000])
    test = np.array([101, 30_005, 30_101, 45_000, 50_002])
    # 29_990 <-> 30_005 straddles the 300 s start: the reference is before it, so no count
    st = record_stats("x", ref, test, fs, window_s=0.15, start_s=300.0)
    assert (st.tp, st.fn, st.fp, st.n_ref) == (2, 1, 1, 3)
    st = record_stats("x", ref, test, fs, start_s=300.0, exclude=[(39_000, 46_000)])
    assert (st.tp, st.fn, st.fp) == (2, 0, 0)
    spans = excluded_intervals(["N", "[", "N", "]", "[", "N"], [1, 5, 6, 9, 20, 25])
    assert spans[0] == (5, 9) and spans[1][0] == 20


def test_gross_and_average():
    a = record_stats("a", np.arange(10) * 100, np.arange(10) * 100, FS, start_s=0)
    b = record_stats("b", np.arange(10) * 100, np.arange(5) * 100, FS, start_s=0)
    g = gross_average([a, b])
    assert g["gross_se"] == pytest.approx(15 / 20)
    assert g["avg_se"] == pytest.approx((1.0 + 0.5) / 2)
    assert g["gross_ppv"] == 1.0


@pytest.mark.parametrize(
    "path",
    [shipped_record_path("100")]
    + [Path(__file__).parent / "fixtures" / n for n in ("mitdb105_400s", "mitdb203_700s")],
)
def test_same_counts_as_wfdb_compare_annotations(path):
    rec = read_record(path)
    ref, _ = read_beat_annotations(path)
    test = np.array([b.sample for b in detect_record(rec.signal[:, 0], rec.fs)])
    # perturb to create real FN/FP/jitter cases for both comparators
    rng = np.random.default_rng(0)
    test = np.sort(np.concatenate([np.delete(test, rng.choice(test.size, 5, replace=False)),
                                   rng.integers(0, rec.n_samples, 5)]))
    test = np.sort(test + rng.integers(-40, 41, test.size))
    comp = compare_annotations(ref, test, int(0.15 * rec.fs))
    tp_r, _, fn, fp = match_beats(ref, test, rec.fs, 0.15)
    assert (tp_r.size, fn.size, fp.size) == (comp.tp, comp.fn, comp.fp)
