"""PTB-XL window dataset: waveforms conditioned by the device DSP, task labels, split.

Waveforms come from :mod:`train.data.ptbxl`; every record is conditioned with
:func:`edge_runtime.windowing.condition` (the filter the device runs) and cached as one
``.npz`` under ``runs/`` (gitignored) so that the dozens of study runs do not re-read WFDB;
the key includes the source of the conditioning code (:data:`WINDOW_SOURCES`), so a DSP change
is never served stale waveforms.
Per-lead normalisation is fitted on the *training* split only and goes into the model card.

Split: strat_fold 1-8 train, 9 validation, 10 test; :func:`make_split` asserts that no
patient_id crosses the three sets.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.provenance import code_key, ids_hash
from edge_runtime.windowing import DEFAULT_FILTER, condition
from train.data import ptbxl

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "runs" / "window_cache"
TASKS = ("hyp", "findings6", "super5")
#: Modules whose code the cached conditioned waveforms are derived from.
WINDOW_SOURCES: tuple[str, ...] = (
    "edge_runtime.dsp",
    "edge_runtime.windowing",
    "train.data.ptbxl",
    "train.window.data",
)
# Lead subsets for wearables (docs/window_models.md says why V1 and V5).
LEAD_SETS: dict[str, tuple[str, ...]] = {
    "12": ptbxl.LEADS,
    "3": ("I", "II", "V1"),
    "3v5": ("I", "II", "V5"),
    "II": ("II",),
}


@dataclass
class Conditioned:
    """All available PTB-XL records at 100 Hz, filtered: x is (n, 1000, 12) float32 mV."""

    x: np.ndarray
    meta: ptbxl.PtbxlMeta
    n_missing: int
    filt: dict


def cache_key(ecg_ids: list[int], sources: tuple[str, ...] = WINDOW_SOURCES) -> str:
    """Key of the conditioned-waveform cache: filter, record ids and the code of ``sources``."""
    blob = json.dumps([DEFAULT_FILTER, ecg_ids, code_key(sources)])
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def load_conditioned(data_dir: str | Path | None = None, use_cache: bool = True) -> Conditioned:
    """Load + condition every available 100 Hz record, caching the result."""
    meta_all = ptbxl.load_metadata(data_dir)
    have = ptbxl.available_mask(meta_all, data_dir, 100)
    meta = meta_all.subset(have)
    n_missing = int((~have).sum())
    key = cache_key(meta.ecg_id.tolist())
    cache = CACHE_DIR / f"ptbxl100_{key}.npz"
    if use_cache and cache.is_file():
        x = np.load(cache)["x"]
    else:
        raw, kept, _ = ptbxl.load_waveforms(meta, data_dir, fs=100)
        assert np.array_equal(kept.ecg_id, meta.ecg_id)
        x = np.stack([condition(r, 100.0, DEFAULT_FILTER) for r in raw]).astype(np.float32)
        if use_cache:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            np.savez(cache, x=x)
    return Conditioned(x=x, meta=meta, n_missing=n_missing, filt=dict(DEFAULT_FILTER))


@dataclass
class TaskData:
    """One task's records: x (n, leads, 1000) *un-normalised*, y (n, k), split indices."""

    task: str
    classes: list[str]
    output: str  # "sigmoid"
    x: np.ndarray
    y: np.ndarray
    meta: ptbxl.PtbxlMeta
    leads: list[str]
    split: dict[str, np.ndarray]
    info: dict


def task_labels(meta: ptbxl.PtbxlMeta, task: str) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """(include mask, y float32 (n_included, k), class names, info) for a task.

    * ``hyp``: HYP (any HYP superclass) = 1 vs NORM-only = 0; other records excluded.
    * ``findings6``: Ribeiro's six findings, multi-label, every record.
    * ``super5``: the five diagnostic superclasses, multi-label; records without any
      diagnostic superclass are excluded (used for pre-training).
    """
    if task == "hyp":
        include, y, n_excl = ptbxl.hyp_vs_norm(meta)
        return include, y.astype(np.float32)[:, None], ["HYP"], {"excluded": n_excl}
    if task == "findings6":
        include = np.ones(len(meta), dtype=bool)
        return include, meta.findings.astype(np.float32), list(ptbxl.FINDINGS), {"excluded": 0}
    if task == "super5":
        y = meta.superclass_matrix()
        include = y.sum(axis=1) > 0
        return include, y[include].astype(np.float32), list(ptbxl.SUPERCLASSES), {
            "excluded": int((~include).sum())
        }
    raise ValueError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")


def make_split(meta: ptbxl.PtbxlMeta) -> dict[str, np.ndarray]:
    """Indices of folds 1-8 / 9 / 10; asserts patient-disjointness of the three sets."""
    split = {
        "train": np.flatnonzero(meta.fold_mask(ptbxl.TRAIN_FOLDS)),
        "val": np.flatnonzero(meta.fold_mask(ptbxl.VAL_FOLD)),
        "test": np.flatnonzero(meta.fold_mask(ptbxl.TEST_FOLD)),
    }
    assert_patient_disjoint(meta, split)
    return split


def assert_patient_disjoint(meta: ptbxl.PtbxlMeta, split: dict[str, np.ndarray]) -> None:
    """Raise AssertionError if any patient_id appears in two of the split's sets."""
    names = list(split)
    pats = {k: set(meta.patient_id[split[k]].tolist()) for k in names}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = pats[a] & pats[b]
            assert not shared, f"patients in both {a} and {b}: {sorted(shared)[:5]}"


def build_task(cond: Conditioned, task: str, lead_set: str = "12") -> TaskData:
    """Select the task's records and leads, and split them."""
    include, y, classes, info = task_labels(cond.meta, task)
    meta = cond.meta.subset(include)
    leads = LEAD_SETS[lead_set]
    li = [ptbxl.LEADS.index(lead) for lead in leads]
    x = np.ascontiguousarray(np.swapaxes(cond.x[include][:, :, li], 1, 2))
    split = make_split(meta)
    info = {
        **info,
        "n_records": int(len(meta)),
        "n_missing_waveforms": cond.n_missing,
        "counts": {
            k: {c: int(y[idx, j].sum()) for j, c in enumerate(classes)} | {"n": int(len(idx))}
            for k, idx in split.items()
        },
        "ids_hash": {k: ids_hash(meta.ecg_id[idx]) for k, idx in split.items()},
    }
    return TaskData(task, classes, "sigmoid", x, y, meta, list(leads), split, info)
