"""JSONL run journal: append-only, fsync per alert, readable after kill -9, never stops a run.

One JSON object per line. Alert records are written, flushed and ``os.fsync``-ed before
``handle`` returns, so once the pipeline has moved past an alert it survives a kill -9 or a
power cut. Beats are batched (one ``beats`` line per ``beat_batch`` beats, or earlier when an
alert or status record is written, to keep the order) because fsyncing 100 beats a minute
would wear an SD card for no clinical gain; an unwritten beat batch is the only thing a
kill can lose. A kill can leave a partial last line: :func:`read_journal` skips it and
:class:`JournalSink` starts a fresh line before appending to such a file.

A write that fails (disk full, I/O error) never raises: the sink reports itself down
(``health()``, a ``storage`` technical alarm), keeps the unwritten lines in memory (at most
``max_pending_bytes``; beyond that the oldest are dropped and counted) and tries again at
most every ``retry_s`` seconds. When a write succeeds again, a ``sink_overflow`` line with the
count of dropped lines (if any) comes first, then the kept lines in order. Bytes are written
with ``os.write`` and a cut write continues where it stopped, so the file stays line-clean.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from edge_runtime.errors import EcgEdgeError
from edge_runtime.sinks import OK, SinkHealth

__all__ = ["JournalSink", "read_journal"]

log = logging.getLogger("ecgedge.sinks")

_SYNC_EVENTS = frozenset({"alert", "session", "summary", "sink_overflow", "sink_rejected"})


class JournalSink:
    """Append records to ``path`` (JSON lines)."""

    name = "journal"
    alarm_kind = "storage"

    def __init__(self, path: str | Path, beat_batch: int = 64, fsync: bool = True,
                 retry_s: float = 1.0, max_pending_bytes: int = 8 << 20) -> None:
        self.path = Path(path)
        self.beat_batch = int(beat_batch)
        self.fsync = fsync
        self.retry_s = retry_s
        self.max_pending_bytes = max_pending_bytes
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a+b", buffering=0)  # noqa: SIM115 - kept open
        except OSError as exc:
            raise EcgEdgeError(f"cannot open journal {self.path}: {exc.strerror}") from None
        self._fd = self._fh.fileno()
        self._fh.seek(0, os.SEEK_END)
        self._pending: deque[bytes] = deque()  # lines (or the rest of a cut one) to write
        self._pending_bytes = 0
        self._newline = False  # the file ends inside a line: write b"\n" first
        self._cut = False  # the first pending chunk is the rest of a line cut by a failure
        if self._fh.tell() > 0:
            self._fh.seek(-1, os.SEEK_END)
            self._newline = self._fh.read(1) != b"\n"  # partial line left by a kill
        self._beats: list[dict[str, Any]] = []
        self.lines = 0
        self.dropped = 0  # lines lost while the disk refused writes
        self._dropped_unreported = 0
        self._error: str | None = None
        self._retry_at = 0.0

    def health(self) -> SinkHealth:
        return OK if self._error is None else SinkHealth(False, self._error)

    def _add(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        self._pending.append(line)
        self._pending_bytes += len(line)

    def _flush_beats(self) -> None:
        if not self._beats:
            return
        b = self._beats
        self._beats = []
        self._add({
            "event": "beats",
            "index": [x["index"] for x in b],
            "sample": [x["sample"] for x in b],
            "time_s": [x["time_s"] for x in b],
            "label": [x.get("label") for x in b],
            "prob": [x.get("prob") for x in b],
            "decided_s": [x.get("decided_s") for x in b],
        })

    def _bound(self) -> None:
        """While down: keep at most ``max_pending_bytes``, dropping the oldest lines."""
        while self._pending_bytes > self.max_pending_bytes and len(self._pending) > 1:
            head = self._pending.popleft()
            self._pending_bytes -= len(head)
            self.dropped += 1
            self._dropped_unreported += 1
            if self._cut:  # the rest of a cut line: that line stays partial, start afresh
                self._cut = False
                self._newline = True

    def _commit(self, sync: bool, force: bool = False) -> None:
        """Write what is pending (and fsync if ``sync``); on failure go down, never raise."""
        if self._error is not None and not force and time.monotonic() < self._retry_at:
            self._bound()
            return
        prefix = b"\n" if self._newline else b""
        note = b""
        if self._dropped_unreported:  # the dropped lines were the oldest: say so first
            note = json.dumps({
                "event": "sink_overflow", "sink": self.name, "what": "journal",
                "dropped": self._dropped_unreported, "dropped_total": self.dropped,
                "reason": self._error}, separators=(",", ":")).encode() + b"\n"
        data = prefix + note + b"".join(self._pending)
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
            if sync and self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self._fail(exc, data, done, len(prefix), len(note))
            return
        self.lines += data.count(b"\n") - len(prefix)
        self._pending.clear()
        self._pending_bytes = 0
        self._newline = self._cut = False
        self._dropped_unreported = 0
        if self._error is not None:
            log.warning("journal %s: writing again", self.path)
            self._error = None

    def _fail(self, exc: OSError, data: bytes, done: int, prefix: int, note: int) -> None:
        """``data[:done]`` reached the file: keep the rest (a cut line continues later)."""
        if done >= prefix:
            self._newline = False
        head = prefix + note
        if note and done < head:  # the overflow note did not make it: it is made again
            if done > prefix:  # a cut note: end that line before the next
                self._newline = True
            rest = data[head:]
        else:
            self._dropped_unreported = 0
            rest = data[max(done, prefix):]
            if done > prefix:  # (nothing written: the first chunk is what it was)
                self._cut = data[done - 1:done] != b"\n"
        self.lines += data[:done].count(b"\n") - (prefix if done >= prefix else 0)
        self._pending = deque(rest.splitlines(keepends=True))
        self._pending_bytes = len(rest)
        reason = f"{self.path}: {exc.strerror or exc}"
        if self._error is None:
            log.warning("journal %s", reason)
        self._error = reason
        self._retry_at = time.monotonic() + self.retry_s
        self._bound()

    def handle(self, record: dict[str, Any]) -> None:
        ev = record.get("event")
        if ev == "beat":
            self._beats.append(record)
            if len(self._beats) >= self.beat_batch:
                self._flush_beats()
                self._commit(sync=False)
            return
        self._flush_beats()  # keep beats before the record that follows them
        self._add(record)
        self._commit(sync=ev in _SYNC_EVENTS)

    def close(self) -> None:
        if self._fh.closed:
            return
        self._flush_beats()
        self._commit(sync=True, force=True)
        if self._pending or self._dropped_unreported:
            log.warning("journal %s: %d record(s) could not be written (%s)", self.path,
                        len(self._pending) + self.dropped, self._error)
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
