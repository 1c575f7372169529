"""PTB-XL loader: metadata, diagnostic superclasses, Ribeiro's six findings, waveforms.

Labels follow the PTB-XL paper (Wagner et al., Sci Data 7:154, 2020): a record's superclasses
are the ``diagnostic_class`` of its SCP codes that ``scp_statements.csv`` marks diagnostic.
Splits use ``strat_fold``: 1-8 train, 9 validation, 10 test (patient-disjoint by design; the
training code asserts it).

Ribeiro et al. (Nat Commun 11:1760, 2020) findings map to SCP codes 1dAVb=1AVB, RBBB=CRBBB,
LBBB=CLBBB, SB=SBRAD, AF=AFIB, ST=STACH. A finding is positive when its code is present with
likelihood > 0 -- except for the rhythm codes (SBRAD, AFIB, STACH): PTB-XL gives rhythm
statements no likelihood and stores 0.0 for every one of them (in this subset 45 SBRAD, 100
AFIB and 61 STACH records, of which 0, 1 and 1 have a value > 0), so for those presence is the
label. Applying "> 0" literally would erase SB, AF and ST.

The shared copy holds waveforms only for ecg_id 1-1999; records whose files are missing are
skipped and counted, and the count is returned for reporting.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import wfdb

from edge_runtime.datadir import resolve_data_dir
from edge_runtime.errors import EcgEdgeError

SUPERCLASSES: tuple[str, ...] = ("NORM", "MI", "STTC", "CD", "HYP")
FINDINGS: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")
FINDING_CODES: dict[str, str] = {
    "1dAVb": "1AVB",
    "RBBB": "CRBBB",
    "LBBB": "CLBBB",
    "SB": "SBRAD",
    "AF": "AFIB",
    "ST": "STACH",
}
RHYTHM_CODES: frozenset[str] = frozenset({"SBRAD", "AFIB", "STACH"})
LEADS: tuple[str, ...] = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
TRAIN_FOLDS: tuple[int, ...] = tuple(range(1, 9))
VAL_FOLD = 9
TEST_FOLD = 10


@dataclass
class PtbxlMeta:
    """Column-wise metadata table (one entry per record)."""

    ecg_id: np.ndarray  # int
    patient_id: np.ndarray  # int
    strat_fold: np.ndarray  # int
    age: np.ndarray  # float (NaN when unknown)
    sex: np.ndarray  # int 0 male, 1 female
    scp_codes: list[dict[str, float]]
    superclasses: list[frozenset[str]]
    findings: np.ndarray  # (n, 6) int8 in FINDINGS order
    filename_lr: list[str]
    filename_hr: list[str]

    def __len__(self) -> int:
        return len(self.ecg_id)

    def subset(self, mask_or_idx: np.ndarray) -> PtbxlMeta:
        """Rows selected by a boolean mask or an index array."""
        idx = np.arange(len(self))[mask_or_idx] if np.asarray(mask_or_idx).dtype == bool else (
            np.asarray(mask_or_idx, dtype=int)
        )
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v[idx] if isinstance(v, np.ndarray) else [v[i] for i in idx]
        return PtbxlMeta(**out)

    def fold_mask(self, folds: int | tuple[int, ...]) -> np.ndarray:
        """Boolean mask of records in the given strat_fold(s)."""
        return np.isin(self.strat_fold, np.atleast_1d(folds))

    def superclass_matrix(self) -> np.ndarray:
        """(n, 5) int8 multi-hot superclass labels in SUPERCLASSES order."""
        return np.array(
            [[c in s for c in SUPERCLASSES] for s in self.superclasses], dtype=np.int8
        ).reshape(len(self), len(SUPERCLASSES))


def ptbxl_dir(data_dir: str | Path | None = None) -> Path:
    """``<data dir>/ptb-xl``, or a one-line error if it is missing."""
    d = resolve_data_dir(data_dir) / "ptb-xl"
    if not (d / "ptbxl_database.csv").is_file():
        raise EcgEdgeError(f"PTB-XL metadata not found: {d / 'ptbxl_database.csv'}")
    return d


def _diagnostic_classes(root: Path) -> dict[str, str]:
    table = {}
    with open(root / "scp_statements.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row[""] if "" in row else next(iter(row.values()))
            if row.get("diagnostic") and float(row["diagnostic"]) == 1.0 and row[
                "diagnostic_class"
            ]:
                table[code] = row["diagnostic_class"]
    return table


def finding_labels(scp: dict[str, float]) -> np.ndarray:
    """Six-finding multi-hot vector for one record's scp_codes (see module docstring)."""
    out = np.zeros(len(FINDINGS), dtype=np.int8)
    for i, name in enumerate(FINDINGS):
        code = FINDING_CODES[name]
        if code in scp and (code in RHYTHM_CODES or scp[code] > 0):
            out[i] = 1
    return out


