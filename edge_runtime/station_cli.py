"""``ecgedge station``: the central station for many bedside runtimes, over MQTT.

Examples::

    ecgedge station --mqtt localhost:1883 --web 0.0.0.0:8090
    ecgedge station --mqtt mqtt://broker.ward:1883 --web :8090 --journal station.jsonl

Each bedside ``ecgedge run --mqtt ... --device-id bed-12`` publishes its alerts and retained
status; the station subscribes to all of them (``<prefix>/+/status``, ``<prefix>/+/alerts``)
and, for the bed detail view, the optional waveform (``<prefix>/+/wave``, from
``ecgedge run --mqtt-wave``); it serves one tile per bed, a detail view per bed (click a
tile) and one alarm list across beds (see
:mod:`edge_runtime.web.station`). A broker that is down at start is not an error: the station
starts, shows the broker down and the beds unknown, and connects when it can.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

from edge_runtime.errors import EcgEdgeError, make_parser

__all__ = ["main", "build_parser", "parse_broker"]


def build_parser():
    ap = make_parser("ecgedge station", __doc__)
    ap.add_argument("--mqtt", required=True, metavar="URL",
                    help="broker: HOST[:PORT] or mqtt://HOST[:PORT]")
    ap.add_argument("--mqtt-prefix", default="ecgedge", help="topic prefix of the beds")
    ap.add_argument("--mqtt-user", help="MQTT username")
    ap.add_argument("--mqtt-password", help="MQTT password")
    ap.add_argument("--web", metavar="HOST:PORT", default="127.0.0.1:8090",
                    help="serve the station page here (default 127.0.0.1:8090)")
    ap.add_argument("--journal", help="JSONL file for operator actions (acknowledge)")
    ap.add_argument("--stale-s", type=float, default=10.0,
                    help="an online bed silent this long is shown as stale")
    ap.add_argument("--duration", type=float, help="stop after this many seconds")
    ap.add_argument("--quiet", action="store_true", help="no console output except errors")
    return ap


def parse_broker(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[1] if "://" in url else url
    if url.startswith(("mqtts://", "ssl://")):
        raise EcgEdgeError("--mqtt: TLS is not supported by the station yet")
    host, _, port = rest.rstrip("/").partition(":")
    try:
        n = int(port) if port else 1883
        if not 0 < n < 65536 or not host:
            raise ValueError
    except ValueError:
        raise EcgEdgeError(f"--mqtt wants HOST[:PORT], got '{url}'") from None
    return host, n


def connect(station, host: str, port: int, prefix: str, user=None, password=None):
    """A paho client feeding ``station`` (connects and reconnects in the background)."""
    try:
        import paho.mqtt.client as mqtt
    except ModuleNotFoundError:
        raise EcgEdgeError("the station needs paho-mqtt: pip install 'ecgedge[mqtt]'") from None
    c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                    client_id=f"ecgedge-station-{int(time.time() * 1000) % 10**9}")
    if user is not None:
        c.username_pw_set(user, password)

    def on_connect(client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            station.set_broker(f"refused: {reason_code}")
            return
        client.subscribe([(f"{prefix}/+/status", 1), (f"{prefix}/+/alerts", 1),
                          (f"{prefix}/+/wave", 0)])
        station.set_broker("connected")

    def on_disconnect(client, userdata, flags, reason_code, properties=None):
        station.set_broker(f"down ({reason_code})")

    def on_connect_fail(client, userdata):
        station.set_broker(f"down (cannot reach {host}:{port})")

    c.on_connect = on_connect
    c.on_disconnect = on_disconnect
    c.on_connect_fail = on_connect_fail
    c.on_message = lambda client, userdata, msg: station.on_message(msg.topic, msg.payload)
    c.reconnect_delay_set(min_delay=1, max_delay=5)
    try:
        c.connect_async(host, port, keepalive=15)
    except (OSError, ValueError) as exc:
        raise EcgEdgeError(f"--mqtt {host}:{port}: {exc}") from None
    c.loop_start()
    return c


def main(argv: list[str]) -> int:
    from edge_runtime.web import WebServer
    from edge_runtime.web.station import Station

    args = build_parser().parse_args(argv)
    host, port = parse_broker(args.mqtt)
    journal = None
    if args.journal:
        from edge_runtime.sinks.journal import JournalSink

        journal = JournalSink(args.journal)
    station = Station(args.mqtt_prefix, stale_s=args.stale_s, journal=journal)
    try:
        server = WebServer(station, args.web)
    except EcgEdgeError:
        station.close()
        raise
    client = connect(station, host, port, args.mqtt_prefix, args.mqtt_user, args.mqtt_password)
    if not args.quiet:
        print(f"ecgedge station: {host}:{port} -> {server.url}", flush=True)
    stop = threading.Event()
    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda s, f: stop.set())
    try:
        stop.wait(args.duration)
    finally:
        client.disconnect()
        client.loop_stop()
        server.close()
        station.close()
        if journal is not None:
            journal.close()
        for sig, h in old.items():
            signal.signal(sig, h)
    if not args.quiet:
        st = station.status()
        print(f"ecgedge station: {len(st['beds'])} beds, {st['messages']} messages, "
              f"{st['bad_messages']} malformed", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
