"""The pipeline's outputs: records fanned out to the sinks, output failures as technical alarms.

Monitoring must never stop because an output failed. :meth:`Outputs.emit` hands a record to
every sink and catches whatever a sink raises (that sink is then down until it takes a record
again). Sinks and the strip writer report their own health (``health()``; see
:mod:`edge_runtime.sinks`); :meth:`Outputs.poll` turns changes into technical alarms:
``storage`` (journal or strips cannot write: disk full, I/O error) and ``sink_down`` (webhook,
MQTT, console). One alarm per kind while any of its outputs is down; its evidence names the
outputs and the first reason; it ends when all of them work again. The alarm records go to
every sink (the journal keeps them in memory while its disk is full, the console always shows
them). Reports of network sinks (``sink_overflow``, ``sink_rejected``) go to the local sinks.

Why these alarms are not the alert engine's: the engine's state is a function of the signal
alone (same record, same alarms and ids, live or offline); an output failure is a wall-clock
event of this box. Their ids (``<device>-out0001-storage``) never shift the engine's ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from edge_runtime.alerts import Alert, AlertUpdate
from edge_runtime.sinks import OK, SinkHealth

__all__ = ["Outputs", "OUTPUT_ALARMS"]

#: Technical alarm types raised for failing outputs.
OUTPUT_ALARMS = ("storage", "sink_down")


def _name(x: Any) -> str:
    return str(getattr(x, "name", type(x).__name__))


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Outputs:
    """Fan-out to ``sinks`` and health of them and of ``extra`` outputs (the strip writer)."""

    def __init__(self, sinks: Iterable[Any], device_id: str, extra: Iterable[Any] = ()) -> None:
        self.sinks = list(sinks)
        self.device_id = device_id
        self._reporting = [s for s in self.sinks
                           if hasattr(s, "take_reports") or hasattr(s, "overflow_report")]
        self._local = [s for s in self.sinks if s not in self._reporting]
        self._watched = [*self.sinks, *extra]
        self._raised: dict[str, str] = {}  # sink name -> what it raised last
        self._down: dict[str, dict[str, str]] = {k: {} for k in OUTPUT_ALARMS}
        self._since: dict[str, float] = {}
        self.active: dict[str, Alert] = {}
        self._seq = 0

    # ------------------------------------------------------------------ records
    def _handle(self, sink: Any, record: dict) -> None:
        try:
            sink.handle(record)
        except Exception as exc:  # noqa: BLE001 - a sink failure must not reach the signal path
            self._raised[_name(sink)] = _reason(exc)
            return
        if self._raised:
            self._raised.pop(_name(sink), None)

    def emit(self, record: dict) -> dict:
        """``record`` to every sink, then the network sinks' reports to the local ones."""
        for s in self.sinks:
            self._handle(s, record)
        for s in self._reporting:
            take = getattr(s, "take_reports", None)
            if take is not None:
                reps = take()
            else:
                one = s.overflow_report()
                reps = [] if one is None else [one]
            for rep in reps:
                for t in self._local:
                    self._handle(t, rep)
        return record

    # ------------------------------------------------------------------ health
    def _health(self, out: Any) -> SinkHealth:
        name = _name(out)
        if name in self._raised:
            return SinkHealth(False, self._raised[name])
        fn = getattr(out, "health", None)
        if fn is None:
            return OK
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            return SinkHealth(False, _reason(exc))

    def poll(self, time_s: float) -> list[AlertUpdate]:
        """Onset/end updates of the output alarms whose state changed since the last poll."""
        down: dict[str, dict[str, str]] = {k: {} for k in OUTPUT_ALARMS}
        for o in self._watched:
            h = self._health(o)
            if not h.ok:
                kind = getattr(o, "alarm_kind", "sink_down")
                down["storage" if kind == "storage" else "sink_down"][_name(o)] = h.reason
        if down == self._down:
            return []
        self._down = down
        updates: list[AlertUpdate] = []
        for kind, outs in down.items():
            if outs and kind not in self.active:
                self._seq += 1
                alert = Alert(id=f"{self.device_id}-out{self._seq:04d}-{kind}", type=kind,
                              severity="technical", start_s=time_s, raised_s=time_s,
                              device_id=self.device_id,
                              evidence={"outputs": sorted(outs),
                                        "reason": outs[sorted(outs)[0]]})
                self.active[kind] = alert
                self._since[kind] = time.monotonic()
                updates.append(AlertUpdate("onset", time_s, alert))
            elif not outs and kind in self.active:
                updates.append(self._end(kind, time_s))
        return updates

    def _end(self, kind: str, time_s: float, **evidence: Any) -> AlertUpdate:
        alert = self.active.pop(kind)
        alert.end_s = max(time_s, alert.start_s)
        down_s = round(time.monotonic() - self._since.pop(kind), 3)
        alert.evidence = {**alert.evidence, "down_s": down_s, **evidence}
        return AlertUpdate("end", time_s, alert)

    def finish(self, time_s: float, settle_s: float = 3.0) -> list[AlertUpdate]:
        """End of the session: let network sinks try what they hold (up to ``settle_s``, so
        a sink that is down is known and journaled even on a short offline run), then the
        last changes and the end of the output alarms still active."""
        deadline = time.monotonic() + settle_s
        for s in self.sinks:
            settle = getattr(s, "settle", None)
            if settle is not None:
                settle(max(0.0, deadline - time.monotonic()))
        ups = self.poll(time_s)
        return ups + [self._end(k, time_s, ended_by="end_of_stream") for k in list(self.active)]
