"""Causal RR-interval features of detected beats, in two labelling modes (beat front end).

RR features (seconds, from detector times), all causal except ``post_rr``:
``pre_rr`` (R_i - R_{i-1}), ``post_rr`` (R_{i+1} - R_i: the beat is classified only once the
next R arrives, i.e. **one beat of latency**), ``local_rr`` (mean of the last 10 pre-RRs,
this one included), ``long_rr`` (mean of the last 300 pre-RRs, about 5 min: the patient's
running average), and ``pre_rr_norm``, ``post_rr_norm``, ``local_rr_norm`` (each divided by
``long_rr``). Dividing by the patient's own running RR is what lets an inter-patient model
judge prematurity (de Chazal et al. 2004; Llamedo & Martinez 2011 use the same idea). The
first beat has no pre-RR and uses its post-RR; the last beat of a stream has no post-RR and
uses its pre-RR.

Two labelling modes (``post_rr``, chosen by the model card's ``features``, see
:attr:`edge_runtime.beat_input.BeatInputs.post_rr`; docs/beat_latency.md):

* ``post_rr=True`` (a model fed ``post_rr`` or ``post_rr_norm``): beat i's features are known
  once R_{i+1} is (one beat of latency), all seven of them;
* ``post_rr=False`` (low latency): beat i's features are known at R_i; ``post_rr`` and
  ``post_rr_norm`` are NaN (never computed, never fed). The other five are *bit-identical*
  to the ``post_rr=True`` ones for every beat: the first beat of a stream still takes its
  pre-RR from its post-RR, so it alone waits for the second R (otherwise the running means
  ``local_rr``/``long_rr`` of the next 300 beats would differ between the modes, and
  training, which reads them from :func:`edge_runtime.beats.extract_beats`, would see other
  numbers than the device).

What beat i's features read (held by tests/test_beat_causality.py): ``pre_rr``,
``local_rr``, ``long_rr`` and their norms: R-peak times up to R_i (up to R_1 for the first
beat); ``post_rr`` and ``post_rr_norm``: up to R_{i+1}.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

__all__ = ["RR_FEATURES", "POST_RR_FEATURES", "RRTracker", "rr_features"]

RR_FEATURES: tuple[str, ...] = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "long_rr",
    "pre_rr_norm",
    "post_rr_norm",
    "local_rr_norm",
)

#: The features that need the next R-peak (one beat of latency); the others are causal.
POST_RR_FEATURES: tuple[str, ...] = ("post_rr", "post_rr_norm")
_POST_COLS = [RR_FEATURES.index(f) for f in POST_RR_FEATURES]


class RRTracker:
    """Causal RR-feature state: feed R times one by one, get features of the previous beat.

    ``add(t)`` registers R-peak time ``t`` (seconds) and returns the features of the beat
    *before* it (now that its post-RR is known), or None for the first call. ``finish()``
    returns the features of the last beat (post-RR := pre-RR). Nothing ever reads a beat
    later than ``i + 1``.

    :meth:`add_beat` / :meth:`finish_beats` are the mode-aware API the windower uses: with
    ``post_rr=False`` they return beat i's features as soon as R_i is registered (the first
    beat at the second R), post-RR columns NaN, other columns the same numbers.
    """

    def __init__(self, local_beats: int = 10, long_beats: int = 300,
                 post_rr: bool = True) -> None:
        self.post_rr = bool(post_rr)
        self._local: deque[float] = deque(maxlen=local_beats)
        self._long: deque[float] = deque(maxlen=long_beats)
        self._long_sum = 0.0
        self._prev_t: float | None = None  # R_{i-1}
        self._cur_t: float | None = None  # R_i (waiting for its post-RR)

    def _features(self, pre: float | None, post: float | None) -> np.ndarray:
        if pre is None:
            pre = post
        if post is None:
            post = pre
        if pre is None or post is None:  # a single beat: nothing known; assume 60 bpm
            pre = post = 1.0
        if len(self._long) == self._long.maxlen:
            self._long_sum -= self._long[0]
        self._local.append(pre)
        self._long.append(pre)
        self._long_sum += pre
        # np.mean's own arithmetic (pairwise add.reduce, then / n) without its wrapper cost
        local = float(np.add.reduce(np.array(self._local)) / len(self._local))
        long = self._long_sum / len(self._long)
        return np.array(
            [pre, post, local, long, pre / long, post / long, local / long], dtype=np.float64
        )

    def add(self, t: float) -> np.ndarray | None:
        out = None
        if self._cur_t is not None:
            pre = None if self._prev_t is None else self._cur_t - self._prev_t
            out = self._features(pre, t - self._cur_t)
        self._prev_t, self._cur_t = self._cur_t, float(t)
        return out

    def finish(self) -> np.ndarray | None:
        """Features of the last beat (no successor); resets the pending beat."""
        if self._cur_t is None:
            return None
        pre = None if self._prev_t is None else self._cur_t - self._prev_t
        out = self._features(pre, None)
        self._prev_t, self._cur_t = self._cur_t, None
        return out

    @staticmethod
    def _no_post(f: np.ndarray) -> np.ndarray:
        f[_POST_COLS] = np.nan
        return f

    def add_beat(self, t: float) -> list[np.ndarray]:
        """Register R time ``t``; the feature rows that became known, in beat order.

        ``post_rr=True``: the previous beat's (as :meth:`add`). ``post_rr=False``: this beat's
        (pre-RR from the previous R), and at the second R also the first beat's.
        """
        if self.post_rr:
            f = self.add(t)
            return [] if f is None else [f]
        rows: list[np.ndarray] = []
        if self._cur_t is not None:
            rr = float(t) - self._cur_t
            if self._prev_t is None:  # the first beat waited for this one: pre := post
                rows.append(self._no_post(self._features(None, rr)))
            rows.append(self._no_post(self._features(rr, None)))
        self._prev_t, self._cur_t = self._cur_t, float(t)
        return rows

    def finish_beats(self) -> list[np.ndarray]:
        """End of stream: the rows still owed (with ``post_rr=False``: a lone first beat's)."""
        if self.post_rr:
            f = self.finish()
            return [] if f is None else [f]
        rows = []
        if self._cur_t is not None and self._prev_t is None:
            rows.append(self._no_post(self._features(None, None)))
        self._prev_t, self._cur_t = None, None
        return rows


def rr_features(times_s: Sequence[float], local_beats: int = 10, long_beats: int = 300):
    """RR features of every beat of a whole record, via :class:`RRTracker` (same code)."""
    tracker = RRTracker(local_beats, long_beats)
    rows = []
    for t in times_s:
        f = tracker.add(t)
        if f is not None:
            rows.append(f)
    last = tracker.finish()
    if last is not None:
        rows.append(last)
    if not rows:
        return np.zeros((0, len(RR_FEATURES)), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32)
