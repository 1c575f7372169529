"""Beat front end, split, EC57 class metrics, condition-(b) pairing, training step (issue 5)."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.beats import (
    RR_FEATURES,
    BeatConfig,
    BeatWindower,
    extract_beats,
    rr_features,
)
from edge_runtime.ec57 import O, confusion, ec57_metrics
from edge_runtime.records import AAMI_MAP, read_beat_annotations, read_record, shipped_record_path

# --------------------------------------------------------------------------- AAMI + split


def test_aami_mapping_matches_ec57():
    want = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in want.items():
        for s in symbols:
            assert AAMI_MAP[s] == cls, s
    assert set(AAMI_MAP) == set("NLRejAaJSVEF/fQ")


def test_ds1_ds2_disjoint_and_validation_inside_ds1():
    from train.beats.dataset import DS1_TRAIN, DS1_VAL
    from train.data.mitdb import DS1, DS2, PACED

    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not (set(DS1) | set(DS2)) & set(PACED)
    assert set(DS1_VAL) < set(DS1) and set(DS1_TRAIN) < set(DS1)
    assert not set(DS1_VAL) & set(DS1_TRAIN)
    assert set(DS1_VAL) | set(DS1_TRAIN) == set(DS1)


# --------------------------------------------------------------------------- RR features


def test_rr_features_are_causal_up_to_post_rr():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.4, 1.4, size=60))
    full = rr_features(times, local_beats=5, long_beats=20)
    assert full.shape == (60, len(RR_FEATURES))
    for i in range(len(times) - 1):
        # beat i's features only need beats 0..i+1 (post-RR = one beat of latency)
        part = rr_features(times[: i + 2], local_beats=5, long_beats=20)
        np.testing.assert_allclose(part[i], full[i], rtol=1e-6)
    # changing any beat after i+1 never changes beat i
    changed = times.copy()
    changed[30:] += 0.3
    np.testing.assert_allclose(rr_features(changed, 5, 20)[:29], full[:29], rtol=1e-6)


def test_rr_feature_values():
    times = np.array([0.0, 1.0, 2.0, 2.5, 3.5])
    f = rr_features(times, local_beats=2, long_beats=10)
    i = RR_FEATURES.index
    assert f[0, i("pre_rr")] == pytest.approx(1.0)  # first beat: pre := post
    assert f[2, i("pre_rr")] == pytest.approx(1.0)
    assert f[2, i("post_rr")] == pytest.approx(0.5)
    assert f[3, i("pre_rr")] == pytest.approx(0.5)
    assert f[3, i("local_rr")] == pytest.approx(0.75)
    assert f[3, i("long_rr")] == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert f[3, i("pre_rr_norm")] == pytest.approx(0.5 / 0.875)
    assert f[4, i("post_rr")] == pytest.approx(1.0)  # last beat: post := pre


# --------------------------------------------------------------------------- windows


def _record_100(seconds: float = 60.0):
    rec = read_record(shipped_record_path("100"), sampto=int(360 * seconds))
    samples, _ = read_beat_annotations(shipped_record_path("100"), sampto=int(360 * seconds))
    return rec, samples


def test_windows_at_record_edges_are_padded_and_finite():
    rec, _ = _record_100(10)
    n = rec.n_samples
    cfg = BeatConfig()
    peaks = [0, 3, n // 2, n - 2, n - 1]
    w, f = extract_beats(rec.signal[:, 0], rec.fs, peaks, cfg)
    assert w.shape == (5, 1, cfg.length) and f.shape == (5, len(RR_FEATURES))
    assert np.isfinite(w).all() and np.isfinite(f).all()
    # at the very start the samples before the record are the first sample repeated
    pad = cfg.before - BeatWindower(rec.fs, 1, cfg).center(0)
    assert pad > 10
    assert np.all(w[0, 0, :pad] == w[0, 0, 0])
    # past the end, the last sample repeated
    assert np.all(w[-1, 0, -(cfg.after - 5) :] == w[-1, 0, -1])


def test_streaming_windower_equals_whole_record():
    rec, samples = _record_100(60)
    x = rec.signal[:, :1]
    w, f = extract_beats(x, rec.fs, samples)
    bw = BeatWindower(rec.fs, 1)
    got_w, got_f = [], []
    for s in range(0, rec.n_samples, 513):
        e = min(rec.n_samples, s + 513)
        a, b, _ = bw.push(x[s:e], samples[(samples >= s) & (samples < e)])
        got_w.append(a)
        got_f.append(b)
    a, b, _ = bw.flush()
    np.testing.assert_allclose(np.concatenate(got_w + [a]), w, atol=1e-6)
    np.testing.assert_allclose(np.concatenate(got_f + [b]), f, atol=1e-6)


def test_template_channel_is_causal_and_streams_like_whole():
    rec, samples = _record_100(60)
    cfg = BeatConfig(template_beats=8)
    x = rec.signal[:, :1]
    w, _ = extract_beats(x, rec.fs, samples, cfg)
    assert w.shape[1] == 2
    plain, _ = extract_beats(x, rec.fs, samples)
    np.testing.assert_allclose(w[:, 0], plain[:, 0])
    assert np.all(w[0, 1] == 0)  # first beat: its own template
    # beat i's template is the median of the 8 windows before it
    i = 20
    np.testing.assert_allclose(w[i, 1], plain[i, 0] - np.median(plain[i - 8 : i, 0], axis=0),
                               atol=1e-6)
    # truncating the beat list never changes earlier beats' template channel
    w_part, _ = extract_beats(x, rec.fs, samples[:30], cfg)
    np.testing.assert_allclose(w_part[:29], w[:29], atol=1e-6)
    bw = BeatWindower(rec.fs, 1, cfg)
    got = [bw.push(x[s : s + 700], samples[(samples >= s) & (samples < s + 700)])[0]
           for s in range(0, rec.n_samples, 700)]
    got.append(bw.flush()[0])
    np.testing.assert_allclose(np.concatenate(got), w, atol=1e-6)


def test_window_centre_holds_the_r_peak():
    rec, samples = _record_100(60)
    w, _ = extract_beats(rec.signal[:, 0], rec.fs, samples)
    c = BeatConfig().before
    peak_pos = np.abs(w[:, 0, :]).argmax(axis=1)
    # record 100 MLII: R is the largest deflection; within +-4 samples (22 ms) of centre
    assert np.median(np.abs(peak_pos - c)) <= 4


# --------------------------------------------------------------------------- EC57 metrics


def test_ec57_veb_does_not_count_fusion_or_q_called_v_as_fp():
    ref = [0] * 90 + [2] * 10 + [3] * 5 + [4] * 2
    alg = [0] * 88 + [2] * 2 + [2] * 8 + [0] * 2 + [2] * 5 + [2] * 2
    m = ec57_metrics(confusion(ref, alg))
    v = m["veb"]
    assert (v["tp"], v["fn"], v["fp"]) == (8, 2, 2)  # F->V and Q->V are not FPs
    assert v["se"] == pytest.approx(0.8) and v["ppv"] == pytest.approx(0.8)
    assert v["tn"] == 88
    assert v["fpr"] == pytest.approx(2 / 90)


def test_ec57_sveb_does_not_count_q_called_s_as_fp_but_counts_f():
    cm = np.zeros((6, 6), dtype=int)
    cm[0, 0], cm[0, 1] = 95, 5  # N: 5 called S -> FP
    cm[1, 1], cm[1, 0] = 6, 4  # S: Se 0.6
    cm[3, 1] = 1  # F called S -> FP
    cm[4, 1] = 3  # Q called S -> not FP
    cm[2, 1] = 2  # V called S -> FP
    m = ec57_metrics(cm)
    s = m["sveb"]
    assert (s["tp"], s["fn"], s["fp"]) == (6, 4, 8)
    assert s["ppv"] == pytest.approx(6 / 14)


def test_ec57_missed_and_extra_beats_count():
    ref = [2, 2, 2, 2, O, O, 0, 0]
    alg = [2, 2, 2, O, 2, 0, 0, 0]  # one V missed, one extra detection called V
    m = ec57_metrics(confusion(ref, alg))
    assert m["veb"]["se"] == pytest.approx(0.75)
    assert m["veb"]["ppv"] == pytest.approx(0.75)
    assert m["n_missed"] == 1 and m["n_extra"] == 2
    assert m["accuracy"] == pytest.approx(5 / 6)


def test_condition_b_pairing():
    from train.beats.dataset import BeatSet
    from train.beats.evaluate import DetectedSet, pairs_condition_b

    ref_s = np.array([100, 500, 900, 1300])
    ref_y = np.array([0, 2, 0, 1])
    det_s = np.array([105, 520, 1290, 1700])  # 900 missed, 1700 extra
    bs = BeatSet(np.zeros((4, 1, 8), np.float32), np.ones((4, 7), np.float32),
                 np.full(4, -1), np.full(4, "r1"), det_s)
    ds = DetectedSet(bs, det_s + 90, np.full(4, "r1"), ref_s, ref_y)
    pred = np.array([0, 2, 1, 2])
    ref, alg, rec = pairs_condition_b(ds, pred, fs=360.0)
    pairs = sorted(zip(ref.tolist(), alg.tolist(), strict=True))
    assert pairs == sorted([(0, 0), (2, 2), (1, 1), (0, O), (O, 2)])


# --------------------------------------------------------------------------- training


def _tiny_set(n=96, length=126, seed=0):
    from train.beats.dataset import BeatSet

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, size=n)
    x = rng.normal(0, 0.1, size=(n, 1, length)).astype(np.float32)
    x[np.arange(n), 0, 45] += y.astype(np.float32)  # learnable signal
    rr = rng.uniform(0.5, 1.5, size=(n, 7)).astype(np.float32)
    return BeatSet(x, rr, y.astype(np.int64), np.full(n, "101"), np.arange(n))


@pytest.mark.parametrize("arch,kw", [("beat_cnn", {}), ("beat_cnn_rr", {}),
                                     ("beat_cnn_gru", {"use_rr": True})])
def test_one_training_step_changes_weights(arch, kw):
    import torch

    from train.losses import make_loss
    from train.models import build

    torch.manual_seed(0)
    ds = _tiny_set()
    model = build(arch, **kw)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = make_loss("focal", ds.y, 5)
    loss = loss_fn(model(torch.from_numpy(ds.x), torch.from_numpy(ds.rr)),
                   torch.from_numpy(ds.y))
    assert torch.isfinite(loss)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_train_loop_runs_each_imbalance_strategy():
    from train.beats.train import IMBALANCE, TrainConfig, train_beat_model

    tr, va = _tiny_set(128, seed=1), _tiny_set(64, seed=2)
    for imb in IMBALANCE:
        cfg = TrainConfig(arch="beat_cnn_rr", imbalance=imb, epochs=1, batch_size=64)
        model, hist, best, m = train_beat_model(cfg, tr, va, progress=False, log=lambda s: None)
        assert len(hist) == 1 and best == 1
        assert sum(m["per_class"][c]["n"] for c in "NSVFQ") == 64


def test_checkpoint_card_round_trip(tmp_path):
    from train.beats.checkpoint import load_checkpoint, make_card, save_checkpoint
    from train.models import build

    cfg = BeatConfig()
    model = build("beat_cnn_rr")
    card = make_card("beat_cnn_rr", model, cfg, ["MLII"], ["101"], ["118"], "test", 0, {})
    assert card["inputs"][0]["shape"] == [None, 1, cfg.length]
    assert card["inputs"][1]["shape"] == [None, len(RR_FEATURES)]
    assert card["window"] == {"before": cfg.before, "after": cfg.after}
    assert BeatConfig.from_card(card) == cfg
    save_checkpoint(tmp_path / "b.pt", "beat_cnn_rr", {"in_leads": 1}, model, card)
    m2, c2 = load_checkpoint(tmp_path / "b.pt")
    assert c2["features"] == list(RR_FEATURES)
    assert sum(p.numel() for p in m2.parameters()) == sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- annotate


def test_annotate_writes_wfdb_beat_classes(tmp_path):
    """``ecgedge annotate --beat-model`` writes one AAMI symbol per detected beat."""
    import json
    import warnings

    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import torch
    import wfdb

    from edge_runtime.annotate import main as annotate_main
    from train.beats.checkpoint import make_card
    from train.models import build

    model = build("beat_cnn_rr").eval()
    path = tmp_path / "beat.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(2, 1, 126), torch.ones(2, 7)), str(path),
                          input_names=["x", "rr"], output_names=["logits"],
                          dynamic_axes={"x": {0: "b"}, "rr": {0: "b"}}, dynamo=False)
    proto = onnx.load(str(path))
    card = make_card("beat_cnn_rr", model, BeatConfig(), ["MLII"], ["101"], ["118"], "t", 0, {})
    entry = proto.metadata_props.add()
    entry.key, entry.value = "ecgedge_model_card", json.dumps(card)
    onnx.save(proto, str(path))

    # a 2-minute excerpt of the shipped record keeps the test fast
    rec = read_record(shipped_record_path("100"), sampto=360 * 120)
    wfdb.wrsamp("ex100", fs=rec.fs, units=rec.units, sig_name=rec.leads, p_signal=rec.signal,
                fmt=["16"] * len(rec.leads), write_dir=str(tmp_path))
    out = tmp_path / "out"
    assert annotate_main(["--record", str(tmp_path / "ex100"), "--beat-model", str(path),
                          "--out", str(out)]) == 0
    qrs = wfdb.rdann(str(out / "ex100"), "qrs")
    beats = wfdb.rdann(str(out / "ex100"), "beats")
    assert len(beats.sample) == len(qrs.sample) > 100
    assert np.array_equal(beats.sample, qrs.sample)
    assert set(beats.symbol) <= set("NSVFQ")


def test_one_long_push_equals_small_pushes_and_survives_a_long_pause():
    """A push longer than the 30 s buffer (and a 40 s gap between two beats) never loses or
    corrupts a window: windows are cut as soon as they arrive, pushes go in chunks."""
    rec, samples = _record_100(120)
    x = rec.signal[:, :1]
    keep = samples[(samples < 30 * rec.fs) | (samples > 70 * rec.fs)]  # a 40 s pause
    w, f = extract_beats(x, rec.fs, keep)
    bw = BeatWindower(rec.fs, 1)
    a, b, p = bw.push(x, keep)
    a2, b2, p2 = bw.flush()
    np.testing.assert_array_equal(np.concatenate([p, p2]), keep)
    np.testing.assert_allclose(np.concatenate([a, a2]), w, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([b, b2]), f, atol=1e-6)
    small = BeatWindower(rec.fs, 1)
    got = [small.push(x[s : s + 360], keep[(keep >= s) & (keep < s + 360)])[0]
           for s in range(0, rec.n_samples, 360)]
    got.append(small.flush()[0])
    np.testing.assert_allclose(np.concatenate(got), w, atol=1e-6)
