"""EC57 beat metrics of a shipped artifact (ONNX / TFLite) through the runtime's own feed.

``ecgedge eval beats --model models/beat.int8.onnx`` scores what the device runs: the
artifact loaded by :mod:`edge_runtime.inference`, its inputs built by
:class:`edge_runtime.beat_input.BeatInputs` from the card (RR feature subset included), on
the same cached beats and detector positions the torch evaluation uses.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.beat_input import BeatInputs
from edge_runtime.ec57 import ec57_report
from train.beats.dataset import BeatSet
from train.beats.evaluate import DetectedSet, pairs_condition_b

__all__ = ["artifact_classes", "artifact_a", "artifact_b"]


def artifact_classes(model, x: np.ndarray, rr: np.ndarray, batch: int = 2048) -> np.ndarray:
    """Class index per beat: ``argmax`` of the artifact's output (what the device does)."""
    build = BeatInputs(model.card)
    out = [model.predict(**build(x[i : i + batch], rr[i : i + batch])).argmax(axis=1)
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def artifact_a(model, beats: BeatSet) -> dict:
    lab = beats.labelled()
    return ec57_report(lab.y, artifact_classes(model, lab.x, lab.rr), lab.record)


def artifact_b(model, det: DetectedSet) -> dict:
    ref, alg, rec = pairs_condition_b(det, artifact_classes(model, det.beats.x, det.beats.rr))
    return ec57_report(ref, alg, rec)
