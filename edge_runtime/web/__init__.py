"""Live web view of the bedside runtime (``ecgedge run --web HOST:PORT``).

:mod:`~edge_runtime.web.sink` turns the runtime's records and waveform into a small state and
a stream of messages (never blocking the signal path); :mod:`~edge_runtime.web.server`
serves the page (``static/``), ``/api/status`` and the stream with the standard library.
"""

from edge_runtime.web.server import WebServer, parse_hostport
from edge_runtime.web.sink import WebSink

__all__ = ["WebServer", "WebSink", "parse_hostport"]
