"""HTTP webhook sink: POST each alert as JSON, retrying with exponential back-off.

Uses only the standard library (urllib). A 2xx answer is success; a 4xx other than 408/429
is a permanent refusal (retrying would not help); anything else (5xx, timeout, connection
refused) is retried ``retries`` times, waiting ``backoff_s * 2**k`` (capped at
``max_backoff_s``) and then raises :class:`~edge_runtime.sinks.SinkError`; a permanent refusal
raises :class:`~edge_runtime.sinks.SinkRejected`. Run it behind
:class:`edge_runtime.sinks.spooled.SpooledSink` so the waiting happens on a worker thread,
never in the signal path, and an alert that could not be delivered waits in the spool until
the receiver is back (an unresolvable host, a refused connection, a 5xx are all "down").
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from edge_runtime.sinks import SinkError, SinkRejected

__all__ = ["WebhookSink"]


class WebhookSink:
    name = "webhook"

    def __init__(
        self,
        url: str,
        events: tuple[str, ...] = ("alert", "sink_overflow", "sink_rejected"),
        retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            from edge_runtime.errors import EcgEdgeError

            raise EcgEdgeError(f"webhook URL must start with http:// or https://: {url}")
        self.url = url
        self.events = set(events)
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout_s = timeout_s
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.sent = 0
        self.attempts = 0

    def handle(self, record: dict[str, Any]) -> None:
        if record.get("event") not in self.events:
            return
        body = json.dumps(record).encode()
        last = ""
        for k in range(self.retries + 1):
            if k:
                time.sleep(min(self.backoff_s * 2 ** (k - 1), self.max_backoff_s))
            self.attempts += 1
            req = urllib.request.Request(self.url, data=body, headers=self.headers,
                                         method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    resp.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    raise SinkRejected(f"webhook {self.url} refused the record: {last}") from None
            except (urllib.error.URLError, OSError) as exc:
                last = str(getattr(exc, "reason", exc))
        raise SinkError(f"webhook {self.url}: gave up after {self.retries + 1} tries ({last})")

    def close(self) -> None:
        pass
