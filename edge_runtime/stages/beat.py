"""Beat stage: detected beats -> class labels, each with the key at which it became known.

``push(block, beats) -> labels``: the block's samples go through the beat front end
(:class:`edge_runtime.beats.BeatWindower`: filter, resampler, windows, RR features, template
channel), the beats the detector decided in this block are registered, and every beat whose
inputs are known is classified, one model batch per block, through the card-driven feed
(:class:`edge_runtime.beat_input.BeatInputs`). What "known" means is the card's labelling
mode (:attr:`~edge_runtime.beat_input.BeatInputs.post_rr`, docs/beat_latency.md): a model
fed a post-RR feature waits for its window and for the next beat's decision; any other model
only for its window (and its own decision; the stream's first beat also for the second's,
its pre-RR being its post-RR).

Without a beat model, :class:`UnlabelledBeats` has the same API and reports every beat,
without a label, as soon as it is decided; so the pipeline has one code path for both.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_runtime.beat_input import BeatInputs
from edge_runtime.beats import BeatConfig, BeatWindower
from edge_runtime.events import needed_inputs
from edge_runtime.stages import clock

__all__ = ["BeatStage", "Labelled", "UnlabelledBeats"]


@dataclass(frozen=True)
class Labelled:
    """Beat ``sample`` got ``label`` (None without a model) at input count ``key``.

    ``parts`` (beat model only): signal seconds from R to the detector decision the label
    waits for (the successor's with post-RR features; the beat's own in low-latency mode,
    the successor's for the stream's first beat) and from R to the window's end through
    filter and resampler; the label waits for both.
    """

    key: int
    sample: int
    label: str | None
    prob: float | None
    parts: tuple[float, float] | None = None


class BeatStage:
    """Beat windows + RR features (edge_runtime.beats) -> beat model, one batch per block.

    ``beats`` given to :meth:`push` are ``(R sample, key)`` pairs: the key is the input count
    at which the detector's decision was known. A label's key is the later of the decision it
    waits for (its successor's key with post-RR features, else its own; the first beat's
    successor's in both modes) and the input count at which its window has left the
    resampler (all deterministic).
    """

    def __init__(self, model: Any, fs: float, lead_idx: list[int]) -> None:
        self.model = model
        self.card = card = model.card
        self.classes = list(card["classes"])
        self.lead_idx = lead_idx
        self.fs = float(fs)
        self.config = BeatConfig.from_card(card)
        self.inputs = BeatInputs(card)
        #: labelling mode: True = wait for the next R (the model is fed a post-RR feature)
        self.post_rr = self.inputs.post_rr
        self.windower = BeatWindower(fs, len(lead_idx), self.config, self.post_rr)
        self._labelled = 0  # beats labelled so far (the first waits for its successor)
        self._pending: deque[tuple[int, int]] = deque()  # (sample, key) awaiting a label
        self.n = 0  # input samples pushed so far
        self.seconds = 0.0  # time spent in the model (benchmark)
        self.batches = 0

    def classify(self, wins: np.ndarray, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class index and probability per beat."""
        if len(wins) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        t0 = clock.now()
        p = self.model.predict(**self.inputs(wins, feats))
        self.seconds += clock.now() - t0
        self.batches += 1
        k = p.argmax(axis=1)
        return k, p[np.arange(len(k)), k]

    def window_ready_at(self, peak: int) -> int:
        """Input count at which the beat window of ``peak`` has left the resampler."""
        hi = self.windower.center(peak) + self.config.after
        return needed_inputs(hi, self.windower._resampler)

    def push(self, x: np.ndarray, beats: Sequence[tuple[int, int]]) -> list[Labelled]:
        """A block of stream samples ``(n, stream leads)`` and the beats decided in it."""
        self._pending.extend(beats)
        wins, feats, done = self.windower.push(x[:, self.lead_idx], [s for s, _ in beats])
        out = self._label(wins, feats, done, final=False)
        self.n += x.shape[0]
        return out

    def flush(self, beats: Sequence[tuple[int, int]]) -> list[Labelled]:
        """End of stream: the detector's last ``beats``, then every pending beat."""
        out: list[Labelled] = []
        if beats:
            out = self.push(np.zeros((0, max(self.lead_idx) + 1)), beats)
        return out + self._label(*self.windower.flush(), final=True)

    def _label(self, wins: np.ndarray, feats: np.ndarray, done: np.ndarray,
               final: bool) -> list[Labelled]:
        if len(done) == 0:
            return []
        k, p = self.classify(wins, feats)
        out = []
        for peak, ki, pi in zip(done, k, p, strict=True):
            sample, own = self._pending.popleft()
            assert sample == peak, (sample, peak)
            if self.post_rr or self._labelled == 0:
                decided = self._pending[0][1] if self._pending else self.n
            else:
                decided = own
            self._labelled += 1
            ready = self.window_ready_at(int(peak))
            key = self.n if final else max(decided, ready)
            parts = ((decided - 1 - peak) / self.fs, (ready - 1 - peak) / self.fs)
            out.append(Labelled(key, int(peak), self.classes[int(ki)], float(pi), parts))
        return out


class UnlabelledBeats:
    """No beat model: every beat is reported, unlabelled, at the key of its decision."""

    def push(self, x: np.ndarray | None, beats: Sequence[tuple[int, int]]) -> list[Labelled]:
        return [Labelled(key, sample, None, None) for sample, key in beats]

    def flush(self, beats: Sequence[tuple[int, int]]) -> list[Labelled]:
        return self.push(None, beats)
