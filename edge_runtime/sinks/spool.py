"""Bounded FIFO of records waiting for a network sink, mirrored to JSONL segment files.

Why on disk: an alert raised while the nurse station's webhook or the MQTT broker is away
must reach it when it returns, also after the runtime was restarted. Why bounded: a sink that
never returns must not fill the SD card; when a bound (records or bytes) is exceeded the
*oldest* segment is dropped and counted in ``dropped`` (the owner journals the count).

Records live in memory (the queue) and in ``<dir>/<segment>.jsonl`` files of at most
``segment_records`` records; a segment's file is deleted once all its records were delivered
(``ack``) or dropped. A restart reloads the files in order (a record delivered just before a
crash may be delivered again: receivers de-duplicate by the alert ``id``). Without a
directory, or while the disk refuses writes (``disk_error``), the spool is memory-only.
Thread-safe: the pipeline appends, the sink's worker thread peeks and acks.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

__all__ = ["Spool"]


class Spool:
    """``append`` records; ``peek`` the oldest as ``(seq, record)``; ``ack(seq)`` it."""

    def __init__(self, directory: str | Path | None = None, max_records: int = 10_000,
                 max_bytes: int = 16 << 20, segment_records: int | None = None) -> None:
        if max_records < 1 or max_bytes < 1:
            raise ValueError("spool bounds must be positive")
        self.dir = None if directory is None else Path(directory)
        self.max_records = int(max_records)
        self.max_bytes = int(max_bytes)
        self.segment_records = segment_records or max(1, min(100, self.max_records // 10))
        self._lock = threading.Lock()
        self._q: deque[tuple[int, int, int, dict[str, Any]]] = deque()  # seq, seg, bytes, rec
        self._left: dict[int, int] = {}  # segment -> records not yet acked/dropped
        self._bytes = 0
        self._seq = 0
        self._seg = 0  # segment new records go to
        self.dropped = 0
        self.disk_error: str | None = None
        if self.dir is not None:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
                self._load()
            except OSError as exc:
                self.disk_error = exc.strerror or str(exc)

    # ------------------------------------------------------------------ disk
    def _path(self, seg: int) -> Path:
        assert self.dir is not None
        return self.dir / f"{seg:08d}.jsonl"

    def _load(self) -> None:
        """Records a previous run left undelivered, oldest first."""
        assert self.dir is not None
        files = sorted(p for p in self.dir.glob("*.jsonl") if p.stem.isdigit())
        for f in files:
            seg = int(f.stem)
            for line in f.read_bytes().split(b"\n"):
                try:
                    rec = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue  # blank, or a line cut by a kill
                if isinstance(rec, dict):
                    self._push(seg, len(line) + 1, rec)
            if self._left.get(seg, 0) == 0:
                f.unlink(missing_ok=True)
        if files:
            self._seg = int(files[-1].stem) + 1  # never append after a possibly cut line
        self._bound()

    def _write(self, seg: int, line: bytes) -> bool:
        if self.dir is None:
            return False
        try:
            with open(self._path(seg), "ab") as fh:
                fh.write(line)
            self.disk_error = None
            return True
        except OSError as exc:
            self.disk_error = exc.strerror or str(exc)
            return False

    def _forget(self, seg: int) -> None:
        """One record of ``seg`` is done; delete the file when none is left."""
        left = self._left.get(seg, 0) - 1
        if left > 0:
            self._left[seg] = left
            return
        self._left.pop(seg, None)
        if self.dir is not None and seg >= 0:
            try:
                self._path(seg).unlink(missing_ok=True)
            except OSError:
                pass
            if seg == self._seg:
                self._seg += 1

    # ------------------------------------------------------------------ queue
    def _push(self, seg: int, nbytes: int, rec: dict[str, Any]) -> None:
        self._seq += 1
        self._q.append((self._seq, seg, nbytes, rec))
        self._left[seg] = self._left.get(seg, 0) + 1
        self._bytes += nbytes

    def _bound(self) -> None:
        """Drop the oldest segment while a bound is exceeded."""
        while self._q and (len(self._q) > self.max_records or self._bytes > self.max_bytes):
            seg = self._q[0][1]
            while self._q and self._q[0][1] == seg:
                _, _, nbytes, _ = self._q.popleft()
                self._bytes -= nbytes
                self.dropped += 1
                self._forget(seg)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            if self._left.get(self._seg, 0) >= self.segment_records:
                self._seg += 1
            seg = self._seg if self._write(self._seg, line) else -1  # -1: memory only
            self._push(seg, len(line), record)
            self._bound()

    def peek(self) -> tuple[int, dict[str, Any]] | None:
        with self._lock:
            if not self._q:
                return None
            seq, _, _, rec = self._q[0]
            return seq, rec

    def ack(self, seq: int) -> None:
        """``seq`` was delivered (ignored if it was dropped meanwhile)."""
        with self._lock:
            if not self._q or self._q[0][0] != seq:
                return
            _, seg, nbytes, _ = self._q.popleft()
            self._bytes -= nbytes
            self._forget(seg)

    def __len__(self) -> int:
        return len(self._q)

    @property
    def nbytes(self) -> int:
        return self._bytes
