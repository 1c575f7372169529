"""Window stage: a sliding 10 s multi-lead window at the card's rate -> window model.

``push(block) -> [(key, WindowEvent)]``: the streaming twin of
:func:`edge_runtime.windowing.record_windows` (what training used); each window's key is the
input count at which its last sample had passed the resampler.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_runtime.alerts import WindowEvent
from edge_runtime.cards import card_id
from edge_runtime.dsp import RingBuffer, SosFilter, StreamingResampler, ecg_filter_sos
from edge_runtime.events import needed_inputs
from edge_runtime.rhythm_rules import card_rule_classes, window_rule_decisions
from edge_runtime.stages import clock
from edge_runtime.windowing import normalise, to_model_layout

__all__ = ["WindowStage"]


class WindowStage:
    """Sliding multi-lead window (card's fs and length, hop ``hop_s``) -> window model.

    Same order as :func:`edge_runtime.windowing.record_windows` (resample -> condition ->
    window -> normalise), but streaming: a causal resampler and filter run block by block
    into a ring buffer at the model rate and a window is cut whenever its end has arrived.
    """

    def __init__(self, model: Any, fs: float, lead_idx: list[int], hop_s: float) -> None:
        self.model = model
        self.card = card = model.card
        self.classes = list(card["classes"])
        self.lead_idx = lead_idx
        # a stream lead used for several card leads (--lead-map) is conditioned once
        self.cols = sorted(set(lead_idx))
        self.pos = [self.cols.index(i) for i in lead_idx]
        self.fs_model = float(card["fs"])
        self.n_win = int(card["window"]["samples"])
        self.hop = max(1, int(round(hop_s * self.fs_model)))
        pre = card.get("preprocessing") or {}
        f = pre.get("filter") or {}
        self.norm = pre.get("normalisation") or {"kind": "none"}
        self.resampler = StreamingResampler(fs, self.fs_model)
        self.filter = SosFilter(ecg_filter_sos(self.fs_model, f.get("highpass", 0.5),
                                               f.get("lowpass", 40.0), f.get("notch"),
                                               int(f.get("order", 2))))
        # the buffer holds model-ready samples (card lead order, normalised): normalisation is
        # per sample and per lead, so doing it once per sample equals doing it per window
        # (which would repeat it window/hop = 5 times)
        self.buffer = RingBuffer(self.n_win + 4 * self.hop + 64, len(lead_idx), np.float32)
        self._identity = self.pos == list(range(len(self.cols)))
        self.next_end = self.n_win
        self.delay_s = self.resampler.delay_in / fs
        self.fs = fs
        ops = card.get("operating_points") or {}
        op = ops.get("balanced") or ops.get("screening") or {}
        th = op.get("thresholds", op) if isinstance(op, dict) else {}
        self.thresholds = {c: float(v) for c, v in th.items()
                           if c in self.classes and isinstance(v, int | float)}
        self.id = card_id(card, getattr(model, "path", None))
        # classes a rate/rhythm rule decides (card "rules"): the detector runs on the window
        self.ruled = bool(card_rule_classes(card))
        self.seconds = 0.0
        self.windows = 0

    def push(self, x: np.ndarray) -> list[tuple[int, WindowEvent]]:
        y = self.filter.push(self.resampler.push(x[:, self.cols]))
        if len(y):
            if not self._identity:
                y = y[:, self.pos]
            y = normalise(y, self.norm)
        out: list[tuple[int, WindowEvent]] = []
        ends: list[int] = []
        wins: list[np.ndarray] = []
        step = 2 * self.hop  # the ring buffer holds a window + 4 hops: feed it in pieces
        for i in range(0, len(y), step):
            self.buffer.push(y[i:i + step])
            while self.buffer.total >= self.next_end:
                ends.append(self.next_end)
                wins.append(self.buffer.get(self.next_end - self.n_win, self.next_end))
                self.next_end += self.hop
        if not ends:
            return out
        t0 = clock.now()
        p = self.model.predict(x=to_model_layout(np.stack(wins)))
        self.seconds += clock.now() - t0
        self.windows += len(ends)
        for e, row, win in zip(ends, p, wins, strict=True):
            start_s = max((e - self.n_win) / self.fs_model - self.delay_s, 0.0)
            end_s = e / self.fs_model - self.delay_s
            evidence, decided = (window_rule_decisions(self.card, win.T) if self.ruled
                                 else ({}, {}))
            ev = WindowEvent(start_s, end_s, self.card["task"],
                             {c: float(v) for c, v in zip(self.classes, row, strict=True)},
                             self.id, self.thresholds, decided, evidence)
            out.append((needed_inputs(e, self.resampler), ev))
        return out
