"""Running the shipped runtime on records for the alarm benchmark, clean or with NSTDB noise.

The system under test is the runtime as shipped: :class:`edge_runtime.pipeline.Pipeline` with
the shipped beat model (and window model when its card fits the record's leads, as ``ecgedge
run`` decides), fed a whole record offline. Alarms are read from the pipeline's own output
records (``{"event": "alert", ...}``), so nothing of the alert logic is re-implemented here.

Noise stress follows the NSTDB ``nst`` protocol (:mod:`firmware_sim.noise`): 5 clean minutes,
then noise on and off in 2-min segments, calibrated per lead to the SNR on the record's
reference QRS amplitude. Every arrhythmia alarm raised while noise is on is false.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.alarm_eval import (
    ARRHYTHMIA_TYPES,
    Alarm,
    RowStats,
    alarms_from_records,
    ec57_episodes,
    lethal_detection,
    noise_alarms,
    score_record,
)
from edge_runtime.alarm_reference import Episode, read_reference
from edge_runtime.errors import EcgEdgeError

__all__ = ["Models", "load_models", "run_pipeline", "RecordResult", "evaluate_record",
           "noise_spans", "evaluate_noisy", "NOISE_RECORDS"]

#: clean records for the noise-stress set: sinus rhythm, at most 34 ectopic beats, no
#: reference rhythm change; DS1: 115, 122; DS2: 100, 103, 113, 117
NOISE_RECORDS: tuple[str, ...] = ("100", "103", "113", "115", "117", "122")


@dataclass
class Models:
    """The models ``ecgedge run`` would use by default (None where absent)."""

    beat: Any
    window: Any


def load_models(precision: str = "int8") -> Models:
    """Shipped beat and window models, loaded once and reused for every record."""
    from edge_runtime.run_cli import load_models as _load

    ns = types.SimpleNamespace(beat_model="auto", window_model="auto", precision=precision,
                               threads=1)
    beat, window = _load(ns)
    return Models(beat, window)


def run_pipeline(signal: np.ndarray, fs: float, leads: list[str], models: Models,
                 source: str = "", used: dict | None = None) -> list[dict]:
    """Feed ``signal`` through a fresh Pipeline; return its alert records, in order.

    As ``ecgedge run`` does, a shipped model whose card does not fit the record's leads
    (records 102 and 104 lack MLII) is left out; ``used`` (if given) records which ran.
    """
    from edge_runtime.pipeline import Pipeline, PipelineConfig

    cfg = PipelineConfig(status_every_s=1e9)
    p = None
    for beat, window in ((models.beat, models.window), (models.beat, None),
                         (None, models.window), (None, None)):
        try:
            p = Pipeline(fs, leads, beat_model=beat, window_model=window, config=cfg,
                         source=source)
        except EcgEdgeError:  # a card does not fit these leads: try without that model
            continue
        if used is not None:
            used.update(beat_model=beat is not None, window_model=window is not None)
        break
    assert p is not None  # the last combination has no model to refuse
    out: list[dict] = []
    step = int(10 * fs)
    for i in range(0, signal.shape[0], step):
        out += [r for r in p.push(signal[i:i + step]) if r.get("event") == "alert"]
    out += [r for r in p.finish() if r.get("event") == "alert"]
    return out


@dataclass
class RecordResult:
    """Scores of one run (a record, clean or noisy)."""

    name: str
    hours: float
    alarms: list[Alarm]
    rows: dict[tuple[str, str], RowStats]
    lethal: list[dict] = field(default_factory=list)
    ec57: dict[str, dict] = field(default_factory=dict)
    noise: dict | None = None
    models: dict = field(default_factory=dict)  # which models ran: {"beat_model": bool, ...}

    def summary(self, full: bool = True) -> dict:
        """JSON-able: alarm counts per type:severity, false alarms, misses (and alarms)."""
        counts: dict[str, int] = {}
        for a in self.alarms:
            counts[f"{a.type}:{a.severity}"] = counts.get(f"{a.type}:{a.severity}", 0) + 1
        d: dict = {"hours": round(self.hours, 4), "alarm_counts": dict(sorted(counts.items())),
                   "models": self.models}
        if full:
            d["false"] = [f"{t} {x}" for (t, s), r in self.rows.items() if s == "any"
                          for x in r.false]
            d["missed"] = [f"{t} {x}" for (t, s), r in self.rows.items() if s == "any"
                           for x in r.missed]
            d["alarms"] = [[a.type, a.severity, round(a.t, 2), round(a.end_s, 2)]
                           for a in self.alarms]
        if self.noise is not None:
            d["noise"] = self.noise
        return d


def _ec57(alarms: list[Alarm], eps: list[Episode], end_s: float) -> dict[str, dict]:
    def spans(kind: str) -> list[tuple[float, float]]:
        return [(e.start_s, e.end_s) for e in eps if e.kind == kind]

    af = [(a.start_s, a.end_s) for a in alarms if a.type == "af" and a.action == "onset"]
    crisis = [(a.start_s, a.end_s) for a in alarms if a.severity == "crisis"]
    return {"AF": ec57_episodes(spans("AFIB"), af, end_s, exclude=spans("AFL")),
            "VF": ec57_episodes(spans("VF"), crisis, end_s)}


def evaluate_record(path: str | Path, models: Models, duration_s: float | None = None,
                    tol: float = 5.0) -> RecordResult:
    """Run one annotated record through the runtime and score its alarms."""
    from edge_runtime.records import read_record

    rec = read_record(path)
    n = rec.n_samples if duration_s is None else min(rec.n_samples, int(duration_s * rec.fs))
    sig = rec.signal[:n]
    eps = [e for e in read_reference(rec.path, rec.n_samples, rec.fs) if e.start_s < n / rec.fs]
    end_s = n / rec.fs
    eps = [Episode(e.kind, e.start_s, min(e.end_s, end_s), e.detail) for e in eps]
    used: dict = {}
    alarms = alarms_from_records(run_pipeline(sig, rec.fs, rec.leads, models, str(path), used),
                                 end_s)
    res = RecordResult(rec.name, end_s / 3600.0, alarms,
                       score_record(rec.name, alarms, eps, end_s / 3600.0, tol), models=used)
    res.lethal = lethal_detection(rec.name, eps, alarms)
    res.ec57 = _ec57(alarms, eps, end_s)
    return res


def noise_spans(n: int, fs: float, start_s: float = 300.0,
                segment_s: float = 120.0) -> list[tuple[float, float]]:
    """The ``nst`` schedule's noise-on intervals, in seconds."""
    from firmware_sim.noise import noise_schedule

    m = noise_schedule(n, fs, start_s, segment_s).astype(np.int8)
    idx = np.flatnonzero(np.diff(np.concatenate([[0], m, [0]])))
    return [(a / fs, b / fs) for a, b in zip(idx[::2], idx[1::2], strict=True)]


