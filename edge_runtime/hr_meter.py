"""The heart-rate meter: what the monitor displays and what the rate alarms compare.

Stated as ANSI/AAMI EC13 4.1.2.1 asks ("averaging", "response to irregular rhythm", "tall
T-wave rejection"):

* **Averaging.** ``HR = 60 * k / (sum of the last k accepted RR intervals)``, with ``k`` the
  number of accepted RR intervals that ended within the last ``window_s`` (10 s) of the
  newest beat, at least 2 and at most ``max_rr`` (8), and always **even** (rounded down). An
  even count spans whole cycles of an alternating rhythm, so ventricular bigeminy (short,
  long, short, long ...) shows its true beat rate (EC13 4.1.2.1 e: 80 bpm on the ventricular
  bigeminy waveform, 60 bpm on the slow alternating one) instead of swinging with the phase.
  The time limit keeps the display from lagging at slow rates: at 30 bpm the mean covers the
  last 4 intervals (8 s), not 8 (16 s). The rate is updated at every beat.
* **Rejection of double detections** (``reject_early``). A detection that comes at most
  ``early_s`` (0.36 s, the detector's own T-wave discrimination window) after the previous
  accepted beat *and* splits the interval to the next detection at less than
  ``early_frac`` (0.4) of it is left out of the rate: the two intervals count as one. That
  is the signature of a tall T wave (or a spike) counted as a beat once per cycle: it
  otherwise adds a beat per cycle (75 bpm shown for 60 on slow alternating bigeminy with a
  tall T). Real beats that close are rare (an R-on-T extrasystole with a long pause after
  it); the beat itself is still detected, classified and alarmed on, only the displayed rate
  does not count it. The decision waits for the next detection, so a candidate is left out
  of the rate until then.

The meter works on beat times only (the detector's beats); it never changes the beat list,
labels or class rules.
"""

from __future__ import annotations

from collections import deque

__all__ = ["HeartRateMeter"]


class HeartRateMeter:
    """``add(t)`` for each detected beat (s), ``rate()`` -> bpm or None; ``clear()`` at a gap."""

    def __init__(self, max_rr: int = 8, window_s: float = 10.0, reject_early: bool = True,
                 early_s: float = 0.36, early_frac: float = 0.4) -> None:
        self.max_rr = max(1, int(max_rr))
        self.window_s = float(window_s)
        self.reject_early = bool(reject_early)
        self.early_s, self.early_frac = float(early_s), float(early_frac)
        self._rr: deque[tuple[float, float]] = deque(maxlen=self.max_rr)  # (end time, RR)
        self._last: float | None = None      # last accepted beat
        self._pending: float | None = None   # a detection waiting for the next one
        self.rejected = 0                    # detections left out of the rate so far

    def clear(self) -> None:
        """Forget the intervals (a data gap: an RR across it is unknown)."""
        self._rr.clear()
        self._last = None
        self._pending = None

    def add(self, t: float) -> None:
        """A detected beat at ``t`` s (in increasing order)."""
        if self._last is None:
            self._last = t
            return
        if self._pending is not None:
            q, whole = self._pending - self._last, t - self._last
            if whole > 0 and q < self.early_frac * whole:
                self.rejected += 1        # the pending detection splits one interval: drop it
            else:
                self._accept(self._pending)
            self._pending = None
        if self.reject_early and t - self._last <= self.early_s:
            self._pending = t
            return
        self._accept(t)

    def _accept(self, t: float) -> None:
        rr = t - self._last
        if rr > 0:
            self._rr.append((t, rr))
        self._last = t

    def rate(self) -> float | None:
        """The displayed heart rate (bpm): see the module docstring for the averaging."""
        rr = self._rr
        if not rr:
            return None
        newest = rr[-1][0]
        in_window = sum(1 for end, _ in rr if end > newest - self.window_s)
        k = min(len(rr), max(in_window, 2))
        if k >= 2:
            k -= k % 2
        total = sum(r for _, r in list(rr)[-k:])
        return 60.0 * k / total if total > 0 else None
