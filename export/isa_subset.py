"""The fixed, stratified test-split subsets the slow emulated ISA checks run on.

Drawn with seed 0 by numpy's PCG64, which draws the same on every platform: beats ~2000,
class-proportional with a floor of 20 per class (all of a rarer one); windows 120, up to
``n/(2*classes)`` positives of each class, filled at random (bench/isa_parity.py, issue 15).
"""

from __future__ import annotations

import numpy as np

SUBSET = {"beat": 2000, "hyp": 120, "findings6": 120}


def _subset_beats(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Class-proportional sample (so agreement estimates the full split's), with a floor
    of ``n // 100`` per class so rare classes are present at all."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    floor = n // 100
    take = np.maximum(np.minimum(counts, floor), np.round(counts * n / len(y)).astype(int))
    take = np.minimum(take, counts)
    picked = [rng.choice(np.flatnonzero(y == c), k, replace=False)
              for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(picked))


def _subset_windows(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = y.reshape(len(y), -1)
    per = max(1, n // (2 * y.shape[1]))
    chosen: set[int] = set()
    for j in range(y.shape[1]):
        pos = np.setdiff1d(np.flatnonzero(y[:, j] > 0.5), list(chosen))
        chosen |= set(rng.choice(pos, min(per, len(pos)), replace=False).tolist())
    rest = np.setdiff1d(np.arange(len(y)), list(chosen))
    fill = rng.choice(rest, max(0, n - len(chosen)), replace=False)
    return np.sort(np.concatenate([np.asarray(sorted(chosen), dtype=int), fill]))


def subset(task: str, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """The fixed subset's indices for ``task`` (beat-style for "beat", windows otherwise)."""
    y = np.asarray(y)
    if len(y) <= SUBSET.get(task, 120):  # small splits (tests): all of it
        return np.arange(len(y))
    if task == "beat":
        return _subset_beats(y, SUBSET[task], seed)
    return _subset_windows(y, SUBSET.get(task, 120), seed)
