"""MIT-BIH Supraventricular Arrhythmia Database (SVDB) loader: 38 records for training/CV.

The 38 half-hour Holter records under ``<data>/svdb`` (128 Hz, leads ``ECG1``/``ECG2``) add
six times DS1's supraventricular beats. They are for training and validation only, patient-
wise (one record = one patient); the database's other 40 records are kept apart by the data
owners for independent checks. Beat labels use the same ``.atr`` symbols and the same AAMI
EC57 mapping as the MIT-BIH Arrhythmia Database (:func:`edge_runtime.records.aami_classes`).

``ECG1`` (usually a modified lead II) plays the role of MIT-BIH's MLII: it is the lead the
beat model and the detector see.
"""

from __future__ import annotations

from pathlib import Path

from edge_runtime.errors import EcgEdgeError
from train.data.mitdb import MitRecord, database_dir, read_annotated

__all__ = ["SVDB", "FS", "PRIMARY_LEAD", "svdb_dir", "load_record", "is_svdb"]

#: The 38 SVDB records present in ``<data>/svdb`` (its ``RECORDS`` file).
SVDB: tuple[str, ...] = tuple(
    "806 808 809 810 811 812 822 824 825 826 841 845 847 848 852 854 855 856 857 858 "
    "859 860 861 863 864 866 869 870 872 876 877 878 879 881 882 886 888 894".split()
)
FS = 128.0
PRIMARY_LEAD = "ECG1"


def is_svdb(name: str) -> bool:
    """True for an SVDB record id (8xx; MIT-BIH Arrhythmia ids are 1xx/2xx: no overlap)."""
    return str(name) in SVDB


def svdb_dir(data_dir: str | Path | None = None) -> Path:
    """``<data dir>/svdb``, or a one-line error if it is missing."""
    return database_dir("svdb", "SVDB", data_dir)


def load_record(
    name: str,
    data_dir: str | Path | None = None,
    channels: list[int] | None = None,
    sampfrom: int = 0,
    sampto: int | None = None,
) -> MitRecord:
    """Load one SVDB record (both leads unless ``channels``) with its beat annotations."""
    if not is_svdb(name):
        raise EcgEdgeError(f"not one of the 38 SVDB records here: {name}")
    return read_annotated(svdb_dir(data_dir) / str(name), channels, sampfrom, sampto)
