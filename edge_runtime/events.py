"""Keyed event queue: events leave in key order, once every event with a smaller key is known.

Determinism (offline run == live replay, a test): every event the alert engine sees carries
an integer *key*, the number of input samples that had arrived when the event became known
(a beat: ``decided_at + 1``; a classified beat: when its window had passed the resampler
*and* the decision it waits for was made, its successor's with post-RR features, else its
own (docs/beat_latency.md); a window or a VF analysis: when its last sample had; a
tick: every
``tick_s`` of signal). Events wait here until every event with a smaller key is known (after
a push of ``n`` samples, that is every key ``<= n``), then leave in key order. How the stream
was cut into blocks (decoder frames, serial reads, a whole record) therefore cannot change a
beat, an alert or the moment it was raised.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any, Final

from edge_runtime.alerts import (
    BeatEvent,
    BeatLabel,
    LeadBeat,
    QualityEvent,
    RhythmEvent,
    TechnicalEvent,
    Tick,
    WindowEvent,
)
from edge_runtime.dsp import StreamingResampler

__all__ = ["EventQueue", "TICK", "needed_inputs"]

#: Order of events with the same key: beats (and other leads' beats) first, then labels,
#: windows and rhythm analyses, quality and technical, ticks.
PRIORITY: dict[type, int] = {BeatEvent: 0, LeadBeat: 0, BeatLabel: 1, WindowEvent: 2,
                             RhythmEvent: 2, QualityEvent: 3, TechnicalEvent: 3, Tick: 4}

#: What :meth:`EventQueue.release` yields when a tick is due (ticks are implicit, not queued).
TICK: Final = object()


def needed_inputs(n_out: int, rs: StreamingResampler) -> int:
    """Input samples needed before the resampler has produced ``n_out`` outputs (a key)."""
    if n_out <= 0:
        return 0
    return ((n_out - 1) * rs.down) // rs.up + 1


class EventQueue:
    """A heap of ``(key, priority, arrival, item)``, with a tick every ``tick_every`` keys.

    ``item`` is an alert-engine event (its priority from :data:`PRIORITY`) or anything else
    with an explicit priority (the pipeline queues its beat and window records for the sinks
    here too, so they leave in the same order). A tick at key ``k`` leaves after every
    queued item with key ``<= k``.
    """

    def __init__(self, tick_every: int) -> None:
        self._heap: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self.tick_every = max(1, int(tick_every))
        self.next_tick = self.tick_every

    def put(self, key: int, item: Any, prio: int | None = None) -> None:
        """Queue ``item`` at ``key``; ``prio`` orders items with the same key."""
        self._seq += 1
        p = PRIORITY[type(item)] if prio is None else prio
        heapq.heappush(self._heap, (key, p, self._seq, item))

    def release(self, n: int) -> Iterator[tuple[int, Any]]:
        """Yield ``(key, item)`` for every item and tick with key ``<= n``, in order.

        A due tick is yielded as ``(key, TICK)``.
        """
        q = self._heap
        while True:
            tick = self.next_tick
            if tick <= n and (not q or q[0][0] > tick):
                self.next_tick += self.tick_every
                yield tick, TICK
                continue
            if not q or q[0][0] > n:
                return
            key, _, _, item = heapq.heappop(q)
            yield key, item
