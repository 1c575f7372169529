"""Classical ECG voltage criteria for LV hypertrophy from the median beat (a baseline for HYP).

* Sokolow-Lyon (1949): S in V1 + max(R in V5, R in V6); LVH when >= 3.5 mV.
* Cornell voltage (Casale 1985): R in aVL + S in V3; LVH when > 2.8 mV (men), > 2.0 mV (women).

The median beat is built from the detector's beats (:func:`edge_runtime.detect.detect_record`
on lead II) over the conditioned 10 s record; amplitudes are measured in a +-80 ms QRS window
around the R peak against the PR-segment level (250-150 ms before R). The scores used for
AUROC are the voltages themselves (Sokolow-Lyon) and the Cornell voltage minus its sex
threshold, so that one number ranks men and women together.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.detect import detect_record
from train.data.ptbxl import LEADS

PRE_S, POST_S, QRS_S = 0.30, 0.40, 0.08
CORNELL_MV = {0: 2.8, 1: 2.0}  # PTB-XL sex: 0 male, 1 female
SOKOLOW_MV = 3.5


def median_beat(x: np.ndarray, fs: float) -> np.ndarray | None:
    """Median beat ``(samples, leads)`` of a ``(n, 12)`` record (mV), None with < 2 beats."""
    pre, post = int(round(PRE_S * fs)), int(round(POST_S * fs))
    beats = [b.sample for b in detect_record(x[:, LEADS.index("II")], fs)]
    r = [s for s in beats if pre <= s < len(x) - post]
    if len(r) < 2:
        return None
    return np.median(np.stack([x[s - pre : s + post] for s in r]), axis=0)


def voltages(x: np.ndarray, fs: float, sex: int) -> dict[str, float]:
    """Sokolow-Lyon, Cornell and Cornell minus its sex threshold (mV); NaN without beats."""
    med = median_beat(x, fs)
    nan = {"sokolow_lyon": np.nan, "cornell": np.nan, "cornell_margin": np.nan}
    if med is None:
        return nan
    pre, q = int(round(PRE_S * fs)), int(round(QRS_S * fs))
    base = np.median(med[pre - int(0.25 * fs) : pre - int(0.15 * fs)], axis=0)
    qrs = med[pre - q : pre + q + 1] - base
    r_amp = np.maximum(qrs.max(axis=0), 0.0)
    s_amp = np.maximum(-qrs.min(axis=0), 0.0)
    li = {name: i for i, name in enumerate(LEADS)}
    sok = s_amp[li["V1"]] + max(r_amp[li["V5"]], r_amp[li["V6"]])
    cor = r_amp[li["AVL"]] + s_amp[li["V3"]]
    return {"sokolow_lyon": float(sok), "cornell": float(cor),
            "cornell_margin": float(cor - CORNELL_MV.get(int(sex), 2.8))}


def voltage_table(x: np.ndarray, fs: float, sex: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`voltages` for every record of ``x`` ``(n, samples, 12)``."""
    rows = [voltages(x[i], fs, int(sex[i])) for i in range(len(x))]
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}
