"""Cross-database beat study (issue 16): SVDB loader, CV folds, S/V offsets, fold ensemble."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SVDB_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "svdb"
needs_svdb = pytest.mark.skipif(not (SVDB_DIR / "806.hea").is_file(),
                                reason="SVDB data not present under ../shared/data/svdb")


# --------------------------------------------------------------------------- SVDB loader
@needs_svdb
def test_svdb_record_labels_aami_and_rate():
    from train.data.svdb import load_record

    rec = load_record("806")
    assert rec.fs == 128.0
    assert rec.leads == ["ECG1", "ECG2"]
    assert rec.signal.shape == (230400, 2)  # 30 min at 128 Hz
    classes, counts = np.unique(rec.aami, return_counts=True)
    assert dict(zip(classes.tolist(), counts.tolist(), strict=True)) == {
        "N": 2952, "S": 40, "V": 29, "F": 2}
    # AAMI mapping is the MIT-BIH one: every 'A' is S, every 'V' is V
    assert set(rec.aami[rec.ann_symbol == "A"]) <= {"S"}
    assert set(rec.aami[rec.ann_symbol == "V"]) <= {"V"}
    assert np.all(np.diff(rec.ann_sample) > 0)


@needs_svdb
def test_svdb_beats_go_through_the_device_front_end():
    from edge_runtime.beats import BeatConfig, extract_beats
    from train.data.beat_records import database_of, primary_channel, record_fs
    from train.data.svdb import load_record

    assert database_of("806") == "svdb" and database_of("100") == "mitdb"
    assert record_fs("806") == 128.0 and record_fs("100") == 360.0
    rec = load_record("806", sampto=128 * 120)  # two minutes
    assert primary_channel(rec) == 0 and rec.leads[0] == "ECG1"
    cfg = BeatConfig(template_beats=32)
    x, rr = extract_beats(rec.signal[:, :1], rec.fs, rec.ann_sample, cfg)
    assert x.shape == (len(rec.ann_sample), 2, cfg.length)  # 180 Hz windows, 126 samples
    assert cfg.length == 126 and rr.shape == (len(rec.ann_sample), 7)
    assert np.isfinite(x).all()
    # the RR features are in seconds whatever the native rate: a 128 Hz record gives the
    # same pre-RR as the annotation spacing
    np.testing.assert_allclose(rr[1:, 0], np.diff(rec.ann_sample) / 128.0, rtol=1e-5)


def test_unknown_record_is_a_one_line_error():
    from edge_runtime.errors import EcgEdgeError
    from train.data.beat_records import database_of
    from train.data.svdb import load_record

    with pytest.raises(EcgEdgeError):
        database_of("999")
    with pytest.raises(EcgEdgeError):
        load_record("100")


# --------------------------------------------------------------------------- folds
def _counts(n: int, seed: int = 0) -> dict[str, dict[str, int]]:
    rng = np.random.default_rng(seed)
    return {f"r{i:02d}": {"N": int(rng.integers(1000, 3000)), "S": int(rng.integers(0, 300)),
                          "V": int(rng.integers(0, 300))} for i in range(n)}


def test_folds_never_split_a_record_and_cover_all():
    from train.beats.folds import fold_of, make_folds

    counts = _counts(60)
    folds = make_folds(counts, k=5, seed=16)
    flat = [r for f in folds for r in f]
    assert sorted(flat) == sorted(counts)  # every record exactly once
    assert len(flat) == len(set(flat))
    assert {len(f) for f in folds} == {12}
    for f in folds:
        assert sum(counts[r]["S"] for r in f) > 0 and sum(counts[r]["V"] for r in f) > 0
    assert make_folds(counts, k=5, seed=16) == folds  # fixed before training: deterministic
    # beat-level view: all beats of one record fall in the same fold
    recs = np.array(["r03"] * 5 + ["r10"] * 3)
    f = fold_of(folds, recs)
    assert len(set(f[:5].tolist())) == 1 and len(set(f[5:].tolist())) == 1 and (f >= 0).all()


def test_folds_refuse_a_fold_without_ectopy():
    from train.beats.folds import make_folds

    counts = {f"r{i}": {"N": 100, "S": 10 if i == 0 else 0, "V": 5} for i in range(5)}
    with pytest.raises(ValueError):
        make_folds(counts, k=5)


@needs_svdb
def test_study_folds_on_ds1_plus_svdb_hold_s_and_v():
    from edge_runtime.records import aami_classes, read_beat_annotations
    from train.beats.folds import make_folds
    from train.data.mitdb import DS1, mitdb_dir
    from train.data.svdb import SVDB, svdb_dir

    counts = {}
    for r in DS1 + SVDB:
        d = svdb_dir() if r in SVDB else mitdb_dir()
        a = aami_classes(read_beat_annotations(d / r)[1])
        counts[r] = {c: int((a == c).sum()) for c in "NSVFQ"}
    folds = make_folds(counts)
    assert sorted(r for f in folds for r in f) == sorted(DS1 + SVDB)
    for f in folds:
        assert sum(counts[r]["S"] for r in f) > 500 and sum(counts[r]["V"] for r in f) > 500


# --------------------------------------------------------------------------- offsets, ensemble
def test_offsets_move_the_sveb_threshold_and_are_cross_fitted():
    from train.beats.thresholds import apply_offsets, cross_fitted, fit_offsets

    rng = np.random.default_rng(0)
    n = 1000
    y = rng.choice(3, size=n, p=[0.85, 0.1, 0.05])
    logit = rng.normal(0, 1, (n, 5))
    logit[np.arange(n), y] += 1.5
    logit[:, 1] -= 1.5  # an under-confident S class: argmax misses most S beats
    prob = np.exp(logit) / np.exp(logit).sum(axis=1, keepdims=True)
    off = fit_offsets(prob, y)
    assert off[1] > 0 and off[0] == off[3] == off[4] == 0
    se = lambda p: float(((p == 1) & (y == 1)).sum() / (y == 1).sum())  # noqa: E731
    assert se(apply_offsets(prob, off)) > se(prob.argmax(axis=1))
    fold = np.arange(n) % 5
    assert cross_fitted(prob, y, fold).shape == (n,)


def test_ensemble_is_log_mean_softmax_plus_offsets():
    import torch

    from train.models import build

    torch.manual_seed(0)
    ens = build("beat_ensemble", member_arch="beat_cnn_rr", n_members=3,
                member_kwargs={"in_leads": 2, "width": 4, "n_rr": 5}).eval()
    ens.offsets.copy_(torch.tensor([0.0, 1.0, -0.5, 0.0, 0.0]))
    x, rr = torch.randn(4, 2, 126), torch.rand(4, 5) + 0.5
    with torch.no_grad():
        want = torch.stack([torch.softmax(m(x, rr), 1) for m in ens.members]).mean(0)
        got = ens(x, rr)
    assert torch.allclose(got, torch.log(want) + ens.offsets, atol=1e-5)
    assert ens.uses_rr
