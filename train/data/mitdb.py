"""MIT-BIH Arrhythmia Database loader: records, AAMI beat classes, de Chazal DS1/DS2 split.

The inter-patient split follows de Chazal, O'Dwyer & Reilly, "Automatic classification of
heartbeats using ECG morphology and heartbeat interval features", IEEE TBME 51(7), 2004:
DS1 for training, DS2 for testing, the four paced records (102, 104, 107, 217) in neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.datadir import resolve_data_dir
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import (
    AAMI_CLASSES,
    AAMI_MAP,
    Recording,
    aami_classes,
    read_beat_annotations,
    read_record,
)

__all__ = [
    "DS1",
    "DS2",
    "PACED",
    "ALL_RECORDS",
    "NON_PACED",
    "AAMI_CLASSES",
    "AAMI_MAP",
    "MitRecord",
    "mitdb_dir",
    "load_record",
    "read_annotated",
    "mlii_channel",
]

DS1: tuple[str, ...] = tuple(
    "101 106 108 109 112 114 115 116 118 119 122 124 "
    "201 203 205 207 208 209 215 220 223 230".split()
)
DS2: tuple[str, ...] = tuple(
    "100 103 105 111 113 117 121 123 200 202 210 "
    "212 213 214 219 221 222 228 231 232 233 234".split()
)
PACED: tuple[str, ...] = ("102", "104", "107", "217")
ALL_RECORDS: tuple[str, ...] = tuple(sorted(DS1 + DS2 + PACED))
NON_PACED: tuple[str, ...] = tuple(sorted(DS1 + DS2))


@dataclass
class MitRecord(Recording):
    """A MIT-BIH record with its reference beat annotations (beat labels only)."""

    ann_sample: np.ndarray = None  # type: ignore[assignment]  # int64 sample index per beat
    ann_symbol: np.ndarray = None  # type: ignore[assignment]  # MIT-BIH symbol per beat
    aami: np.ndarray = None  # type: ignore[assignment]  # AAMI class letter ('' if unmapped)


def database_dir(sub: str, title: str, data_dir: str | Path | None = None) -> Path:
    """``<data dir>/<sub>``, or a one-line error naming the database if it is missing."""
    d = resolve_data_dir(data_dir) / sub
    if not d.is_dir():
        raise EcgEdgeError(f"{title} directory not found: {d}")
    return d


def mitdb_dir(data_dir: str | Path | None = None) -> Path:
    """``<data dir>/mitdb``, or a one-line error if it is missing."""
    return database_dir("mitdb", "MIT-BIH", data_dir)


def load_record(
    name: str,
    data_dir: str | Path | None = None,
    channels: list[int] | None = None,
    sampfrom: int = 0,
    sampto: int | None = None,
) -> MitRecord:
    """Load one record (both leads unless ``channels``) with its beat annotations."""
    if name not in ALL_RECORDS:
        raise EcgEdgeError(f"not a MIT-BIH Arrhythmia record: {name}")
    return read_annotated(mitdb_dir(data_dir) / name, channels, sampfrom, sampto)


def read_annotated(
    path: Path, channels: list[int] | None = None, sampfrom: int = 0, sampto: int | None = None
) -> MitRecord:
    """A WFDB record and its ``.atr`` beat labels with their AAMI classes (MIT-BIH style
    annotations: the Arrhythmia and the Supraventricular Arrhythmia databases)."""
    rec = read_record(path, channels=channels, sampfrom=sampfrom, sampto=sampto)
    samples, symbols = read_beat_annotations(path, sampfrom=sampfrom, sampto=sampto)
    return MitRecord(
        name=rec.name,
        fs=rec.fs,
        signal=rec.signal,
        leads=rec.leads,
        units=rec.units,
        path=rec.path,
        ann_sample=samples,
        ann_symbol=symbols,
        aami=aami_classes(symbols),
    )


def mlii_channel(rec: Recording) -> int:
    """Index of lead MLII (channel 0 in all records but 114, where the leads are swapped)."""
    return rec.leads.index("MLII") if "MLII" in rec.leads else 0