def load_metadata(data_dir: str | Path | None = None) -> PtbxlMeta:
    """Read ptbxl_database.csv + scp_statements.csv (all 21,798 rows, waveforms or not)."""
    root = ptbxl_dir(data_dir)
    diag = _diagnostic_classes(root)
    cols: dict[str, list] = {k: [] for k in ("ecg_id", "patient_id", "strat_fold", "age", "sex")}
    scp_codes, supers, finds, lr, hr = [], [], [], [], []
    with open(root / "ptbxl_database.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            scp = ast.literal_eval(row["scp_codes"])
            cols["ecg_id"].append(int(row["ecg_id"]))
            cols["patient_id"].append(int(float(row["patient_id"])))
            cols["strat_fold"].append(int(row["strat_fold"]))
            cols["age"].append(float(row["age"]) if row["age"] else np.nan)
            cols["sex"].append(int(row["sex"]))
            scp_codes.append(scp)
            supers.append(frozenset(diag[c] for c in scp if c in diag))
            finds.append(finding_labels(scp))
            lr.append(row["filename_lr"])
            hr.append(row["filename_hr"])
    return PtbxlMeta(
        ecg_id=np.array(cols["ecg_id"]),
        patient_id=np.array(cols["patient_id"]),
        strat_fold=np.array(cols["strat_fold"]),
        age=np.array(cols["age"], dtype=float),
        sex=np.array(cols["sex"]),
        scp_codes=scp_codes,
        superclasses=supers,
        findings=np.array(finds, dtype=np.int8).reshape(-1, len(FINDINGS)),
        filename_lr=lr,
        filename_hr=hr,
    )


def available_mask(
    meta: PtbxlMeta, data_dir: str | Path | None = None, fs: int = 100
) -> np.ndarray:
    """Which records have their waveform header on disk at ``fs`` (100 or 500 Hz)."""
    root = ptbxl_dir(data_dir)
    names = meta.filename_lr if fs == 100 else meta.filename_hr
    return np.array([(root / f"{n}.hea").is_file() for n in names], dtype=bool)


def load_waveforms(
    meta: PtbxlMeta,
    data_dir: str | Path | None = None,
    fs: int = 100,
    leads: tuple[str, ...] = LEADS,
) -> tuple[np.ndarray, PtbxlMeta, int]:
    """Raw waveforms (mV) as ``(n, samples, leads)`` float32, the kept rows, and #missing.

    Records whose files are absent are skipped and counted (the shared copy holds only
    ecg_id 1-1999); callers must report the count.
    """
    if fs not in (100, 500):
        raise EcgEdgeError(f"PTB-XL comes at 100 or 500 Hz, not {fs}")
    root = ptbxl_dir(data_dir)
    have = available_mask(meta, data_dir, fs)
    kept = meta.subset(have)
    names = kept.filename_lr if fs == 100 else kept.filename_hr
    xs = []
    for n in names:
        rec = wfdb.rdrecord(str(root / n))
        idx = [rec.sig_name.index(lead) for lead in leads]
        xs.append(np.asarray(rec.p_signal[:, idx], dtype=np.float32))
    x = np.stack(xs) if xs else np.zeros((0, 10 * fs, len(leads)), dtype=np.float32)
    return x, kept, int((~have).sum())


def hyp_vs_norm(meta: PtbxlMeta) -> tuple[np.ndarray, np.ndarray, int]:
    """Task A labels: (include mask, y with 1 = any HYP, 0 = NORM-only, #excluded).

    Records that are neither NORM-only nor HYP are excluded; the count is returned so that
    reports can state it.
    """
    is_hyp = np.array(["HYP" in s for s in meta.superclasses])
    is_norm = np.array([s == frozenset({"NORM"}) for s in meta.superclasses])
    include = is_hyp | is_norm
    return include, is_hyp[include].astype(np.int8), int((~include).sum())
