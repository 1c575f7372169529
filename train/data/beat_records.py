"""One loader for every beat-annotated record the beat study uses (MIT-BIH and SVDB).

Record ids do not overlap (MIT-BIH Arrhythmia 1xx/2xx, SVDB 8xx), so a bare id names one
record of one database; the beat dataset, the detector evaluation and the CV folds call
:func:`load_beat_record` and never need to know which database a record came from.
"""

from __future__ import annotations

from pathlib import Path

from edge_runtime.errors import EcgEdgeError
from train.data import mitdb, svdb
from train.data.mitdb import MitRecord

__all__ = ["load_beat_record", "database_of", "primary_channel", "record_fs"]


def database_of(name: str) -> str:
    """``"mitdb"`` or ``"svdb"`` for a record id; one-line error for anything else."""
    if str(name) in mitdb.ALL_RECORDS:
        return "mitdb"
    if svdb.is_svdb(name):
        return "svdb"
    raise EcgEdgeError(f"not a MIT-BIH Arrhythmia or SVDB record: {name}")


def load_beat_record(name: str, data_dir: str | Path | None = None) -> MitRecord:
    """The record (both leads) with its reference beat annotations, from its database."""
    if database_of(name) == "svdb":
        return svdb.load_record(str(name), data_dir)
    return mitdb.load_record(str(name), data_dir)


def primary_channel(rec: MitRecord) -> int:
    """The lead the model and detector see: MLII (MIT-BIH), ECG1 (SVDB: channel 0)."""
    return mitdb.mlii_channel(rec)


def record_fs(name: str) -> float:
    """Native sampling rate of a record (MIT-BIH 360 Hz, SVDB 128 Hz), without reading it."""
    return svdb.FS if database_of(name) == "svdb" else 360.0
