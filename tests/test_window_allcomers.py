"""Issue 18 building blocks: all-comers HYP and multi-task labels, head slicing and seed
ensembles (exact), the HYP screening report and error analysis, voltage criteria."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from train.data import ptbxl
from train.models import build
from train.window import compose, hyp_screen
from train.window.data import task_labels
from train.window.voltage import voltages


def _meta(n: int = 40) -> ptbxl.PtbxlMeta:
    kinds = [{"NORM"}, {"HYP"}, {"HYP", "MI"}, {"CD"}]
    supers = [frozenset(kinds[i % 4]) for i in range(n)]
    scp = [{"NORM": 100.0} if i % 4 == 0 else {"LVH": 50.0} if i % 4 in (1, 2)
           else {"CLBBB": 100.0} for i in range(n)]
    finds = np.zeros((n, 6), dtype=np.int8)
    finds[np.arange(n) % 4 == 3, ptbxl.FINDINGS.index("LBBB")] = 1
    return ptbxl.PtbxlMeta(
        ecg_id=np.arange(1, n + 1), patient_id=np.arange(n), strat_fold=np.arange(n) % 10 + 1,
        age=np.full(n, 50.0), sex=np.zeros(n, dtype=int), scp_codes=scp, superclasses=supers,
        findings=finds, filename_lr=[""] * n, filename_hr=[""] * n)


def test_hyp_all_keeps_every_record_and_multi_stacks_the_heads():
    meta = _meta()
    inc, y, classes, info = task_labels(meta, "hyp_all")
    assert inc.all() and classes == ["HYP"] and info["excluded"] == 0
    assert y.sum() == 20 and y[3::4].sum() == 0  # CD-only records are negatives, not dropped
    inc, ym, classes, _ = task_labels(meta, "multi")
    assert classes[:7] == ["HYP", *ptbxl.FINDINGS] and classes[7:] == ["NORM", "MI", "STTC", "CD"]
    np.testing.assert_array_equal(ym[:, 0], y[:, 0])
    np.testing.assert_array_equal(ym[:, 1:7], meta.findings)
    assert ym[:, classes.index("CD")].sum() == 10


def _save(tmp_path, name: str, classes: list[str], seed: int):
    torch.manual_seed(seed)
    model = build("window_se_cnn", n_leads=12, n_classes=len(classes)).eval()
    card = {"task": "multi", "arch": "window_se_cnn", "classes": classes, "leads": ["I"] * 12}
    path = tmp_path / f"{name}.pt"
    compose.save(path, "window_se_cnn", {"n_leads": 12, "n_classes": len(classes)}, model, card)
    return path, model


def test_sliced_heads_and_ensembles_are_exact(tmp_path):
    classes = ["HYP", *ptbxl.FINDINGS, "NORM", "MI", "STTC", "CD"]
    path, full = _save(tmp_path, "m", classes, 0)
    x = torch.randn(3, 12, 1000)
    with torch.no_grad():
        ref = full(x)
        model, kw, card = compose.slice_heads(path, list(ptbxl.FINDINGS))
        assert kw["n_classes"] == 6 and card["classes"] == list(ptbxl.FINDINGS)
        torch.testing.assert_close(model(x), ref[:, 1:7], rtol=0, atol=1e-6)
        other = build("window_se_cnn", n_leads=12, n_classes=6).eval()
        ens, ek = compose.ensemble([model, other], "window_se_cnn", kw)
        assert ek["n_members"] == 2
        torch.testing.assert_close(ens(x), (model(x) + other(x)) / 2, rtol=0, atol=1e-6)


def test_hyp_report_tables_and_error_analysis():
    meta = _meta(200)
    meta.strat_fold = (np.arange(200) // 4) % 10 + 1  # every kind in every fold
    y, hn = hyp_screen.hyp_labels(meta)
    rng = np.random.default_rng(0)
    p = 0.6 * y + 0.5 * rng.random(len(y))
    p[np.arange(200) % 4 == 3] += 0.3  # CD records look like HYP to this "model"
    rep = hyp_screen.hyp_report(meta, p, n_boot=20)
    assert set(rep["operating_points"]) == {"screening", "balanced"}
    assert rep["test_vs_all"]["n"] == 20 and rep["test_vs_norm"]["n"] == 15
    assert rep["test_vs_all"]["n_pos"] == rep["test_vs_norm"]["n_pos"] == 10
    lo, hi = rep["test_vs_all"]["balanced"]["auroc"]["ci95"]
    assert lo <= rep["test_vs_all"]["balanced"]["auroc"]["value"] <= hi
    err = rep["errors_test"]["screening"]
    assert err["false_positives"] == sum(
        1 for i in np.flatnonzero(meta.fold_mask(10)) if y[i] == 0
        and p[i] >= rep["operating_points"]["screening"])
    assert set(err["by_superclass"]) == {"NORM", "CD"}
    if err["false_positives"]:
        assert err["by_scp"][0]["code"] in ("CLBBB", "NORM")


def test_sokolow_lyon_from_the_median_beat():
    fs, n = 100.0, 1000
    t = np.arange(n) / fs
    x = np.zeros((n, 12))
    for b in np.arange(0.5, 9.6, 0.8):
        pulse = np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        x[:, ptbxl.LEADS.index("II")] += pulse
        x[:, ptbxl.LEADS.index("V5")] += 2.2 * pulse
        x[:, ptbxl.LEADS.index("V1")] -= 1.5 * pulse
        x[:, ptbxl.LEADS.index("AVL")] += 0.9 * pulse
        x[:, ptbxl.LEADS.index("V3")] -= 1.2 * pulse
    v = voltages(x, fs, sex=1)
    assert v["sokolow_lyon"] == pytest.approx(3.7, abs=0.05)
    assert v["cornell"] == pytest.approx(2.1, abs=0.05)
    assert v["cornell_margin"] == pytest.approx(0.1, abs=0.05)  # women: 2.0 mV threshold
