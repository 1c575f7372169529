"""``ecgedge run``: the bedside runtime, live from a port or offline on a WFDB record.

Examples::

    ecgedge run --port /dev/ttyUSB0 --journal run.jsonl --mqtt localhost:1883
    ecgedge run --port socket://127.0.0.1:7000 --webhook http://nurse-station/alerts
    ecgedge run --record 100 --journal run.jsonl --strips strips/   # offline, same code path

Live and offline runs share everything after the decoder: the offline run pushes the record
through the very :class:`edge_runtime.pipeline.Pipeline` the live run feeds from decoded
frames, and results do not depend on how the stream was cut into blocks, so a replay of a
record through a pty gives the same beats and alerts as the offline run (a test).

Models default to the shipped ``models/beat.int8.onnx`` and ``models/hyp.int8.onnx``
(package data in an installed wheel); a missing default is a one-line error
(``--beat-model none`` / ``--window-model none`` to run without); a model whose card
does not fit the stream (rate, leads) is refused with a one-line error.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.alerts import AlertEngine, load_config
from edge_runtime.errors import EcgEdgeError, make_parser
from edge_runtime.pipeline import Pipeline, PipelineConfig
from edge_runtime.sinks.console import ConsoleSink
from edge_runtime.sinks.journal import JournalSink
from edge_runtime.sinks.spool import Spool
from edge_runtime.sinks.spooled import SpooledSink
from edge_runtime.validation import (
    check_fs,
    check_lead_map,
    nonneg_float,
    positive_float,
    positive_int,
)

__all__ = ["main", "build_parser", "load_models", "build_sinks"]


def build_parser():
    ap = make_parser("ecgedge run", __doc__)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--port", help="device URL: /dev/ttyUSB0, /dev/pts/N, socket://host:port")
    src.add_argument("--record", help="WFDB record to run offline (path or name under mitdb/)")
    ap.add_argument("--data-dir", help="PhysioNet data dir (for --record names)")
    ap.add_argument("--beat-model", default="auto", help="beat model (.onnx/.tflite), 'none'")
    ap.add_argument("--window-model", default="auto", help="window model, 'none' to skip")
    ap.add_argument("--precision", default="int8", choices=["int8", "fp32"],
                    help="shipped model variant used by 'auto'")
    ap.add_argument("--config", help="alert rules TOML (overrides the defaults)")
    ap.add_argument("--device-id", help="device id in alerts (default from the config)")
    ap.add_argument("--journal", help="JSONL journal file (appended; fsync per alert)")
    ap.add_argument("--strips", help="directory for event strips (WFDB + beats annotation)")
    ap.add_argument("--strip-png", action="store_true", help="also draw strips as PNG")
    ap.add_argument("--lead-map", action="append", default=[], metavar="CARD=STREAM",
                    help="use stream lead STREAM for the model's lead CARD (repeatable)")
    ap.add_argument("--mqtt", metavar="HOST[:PORT]", help="publish to an MQTT broker")
    ap.add_argument("--mqtt-prefix", default="ecgedge", help="MQTT topic prefix")
    ap.add_argument("--mqtt-user", help="MQTT username")
    ap.add_argument("--mqtt-password", help="MQTT password")
    ap.add_argument("--mqtt-tls", action="store_true", help="connect with TLS")
    ap.add_argument("--mqtt-ca", help="CA certificate file for TLS")
    ap.add_argument("--mqtt-beats", action="store_true", help="also publish beat batches")
    ap.add_argument("--mqtt-wave", action="store_true",
                    help="also publish the detection lead at ~125 Hz, 1 s batches (QoS 0)")
    ap.add_argument("--webhook", help="POST alerts as JSON to this URL")
    ap.add_argument("--web", metavar="HOST:PORT",
                    help="serve the live bedside view here (e.g. 127.0.0.1:8080)")
    ap.add_argument("--queue-size", type=positive_int, default=1000,
                    help="network sink queue length")
    ap.add_argument("--spool", metavar="DIR",
                    help="keep undelivered alerts of network sinks here (default: next to "
                         "--journal as JOURNAL.spool/; without either, in memory)")
    ap.add_argument("--spool-max", type=positive_int, default=10_000,
                    help="most alerts spooled per network sink (the oldest are dropped, "
                         "and the drop journaled)")
    ap.add_argument("--mode", default="auto", choices=["auto", "binary", "csv"],
                    help="wire format of --port")
    ap.add_argument("--baud", type=positive_int, default=115200, help="serial baud rate")
    ap.add_argument("--max-down-s", type=nonneg_float, default=None,
                    help="give up after the port is gone this long (default: retry forever)")
    ap.add_argument("--duration", type=positive_float,
                    help="stop after this many seconds of signal")
    ap.add_argument("--status-every", type=positive_float, default=2.0,
                    help="status line period, s")
    ap.add_argument("--quiet", action="store_true", help="no console output except errors")
    ap.add_argument("--threads", type=positive_int, default=1, help="inference threads")
    return ap


def load_models(args) -> tuple[Any, Any]:
    """The beat and window models named on the command line (or the shipped ones)."""
    from edge_runtime.inference import load_model
    from edge_runtime.resources import require_model

    out = []
    for flag, task in (("beat_model", "beat"), ("window_model", "hyp")):
        val = getattr(args, flag)
        if val in (None, "none"):
            out.append(None)
            continue
        if val == "auto":  # a missing default is an error, never a silent downgrade
            val = str(require_model(task, args.precision,
                                    flag="--" + flag.replace("_", "-")))
        if not Path(val).is_file():
            raise EcgEdgeError(f"model not found: {val}")
        try:
            m = load_model(val, threads=args.threads)
        except EcgEdgeError:
            raise
        except Exception as exc:  # onnxruntime / tflite say why in their own words
            raise EcgEdgeError(f"cannot load model {val}: {str(exc).splitlines()[0]}") from None
        want = "beat" if task == "beat" else "window"
        if (m.task == "beat") != (want == "beat"):
            raise EcgEdgeError(f"{val} is a {m.task} model, not a {want} model")
        out.append(m)
    return out[0], out[1]


def _spool(args, name: str) -> Spool:
    """The on-disk spool of network sink ``name`` (see :mod:`edge_runtime.sinks.spool`)."""
    if args.spool_max < 1:
        raise EcgEdgeError(f"--spool-max must be at least 1, got {args.spool_max}")
    root = args.spool or (f"{args.journal}.spool" if args.journal else None)
    sp = Spool(None if root is None else Path(root) / name, max_records=args.spool_max)
    if sp.disk_error is not None:
        raise EcgEdgeError(f"cannot use spool directory {Path(root) / name}: {sp.disk_error}")
    return sp


def build_sinks(args, device_id: str) -> list[Any]:
    sinks: list[Any] = []
    # the journal goes first: an alert is fsynced before anyone (console, network) sees it
    if args.journal:
        sinks.append(JournalSink(args.journal))
    if not args.quiet:
        sinks.append(ConsoleSink(sys.stdout))
    if args.mqtt:
        from edge_runtime.sinks.mqtt import MqttSink

        host, _, port = args.mqtt.partition(":")
        try:
            port_n = int(port) if port else (8883 if args.mqtt_tls else 1883)
        except ValueError:
            raise EcgEdgeError(f"bad MQTT port in --mqtt {args.mqtt}") from None
        sinks.append(SpooledSink(MqttSink(host, port_n, device_id, args.mqtt_prefix,
                                          args.mqtt_user, args.mqtt_password, args.mqtt_tls,
                                          args.mqtt_ca, publish_beats=args.mqtt_beats,
                                          publish_wave=getattr(args, "mqtt_wave", False)),
                                 _spool(args, "mqtt"), args.queue_size))
    if args.webhook:
        from edge_runtime.sinks.webhook import WebhookSink

        sinks.append(SpooledSink(WebhookSink(args.webhook, retries=1), _spool(args, "webhook"),
                                 args.queue_size, only={"alert", "sink_overflow"}))
    return sinks


def _lead_map(items: list[str]) -> dict[str, str]:
    out = {}
    for it in items:
        a, sep, b = it.partition("=")
        if not sep or not a or not b:
            raise EcgEdgeError(f"--lead-map wants CARD=STREAM, got '{it}'")
        out[a] = b
    return out


class Runtime:
    """Everything one ``ecgedge run`` holds: models, engine config, sinks, the pipeline."""

    def __init__(self, args) -> None:
        self.args = args
        self.config = load_config(args.config)
        self.device_id = args.device_id or self.config["engine"].get("device_id", "ecgedge-0")
        self.beat_model, self.window_model = load_models(args)
        self.lead_map = _lead_map(args.lead_map)
        check_lead_map(self.lead_map, self._card_leads())
        if args.strips:
            from edge_runtime.strips import check_strips_dir

            check_strips_dir(args.strips)  # a file or unwritable dir: one line, before the run
        self.sinks = build_sinks(args, self.device_id)
        self.pipeline: Pipeline | None = None
        self.summaries: list[dict] = []
        self.web = self.web_server = None
        if getattr(args, "web", None):
            from edge_runtime.web import WebServer, WebSink

            self.web = WebSink()
            self.sinks.append(self.web)
            try:
                self.web_server = WebServer(self.web, args.web)
            except EcgEdgeError:
                self.close()
                raise
            if not args.quiet:
                print(f"ecgedge run: bedside view at {self.web_server.url}", flush=True)

    def _card_leads(self) -> list[str]:
        return [lead for m in (self.beat_model, self.window_model) if m is not None
                for lead in m.card.get("leads", [])]

    def start(self, fs: float, leads: list[str], source: str, annotations=None) -> Pipeline:
        from edge_runtime.pipeline import check_card

        check_fs(fs, f"the stream from {source}")
        check_lead_map(self.lead_map, self._card_leads(), leads)
        for attr, flag in (("beat_model", "--beat-model"), ("window_model", "--window-model")):
            m = getattr(self, attr)
            if m is None or getattr(self.args, attr) != "auto":
                continue  # a model named explicitly must fit, or the run stops (below)
            try:
                check_card(m.card, fs, leads, attr.replace("_", " "), self.lead_map)
            except EcgEdgeError as exc:
                print(f"ecgedge run: shipped {m.path.name} does not fit this stream ({exc}); "
                      f"running without it ({flag} to choose one)", file=sys.stderr)
                setattr(self, attr, None)
        try:
            self.pipeline = Pipeline(
                fs, leads, engine=AlertEngine(self.config, self.device_id), sinks=self.sinks,
                beat_model=self.beat_model, window_model=self.window_model,
                lead_map=self.lead_map,
                config=PipelineConfig(status_every_s=self.args.status_every),
                strips_dir=self.args.strips, strip_png=self.args.strip_png, source=source,
                annotations=annotations)
        except EcgEdgeError:
            self.close()
            raise
        hooks = [self.web.samples] if self.web is not None else []
        hooks += [k.inner.samples for k in self.sinks  # the MQTT wave topic (--mqtt-wave)
                  if getattr(getattr(k, "inner", None), "publish_wave", False)]
        if len(hooks) == 1:
            self.pipeline.on_samples = hooks[0]
        elif hooks:
            self.pipeline.on_samples = lambda p, x: [h(p, x) for h in hooks] and None
        return self.pipeline

    def end(self) -> None:
        if self.pipeline is not None:
            self.pipeline.finish()
            self.summaries.append(self.pipeline.summary())
            self.pipeline = None

    def close(self) -> None:
        self.end()
        for s in self.sinks:
            s.close()
        if getattr(self, "web_server", None) is not None:
            self.web_server.close()
            self.web_server = None


def _run_record(rt: Runtime, args) -> None:
    from edge_runtime.records import read_beat_annotations, read_record

    path = _resolve_record(args.record, args.data_dir)
    rec, fs_from = _ecg_record(read_record(path))
    n = rec.n_samples if args.duration is None else min(rec.n_samples,
                                                          int(round(args.duration * rec.fs)))
    ann = None
    if path.with_suffix(".atr").is_file():
        s, sym = read_beat_annotations(path, sampto=n)
        if fs_from is not None:  # reference beats follow the new rate
            s = np.round(s * rec.fs / fs_from).astype(np.int64)
        ann = (s, sym)
    p = rt.start(rec.fs, rec.leads, str(path), ann)
    step = int(10 * rec.fs)  # blocks do not change results; 10 s keeps pushes cheap
    for i in range(0, n, step):
        p.push(rec.signal[i:min(i + step, n)])


def _ecg_record(rec):
    """The record's ECG leads in mV at a supported rate (module ``validation``), said aloud.

    Returns the record (the same object when nothing changed) and the rate it was resampled
    from (None when it was not)."""
    from edge_runtime.records import Recording
    from edge_runtime.validation import FS_RANGE, classify_channels, resample_record

    ch = classify_channels(rec.leads, rec.units)
    notes = []
    if ch.skipped:
        notes.append(f"not ECG, not used: {ch.note()}")
    sig = rec.signal
    if len(ch.ecg) != sig.shape[1]:
        sig = sig[:, ch.ecg]
    if any(f != 1.0 for f in ch.factors):
        sig = sig * np.asarray(ch.factors)[None, :]
        notes.append("converted to mV: " + ", ".join(
            f"{rec.leads[i]} ({rec.units[i]})" for i, f in zip(ch.ecg, ch.factors, strict=True)
            if f != 1.0))
    fs, fs_from = rec.fs, None
    if fs > FS_RANGE[1]:  # downsampling offline is safe (anti-aliased); upsampling is not
        sig, fs = resample_record(sig, rec.fs)
        fs_from = rec.fs
        notes.append(f"resampled from {rec.fs:g} Hz to {fs:g} Hz")
    if notes:  # said even with --quiet: it changes what the numbers mean
        print(f"ecgedge run: record {rec.name}: " + "; ".join(notes), file=sys.stderr)
    if not notes:
        return rec, None
    out = Recording(rec.name, fs, sig, [rec.leads[i] for i in ch.ecg],
                    [rec.units[i] if i < len(rec.units) else "" for i in ch.ecg], rec.path)
    return out, fs_from


def _resolve_record(name: str, data_dir: str | None) -> Path:
    from edge_runtime.records import find_record

    return find_record(name, data_dir)


def _run_port(rt: Runtime, args, stop: threading.Event) -> None:
    from edge_runtime.live import LiveSession

    no_data_s = float(rt.config["rules"]["signal_loss"].get("no_data_s", 2.0))
    LiveSession(rt, args.port, mode=args.mode, baudrate=args.baud, max_down_s=args.max_down_s,
                duration_s=args.duration, no_data_s=no_data_s, quiet=args.quiet).run(stop)


def _print_summary(summaries: list[dict]) -> None:
    for s in summaries:
        cls = " ".join(f"{k}:{v}" for k, v in s["beats_per_class"].items())
        alerts = ", ".join(f"{k} x{v}" for k, v in s["alerts"].items()) or "none"
        print(f"summary: {s['duration_s']:.1f} s, {s['beats']} beats [{cls}], alerts: {alerts}, "
              f"gaps {s['gaps']} ({s['lost_samples']} samples lost), beat latency p50 "
              f"{s['beat_latency_s']['p50']:.3f} s p99 {s['beat_latency_s']['p99']:.3f} s")
        ec = s.get("ec57")
        if ec:
            q = ec["qrs"]
            line = f"EC57 vs reference: QRS Se {q['se']} +P {q['ppv']}"
            for k in ("veb", "sveb"):
                if k in ec:
                    line += f"; {k.upper()} Se {ec[k]['se']} +P {ec[k]['ppv']}"
            print(line)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    rt = Runtime(args)
    stop = threading.Event()

    def on_signal(signum, frame):  # SIGTERM/SIGINT: finish cleanly, journal closed
        stop.set()

    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, on_signal)
    try:
        if args.record:
            _run_record(rt, args)
        else:
            _run_port(rt, args, stop)
    finally:
        rt.close()
        for sig, h in old.items():
            signal.signal(sig, h)
    if not args.quiet:
        _print_summary(rt.summaries)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

