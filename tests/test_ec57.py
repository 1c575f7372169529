"""EC57 scoring (edge_runtime.ec57): matcher on hand-made annotation pairs and against wfdb's
comparator on real records; class statistics on hand-made confusions; ``report``'s agreement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from wfdb.processing import compare_annotations

from edge_runtime.datadir import find_data_dir
from edge_runtime.detect import detect_record
from edge_runtime.ec57 import (
    LABELS,
    O,
    class_pairs,
    confusion,
    counted_match,
    ec57_metrics,
    ec57_report,
    excluded_intervals,
    gross_average,
    match_beats,
    record_stats,
)
from edge_runtime.records import read_beat_annotations, read_record, shipped_record_path
from edge_runtime.report import ec57_agreement

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


def test_closest_first_not_greedy_scan():
    # ref 100 takes 98 (2 away); ref 200 takes 205, not the extra 150 (50 away from both)
    ri, di, fn, fp = match_beats(np.array([100, 200, 300]), np.array([98, 150, 205, 400]),
                                 fs=1.0, window_s=60)
    assert ri.tolist() == [0, 1] and di.tolist() == [0, 2]
    assert fn.tolist() == [2] and fp.tolist() == [1, 3]
    # a test beat between two references goes to the closer one, even if the earlier
    # reference is scanned first; the earlier one then takes its own farther candidate
    ri, di, _, _ = match_beats(np.array([100, 160]), np.array([50, 140]), fs=1.0, window_s=60)
    assert list(zip(ri.tolist(), di.tolist(), strict=True)) == [(0, 0), (1, 1)]


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
    comp = compare_annotations(ref, test, int(0.15 * rec.fs) + 1)  # wfdb's window is strict <
    tp_r, _, fn, fp = match_beats(ref, test, rec.fs, 0.15)
    assert (tp_r.size, fn.size, fp.size) == (comp.tp, comp.fn, comp.fp)


# --------------------------------------------------------------------------- real records


def _mitdb() -> Path:
    d = find_data_dir()
    if d is None or not (d / "mitdb" / "203.atr").is_file():
        pytest.skip("MIT-BIH data not found (../shared/data/mitdb or $ECGEDGE_DATA)")
    return d / "mitdb"


@pytest.mark.parametrize("name", ["105", "203", "208", "232"])
def test_detector_counts_equal_wfdb_compare_annotations_on_mitdb(name):
    """Whole records: the detector's own beats, the same jittered by up to +-111 ms, and the
    reference with 3 % of beats dropped and 3 % inserted: the same TP/FN/FP as wfdb."""
    path = _mitdb() / name
    rec = read_record(path, channels=[0])
    ref, _ = read_beat_annotations(path)
    test = np.array([b.sample for b in detect_record(rec.signal[:, 0], rec.fs)])
    rng = np.random.default_rng(1)
    n = ref.size // 33
    edited = np.sort(np.concatenate([np.delete(ref, rng.choice(ref.size, n, replace=False)),
                                     rng.integers(0, rec.n_samples, n)]))
    for t in (test, np.sort(test + rng.integers(-40, 41, test.size)), edited):
        # wfdb matches when |d| < window, EC57 (and we) when |d| <= 150 ms: hence the + 1
        comp = compare_annotations(ref, t, int(0.15 * rec.fs) + 1)
        tp_r, _, fn, fp = match_beats(ref, t, rec.fs, 0.15)
        assert (tp_r.size, fn.size, fp.size) == (comp.tp, comp.fn, comp.fp)
        assert tp_r.size > 0.9 * ref.size and fn.size + fp.size > 0


# --------------------------------------------------------------------------- class statistics


def _letters(cm_rows: dict) -> np.ndarray:
    return np.array([[cm_rows[a][b] for b in LABELS] for a in LABELS])


def _beats(spec: list[tuple[str, str]], start: int = 1000, step: int = 360):
    """(ref symbol or 'O', detected label or 'O') per slot -> annotation and detection lists."""
    rs, rsym, ds, dlab = [], [], [], []
    for k, (r, d) in enumerate(spec):
        t = start + k * step
        if r != "O":
            rs.append(t)
            rsym.append(r)
        if d != "O":
            ds.append(t + 7)
            dlab.append(d)
    return np.array(rs), rsym, np.array(ds), dlab


def test_agreement_counts_missed_v_as_fn_and_extra_v_as_fp():
    # two V beats, one missed; one extra detection called V; the rest N called N
    spec = [("N", "N")] * 6 + [("V", "V"), ("V", "O"), ("O", "V")]
    ag = ec57_agreement(*_beats(spec), fs=360.0)
    assert ag["qrs"] == {"tp": 7, "fn": 1, "fp": 1, "se": 0.875, "ppv": 0.875}
    assert (ag["veb"]["tp"], ag["veb"]["fn"], ag["veb"]["fp"]) == (1, 1, 1)
    assert ag["veb"]["se"] == 0.5 and ag["veb"]["ppv"] == 0.5
    cm = _letters(ag["confusion_ref_rows"])
    assert cm[2, O] == 1 and cm[O, 2] == 1 and cm[0, 0] == 6


def test_agreement_f_and_q_called_v_are_not_veb_fp_but_n_and_s_are():
    spec = ([("N", "N")] * 5 + [("V", "V")] * 3 + [("F", "V"), ("Q", "V"), ("/", "V")]
            + [("N", "V"), ("A", "V")])
    ag = ec57_agreement(*_beats(spec), fs=360.0)
    v = ag["veb"]
    assert (v["tp"], v["fn"], v["fp"], v["tn"]) == (3, 0, 2, 5)  # N->V and S(A)->V only
    assert v["ppv"] == 0.6 and v["se"] == 1.0 and v["fpr"] == round(2 / 7, 4)


def test_agreement_sveb_counts_f_called_s_but_not_q_called_s():
    spec = ([("N", "N")] * 4 + [("A", "S")] * 3 + [("S", "N"), ("A", "O")]
            + [("F", "S"), ("Q", "S"), ("f", "S"), ("V", "S"), ("N", "S"), ("O", "S")])
    ag = ec57_agreement(*_beats(spec), fs=360.0)
    s = ag["sveb"]
    # FN: S called N, S missed; FP: F, V, N called S and the extra detection; Q/f called S: not
    assert (s["tp"], s["fn"], s["fp"]) == (3, 2, 4)
    assert s["se"] == 0.6 and s["ppv"] == round(3 / 7, 4)


def test_agreement_without_labels_reports_qrs_only_and_skip_counts_by_time():
    ref, sym, det, _ = _beats([("N", "N")] * 10, start=0, step=360)  # one beat a second
    det = np.concatenate([det[:-1], [int(4.5 * 360)]])  # last beat missed, one extra at 4.5 s
    ag = ec57_agreement(ref, sym, det, [None] * det.size, fs=360.0)
    assert "veb" not in ag and ag["qrs"]["fn"] == 1 and ag["qrs"]["fp"] == 1
    late = ec57_agreement(ref, sym, det, [None] * det.size, fs=360.0, skip_s=5.0)
    assert late["reference_beats"] == 5 and late["qrs"]["fp"] == 0 and late["qrs"]["fn"] == 1
    # the same counts as the QRS record statistics detector evaluation uses
    st = record_stats("x", ref, det, 360.0, start_s=5.0)
    assert (st.tp, st.fn, st.fp) == (late["qrs"]["tp"], late["qrs"]["fn"], late["qrs"]["fp"])


def test_hand_made_confusion_known_rates():
    cm = np.zeros((6, 6), dtype=int)
    cm[0, 0], cm[0, 2], cm[0, 1] = 900, 10, 20  # N: 10 called V, 20 called S
    cm[1, 1], cm[1, 0], cm[1, O] = 40, 8, 2  # S: 40 of 50 found
    cm[2, 2], cm[2, 0], cm[2, O] = 90, 6, 4  # V: 90 of 100 found
    cm[3, 2], cm[4, 2], cm[4, 1] = 7, 3, 5  # F->V, Q->V, Q->S: never false positives
    cm[O, 2], cm[O, 0] = 5, 11  # extra detections: 5 called V, 11 called N
    m = ec57_metrics(cm)
    assert m["veb"]["se"] == pytest.approx(0.9)
    assert m["veb"]["ppv"] == pytest.approx(90 / (90 + 10 + 5))
    # FP = Nv + Sv + Ov; TN = N and S reference beats not called V (missed ones included)
    assert m["veb"]["fpr"] == pytest.approx(15 / (15 + 930 - 10 + 50))
    assert m["sveb"]["se"] == pytest.approx(0.8)
    assert m["sveb"]["ppv"] == pytest.approx(40 / (40 + 20))
    assert m["qrs"]["fn"] == 6 and m["qrs"]["fp"] == 16
    assert m["qrs"]["tp"] == int(cm[:5, :5].sum())


def test_class_pairs_and_per_record_report():
    ref_s = np.array([100, 500, 900, 1300])
    ref_c = np.array([0, 2, 0, 1])
    det_s = np.array([105, 520, 1290, 1700])  # 900 missed, 1700 extra
    ref, alg = class_pairs(ref_s, ref_c, det_s, np.array([0, 2, 1, 2]), 360.0)
    assert sorted(zip(ref.tolist(), alg.tolist(), strict=True)) == sorted(
        [(0, 0), (2, 2), (1, 1), (0, O), (O, 2)])
    rep = ec57_report(np.concatenate([ref, ref[:2]]), np.concatenate([alg, alg[:2]]),
                      np.array(["a"] * 5 + ["b"] * 2))
    assert rep["per_record"]["b"]["n_ref"] == 2
    assert rep["gross"]["veb"]["tp"] == 2 and rep["gross"]["veb"]["fp"] == 1
    m = counted_match(ref_s, det_s, 360.0, start_s=2.0)  # 720 samples: 100 and 500 not counted
    assert m.tp_ref_idx.tolist() == [3] and m.fn_idx.tolist() == [2] and m.fp_idx.tolist() == [3]
    assert confusion(ref, alg).sum() == 5
    with pytest.raises(ValueError, match="one class per beat"):
        class_pairs(ref_s, ref_c[:3], det_s, np.zeros(4, int), 360.0)
