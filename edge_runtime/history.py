"""Per-beat history of a run (for the summary, strips and EC57), bounded in long live runs.

A bedside run lasts days: the beat samples, labels and latencies kept for the summary and
the alert strips are trimmed to about ``max_beats`` (the older half goes when the limit is
passed); beat *indices* stay absolute (``base`` is the index of the first beat kept), and
counts kept elsewhere stay exact. An offline run on an annotated record keeps everything.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["BeatHistory", "run_summary"]


class BeatHistory:
    """Beat samples and labels, latencies, alert updates and the HR trend of one run."""

    def __init__(self) -> None:
        self.base = 0  # absolute index of beat_samples[0]
        self.beat_samples: list[int] = []
        self.beat_labels: list[str | None] = []
        self.label_latency: list[float] = []  # signal seconds from R peak to label
        #: per labelled beat (beat model only): (R -> successor decided, R -> window end), s
        self.label_latency_parts: list[tuple[float, float]] = []
        self.detect_latency: list[float] = []
        self.updates: list[Any] = []  # AlertUpdate, in the order the sinks got them
        self.hr_trend: list[tuple[float, float | None]] = []

    def add_beat(self, sample: int, detect_latency_s: float) -> None:
        """A detected beat (label to follow)."""
        self.beat_samples.append(sample)
        self.beat_labels.append(None)
        self.detect_latency.append(detect_latency_s)

    def set_label(self, index: int, label: str | None, latency_s: float,
                  parts: tuple[float, float] | None) -> None:
        """Beat ``index`` (absolute) got ``label``, ``latency_s`` after its R peak."""
        self.beat_labels[index - self.base] = label
        self.label_latency.append(latency_s)
        if parts is not None:
            self.label_latency_parts.append(parts)

    def trim(self, max_beats: int) -> None:
        """Drop the older half of the per-beat history (bounded memory in long live runs)."""
        k = len(self.beat_samples) // 2
        del self.beat_samples[:k], self.beat_labels[:k]
        self.base += k
        del self.label_latency[: max(0, len(self.label_latency) - k)]
        del self.label_latency_parts[: max(0, len(self.label_latency_parts) - k)]
        del self.detect_latency[: max(0, len(self.detect_latency) - k)]
        keep = max_beats // 10
        if len(self.updates) > keep:
            del self.updates[: len(self.updates) - keep]
        if len(self.hr_trend) > keep:
            self.hr_trend = self.hr_trend[::2]


def run_summary(p: Any) -> dict:
    """The end-of-run summary of a :class:`~edge_runtime.pipeline.Pipeline` ``p``: beats per
    class, HR trend (at most ~120 points), alert onsets, gaps, label latency p50/p99 of the
    live beats, and EC57 agreement when the run had reference annotations."""
    live = p.label_latency[: getattr(p, "_n_latency_live", len(p.label_latency))]
    lat = np.asarray(live) if live else np.zeros(1)
    s = {
        "duration_s": round(p.n / p.fs, 3),
        "beats": p._beat_index,
        "beats_per_class": dict(sorted(p.class_counts.items())),
        "alerts": dict(sorted(p._onsets.items())),
        "gaps": p.gaps,
        "lost_samples": p.lost_samples,
        "hr_trend": p.hr_trend[:: max(1, len(p.hr_trend) // 120)],
        "beat_latency_s": {"p50": round(float(np.percentile(lat, 50)), 4),
                           "p99": round(float(np.percentile(lat, 99)), 4)},
    }
    if p.annotations is not None:
        from edge_runtime.report import ec57_agreement

        s["ec57"] = ec57_agreement(p.annotations[0], p.annotations[1],
                                   np.asarray(p.beat_samples, np.int64),
                                   p.beat_labels, p.fs, skip_s=0.0)
    return json.loads(json.dumps(s))
