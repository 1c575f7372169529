"""The browsers subscribed to one live page (bedside or station): Server-Sent Events.

Each browser gets a bounded queue of encoded messages that its HTTP thread drains. A
broadcast never waits: a browser whose queue is full is dropped (its stream ends with an
end marker, the page reconnects and starts from a fresh snapshot) and counted, so a slow
client can never hold back the signal path. Not locked itself: the owner (``WebSink``,
``Station``) calls it under its own lock, together with the state it snapshots.
"""

from __future__ import annotations

import json
import queue
import time

__all__ = ["Client", "ClientSet", "sse_message"]


def sse_message(kind: str, data: dict) -> bytes:
    """One Server-Sent Event ``kind`` with ``data`` as compact JSON (plus the wall time)."""
    body = json.dumps({**data, "wall": time.time()}, separators=(",", ":"))
    return f"event: {kind}\ndata: {body}\n\n".encode()


class Client:
    """One browser's stream: a bounded queue of encoded messages; ``None`` ends it."""

    def __init__(self, maxsize: int) -> None:
        self.q: queue.Queue[bytes | None] = queue.Queue(maxsize=maxsize)
        self.dropped = False


class ClientSet:
    """The subscribed browsers of one page, each with a queue of ``maxsize`` messages."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._clients: list[Client] = []
        self.dropped = 0  # clients dropped for being too slow, over the run

    def __len__(self) -> int:
        return len(self._clients)

    def add(self) -> Client:
        c = Client(self.maxsize)
        self._clients.append(c)
        return c

    def remove(self, c: Client) -> None:
        if c in self._clients:
            self._clients.remove(c)

    def broadcast(self, msg: bytes) -> None:
        """To every client, never blocking: a full queue drops that client."""
        for c in list(self._clients):
            try:
                c.q.put_nowait(msg)
            except queue.Full:
                self._clients.remove(c)
                c.dropped = True
                self.dropped += 1
                _end(c)

    def close(self) -> None:
        """End every stream (server shutting down)."""
        for c in self._clients:
            _end(c)
        self._clients.clear()


def _end(c: Client) -> None:
    """Queue the end marker, making room for it, so the client's thread stops now."""
    try:
        c.q.put_nowait(None)
    except queue.Full:
        try:
            c.q.get_nowait()
            c.q.put_nowait(None)
        except (queue.Empty, queue.Full):
            pass
