"""Multi-lead 10 s window models (PTB-XL, 12 x 1000 at 100 Hz): small enough for a Pi.

Three families, all ``(batch, leads, samples) -> logits (batch, n_classes)``:

* ``window_cnn``: a plain small CNN baseline (conv-BN-ReLU-maxpool blocks, global pooling).
* ``window_se_cnn``: the same blocks with a squeeze-and-excitation gate after each
  (Hu et al. 2018): a channel re-weighting that costs almost nothing in MACs and lets the
  network emphasise lead/feature channels (used for HYP, where voltage in a few leads matters).
* ``window_resnet``: a residual 1D CNN after Ribeiro et al. 2020 (Nat Commun 11:1760): a
  kernel-16 stem, 4 residual blocks that each downsample (max-pool + 1x1 conv on the skip,
  strided conv on the main path), pre-activation BN/ReLU/dropout, and a linear multi-label
  head. Channel counts are scaled down from (64, 128, 196, 256, 320) to (16, 24, 32, 48, 64)
  so it fits an edge (and a 2-core training) budget; the structure is the paper's.

Every model has a ``features(x)`` method returning the last convolutional feature map, which
Grad-CAM (train/window/saliency.py) hooks.
"""

from __future__ import annotations

import torch
from torch import nn

from train.models import complexity, register


def _conv_block(c_in: int, c_out: int, k: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    )


class SqueezeExcite(nn.Module):
    """Channel gate: global average -> bottleneck MLP -> sigmoid -> scale channels."""

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc = nn.Sequential(
            nn.Linear(channels, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.fc(x.mean(dim=2))
        return x * w.unsqueeze(2)


class _PoolHead(nn.Module):
    """Concatenated global average + max pooling, dropout, linear: robust to where in the
    10 s the finding shows up."""

    def __init__(self, channels: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * channels, n_classes)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        z = torch.cat([f.mean(dim=2), f.amax(dim=2)], dim=1)
        return self.fc(self.drop(z))


@register("window_cnn")
class WindowCNN(nn.Module):
    """Plain small CNN baseline: 4 conv blocks, each halving the time axis."""

    def __init__(
        self,
        n_leads: int = 12,
        n_classes: int = 1,
        channels: tuple[int, ...] = (32, 32, 64, 64),
        kernel: int = 7,
        dropout: float = 0.3,
        se: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = n_leads
        for co in channels:
            layers.append(_conv_block(c, co, kernel))
            if se:
                layers.append(SqueezeExcite(co))
            layers.append(nn.MaxPool1d(2))
            c = co
        self.body = nn.Sequential(*layers)
        self.head = _PoolHead(c, n_classes, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@register("window_se_cnn")
class WindowSECNN(WindowCNN):
    """The small CNN with a squeeze-and-excitation gate after every conv block."""

    def __init__(self, **kwargs) -> None:
        kwargs["se"] = True
        super().__init__(**kwargs)


class _SameConv(nn.Conv1d):
    """Bias-free conv whose output keeps the input length for any (even) kernel: pad k//2 on
    both sides, drop the extra sample (exports cleanly, unlike padding="same")."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(c_in, c_out, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)[:, :, : x.shape[2]]


class _ResBlock(nn.Module):
    """Ribeiro-style residual unit: the skip is max-pool (+1x1 conv when widths differ); the
    main path is conv(k) -> BN -> ReLU -> dropout -> strided conv(k); the sum's BN+ReLU is
    carried to the next block (pre-activation), as in the paper."""

    def __init__(self, c_in: int, c_out: int, kernel: int, down: int, dropout: float) -> None:
        super().__init__()
        self.conv1 = _SameConv(c_in, c_out, kernel)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.drop = nn.Dropout(dropout)
        # strided conv with "same"-style padding so length becomes ceil(L / down)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel, stride=down, padding=kernel // 2 - 1,
                               bias=False)
        self.pool = nn.MaxPool1d(down, ceil_mode=True) if down > 1 else nn.Identity()
        self.skip_conv = nn.Conv1d(c_in, c_out, 1, bias=False) if c_in != c_out else None
        self.bn_out = nn.BatchNorm1d(c_out)
        self.down = down

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``: activated input; ``y``: un-activated residual stream. Returns both."""
        skip = self.pool(y)
        if self.skip_conv is not None:
            skip = self.skip_conv(skip)
        h = self.drop(torch.relu(self.bn1(self.conv1(x))))
        h = self.conv2(h)
        n = min(h.shape[2], skip.shape[2])
        y = h[:, :, :n] + skip[:, :, :n]
        x = self.drop(torch.relu(self.bn_out(y)))
        return x, y


@register("window_resnet")
class WindowResNet(nn.Module):
    """Residual 1D CNN in the style of Ribeiro et al. 2020 (kernel 16, 4 downsampling blocks)."""

    def __init__(
        self,
        n_leads: int = 12,
        n_classes: int = 6,
        channels: tuple[int, ...] = (16, 24, 32, 48, 64),
        downsample: tuple[int, ...] = (4, 2, 2, 2),
        kernel: int = 16,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if len(channels) != len(downsample) + 1:
            raise ValueError("channels must have one more entry than downsample")
        self.stem = _SameConv(n_leads, channels[0], kernel)
        self.stem_bn = nn.BatchNorm1d(channels[0])
        self.blocks = nn.ModuleList(
            _ResBlock(ci, co, kernel, d, dropout)
            for ci, co, d in zip(channels[:-1], channels[1:], downsample, strict=True)
        )
        self.head = _PoolHead(channels[-1], n_classes, dropout)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        x = torch.relu(self.stem_bn(y))
        for blk in self.blocks:
            x, y = blk(x, y)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def count_macs(model: nn.Module, n_leads: int = 12, n_samples: int = 1000) -> int:
    """Multiply-accumulates of one forward pass on one ``n_leads x n_samples`` window."""
    return complexity.count_macs(model, torch.zeros(1, n_leads, n_samples))
