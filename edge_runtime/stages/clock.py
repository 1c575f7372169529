"""The clock of the per-stage timers (``Pipeline.stage_seconds``, model seconds).

Benchmarks on a shared machine set it to ``time.process_time`` (CPU seconds of this process)
so that other processes do not count; everything else keeps the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_clock: Callable[[], float] = time.perf_counter


def set_stage_clock(clock: Callable[[], float]) -> None:
    """Choose the clock used for ``stage_seconds`` and model timings."""
    global _clock
    _clock = clock


def now() -> float:
    """The current reading of the stage clock, in seconds."""
    return _clock()
