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
from edge_runtime.windowing import DEFAULT_FILTER, WINDOW_FS, model_rate_signal
from train.data import ptbxl

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "runs" / "window_cache"
TASKS = ("hyp", "hyp_all", "findings6", "multi", "super5")
#: Where training waveforms come from: ``records100`` = PhysioNet's 100 Hz files, conditioned;
#: ``device`` = the device path (:func:`edge_runtime.windowing.model_rate_signal`: causal
#: resampler + filter) from the 500 Hz files where they exist (ecg_id 1-500 here), the 100 Hz
#: files otherwise.
SOURCES = ("records100", "device")
#: Auxiliary superclass heads of the multi-task model (HYP and the six findings are the others).
MULTI_AUX: tuple[str, ...] = ("NORM", "MI", "STTC", "CD")
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
    source: str = "records100"
    fs_in: np.ndarray | None = None  # per record: the rate its waveform was read at


def cache_key(ecg_ids: list[int], sources: tuple[str, ...] = WINDOW_SOURCES,
              source: str = "records100") -> str:
    """Key of the conditioned-waveform cache: filter, record ids, the code of ``sources`` and
    the waveform source (``records100`` keeps its old key)."""
    parts = [DEFAULT_FILTER, ecg_ids, code_key(sources)]
    blob = json.dumps(parts if source == "records100" else [*parts, source])
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def load_conditioned(data_dir: str | Path | None = None, use_cache: bool = True,
                     source: str = "records100") -> Conditioned:
    """Load + condition every record that has 100 Hz waveforms, caching the result.

    ``source="device"`` reads the 500 Hz file where one exists and takes it through the
    runtime's resampler and filter (:func:`edge_runtime.windowing.model_rate_signal`), so the
    network trains on what a 500 Hz device computes; other records as ``records100``.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown waveform source {source!r} (choose from {', '.join(SOURCES)})")
    meta_all = ptbxl.load_metadata(data_dir)
    have = ptbxl.available_mask(meta_all, data_dir, 100)
    meta = meta_all.subset(have)
    n_missing = int((~have).sum())
    hr = (ptbxl.available_mask(meta, data_dir, 500) if source == "device"
          else np.zeros(len(meta), dtype=bool))
    key = cache_key(meta.ecg_id.tolist(), source=source)
    tag = "ptbxl100" if source == "records100" else "ptbxldev"
    cache = CACHE_DIR / f"{tag}_{key}.npz"
    if use_cache and cache.is_file():
        x = np.load(cache)["x"]
    else:
        raw, kept, _ = ptbxl.load_waveforms(meta, data_dir, fs=100)
        assert np.array_equal(kept.ecg_id, meta.ecg_id)
        x = np.stack([model_rate_signal(r, 100.0, WINDOW_FS, DEFAULT_FILTER)[0]
                      for r in raw]).astype(np.float32)
        if hr.any():
            raw5, kept5, _ = ptbxl.load_waveforms(meta.subset(hr), data_dir, fs=500)
            assert np.array_equal(kept5.ecg_id, meta.ecg_id[hr])
            x[hr] = np.stack([model_rate_signal(r, 500.0, WINDOW_FS, DEFAULT_FILTER)[0]
                              for r in raw5]).astype(np.float32)
        if use_cache:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            np.savez(cache, x=x)
    fs_in = np.where(hr, 500.0, 100.0)
    return Conditioned(x=x, meta=meta, n_missing=n_missing, filt=dict(DEFAULT_FILTER),
                       source=source, fs_in=fs_in)


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
    * ``hyp_all``: HYP = 1 vs every other record = 0 (other pathologies included): the
      screening task a bedside device faces.
    * ``findings6``: Ribeiro's six findings, multi-label, every record.
    * ``multi``: HYP, the six findings and the NORM/MI/STTC/CD superclasses as auxiliary
      heads, every record (multi-task; export slices out the HYP or six-finding heads).
    * ``super5``: the five diagnostic superclasses, multi-label; records without any
      diagnostic superclass are excluded (used for pre-training).
    """
    if task == "hyp":
        include, y, n_excl = ptbxl.hyp_vs_norm(meta)
        return include, y.astype(np.float32)[:, None], ["HYP"], {"excluded": n_excl}
    if task == "hyp_all":
        y = np.array(["HYP" in s for s in meta.superclasses], dtype=np.float32)[:, None]
        return np.ones(len(meta), dtype=bool), y, ["HYP"], {"excluded": 0}
    if task == "multi":
        hyp = np.array(["HYP" in s for s in meta.superclasses], dtype=np.float32)[:, None]
        sup = meta.superclass_matrix()[:, [ptbxl.SUPERCLASSES.index(c) for c in MULTI_AUX]]
        y = np.concatenate([hyp, meta.findings, sup], axis=1).astype(np.float32)
        return np.ones(len(meta), dtype=bool), y, ["HYP", *ptbxl.FINDINGS, *MULTI_AUX], {
            "excluded": 0}
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
        "source": cond.source,
        "n_500hz": int((cond.fs_in[include] == 500.0).sum()) if cond.fs_in is not None else 0,
        "counts": {
            k: {c: int(y[idx, j].sum()) for j, c in enumerate(classes)} | {"n": int(len(idx))}
            for k, idx in split.items()
        },
        "ids_hash": {k: ids_hash(meta.ecg_id[idx]) for k, idx in split.items()},
    }
    return TaskData(task, classes, "sigmoid", x, y, meta, list(leads), split, info)
