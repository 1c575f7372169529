"""Window models (issue 6): labels, split disjointness, preprocessing, models, losses,
metrics, augmentation and a full (tiny, synthetic) training run with its checkpoint + card."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edge_runtime.datadir import find_data_dir
from edge_runtime.dsp import ecg_filter_sos, filter_signal
from edge_runtime.windowing import condition, fit_normalisation, normalise
from train.data import ptbxl
from train.models import build
from train.models.complexity import count_params
from train.models.window_cnn import count_macs
from train.window import metrics as M
from train.window.augment import augment_batch
from train.window.data import (
    Conditioned,
    assert_patient_disjoint,
    build_task,
    make_split,
    task_labels,
)
from train.window.train import TrainConfig, _train_indices, make_loss, run, save_checkpoint


def _meta(n: int = 60, seed: int = 0) -> ptbxl.PtbxlMeta:
    """Synthetic metadata: each patient in one fold; mixed NORM / HYP / other labels."""
    rng = np.random.default_rng(seed)
    folds = np.tile(np.arange(1, 11), n // 10 + 1)[:n]
    supers, finds, scp = [], [], []
    for i in range(n):
        kind = i % 4
        s = {0: {"NORM"}, 1: {"HYP"}, 2: {"HYP", "MI"}, 3: {"CD"}}[kind]
        supers.append(frozenset(s))
        f = np.zeros(6, dtype=np.int8)
        f[i % 6] = rng.random() < 0.5
        finds.append(f)
        scp.append({})
    return ptbxl.PtbxlMeta(
        ecg_id=np.arange(1, n + 1), patient_id=np.arange(1000, 1000 + n), strat_fold=folds,
        age=np.full(n, 50.0), sex=np.zeros(n, dtype=int), scp_codes=scp, superclasses=supers,
        findings=np.array(finds), filename_lr=[""] * n, filename_hr=[""] * n,
    )


def _conditioned(n: int = 60) -> Conditioned:
    """Synthetic conditioned waveforms where HYP records have larger QRS-like spikes."""
    meta = _meta(n)
    rng = np.random.default_rng(1)
    x = 0.05 * rng.standard_normal((n, 1000, 12)).astype(np.float32)
    hyp = np.array(["HYP" in s for s in meta.superclasses])
    x[:, ::80, :] += np.where(hyp, 3.0, 1.0)[:, None, None]
    return Conditioned(x=x, meta=meta, n_missing=0, filt={})


# --------------------------------------------------------------------------- labels, split
def test_hyp_label_mapping_and_exclusion() -> None:
    meta = _meta(40)
    include, y, classes, info = task_labels(meta, "hyp")
    assert classes == ["HYP"] and y.shape == (include.sum(), 1)
    # kinds 0 (NORM) and 1, 2 (HYP, HYP+MI) are in; kind 3 (CD only) is excluded
    assert info["excluded"] == 10 and include.sum() == 30
    assert y.sum() == 20


def test_findings_and_superclass_labels() -> None:
    meta = _meta(40)
    inc, y, classes, _ = task_labels(meta, "findings6")
    assert inc.all() and classes == list(ptbxl.FINDINGS) and np.array_equal(y, meta.findings)
    inc, y, classes, _ = task_labels(meta, "super5")
    assert classes == list(ptbxl.SUPERCLASSES) and y.shape == (40, 5)
    assert y[:, classes.index("HYP")].sum() == 20


def test_rhythm_codes_use_presence() -> None:
    # PTB-XL stores likelihood 0 for rhythm statements: presence must count for SB/AF/ST
    f = ptbxl.finding_labels({"SBRAD": 0.0, "1AVB": 0.0, "CRBBB": 100.0})
    assert f.tolist() == [0, 1, 0, 1, 0, 0]


def test_split_is_patient_disjoint_and_detects_leaks() -> None:
    meta = _meta(50)
    split = make_split(meta)
    assert len(split["val"]) == 5 and len(split["test"]) == 5
    meta.patient_id[split["test"][0]] = meta.patient_id[split["train"][0]]
    with pytest.raises(AssertionError, match="patients in both"):
        assert_patient_disjoint(meta, split)


@pytest.mark.skipif(find_data_dir() is None, reason="needs PTB-XL in ../shared/data")
def test_real_ptbxl_task_counts_and_disjoint() -> None:
    from train.window.data import load_conditioned

    cond = load_conditioned()
    td = build_task(cond, "hyp")
    assert td.x.shape[1:] == (12, 1000)
    assert td.info["n_records"] == int(td.y.shape[0])
    n_hyp = int(td.y.sum())
    assert 200 <= n_hyp <= 230  # README: 215 HYP records in this subset
    assert_patient_disjoint(td.meta, td.split)
    assert td.info["counts"]["test"]["n"] == len(td.split["test"])


# --------------------------------------------------------------------------- preprocessing
def test_condition_is_device_filter_and_normalisation_roundtrip() -> None:
    rng = np.random.default_rng(2)
    raw = rng.standard_normal((1000, 3)) + 5.0
    want = filter_signal(raw, ecg_filter_sos(100.0, 0.5, 40.0, None, 2))
    assert np.allclose(condition(raw, 100.0), want)
    norm = fit_normalisation(want[None], ["I", "II", "V1"])
    z = normalise(want, norm)
    assert z.dtype == np.float32 and np.allclose(z.std(axis=0), 1.0, atol=1e-3)
    assert norm["kind"] == "per_lead_standard" and len(norm["mean"]) == 3


# --------------------------------------------------------------------------- models
@pytest.mark.parametrize("arch", ["window_cnn", "window_se_cnn", "window_resnet"])
@pytest.mark.parametrize("leads", [1, 3, 12])
def test_models_shapes_params_macs(arch: str, leads: int) -> None:
    m = build(arch, n_leads=leads, n_classes=6).eval()
    with torch.no_grad():
        out = m(torch.zeros(2, leads, 1000))
    assert out.shape == (2, 6)
    assert 10_000 < count_params(m) < 1_000_000
    assert count_macs(m, leads) > 1_000_000
    assert m.features(torch.zeros(1, leads, 1000)).ndim == 3


# --------------------------------------------------------------------------- losses / sampling
@pytest.mark.parametrize("balance", ["none", "weighted", "focal", "sampler", "cost",
                                     "undersample"])
def test_losses_finite_and_cost_penalises_missed_positives(balance: str) -> None:
    y = np.zeros((20, 1), dtype=np.float32)
    y[:4] = 1
    cfg = TrainConfig(balance=balance, cost_fn_fp=5.0)
    loss = make_loss(cfg, y)
    z = torch.zeros(20, 1)
    v = loss(z, torch.from_numpy(y))
    assert torch.isfinite(v)
    if balance in ("weighted", "cost"):
        missed = loss(torch.full((1, 1), -3.0), torch.ones(1, 1))
        false_alarm = loss(torch.full((1, 1), 3.0), torch.zeros(1, 1))
        assert missed > 2 * false_alarm


def test_sampler_and_undersampling_rebalance() -> None:
    y = np.zeros((100, 1), dtype=np.float32)
    y[:10] = 1
    rng = np.random.default_rng(0)
    und = _train_indices(TrainConfig(balance="undersample"), y, rng)
    assert len(und) == 20 and y[und].sum() == 10
    smp = _train_indices(TrainConfig(balance="sampler"), y, rng)
    assert len(smp) == 100 and 30 < y[smp].sum() < 70
    assert sorted(_train_indices(TrainConfig(), y, rng)) == list(range(100))


def test_augment_shape_determinism_and_lead_dropout() -> None:
    x = torch.ones(8, 12, 1000)
    a = augment_batch(x, torch.Generator().manual_seed(3))
    b = augment_batch(x, torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert (a.abs().sum(dim=2) > 0).any(dim=1).all()  # never every lead dropped


# --------------------------------------------------------------------------- metrics
def test_auroc_matches_pairwise_definition_and_auprc() -> None:
    rng = np.random.default_rng(4)
    y = rng.random(200) < 0.2
    s = np.round(rng.random(200) + 0.5 * y, 1)  # with ties
    pos, neg = s[y], s[~y]
    pair = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (
        len(pos) * len(neg))
    assert M.auroc(y, s) == pytest.approx(pair)
    assert M.auprc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert np.isnan(M.auroc(np.zeros(5), np.arange(5)))


def test_operating_points_and_bootstrap() -> None:
    rng = np.random.default_rng(5)
    y = rng.random(300) < 0.3
    s = rng.random(300) + 0.8 * y
    t = M.screening_threshold(y, s, 0.95)
    assert M.binary_metrics(y, s, t)["sensitivity"] >= 0.95
    tj = M.youden_threshold(y, s)
    m = M.binary_metrics(y, s, tj)
    assert m["sensitivity"] + m["specificity"] - 1 > 0.3
    patients = np.repeat(np.arange(150), 2)
    ci = M.patient_bootstrap(y, s, patients, tj, n_boot=100)
    lo, hi = ci["auroc"]["ci95"]
    assert lo <= ci["auroc"]["value"] <= hi and hi - lo > 0


# --------------------------------------------------------------------------- training
def test_one_batch_training_step_reduces_loss() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    m = build("window_se_cnn", n_leads=12, n_classes=1, channels=(8, 8, 16, 16))
    x = torch.randn(16, 12, 1000)
    y = (torch.arange(16) % 2).float()[:, None]
    x[y[:, 0] > 0, :, ::50] += 3.0
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    loss_fn = make_loss(TrainConfig(), y.numpy())
    first = None
    for _ in range(8):
        loss = loss_fn(m(x), y)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first


def test_full_run_checkpoint_and_card(tmp_path) -> None:
    cond = _conditioned(80)
    cfg = TrainConfig(task="hyp", arch="window_cnn", epochs=2, n_boot=20, patience=5,
                      arch_kwargs={"channels": [8, 8, 16, 16]})
    model, rep = run(cfg, cond, quiet=True)
    assert rep["data"]["excluded"] == 20
    assert set(rep["operating_points"]) == {"screening", "balanced"}
    hyp = rep["test"]["balanced"]["per_class"]["HYP"]
    assert "ci95" in hyp["auroc"] and hyp["too_few_positives"]
    card = save_checkpoint(model, cfg, rep, tmp_path / "hyp.pt", "test")
    ck = torch.load(tmp_path / "hyp.pt", weights_only=True)
    m2 = build(ck["arch"], **ck["arch_kwargs"])
    m2.load_state_dict(ck["state_dict"])
    assert card["schema"] == "ecgedge.model_card/1" and card["output"] == "sigmoid"
    assert card["inputs"][0]["shape"] == [None, 12, 1000] and card["fs"] == 100.0
    assert card["preprocessing"]["normalisation"]["kind"] == "per_lead_standard"
    assert len(card["training"]["train_ids"]) == len(rep["_state"]["train_ids"])
    from edge_runtime.inference import validate_card

    validate_card(card)


def test_study_tables_mean_sd_and_ci() -> None:
    from train.window.study import findings_detail, hyp_row, hyp_table

    def rep(seed: int, auc: float) -> dict:
        m = {k: {"value": auc, "ci95": [auc - 0.1, auc + 0.05]} for k in (
            "auroc", "auprc", "f1", "sensitivity", "specificity", "fnr", "fpr", "accuracy",
            "precision")}
        pc = {"HYP": {**m, "n_pos": 4, "too_few_positives": True}}
        return {"config": {"seed": seed}, "val": {"macro_auroc": 0.9},
                "test": {"balanced": {"per_class": pc}}}

    row = hyp_row("x", [rep(0, 0.8), rep(1, 0.9)])
    assert row["auroc"]["mean"] == pytest.approx(0.85)
    assert row["auroc"]["sd"] == pytest.approx(np.std([0.8, 0.9], ddof=1))
    table = hyp_table([row])
    assert "0.850 ± 0.071 [0.70, 0.85]" in table
    assert "too few positives" in findings_detail(rep(0, 0.8), ["HYP"])
