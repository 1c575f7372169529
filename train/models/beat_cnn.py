"""Beat classifiers (AAMI N/S/V/F/Q) over one beat window (+ optional RR features).

Inputs: ``x`` ``(batch, leads, length)`` from :mod:`edge_runtime.beats` (126 samples at
180 Hz) and ``rr`` ``(batch, 7)`` RR features in seconds / ratios. Output: logits
``(batch, 5)`` (softmax at runtime). All three are small enough for a Pi (tens of thousands of
parameters, a few MMACs per beat):

* ``beat_cnn``: 4 conv blocks, global average+max pooling, MLP head. Morphology only.
* ``beat_cnn_rr``: the same CNN with the RR features fused before the head: ``log`` of the
  features (so prematurity ratios are symmetric around 0) -> small MLP -> concatenated with
  the pooled morphology features. RR prematurity is what separates SVEBs (normal QRS shape,
  early) from normal beats in an unseen patient.
* ``beat_cnn_gru``: the CNN+GRU of the prior work: a 3-block convolutional front end, then a
  GRU over the remaining time steps, its last hidden state into the head (``use_rr`` adds
  the same RR fusion; off by default, as in the prior work).

Every model accepts ``rr`` (ignored when the model does not use it), so training and export
call them the same way; ``uses_rr`` tells whether the input must be provided.
"""

from __future__ import annotations

import torch
from torch import nn

from train.models import complexity, register

N_RR = 7


def _block(c_in: int, c_out: int, k: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv1d(c_in, c_out, k, padding=k // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool1d(2))
    return nn.Sequential(*layers)


def _front_end(in_leads: int, w: int) -> nn.Sequential:
    """The three pooled conv blocks every beat model starts with."""
    return nn.Sequential(
        _block(in_leads, w, 7, True),
        _block(w, 2 * w, 5, True),
        _block(2 * w, 2 * w, 5, True),
    )


class _RRBranch(nn.Module):
    def __init__(self, n_rr: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_rr, hidden), nn.ReLU(inplace=True))

    def forward(self, rr: torch.Tensor) -> torch.Tensor:
        return self.net(torch.log(torch.clamp(rr, min=1e-3)))


class _Head(nn.Module):
    def __init__(self, n_in: int, n_classes: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(n_in, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class _BeatNet(nn.Module):
    """What every beat model shares: an embedding of the window (``embed``, per subclass),
    optional RR fusion, the MLP head. Submodule names (``features``, ``gru``, ``rr``,
    ``head``) are the state_dict keys of the shipped checkpoints: keep them."""

    rr: _RRBranch | None

    def __init__(self, in_leads: int, width: int, use_rr: bool) -> None:
        super().__init__()
        self.uses_rr = bool(use_rr)
        self.features = _front_end(in_leads, width)  # first module: same seeded init as before

    def _fuse_and_head(self, n_feat: int, n_classes: int, use_rr: bool, n_rr: int, w: int,
                       dropout: float) -> None:
        """Add the RR branch (if used) and the head after the subclass's own layers."""
        self.rr = _RRBranch(n_rr, 2 * w) if use_rr else None
        if self.rr is not None:
            n_feat += 2 * w
        self.head = _Head(n_feat, n_classes, 2 * w, dropout)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, features)`` from the beat window."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, rr: torch.Tensor | None = None) -> torch.Tensor:
        z = self.embed(x)
        if self.rr is not None:
            if rr is None:
                raise ValueError("this model needs the RR features")
            z = torch.cat([z, self.rr(rr)], dim=1)
        return self.head(z)


@register("beat_cnn")
class BeatCNN(_BeatNet):
    """Small 1D CNN over the beat window; optional RR fusion before the head."""

    def __init__(
        self,
        in_leads: int = 1,
        n_classes: int = 5,
        width: int = 16,
        use_rr: bool = False,
        n_rr: int = N_RR,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(in_leads, width, use_rr)
        w = width
        self.features.append(_block(2 * w, 4 * w, 3, False))
        # avg + max pooling of 4w channels
        self._fuse_and_head(8 * w, n_classes, self.uses_rr, n_rr, w, dropout)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)


@register("beat_cnn_rr")
class BeatCNNRR(BeatCNN):
    """``beat_cnn`` with RR features fused before the head."""

    def __init__(self, **kwargs) -> None:
        kwargs["use_rr"] = True
        super().__init__(**kwargs)


@register("beat_cnn_gru")
class BeatCNNGRU(_BeatNet):
    """Convolutional front end + GRU over time (prior work), optional RR fusion."""

    def __init__(
        self,
        in_leads: int = 1,
        n_classes: int = 5,
        width: int = 16,
        hidden: int = 32,
        use_rr: bool = False,
        n_rr: int = N_RR,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(in_leads, width, use_rr)
        w = width
        self.gru = nn.GRU(2 * w, hidden, batch_first=True)
        self._fuse_and_head(hidden, n_classes, self.uses_rr, n_rr, w, dropout)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x).transpose(1, 2)  # (batch, time, channels)
        _, last = self.gru(h)
        return last[-1]


def count_macs(model: nn.Module, x: torch.Tensor, rr: torch.Tensor | None = None) -> int:
    """Multiply-accumulates of one forward pass (conv, linear, GRU) on one beat."""
    return complexity.count_macs(model, x, rr)
