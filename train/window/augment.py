"""Training-time augmentation of normalised 10 s multi-lead windows (torch, batch-wise).

Each transform mimics something a wearable or bedside device really delivers: sensor noise,
baseline wander from breathing/motion, gain differences between electrodes/amplifiers, a window
that starts at an arbitrary phase of the cardiac cycle, and a lead that falls off. Amplitude
scaling is kept mild (+-10%) because hypertrophy is diagnosed from QRS voltage.
"""

from __future__ import annotations

import math

import torch

FS = 100.0


def augment_batch(x: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Apply each transform to each record with probability ``p``; ``x`` is (B, C, L)."""
    b, c, n = x.shape
    x = x.clone()

    def pick() -> torch.Tensor:
        return (torch.rand(b, generator=gen) < p).float().view(b, 1, 1)

    # gaussian noise, sd 0.02-0.1 (normalised units)
    sd = 0.02 + 0.08 * torch.rand(b, 1, 1, generator=gen)
    x = x + pick() * sd * torch.randn(x.shape, generator=gen)
    # baseline wander: one sinusoid 0.05-0.5 Hz per record, amplitude up to 0.3, random phase
    t = torch.arange(n, dtype=x.dtype) / FS
    f = 0.05 + 0.45 * torch.rand(b, 1, 1, generator=gen)
    ph = 2 * math.pi * torch.rand(b, c, 1, generator=gen)
    amp = 0.3 * torch.rand(b, 1, 1, generator=gen)
    x = x + pick() * amp * torch.sin(2 * math.pi * f * t.view(1, 1, n) + ph)
    # amplitude scale 0.9-1.1 per record
    scale = 0.9 + 0.2 * torch.rand(b, 1, 1, generator=gen)
    m = pick()
    x = x * (m * scale + (1 - m))
    # time shift: circular roll by up to +-1 s
    shifts = torch.randint(-int(FS), int(FS) + 1, (b,), generator=gen)
    do = torch.rand(b, generator=gen) < p
    for i in torch.nonzero(do).flatten().tolist():
        x[i] = torch.roll(x[i], int(shifts[i]), dims=1)
    # lead dropout: zero each lead with prob 0.1 (never all leads; never with one lead)
    if c > 1:
        drop = (torch.rand(b, c, 1, generator=gen) < 0.1) & (pick() > 0)
        all_dropped = drop.all(dim=1, keepdim=True)
        drop = drop & ~all_dropped
        x = x.masked_fill(drop, 0.0)
    return x