def evaluate_noisy(record: str | Path, noise_path: str | Path | None, snr_db: float | None,
                   models: Models, duration_s: float | None = None,
                   tol: float = 5.0) -> RecordResult:
    """One noise-stress run: ``record`` plus the NSTDB record ``noise_path`` at ``snr_db``
    (``noise_path`` None: the clean record, scored over the same noise segments)."""
    from edge_runtime.records import read_beat_annotations, read_record
    from firmware_sim.noise import mix_nst_noise

    rec = read_record(record)
    n = rec.n_samples if duration_s is None else min(rec.n_samples, int(duration_s * rec.fs))
    sig = rec.signal[:n]
    label = f"{rec.name}"
    if noise_path is not None:
        nz = read_record(noise_path)
        if nz.fs != rec.fs:
            raise EcgEdgeError(f"noise record {nz.name} is {nz.fs:g} Hz, record {rec.fs:g} Hz")
        qrs, _ = read_beat_annotations(rec.path, sampto=n)
        sig = mix_nst_noise(sig, nz.signal, rec.fs, float(snr_db), qrs)
        label = f"{rec.name}+{nz.name}@{snr_db:g}dB"
    spans = noise_spans(n, rec.fs)
    alarms = alarms_from_records(run_pipeline(sig, rec.fs, rec.leads, models, label), n / rec.fs)
    res = RecordResult(label, n / rec.fs / 3600.0, alarms, {})
    res.noise = noise_alarms(alarms, spans, tol)
    res.noise["arrhythmia"] = sum(v for k, v in res.noise["by_type"].items()
                                  if k.split(":")[0] in ARRHYTHMIA_TYPES)
    for sev in ("warning", "crisis"):
        res.noise[sev] = sum(v for k, v in res.noise["by_type"].items()
                             if k.split(":")[0] in ARRHYTHMIA_TYPES and k.endswith(f":{sev}"))
    return res
