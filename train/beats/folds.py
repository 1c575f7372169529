"""Leave-records-out cross-validation folds over MIT-BIH DS1 + SVDB (one record = one patient).

Every choice of the cross-database study (features, template channel, imbalance handling,
training data, decision thresholds) is made on out-of-fold predictions of these folds; DS2 is
never read to choose. Folds are fixed *before* any training, from the reference label counts
only, by a seeded greedy assignment:

1. records are shuffled with ``seed``, then ordered by their count of the rarest class
   (S, then V), largest first;
2. each record goes to the fold with the fewest records so far (so every fold gets the same
   number of patients within one), ties broken by the fold's current S count, then V count,
   then fold index.

So each fold holds S and V beats (asserted) and a record is never split across folds (a
fold is a list of record ids).
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_folds", "fold_of", "FOLD_SEED", "N_FOLDS"]

N_FOLDS = 5
FOLD_SEED = 16


def make_folds(
    counts: dict[str, dict[str, int]], k: int = N_FOLDS, seed: int = FOLD_SEED
) -> list[list[str]]:
    """``k`` disjoint lists of record ids covering ``counts`` (record -> {class: n}).

    Raises ``ValueError`` if some fold ends up without S or V beats (too few records)."""
    names = sorted(counts)
    if len(names) < k:
        raise ValueError(f"{len(names)} records cannot make {k} folds")
    rng = np.random.default_rng(seed)
    order = [names[i] for i in rng.permutation(len(names))]
    order.sort(key=lambda r: (-counts[r].get("S", 0), -counts[r].get("V", 0)))  # stable
    folds: list[list[str]] = [[] for _ in range(k)]
    s_sum, v_sum = [0] * k, [0] * k
    for r in order:
        f = min(range(k), key=lambda i: (len(folds[i]), s_sum[i], v_sum[i], i))
        folds[f].append(r)
        s_sum[f] += counts[r].get("S", 0)
        v_sum[f] += counts[r].get("V", 0)
    for i in range(k):
        if s_sum[i] == 0 or v_sum[i] == 0:
            raise ValueError(f"fold {i} has no {'S' if s_sum[i] == 0 else 'V'} beats")
    return [sorted(f) for f in folds]


def fold_of(folds: list[list[str]], records: np.ndarray) -> np.ndarray:
    """Fold index of each entry of ``records`` (-1 for a record in no fold)."""
    where = {r: i for i, f in enumerate(folds) for r in f}
    return np.array([where.get(str(r), -1) for r in records], dtype=np.int64)
