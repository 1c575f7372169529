"""Imbalance losses reduce to the plain losses in their limits (softmax and sigmoid)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from train.losses import CostSensitiveLoss, FocalLoss, WeightedLoss, class_weights, make_loss


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 5, generator=g)
    y = torch.randint(0, 5, (32,), generator=g)
    multi = (torch.rand(32, 5, generator=g) > 0.7).float()
    return logits, y, multi


def test_focal_gamma0_is_cross_entropy(batch):
    logits, y, multi = batch
    assert torch.allclose(FocalLoss("softmax", gamma=0)(logits, y), F.cross_entropy(logits, y))
    bce = F.binary_cross_entropy_with_logits(logits, multi)
    assert torch.allclose(FocalLoss("sigmoid", gamma=0)(logits, multi), bce, atol=1e-6)


def test_focal_downweights_easy_examples():
    easy = torch.tensor([[8.0, 0, 0, 0, 0]])
    hard = torch.tensor([[0.5, 0, 0, 0, 0]])
    y = torch.tensor([0])
    ratio_ce = F.cross_entropy(easy, y) / F.cross_entropy(hard, y)
    ratio_fl = FocalLoss(gamma=2)(easy, y) / FocalLoss(gamma=2)(hard, y)
    assert ratio_fl < ratio_ce


def test_class_weights_balanced_rule():
    y = np.array([0] * 90 + [1] * 10)
    w = class_weights(y, 3)
    assert w[2] == 0  # absent class
    assert float(w[1] / w[0]) == pytest.approx(9.0)
    multi = np.array([[1, 0], [1, 0], [1, 1], [1, 0]])
    w2 = class_weights(multi, 2)
    assert float(w2[1] / w2[0]) == pytest.approx(4.0)


def test_weighted_loss_uniform_weights_is_plain(batch):
    logits, y, multi = batch
    ones = torch.ones(5)
    assert torch.allclose(WeightedLoss("softmax", ones)(logits, y), F.cross_entropy(logits, y))
    assert torch.allclose(WeightedLoss("sigmoid", ones)(logits, multi),
                          F.binary_cross_entropy_with_logits(logits, multi))


def test_cost_sensitive_limits(batch):
    logits, y, multi = batch
    zero = torch.zeros(5, 5)
    assert torch.allclose(CostSensitiveLoss(zero)(logits, y), F.cross_entropy(logits, y))
    ones = torch.ones(2, 5)
    assert torch.allclose(CostSensitiveLoss(ones, "sigmoid")(logits, multi),
                          F.binary_cross_entropy_with_logits(logits, multi), atol=1e-6)
    # a cost on calling class 0 "1" raises the loss when the model leans to 1
    cost = torch.zeros(5, 5)
    cost[0, 1] = 5.0
    lean = torch.tensor([[0.0, 3.0, 0, 0, 0]])
    y0 = torch.tensor([0])
    assert CostSensitiveLoss(cost)(lean, y0) > F.cross_entropy(lean, y0)


def test_make_loss_kinds(batch):
    logits, y, _ = batch
    labels = y.numpy()
    for kind in ("none", "class_weights", "focal", "sampler", "undersample"):
        assert torch.isfinite(make_loss(kind, labels, 5)(logits, y))
    with pytest.raises(ValueError):
        make_loss("cost", labels, 5)
    with pytest.raises(ValueError):
        make_loss("nope", labels, 5)
