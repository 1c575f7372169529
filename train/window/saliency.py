"""1D Grad-CAM saliency per lead for window models, drawn as ECG strips with a heat overlay.

Grad-CAM (Selvaraju et al. 2017) on the last convolutional feature map ``A`` (channels x time):
weights ``w_k = mean_t d logit / d A_k(t)``, map ``relu(sum_k w_k A_k(t))``, upsampled to the
input length. That map is one curve over time (the convolutions mix leads from the first
layer on), so to show *which lead* carries the evidence it is combined, as in guided
Grad-CAM, with each lead's |gradient x input| smoothed over 0.2 s:
``heat[lead, t] = gradcam(t) * gxi[lead, t]``, scaled to [0, 1] per record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn


def grad_cam(
    model: nn.Module, x: np.ndarray, class_idx: int, sign: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(gradcam (L,), heat (C, L)) for one normalised input ``x`` of shape (C, L).

    ``sign=-1`` explains the *negative* decision (evidence against the class, e.g. for NORM).
    """
    model.eval()
    xt = torch.from_numpy(np.asarray(x, dtype=np.float32)[None]).requires_grad_(True)
    feats = model.features(xt)
    feats.retain_grad()
    logit = sign * model.head(feats)[0, class_idx]
    model.zero_grad()
    logit.backward()
    a = feats[0].detach()
    g = feats.grad[0]
    w = g.mean(dim=1, keepdim=True)
    cam = torch.relu((w * a).sum(dim=0))[None, None]
    cam = nn.functional.interpolate(cam, size=xt.shape[2], mode="linear", align_corners=False)
    cam = cam[0, 0].numpy()
    cam = cam / cam.max() if cam.max() > 0 else cam
    gxi = (xt.grad[0] * xt[0]).abs().detach().numpy()
    k = 21  # 0.2 s at 100 Hz
    kernel = np.ones(k) / k
    gxi = np.stack([np.convolve(row, kernel, mode="same") for row in gxi])
    heat = cam[None] * gxi
    heat = heat / heat.max() if heat.max() > 0 else heat
    return cam, heat


def strip_png(x_mv: np.ndarray, heat: np.ndarray, leads: list[str], title: str, path: Path,
              fs: float = 100.0) -> None:
    """Draw each lead (conditioned mV) with the saliency as a coloured background."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_leads, n = x_mv.shape
    t = np.arange(n) / fs
    fig, axes = plt.subplots(n_leads, 1, figsize=(11, 0.7 * n_leads + 0.8), sharex=True)
    axes = np.atleast_1d(axes)
    for i, ax in enumerate(axes):
        lo, hi = float(x_mv[i].min()), float(x_mv[i].max())
        pad = 0.1 * (hi - lo + 1e-6)
        ax.imshow(heat[i][None], aspect="auto", cmap="Reds", vmin=0, vmax=1, alpha=0.8,
                  extent=(0, n / fs, lo - pad, hi + pad))
        ax.plot(t, x_mv[i], "k", lw=0.6)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_ylabel(leads[i], rotation=0, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
    axes[-1].set_xlabel("time (s)")
    axes[0].set_title(title, fontsize=9)
    fig.tight_layout(h_pad=0.1)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=60)
    plt.close(fig)
