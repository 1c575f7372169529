"""Reference alarm episodes from MIT-BIH annotations (the truth the alarm benchmark scores).

An alarm benchmark needs, for every alarm type, the intervals in which the alarm condition
truly held. They come from the cardiologists' annotations of the record, never from our own
detector, so a missed beat cannot hide a missed alarm:

* rhythm episodes: a rhythm annotation (``+`` with aux ``(VT``, ``(VFL``, ``(SVTA``, ``(AFIB``,
  ``(AFL``, ``(B``, ``(T``, ``(IVR``, ...) starts an episode that ends at the next rhythm
  annotation or at the end of the record;
* VF episodes as EC57 defines them: ``[`` (VF onset) to ``]`` (VF offset);
* beat episodes from the reference beats (EC57 beat symbols): pauses (RR > 2.5 s), asystole
  (no beat for > 4 s), bradycardia / tachycardia (reference heart rate, the mean of the last 8
  RR, below 40 / above 150 bpm for >= 5 s), runs of >= 3 ventricular (V, E) or
  supraventricular (A, a, J, S) beats with 3 consecutive beats above 100 bpm, and PVC rate
  (> 10 V beats in the trailing 60 s);
* noise episodes: ``~`` annotations with a non-zero subtype (one or both signals noisy) until
  the next ``~`` marking both clean.

The limits are fixed here (:class:`ReferenceRules`) rather than read from ``alerts.toml``:
they equal today's default alert limits, so the benchmark asks "did the alarm fire when its
defined condition truly held", and tuning the rules later cannot move the reference.
Intervals between beats that overlap a VF episode are not pauses (the ventricles are
fibrillating; MIT-BIH marks flutter waves ``!``, not beats) and give no heart rate.

Pure numpy; :func:`read_reference` is the only function that touches wfdb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import BEAT_SYMBOLS

__all__ = [
    "Episode",
    "ReferenceRules",
    "RHYTHM_KINDS",
    "rhythm_episodes",
    "vf_episodes",
    "noise_episodes",
    "gap_episodes",
    "rate_episodes",
    "run_episodes",
    "pvc_rate_episodes",
    "merge",
    "reference_episodes",
    "read_reference",
]

#: rhythm aux string -> reference kind (the ones an alarm is scored against; the others,
#: e.g. ``(N``, ``(P``, ``(PREX``, are kept under their lower-case code for the tables)
RHYTHM_KINDS: dict[str, str] = {
    "(VT": "VT", "(VFL": "VFL", "(SVTA": "SVTA", "(AFIB": "AFIB", "(AFL": "AFL",
    "(B": "B", "(T": "T", "(IVR": "IVR", "(SBR": "SBR", "(NOD": "NOD", "(BII": "BII",
    "(AB": "AB",
}
V_SYMBOLS = frozenset("VE")
S_SYMBOLS = frozenset("AaJS")


@dataclass(frozen=True)
class Episode:
    """One reference episode ``[start_s, end_s]`` of ``kind`` (seconds of record time)."""

    kind: str
    start_s: float
    end_s: float
    detail: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class ReferenceRules:
    """Limits that define the beat-derived reference episodes (see the module docstring)."""

    pause_rr_s: float = 2.5
    asystole_s: float = 4.0
    hr_beats: int = 8
    brady_below: float = 40.0
    tachy_above: float = 150.0
    rate_min_s: float = 5.0
    run_min: int = 3
    run_rate: float = 100.0
    pvc_per_min: int = 10


def _overlaps(t0: float, t1: float, spans: Sequence[Episode]) -> bool:
    return any(e.start_s < t1 and e.end_s > t0 for e in spans)


def rhythm_episodes(times: np.ndarray, auxes: Sequence[str], end_s: float) -> list[Episode]:
    """Episodes from rhythm annotations (times in s, aux strings), each to the next change."""
    out = []
    for i, (t, aux) in enumerate(zip(times, auxes, strict=True)):
        code = aux.strip("\x00").strip()
        if not code.startswith("("):
            continue
        t1 = float(times[i + 1]) if i + 1 < len(times) else end_s
        kind = RHYTHM_KINDS.get(code, code[1:].lower())
        if t1 > t:
            out.append(Episode(kind, float(t), t1, code))
    return out


def vf_episodes(times: np.ndarray, symbols: Sequence[str], end_s: float) -> list[Episode]:
    """EC57 VF episodes: ``[`` to the next ``]`` (or the end of the record)."""
    out, start = [], None
    for t, s in zip(times, symbols, strict=True):
        if s == "[" and start is None:
            start = float(t)
        elif s == "]" and start is not None:
            out.append(Episode("VF", start, float(t), "[ ]"))
            start = None
    if start is not None:
        out.append(Episode("VF", start, end_s, "[ ]"))
    return out


def noise_episodes(times: np.ndarray, subtypes: Sequence[int], end_s: float) -> list[Episode]:
    """``~`` episodes: subtype != 0 (1/2: one signal noisy, 3/-1: both) until a clean ``~``."""
    out, start, worst = [], None, 0
    for t, sub in zip(times, subtypes, strict=True):
        sub = int(sub)
        if sub != 0 and start is None:
            start, worst = float(t), sub
        elif sub != 0:
            worst = -1 if -1 in (worst, sub) else max(worst, sub)
        elif start is not None:
            out.append(Episode("noise", start, float(t), f"subtype {worst}"))
            start = None
    if start is not None:
        out.append(Episode("noise", start, end_s, f"subtype {worst}"))
    return out


def gap_episodes(beat_t: np.ndarray, min_gap_s: float, kind: str,
                 exclude: Sequence[Episode] = ()) -> list[Episode]:
    """RR intervals longer than ``min_gap_s`` (pause / asystole), not overlapping ``exclude``."""
    out = []
    rr = np.diff(beat_t)
    for i in np.flatnonzero(rr > min_gap_s):
        t0, t1 = float(beat_t[i]), float(beat_t[i + 1])
        if not _overlaps(t0, t1, exclude):
            out.append(Episode(kind, t0, t1, f"RR {t1 - t0:.2f} s"))
    return out


def rate_episodes(beat_t: np.ndarray, rules: ReferenceRules,
                  exclude: Sequence[Episode] = ()) -> list[Episode]:
    """Bradycardia / tachycardia: reference HR (mean of the last ``hr_beats`` RR) past a limit.

    Beat ``i``'s rate holds from beat ``i`` to beat ``i + 1``; runs of beats past the limit
    lasting at least ``rate_min_s`` are episodes. Windows overlapping ``exclude`` give no rate.
    """
    k = rules.hr_beats
    out: list[Episode] = []
    if beat_t.size <= k + 1:
        return out
    hr = np.full(beat_t.size, np.nan)
    span = beat_t[k:] - beat_t[:-k]
    hr[k:] = 60.0 * k / np.where(span > 0, span, np.nan)
    for i in range(k, beat_t.size):
        if exclude and _overlaps(float(beat_t[i - k]), float(beat_t[i]), exclude):
            hr[i] = np.nan
    for kind, cond in (("brady", hr < rules.brady_below), ("tachy", hr > rules.tachy_above)):
        cond = np.nan_to_num(cond, nan=0).astype(bool)
        idx = np.flatnonzero(np.diff(np.concatenate([[0], cond.astype(np.int8), [0]])))
        for a, b in zip(idx[::2], idx[1::2], strict=True):  # beats a..b-1 hold
            t0 = float(beat_t[a])
            t1 = float(beat_t[b]) if b < beat_t.size else float(beat_t[-1])
            if t1 - t0 >= rules.rate_min_s:
                ext = np.nanmin(hr[a:b]) if kind == "brady" else np.nanmax(hr[a:b])
                out.append(Episode(kind, t0, t1, f"HR {ext:.0f} bpm"))
    return out


def run_episodes(beat_t: np.ndarray, beat_sym: Sequence[str], members: frozenset[str],
                 kind: str, rules: ReferenceRules) -> list[Episode]:
    """Runs of >= ``run_min`` consecutive ``members`` beats with ``run_min`` consecutive beats
    faster than ``run_rate`` somewhere in the run; the episode is the whole run."""
    out = []
    isin = np.array([s in members for s in beat_sym], dtype=np.int8)
    idx = np.flatnonzero(np.diff(np.concatenate([[0], isin, [0]])))
    m = rules.run_min
    for a, b in zip(idx[::2], idx[1::2], strict=True):
        if b - a < m:
            continue
        t = beat_t[a:b]
        rate = 60.0 * (m - 1) / (t[m - 1:] - t[: t.size - m + 1])
        if np.any(rate > rules.run_rate):
            out.append(Episode(kind, float(t[0]), float(t[-1]),
                               f"{b - a} beats, max {rate.max():.0f} bpm"))
    return out


def pvc_rate_episodes(beat_t: np.ndarray, beat_sym: Sequence[str], end_s: float,
                      rules: ReferenceRules) -> list[Episode]:
    """More than ``pvc_per_min`` V beats in the trailing 60 s (evaluated on a 1-s grid)."""
    vt = np.sort(beat_t[[s in V_SYMBOLS for s in beat_sym]])
    grid = np.arange(0.0, end_s + 1.0, 1.0)
    count = np.searchsorted(vt, grid, side="right") - np.searchsorted(vt, grid - 60.0,
                                                                      side="right")
    cond = (count > rules.pvc_per_min).astype(np.int8)
    idx = np.flatnonzero(np.diff(np.concatenate([[0], cond, [0]])))
    return [Episode("pvc_rate", float(grid[a]), float(min(grid[b - 1], end_s)),
                    f"max {count[a:b].max()} V/min") for a, b in zip(idx[::2], idx[1::2],
                                                                   strict=True)]


def merge(episodes: Sequence[Episode], kind: str) -> list[Episode]:
    """Union of overlapping (or touching) episodes under a new ``kind``."""
    out: list[Episode] = []
    for e in sorted(episodes, key=lambda e: e.start_s):
        if out and e.start_s <= out[-1].end_s:
            last = out[-1]
            out[-1] = Episode(kind, last.start_s, max(last.end_s, e.end_s),
                              f"{last.detail}; {e.detail}")
        else:
            out.append(Episode(kind, e.start_s, e.end_s, e.detail))
    return out


def reference_episodes(
    fs: float,
    n_samples: int,
    ann_sample: np.ndarray,
    ann_symbol: Sequence[str],
    ann_aux: Sequence[str],
    ann_subtype: Sequence[int],
    rules: ReferenceRules | None = None,
) -> list[Episode]:
    """Every reference episode of one record from its full annotation list.

    Kinds: rhythm codes (``VT``, ``VFL``, ``SVTA``, ``AFIB``, ``AFL``, ``B``, ``T``, ...), ``VF``
    (``[``..``]``), ``noise``, ``pause``, ``asystole``, ``brady``, ``tachy``, ``vrun``, ``srun``,
    ``pvc_rate``, and the merged alarm references ``vt`` (``VT`` + ``vrun``) and ``svt``
    (``SVTA`` + ``srun``).
    """
    rules = rules or ReferenceRules()
    t = np.asarray(ann_sample, dtype=np.float64) / fs
    sym = [str(s) for s in ann_symbol]
    end_s = n_samples / fs
    plus = [i for i, s in enumerate(sym) if s == "+"]
    rhythm = rhythm_episodes(t[plus], [ann_aux[i] or "" for i in plus], end_s)
    vf = vf_episodes(t, sym, end_s)
    tilde = [i for i, s in enumerate(sym) if s == "~"]
    noise = noise_episodes(t[tilde], [int(ann_subtype[i]) for i in tilde], end_s)
    beats = [i for i, s in enumerate(sym) if s in BEAT_SYMBOLS]
    bt, bs = t[beats], [sym[i] for i in beats]
    no_beats = merge(vf + [e for e in rhythm if e.kind == "VFL"], "VF")
    eps = rhythm + vf + noise
    eps += gap_episodes(bt, rules.pause_rr_s, "pause", no_beats)
    eps += gap_episodes(bt, rules.asystole_s, "asystole", no_beats)
    eps += rate_episodes(bt, rules, no_beats)
    vrun = run_episodes(bt, bs, V_SYMBOLS, "vrun", rules)
    srun = run_episodes(bt, bs, S_SYMBOLS, "srun", rules)
    eps += vrun + srun + pvc_rate_episodes(bt, bs, end_s, rules)
    eps += merge([e for e in rhythm if e.kind == "VT"] + vrun, "vt")
    eps += merge([e for e in rhythm if e.kind == "SVTA"] + srun, "svt")
    return sorted(eps, key=lambda e: (e.start_s, e.kind))


def read_reference(path: str | Path, n_samples: int, fs: float,
                   rules: ReferenceRules | None = None) -> list[Episode]:
    """Reference episodes of a WFDB record from its ``.atr`` annotations."""
    import wfdb

    p = Path(path)
    if not p.with_suffix(".atr").is_file():
        raise EcgEdgeError(f"no reference annotations for {p.name} (no {p.name}.atr)")
    try:
        ann = wfdb.rdann(str(p), "atr")
    except Exception as exc:  # wfdb raises many types on malformed files
        raise EcgEdgeError(f"cannot read annotations {p}.atr: {exc}") from None
    aux = ann.aux_note or [""] * len(ann.sample)
    sub = ann.subtype if ann.subtype is not None else np.zeros(len(ann.sample), int)
    return reference_episodes(fs, n_samples, np.asarray(ann.sample), list(ann.symbol),
                              list(aux), list(sub), rules)
