"""Reading WFDB records and beat annotations, with one-line errors for bad input.

This is runtime code (the CLI's ``annotate``, ``predict``, ``run`` and the simulator read any
WFDB record through it), so it depends on wfdb and numpy only. The AAMI EC57 beat-class
mapping lives here too because the runtime reports against annotated records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import wfdb

from edge_runtime.errors import EcgEdgeError

#: MIT-BIH beat-label annotation symbols (EC57 reference beats). Rhythm (+), noise (~),
#: comments (") and other non-beat annotations are excluded.
BEAT_SYMBOLS: frozenset[str] = frozenset("NLRBAaJSVrFejnE/fQ?")

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: AAMI EC57 / ANSI-AAMI EC57:1998 class of each MIT-BIH beat symbol (de Chazal 2004, Table 1):
#: N = normal and bundle branch block beats (N L R) plus escape beats (e j);
#: S = supraventricular ectopic (A a J S); V = ventricular ectopic (V E); F = fusion of
#: ventricular and normal (F); Q = paced (/), fusion of paced and normal (f), unclassifiable (Q).
AAMI_MAP: dict[str, str] = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}


@dataclass
class Recording:
    """A multi-lead recording in physical units (usually mV)."""

    name: str
    fs: float
    signal: np.ndarray  # (n_samples, n_leads) float64
    leads: list[str]
    units: list[str] = field(default_factory=list)
    path: Path | None = None  # record path without extension

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs


def shipped_record_path(name: str = "100") -> Path:
    """Path (without extension) of a record shipped inside the package."""
    from edge_runtime.resources import data_path

    return data_path(name)


def resolve_record_path(path: str | Path) -> Path:
    """Accept ``dir/100``, ``dir/100.hea`` or ``dir/100.dat``; return ``dir/100``.

    Raises a one-line :class:`EcgEdgeError` when no header exists.
    """
    p = Path(path)
    if p.suffix in (".hea", ".dat", ".atr", ".qrs", ".beats", ".mat"):
        p = p.with_suffix("")
    if not p.with_suffix(".hea").is_file():
        raise EcgEdgeError(f"record not found: {path} (no {p.with_suffix('.hea').name})")
    return p


def find_record(name: str | Path, data_dir: str | Path | None = None) -> Path:
    """Where a record named on the command line is: ``100`` -> the given path, the shipped
    record, then ``<data>/mitdb/100``; ``ptb-xl/...`` -> under the data dir; else a path.

    One resolver for ``ecgedge run --record``, ``ecgedge sim --record`` and the simulator's
    noise records, so every command finds the same file for the same name.
    """
    from edge_runtime.datadir import find_data_dir

    p = Path(name)
    stem = p.with_suffix("") if p.suffix in (".hea", ".dat") else p
    candidates = [stem]
    root = find_data_dir(data_dir)  # a named data dir that is missing: one-line error
    if data_dir is None and stem.parent == Path("."):
        # the shipped copy stands in only when no data dir was named: a named one is not
        # second-guessed (its record, or a one-line error)
        candidates.append(shipped_record_path(stem.name))
    if root is not None and not stem.is_absolute():
        candidates += [root / "mitdb" / stem, root / stem]
    for c in candidates:
        if c.with_suffix(".hea").is_file():
            return resolve_record_path(c)
    where = f" or under {root}" if root else " (no data dir found)"
    raise EcgEdgeError(f"record not found: {name} (no such WFDB record here{where})")


def read_record(
    path: str | Path,
    leads: list[str] | None = None,
    channels: list[int] | None = None,
    sampfrom: int = 0,
    sampto: int | None = None,
    fs: float | None = None,
) -> Recording:
    """Read a WFDB record (optionally some leads, by name or index, and a sample span).

    ``fs`` resamples the signal to that rate (the runtime's polyphase resampler), for callers
    that need a record at a device's rate (the simulator's noise records).
    """
    p = resolve_record_path(path)
    try:
        header = wfdb.rdheader(str(p))
    except Exception as exc:  # wfdb raises many types on malformed headers
        raise EcgEdgeError(f"cannot read header of {p}: {exc}") from None
    names = list(header.sig_name or [])
    if leads is not None:
        missing = [lead for lead in leads if lead not in names]
        if missing:
            raise EcgEdgeError(
                f"record {p.name} lacks lead(s) {', '.join(missing)} (has {', '.join(names)})"
            )
        channels = [names.index(lead) for lead in leads]
    if channels is not None:
        bad = [c for c in channels if not 0 <= c < len(names)]
        if bad:
            raise EcgEdgeError(f"record {p.name} has {len(names)} channels; no channel {bad[0]}")
    if sampto is not None and header.sig_len and sampto > header.sig_len:
        sampto = header.sig_len
    try:
        rec = wfdb.rdrecord(str(p), channels=channels, sampfrom=sampfrom, sampto=sampto)
    except Exception as exc:
        raise EcgEdgeError(f"cannot read record {p}: {exc}") from None
    sig = np.asarray(rec.p_signal, dtype=np.float64)
    if sig.ndim == 1:
        sig = sig[:, None]
    # wfdb marks invalid samples as NaN; a stream cannot carry NaN, so hold the last value.
    if np.isnan(sig).any():
        sig = _fill_nan(sig)
    rate = float(rec.fs)
    if fs is not None and fs != rate:
        from edge_runtime.dsp import resample_signal

        sig, rate = resample_signal(sig, rate, fs), float(fs)
    return Recording(
        name=p.name,
        fs=rate,
        signal=sig,
        leads=list(rec.sig_name),
        units=list(rec.units or []),
        path=p,
    )


def _fill_nan(sig: np.ndarray) -> np.ndarray:
    out = sig.copy()
    for j in range(out.shape[1]):
        col = out[:, j]
        bad = np.isnan(col)
        if bad.all():
            col[:] = 0.0
            continue
        idx = np.where(~bad, np.arange(len(col)), 0)
        np.maximum.accumulate(idx, out=idx)
        col[:] = col[idx]
        first = np.argmax(~bad)
        col[:first] = col[first]
    return out


def read_beat_annotations(
    path: str | Path,
    extension: str = "atr",
    sampfrom: int = 0,
    sampto: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Beat-label annotations of a record: ``(samples int64, symbols str)``.

    Only :data:`BEAT_SYMBOLS` are kept (the EC57 reference beats); rhythm, noise and comment
    annotations are dropped.
    """
    p = resolve_record_path(path)
    if not p.with_suffix(f".{extension}").is_file():
        raise EcgEdgeError(f"annotation file not found: {p}.{extension}")
    try:
        ann = wfdb.rdann(str(p), extension, sampfrom=sampfrom, sampto=sampto)
    except Exception as exc:
        raise EcgEdgeError(f"cannot read annotations {p}.{extension}: {exc}") from None
    samples = np.asarray(ann.sample, dtype=np.int64)
    symbols = np.asarray(ann.symbol, dtype=str)
    keep = np.isin(symbols, list(BEAT_SYMBOLS))
    return samples[keep], symbols[keep]


def aami_classes(symbols: np.ndarray) -> np.ndarray:
    """AAMI class letter per beat symbol; symbols outside the mapping (e.g. '?') give ''."""
    return np.array([AAMI_MAP.get(s, "") for s in symbols], dtype="<U1")
