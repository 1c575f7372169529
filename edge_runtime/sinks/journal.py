"""JSONL run journal: append-only, fsync per alert, readable after kill -9.

One JSON object per line. Alert records are written, flushed and ``os.fsync``-ed before
``handle`` returns, so once the pipeline has moved past an alert it survives a kill -9 or a
power cut. Beats are batched (one ``beats`` line per ``beat_batch`` beats, or earlier when an
alert or status record is written, to keep the order) because fsyncing 100 beats a minute
would wear an SD card for no clinical gain; an unwritten beat batch is the only thing a
kill can lose. A kill can leave a partial last line: :func:`read_journal` skips it and
:class:`JournalSink` starts a fresh line before appending to such a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edge_runtime.errors import EcgEdgeError

__all__ = ["JournalSink", "read_journal"]

_SYNC_EVENTS = frozenset({"alert", "session", "summary", "sink_overflow"})


class JournalSink:
    """Append records to ``path`` (JSON lines)."""

    name = "journal"

    def __init__(self, path: str | Path, beat_batch: int = 64, fsync: bool = True) -> None:
        self.path = Path(path)
        self.beat_batch = int(beat_batch)
        self.fsync = fsync
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+b")  # noqa: SIM115 - kept open for the whole run
        except OSError as exc:
            raise EcgEdgeError(f"cannot open journal {self.path}: {exc.strerror}") from None
        self._fh.seek(0, os.SEEK_END)
        if self._fh.tell() > 0:
            self._fh.seek(-1, os.SEEK_END)
            if self._fh.read(1) != b"\n":  # partial line left by a kill: terminate it
                self._fh.write(b"\n")
        self._beats: list[dict[str, Any]] = []
        self.lines = 0

    def _write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self.lines += 1

    def _flush_beats(self) -> None:
        if not self._beats:
            return
        b = self._beats
        self._beats = []
        self._write({
            "event": "beats",
            "index": [x["index"] for x in b],
            "sample": [x["sample"] for x in b],
            "time_s": [x["time_s"] for x in b],
            "label": [x.get("label") for x in b],
            "prob": [x.get("prob") for x in b],
            "decided_s": [x.get("decided_s") for x in b],
        })

    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        if ev == "beat":
            self._beats.append(record)
            if len(self._beats) >= self.beat_batch:
                self._flush_beats()
                self._fh.flush()
            return
        self._flush_beats()  # keep beats before the record that follows them
        self._write(record)
        self._fh.flush()
        if ev in _SYNC_EVENTS and self.fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh.closed:
            return
        self._flush_beats()
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self._fh.close()


def read_journal(path: str | Path) -> tuple[list[dict[str, Any]], int]:
    """All complete records of a journal and the number of unreadable lines skipped.

    A partial line (a write cut by a kill) is skipped, wherever it is: the writer starts a
    fresh line after it on the next run. Beat batches are returned as written (``beats``).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise EcgEdgeError(f"journal not found: {p}") from None
    except OSError as exc:
        raise EcgEdgeError(f"cannot read journal {p}: {exc.strerror}") from None
    records, bad = [], 0
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
            continue
        if isinstance(rec, dict):
            records.append(rec)
        else:
            bad += 1
    return records, bad
