"""``ecgedge annotate``: run the streaming detector over a WFDB record, write ``<name>.qrs``.

The output is a standard WFDB annotation file (symbol ``N`` at every detected R peak, written
with ``wfdb.wrann``), so it can be read by ``wfdb.rdann`` and scored with PhysioNet's own
``bxb -r <name> -a atr qrs``. The record is streamed block by block through the same
:class:`~edge_runtime.detect.StreamingDetector` the bedside runtime uses, so the file shows
exactly what the device would have found.

Extending: later stages (beat classes) add their own options and writers; the pieces here
(:func:`read_input`, :func:`detect_beats`, :func:`write_annotations`) are reusable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from edge_runtime.cli import make_parser
from edge_runtime.detect import Beat, StreamingDetector
from edge_runtime.errors import EcgEdgeError, nonneg_int, positive_float
from edge_runtime.records import Recording, read_record, resolve_record_path

__all__ = ["build_parser", "read_input", "detect_beats", "write_annotations", "main"]


def build_parser():
    """The argument parser (kept separate so other issues can add options)."""
    p = make_parser(
        "ecgedge annotate",
        "Detect R peaks in a WFDB record with the streaming detector and write DIR/<name>.qrs "
        "(WFDB annotations, symbol N), readable by wfdb.rdann and bxb.",
    )
    p.add_argument("--record", required=True, help="WFDB record path (dir/100, .hea or .dat)")
    p.add_argument("--channel", type=nonneg_int, action="append",
                   help="channel index to use (repeat for multi-lead fusion); default MLII, "
                   "else II, else channel 0")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--block-s", type=positive_float, default=1.0,
                   help="streaming block length in seconds (output does not depend on it)")
    p.add_argument("--extension", default="qrs", help="annotation file extension (qrs)")
    p.add_argument("--beat-model", type=Path, default=None,
                   help="beat model (.onnx/.tflite with card): also write DIR/<name>.beats, "
                   "one AAMI class symbol (N S V F Q) per detected beat")
    return p


def read_input(record: str, channels: list[int] | None) -> Recording:
    """Read the record's chosen channels (default: MLII, else II, else channel 0)."""
    path = resolve_record_path(record)
    if channels is None:
        head = read_record(path, sampto=1)
        pref = [lead for lead in ("MLII", "II") if lead in head.leads]
        channels = [head.leads.index(pref[0])] if pref else [0]
    rec = read_record(path, channels=channels)
    if rec.n_samples == 0:
        raise EcgEdgeError(f"record {rec.name} has no samples")
    if not 50 <= rec.fs <= 5000:
        raise EcgEdgeError(f"record {rec.name}: sampling rate {rec.fs} Hz not supported")
    return rec


def detect_beats(rec: Recording, block_s: float = 1.0) -> list[Beat]:
    """Stream the record through a fresh detector, ``block_s`` seconds at a time."""
    if block_s <= 0:
        raise EcgEdgeError("--block-s must be positive")
    det = StreamingDetector(rec.fs)
    sig = rec.signal[:, 0] if rec.signal.shape[1] == 1 else rec.signal
    step = max(1, int(round(block_s * rec.fs)))
    beats: list[Beat] = []
    for i in range(0, sig.shape[0], step):
        beats += det.push(sig[i : i + step])
    beats += det.flush()
    return beats


def write_annotations(
    out_dir: Path, name: str, extension: str, samples: np.ndarray, symbols: list[str], fs: float
) -> Path:
    """Write a WFDB annotation file ``out_dir/name.extension``; returns its path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EcgEdgeError(f"cannot create output directory {out_dir}: {exc.strerror}") from None
    s = np.asarray(samples, dtype=np.int64)
    if s.size == 0:
        raise EcgEdgeError(f"no beats detected in {name}; nothing to write")
    wfdb.wrann(name, extension, s, symbol=list(symbols), write_dir=str(out_dir), fs=fs)
    return out_dir / f"{name}.{extension}"


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    rec = read_input(args.record, args.channel)
    beats = detect_beats(rec, args.block_s)
    samples = np.array([b.sample for b in beats], dtype=np.int64)
    path = write_annotations(args.out, rec.name, args.extension, samples, ["N"] * len(beats),
                             rec.fs)
    if args.beat_model is not None:
        _write_beat_classes(args, rec, samples)
    dur = rec.n_samples / rec.fs
    hr = 60.0 * len(beats) / dur if dur else 0.0
    print(f"{rec.name}: {len(beats)} beats in {dur:.1f} s (mean {hr:.0f} bpm), lead(s) "
          f"{','.join(rec.leads)} -> {path}")
    return 0


def _write_beat_classes(args, rec: Recording, samples: np.ndarray) -> None:
    """Classify every detected beat with the beat model and write ``<name>.beats`` (issue 5)."""
    from edge_runtime.beat_input import classify_record_beats
    from edge_runtime.inference import load_model

    model = load_model(args.beat_model)
    want = list(model.card["leads"])
    if args.channel is None and not set(want) <= set(rec.leads):
        raise EcgEdgeError(
            f"beat model expects lead(s) {', '.join(want)}; record {rec.name} has "
            f"{', '.join(rec.leads)} (pass --channel to use one anyway)"
        )
    symbols = classify_record_beats(rec.signal, rec.fs, samples, model)
    path = write_annotations(args.out, rec.name, "beats", samples, symbols, rec.fs)
    counts = " ".join(f"{c}={symbols.count(c)}" for c in model.card["classes"])
    print(f"{rec.name}: beat classes {counts} -> {path}")
