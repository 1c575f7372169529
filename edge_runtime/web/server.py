"""The web view's HTTP server: the page, its static files, ``/api/status`` and a live stream.

Standard library only (``http.server.ThreadingHTTPServer``, one thread per connection):
a bedside box serves one or two browsers, and a framework would add dependencies to a
Raspberry Pi install for nothing. The live stream is Server-Sent Events (``/api/events``):
one long response per page, the browser reconnects by itself, no websocket library needed.

Routes: ``GET /`` (the bedside page), ``GET /static/<file>``, ``GET /api/status`` (JSON),
``GET /api/events`` (SSE: ``snapshot`` first, then ``samples``, ``beats``, ``status``,
``alert``), ``POST /api/ack`` ``{"id": ..., "by": ...}`` and
``POST /api/pause`` ``{"seconds": ..., "by": ...}``; for the station also
``GET /api/bed?bed=NAME`` (one bed's detail) and ``GET /api/strip.png?bed=NAME``.
"""

from __future__ import annotations

import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from edge_runtime.errors import EcgEdgeError

__all__ = ["WebServer", "parse_hostport"]

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".txt": "text/plain"}
_KEEPALIVE_S = 10.0


def parse_hostport(spec: str, flag: str = "--web") -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, or ``PORT``) -> (host, port); bad input is one line."""
    host, sep, port = spec.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", spec
    try:
        n = int(port)
        if not 0 <= n < 65536:
            raise ValueError
    except ValueError:
        raise EcgEdgeError(f"{flag} wants HOST:PORT, got '{spec}'") from None
    return host or "127.0.0.1", n


def _static(name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    f = resources.files("edge_runtime.web") / "static" / name
    return f.read_bytes() if f.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the console is the runtime's
        pass

    def _reply(self, code: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: Any) -> None:
        self._reply(code, json.dumps(obj).encode())

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        app = self.server.app
        if path == "/":
            self._reply(200, _static(app.page) or b"", _TYPES[".html"])
        elif path.startswith("/static/"):
            name = path[len("/static/"):]
            body = _static(name)
            ext = "." + name.rsplit(".", 1)[-1]
            if body is None:
                self._json(404, {"error": "not found"})
            else:
                self._reply(200, body, _TYPES.get(ext, "application/octet-stream"))
        elif path == "/api/status":
            self._json(200, app.status())
        elif path == "/api/events":
            self._events()
        elif path in ("/api/bed", "/api/strip.png") and hasattr(app, "bed"):
            self._bed(path)
        else:
            self._json(404, {"error": "not found"})

    def _bed(self, path: str) -> None:
        """The station's bed detail (JSON) and its strip picture, by ``?bed=NAME``."""
        q = parse_qs(self.path.split("?", 1)[1] if "?" in self.path else "")
        name = (q.get("bed") or [""])[0]
        if path == "/api/bed":
            d = self.server.app.bed(name)
            if d is None:
                self._json(404, {"error": "no such bed"})
            else:
                self._json(200, d)
            return
        png = self.server.app.strip_png(name)
        if png is None:
            self._json(404, {"error": "no strip picture readable here"})
        else:
            self._reply(200, png, "image/png")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        try:
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(min(n, 65536)) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self._json(400, {"error": f"bad JSON: {exc}"})
            return
        by = str(body.get("by") or self.client_address[0])[:64]
        app = self.server.app
        if path == "/api/ack":
            ok = app.ack(str(body.get("id", "")), by)
            self._json(200 if ok else 404, {"ok": ok})
        elif path == "/api/pause":
            try:
                secs = min(600.0, max(0.0, float(body.get("seconds", 120))))
            except (TypeError, ValueError):
                self._json(400, {"error": "seconds must be a number"})
                return
            app.pause_audio(secs, by)
            self._json(200, {"ok": True, "seconds": secs})
        else:
            self._json(404, {"error": "not found"})

    def _events(self) -> None:
        client, snap = self.server.app.subscribe()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            self.wfile.write(b"retry: 1000\n\n" + snap)
            self.wfile.flush()
            while not self.server.stopping.is_set():
                try:
                    msg = client.q.get(timeout=_KEEPALIVE_S)
                except queue.Empty:
                    msg = b": keepalive\n\n"
                if msg is None:
                    return
                buf = [msg]
                while len(buf) < 64:  # what else is queued goes in the same write
                    try:
                        nxt = client.q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        break
                    buf.append(nxt)
                self.wfile.write(b"".join(buf))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            pass
        finally:
            self.server.app.unsubscribe(client)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], app: Any) -> None:
        self.app = app
        self.stopping = threading.Event()
        super().__init__(addr, _Handler)


class WebServer:
    """Serves ``app`` (a :class:`~edge_runtime.web.sink.WebSink` or the station's state,
    anything with ``status/subscribe/unsubscribe/ack/pause_audio`` and a ``page`` name)
    on ``host:port`` from a daemon thread."""

    def __init__(self, app: Any, spec: str, flag: str = "--web") -> None:
        host, port = parse_hostport(spec, flag)
        try:
            self.httpd = _Server((host, port), app)
        except OSError as exc:
            raise EcgEdgeError(f"{flag} {spec}: cannot listen ({exc.strerror or exc})") from None
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="ecgedge-web",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def close(self) -> None:
        self.httpd.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=2)
