"""Console sink: one live status line plus a line per alert, for a person at the bedside.

On a terminal the status line is redrawn in place (``\\r``); otherwise (a pipe, a log file)
every status is its own line so logs stay readable. Beats are not printed one by one.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["ConsoleSink", "format_alert", "format_status"]

_MARK = {"technical": "[TECH]", "advisory": "[ADVI]", "warning": "[WARN]", "crisis": "[CRIT]"}


def _clock(t: float | None) -> str:
    if t is None:
        return "--:--:--"
    t = int(t)
    return f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"


def format_alert(rec: dict[str, Any]) -> str:
    """``[CRIT] 00:12:03 onset asystole (id) ...`` for one alert record."""
    ev = rec.get("evidence", {})
    bits = []
    for key in ("hr_bpm", "rr_s", "run_length", "rate_bpm", "pvc_per_min", "prob", "lost",
                "alarm_delay_s", "rmssd_ratio"):
        if key in ev and ev[key] is not None:
            v = ev[key]
            bits.append(f"{key}={v:.3g}" if isinstance(v, float) else f"{key}={v}")
    if rec.get("type") in ("storage", "sink_down"):  # which output failed, and why
        outs = ev.get("outputs") or []
        bits += [",".join(outs)] + ([str(ev["reason"])] if ev.get("reason") else [])
    tail = (" " + " ".join(bits)) if bits else ""
    when = rec.get("start_s") if rec.get("action") == "onset" else rec.get("time_s")
    return (f"{_MARK.get(rec.get('severity'), '[????]')} {_clock(when)} {rec.get('action')} "
            f"{rec.get('type')}{tail} [{rec.get('id')}]")


def format_status(rec: dict[str, Any]) -> str:
    """Compact live line: time, HR, beat counts per class, active alerts, gaps."""
    hr = rec.get("hr_bpm")
    counts = rec.get("beats_per_class", {})
    cls = " ".join(f"{k}:{v}" for k, v in counts.items() if v)
    active = ",".join(rec.get("active_alerts", [])) or "-"
    return (f"{_clock(rec.get('time_s'))} HR {'---' if hr is None else f'{hr:3.0f}'} bpm "
            f"beats {rec.get('beats', 0)} [{cls}] alerts {active} gaps {rec.get('gaps', 0)}")


class ConsoleSink:
    name = "console"

    def __init__(self, stream: TextIO | None = None, live: bool | None = None,
                 show_status: bool = True) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.show_status = show_status
        self._status_shown = False

    def _line(self, text: str) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[K")
            self._status_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        if ev == "alert":
            self._line(format_alert(record))
        elif ev == "status" and self.show_status:
            text = format_status(record)
            if self.live:
                self.stream.write("\r\x1b[K" + text)
                self.stream.flush()
                self._status_shown = True
            else:
                self._line(text)
        elif ev == "sink_overflow":
            self._line(f"[TECH] sink {record['sink']} dropped {record['dropped']} records")
        elif ev == "sink_rejected":
            self._line(f"[TECH] sink {record['sink']} refused {record.get('id')}: "
                       f"{record.get('reason')}")
        elif ev == "session" and record.get("action") == "start":
            self._line(f"session {record.get('source')} fs={record.get('fs')} "
                       f"leads={','.join(record.get('leads', []))}")

    def close(self) -> None:
        if self._status_shown:
            self.stream.write("\n")
            self.stream.flush()
            self._status_shown = False
