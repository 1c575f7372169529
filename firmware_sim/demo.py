"""``ecgedge demo``: the whole bedside path on a shipped record, with nothing but the base install.

A simulated device (:mod:`firmware_sim`) replays MIT-BIH record 100 (shipped in
``edge_runtime/data``) at an accelerated rate into a pseudo-terminal, exactly as a USB-serial
ECG front end would; the bedside runtime (``ecgedge run --port``) opens the other end of the
pty with pyserial, decodes the frames, filters, detects R-peaks, classifies beats with the
shipped models when present, raises alerts and appends every beat and alert to a JSONL
journal. At the end the demo checks the journal against the record's reference annotations:
beats detected vs the reference count over the same span.

It lives in the simulator because the simulator drives the runtime, never the reverse: this
is the one :mod:`firmware_sim` module that calls the runtime's run entry
(:func:`edge_runtime.run_cli.main`) and reads its journal; the rest of the package uses only
the runtime's protocol, records and errors.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from edge_runtime import run_cli
from edge_runtime.errors import EcgEdgeError, make_parser, positive_float
from edge_runtime.records import read_beat_annotations, read_record, shipped_record_path
from edge_runtime.sinks.journal import read_journal
from firmware_sim.device import SimDevice
from firmware_sim.faults import parse_faults
from firmware_sim.ports import PtyOutput


def build_parser():
    ap = make_parser("ecgedge demo", __doc__)
    ap.add_argument("--speed", type=positive_float, default=20.0,
                    help="replay speed, x real time (default 20: record 100 takes 90 s)")
    ap.add_argument("--duration", type=positive_float, default=None,
                    help="seconds of signal to stream (default: the whole record, 30 min)")
    ap.add_argument("--record", default=None,
                    help="WFDB record to stream instead of the shipped MIT-BIH 100")
    ap.add_argument("--mode", default="binary", choices=["binary", "csv"],
                    help="wire format the simulated device speaks (default binary)")
    ap.add_argument("--out", default="ecgedge-demo",
                    help="output directory for the journal (default ./ecgedge-demo)")
    ap.add_argument("--beat-model", default="auto", help="beat model, 'none' to skip")
    ap.add_argument("--window-model", default="auto", help="window model, 'none' to skip")
    ap.add_argument("--quiet", action="store_true", help="only the final check line")
    ap.add_argument("--web", metavar="HOST:PORT",
                    help="serve the live bedside view here (try --speed 1 to watch it)")
    ap.add_argument("--faults", help="simulated device faults, e.g. leadoff,noise=ma:6 "
                                     "(see ecgedge sim --help)")
    return ap


def _journal_beats(path: Path) -> np.ndarray:
    records, _ = read_journal(path)
    samples = [s for r in records if r.get("event") == "beats" for s in r["sample"]]
    return np.asarray(samples, dtype=np.int64)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if not 0 < args.speed <= 1000:
        raise EcgEdgeError(f"--speed {args.speed:g} out of range (0 < speed <= 1000)")
    rec_path = Path(args.record) if args.record else shipped_record_path("100")
    rec = read_record(rec_path)
    duration = rec.duration_s if args.duration is None else min(args.duration, rec.duration_s)
    if duration <= 0:
        raise EcgEdgeError("--duration must be positive")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = out_dir / "journal.jsonl"
    journal.unlink(missing_ok=True)  # each demo run starts a fresh journal

    faults = parse_faults(args.faults) if args.faults else None
    dev = SimDevice(rec, speed=args.speed, mode=args.mode, duration_s=duration, faults=faults)
    port = PtyOutput()
    stop = threading.Event()

    def device() -> None:
        try:
            if port.wait_reader(stop, timeout=30):
                stop.wait(0.3)  # pyserial flushes its input right after opening
                dev.run(lambda b: port.write(b, stop), stop)
                port.drain()
        finally:
            port.close()

    th = threading.Thread(target=device, name="ecgedge-sim", daemon=True)
    th.start()
    if not args.quiet:
        print(f"ecgedge demo: {rec.name} ({', '.join(rec.leads)}, {rec.fs:g} Hz) -> "
              f"simulated device ({args.mode}) at {args.speed:g}x -> {port.path} -> runtime")
    run_args = ["--port", port.path, "--mode", args.mode, "--duration", f"{duration:.6f}",
                "--max-down-s", "3", "--journal", str(journal), "--status-every", "5",
                "--beat-model", args.beat_model, "--window-model", args.window_model]
    if args.web:
        run_args += ["--web", args.web]
    try:
        run_cli.main(run_args + (["--quiet"] if args.quiet else []))
    finally:
        stop.set()
        th.join(timeout=5)

    detected = _journal_beats(journal)
    n_span = int(round(duration * rec.fs))
    ref_count = None
    if rec_path.with_suffix(".atr").is_file():
        ref, _ = read_beat_annotations(rec_path, sampto=n_span)
        ref_count = len(ref)
    lost = dev.truth.lost_samples + dev.truth.undelivered_samples
    line = f"demo check: {len(detected)} beats detected in {duration:.1f} s"
    if ref_count:
        diff = 100.0 * (len(detected) - ref_count) / ref_count
        line += f" vs {ref_count} reference beats ({diff:+.2f} %)"
    line += f"; samples lost in transit {lost}; journal {journal}"
    print(line)
    return 0
