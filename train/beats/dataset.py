"""Beat dataset: MIT-BIH windows + RR features through the device's own beat front end.

Every window and RR feature is computed by :func:`edge_runtime.beats.extract_beats` (the code
the device runs), at the reference annotation positions (condition a) or at the positions the
streaming detector found (condition b). Extracted beats are cached in a ``.npz`` under
``runs/beats/`` (gitignored) keyed by the beat config *and the source of the code that
derives them* (:data:`BEAT_SOURCES`), so a study does not redo the DSP, and a change to the
DSP or beat front end is never served stale windows.

Split: de Chazal et al. 2004 inter-patient DS1 (train) / DS2 (test), paced records excluded.
Model selection uses a patient-wise hold-out *inside DS1* (:data:`DS1_VAL`); DS2 is read only
for final numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.beats import BeatConfig, extract_beats
from edge_runtime.provenance import code_key
from edge_runtime.records import AAMI_CLASSES
from train.data.beat_records import load_beat_record, primary_channel
from train.data.mitdb import DS1, DS2

REPO = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO / "runs" / "beats"

#: DS1 records held out (patient-wise) for model / epoch selection. Chosen before any training
#: so that the hold-out has every ectopic class (S 331, V 898, F 22 beats) while the training
#: part keeps the three other large S sources (207, 209, 220).
DS1_VAL: tuple[str, ...] = ("118", "124", "201", "215", "223")
DS1_TRAIN: tuple[str, ...] = tuple(r for r in DS1 if r not in DS1_VAL)

CLASS_INDEX = {c: i for i, c in enumerate(AAMI_CLASSES)}

#: Modules whose code the cached beats are derived from (filters/resampler, beat windows and
#: RR features, record reading and AAMI labels, this module's extraction).
BEAT_SOURCES: tuple[str, ...] = (
    "edge_runtime.dsp",
    "edge_runtime.beats",
    "edge_runtime.beat_rr",
    "edge_runtime.records",
    "train.data.mitdb",
    "train.data.svdb",
    "train.data.beat_records",
    "train.beats.dataset",
)


@dataclass
class BeatSet:
    """Beats of some records: windows, RR features, labels and where they came from."""

    x: np.ndarray  # (n, leads, length) float32
    rr: np.ndarray  # (n, 7) float32
    y: np.ndarray  # (n,) int64 AAMI class index, -1 if the beat has no AAMI label
    record: np.ndarray  # (n,) str
    sample: np.ndarray  # (n,) int64 sample index at the record's native rate

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, mask: np.ndarray) -> BeatSet:
        return BeatSet(self.x[mask], self.rr[mask], self.y[mask], self.record[mask],
                       self.sample[mask])

    def records(self, names) -> BeatSet:
        return self.subset(np.isin(self.record, list(names)))

    def labelled(self) -> BeatSet:
        return self.subset(self.y >= 0)

    def counts(self) -> dict[str, int]:
        return {c: int((self.y == i).sum()) for c, i in CLASS_INDEX.items()}


def config_key(
    config: BeatConfig, leads: int, extra: str = "", sources: tuple[str, ...] = BEAT_SOURCES
) -> str:
    """Cache key: the beat config, the lead count, ``extra`` and the code of ``sources``."""
    blob = json.dumps({"cfg": config.to_dict(), "leads": leads, "extra": extra,
                       "code": code_key(sources)}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def record_beats(
    name: str,
    config: BeatConfig,
    data_dir=None,
    leads: int = 1,
    peaks: np.ndarray | None = None,
) -> BeatSet:
    """Beats of one record at reference positions (``peaks=None``) or at given peaks.

    With given peaks the labels are -1 (matching to the reference is the evaluator's job).
    Lead order: MLII (SVDB: ECG1) first, then the other lead when ``leads == 2``.
    """
    rec = load_beat_record(name, data_dir)
    ch = primary_channel(rec)
    chans = [ch] + ([1 - ch] if leads == 2 else [])
    sig = rec.signal[:, chans]
    if peaks is None:
        pos = rec.ann_sample
        y = np.array([CLASS_INDEX.get(a, -1) for a in rec.aami], dtype=np.int64)
    else:
        pos = np.asarray(peaks, dtype=np.int64)
        y = np.full(pos.shape, -1, dtype=np.int64)
    x, rr = extract_beats(sig, rec.fs, pos, config)
    return BeatSet(x, rr, y, np.full(pos.shape, name, dtype="<U4"), pos.astype(np.int64))


def concat(sets: list[BeatSet]) -> BeatSet:
    return BeatSet(
        np.concatenate([s.x for s in sets]),
        np.concatenate([s.rr for s in sets]),
        np.concatenate([s.y for s in sets]),
        np.concatenate([s.record for s in sets]),
        np.concatenate([s.sample for s in sets]),
    )


def load_beats(
    records=DS1 + DS2,
    config: BeatConfig | None = None,
    data_dir=None,
    leads: int = 1,
    cache: bool = True,
    progress: bool = True,
) -> BeatSet:
    """All beats (reference positions, every beat annotation) of ``records``, cached."""
    config = config or BeatConfig()
    records = tuple(records)
    key = config_key(config, leads, "ref:" + ",".join(records))
    path = CACHE_DIR / f"ref_{key}.npz"
    if cache and path.is_file():
        z = np.load(path)
        return BeatSet(z["x"], z["rr"], z["y"], z["record"], z["sample"])
    it = records
    if progress:
        from tqdm import tqdm

        it = tqdm(records, desc="extract beats", unit="rec")
    bs = concat([record_beats(r, config, data_dir, leads) for r in it])
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        np.savez(path, x=bs.x, rr=bs.rr, y=bs.y, record=bs.record, sample=bs.sample)
    return bs
