"""Per-beat history of a run (for the summary, strips and EC57), bounded in long live runs.

A bedside run lasts days: the beat samples, labels and latencies kept for the summary and
the alert strips are trimmed to about ``max_beats`` (the older half goes when the limit is
passed); beat *indices* stay absolute (``base`` is the index of the first beat kept), and
counts kept elsewhere stay exact. An offline run on an annotated record keeps everything.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BeatHistory"]


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
