"""Onset/offset hysteresis: the guard against alarms that chatter around a limit.

An alarm that toggles every beat around a limit is ignored by staff (alarm fatigue). Separate
onset and offset conditions, each of which must hold for a minimum time, make each alert one
episode. Rules that need it (rate, AF, lead-off, noise) hold one :class:`Hysteresis` each.
"""

from __future__ import annotations


class Hysteresis:
    """Onset after ``on`` held for ``onset_s``; offset after ``off`` held for ``offset_s``.

    ``update`` returns ``("onset", since)``, ``("offset", since)`` or None, where ``since``
    is the signal time at which the condition started holding (the episode's true start/end).
    """

    def __init__(self, onset_s: float, offset_s: float) -> None:
        self.onset_s, self.offset_s = float(onset_s), float(offset_s)
        self.active = False
        self._since: float | None = None

    @property
    def pending(self) -> bool:
        """A condition is holding but has not held long enough yet."""
        return self._since is not None

    def reset(self) -> None:
        """Back to inactive with nothing pending (an onset that was refused or held)."""
        self.active = False
        self._since = None

    def update(self, t: float, on: bool, off: bool) -> tuple[str, float] | None:
        cond = off if self.active else on
        if not cond:
            self._since = None
            return None
        if self._since is None:
            self._since = t
        if t - self._since >= (self.offset_s if self.active else self.onset_s):
            since, self._since = self._since, None
            self.active = not self.active
            return ("onset" if self.active else "offset", since)
        return None
