"""``ecgedge sim``: a simulated acquisition device replaying a WFDB record.

Examples::

    ecgedge sim --record 100 --speed 50 --faults bitflip,drop       # prints a pty path
    ecgedge sim --record 100 --tcp 7000 --mode csv                   # socket://127.0.0.1:7000
    ecgedge sim --record ptb-xl/records500/00000/00001_hr --fs 250 --stdout --speed 0 > x.bin

The stream starts when a reader connects (pty/TCP) so that nothing is lost before it; the
ground truth of what was sent and lost is printed at the end (``--truth FILE`` for JSON).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np

from edge_runtime.errors import (
    EcgEdgeError,
    device_id,
    make_parser,
    nonneg_float,
    nonneg_int,
    positive_float,
    positive_int,
)
from edge_runtime.records import find_record, read_beat_annotations, read_record
from firmware_sim.device import SimDevice
from firmware_sim.faults import parse_faults
from firmware_sim.ports import PtyOutput, SerialOutput, StreamOutput, TcpOutput


def build_parser():
    ap = make_parser("ecgedge sim", __doc__)
    ap.add_argument(
        "--record", required=True, help="record name (100), data-dir relative path, or path"
    )
    ap.add_argument(
        "--data-dir", help="PhysioNet data dir (default $ECGEDGE_DATA or ../shared/data)"
    )
    ap.add_argument("--leads", help="comma list of lead names to send (default all)")
    ap.add_argument("--speed", type=nonneg_float, default=1.0,
                    help="x real time, 1-1000; 0 = unpaced")
    ap.add_argument("--mode", choices=["binary", "csv"], default="binary")
    ap.add_argument("--fs", type=positive_float,
                    help="device sampling rate (resample, e.g. 250 or 500)")
    ap.add_argument("--gain", type=positive_float, help="ADC counts per mV (default: the record's)")
    ap.add_argument(
        "--adc-bits", type=positive_int, default=16, help="ADC resolution (clip + saturation flag)"
    )
    ap.add_argument("--samples-per-frame", type=positive_int, help="default fs/25 (40 ms frames)")
    ap.add_argument("--loop", action="store_true", help="repeat the record forever")
    ap.add_argument("--duration", type=positive_float,
                    help="stop after this many seconds of signal")
    ap.add_argument("--faults", help="e.g. bitflip,drop=0.02,noise=ma:6,leadoff,disconnect=20:2")
    ap.add_argument("--seed", type=nonneg_int, default=0, help="seed of the fault generator")
    ap.add_argument("--device-id", type=device_id, default=1,
                    help="device id on the wire (0-65535)")
    out = ap.add_mutually_exclusive_group()
    out.add_argument(
        "--pty",
        nargs="?",
        const="",
        metavar="LINK",
        help="serve on a pseudo-terminal (default); LINK = stable symlink to it",
    )
    out.add_argument(
        "--tcp", type=int, metavar="PORT", help="serve on TCP 127.0.0.1:PORT (0 = any)"
    )
    out.add_argument("--stdout", action="store_true", help="write the stream to stdout")
    out.add_argument("--file", help="write the stream to a file")
    out.add_argument("--serial", metavar="URL", help="write to a serial port / pyserial URL")
    ap.add_argument("--no-wait", action="store_true", help="start streaming without a reader")
    ap.add_argument("--truth", help="write the ground truth (sent / lost / faults) as JSON")
    return ap


def _open_output(args):
    if args.tcp is not None:
        if not 0 <= args.tcp <= 65535:
            raise EcgEdgeError(f"TCP port {args.tcp} out of range")
        return TcpOutput(args.tcp)
    if args.stdout:
        return StreamOutput(sys.stdout.buffer)
    if args.file:
        try:
            return StreamOutput(open(args.file, "wb"), args.file)  # noqa: SIM115
        except OSError as exc:
            raise EcgEdgeError(f"cannot write {args.file}: {exc.strerror}") from None
    if args.serial:
        return SerialOutput(args.serial)
    return PtyOutput(args.pty or None)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    path = find_record(args.record, args.data_dir)
    leads = args.leads.split(",") if args.leads else None
    rec = read_record(path, leads=leads)
    faults = parse_faults(args.faults)
    qrs = None
    if faults.noise and path.with_suffix(".atr").is_file():
        qrs = read_beat_annotations(path)[0]
    dev = SimDevice(
        rec,
        speed=args.speed,
        mode=args.mode,
        faults=faults,
        seed=args.seed,
        fs=args.fs,
        gain=args.gain,
        adc_bits=args.adc_bits,
        samples_per_frame=args.samples_per_frame,
        loop=args.loop,
        duration_s=args.duration,
        device_id=args.device_id,
        data_dir=args.data_dir,
        qrs_samples=qrs,
    )
    out = _open_output(args)
    log = sys.stderr
    if not isinstance(out, StreamOutput) or out.path != "-":
        print(out.path, flush=True)  # what the runtime opens
    print(
        f"ecgedge sim: {rec.name} ({len(rec.leads)} leads {','.join(rec.leads)}, {dev.fs:g} Hz, "
        f"gain {dev.gain[0]:g}/mV) {args.mode} at {args.speed:g}x -> {out.path}"
        + (f"; faults: {args.faults}" if args.faults else ""),
        file=log,
        flush=True,
    )
    stop = threading.Event()
    try:
        if not args.no_wait and not out.has_reader():
            print("ecgedge sim: waiting for a reader ...", file=log, flush=True)
            out.wait_reader(stop)
            stop.wait(0.3)  # pyserial flushes its input just after opening: let that pass
        dev.run(lambda b: out.write(b, stop), stop, on_outage=lambda s: out.unplug(s, stop))
    except KeyboardInterrupt:
        stop.set()
    finally:
        out.close()
    t = dev.truth
    summary = {
        "record": str(path),
        "fs": dev.fs,
        "mode": args.mode,
        "speed": args.speed,
        "faults": args.faults,
        "seed": args.seed,
        "noise": t.noise,
        "samples_generated": t.samples_generated,
        "frames": t.frames,
        "lost_samples": t.lost_samples,
        "outage_samples": t.outage_samples,
        "undelivered_samples": t.undelivered_samples,
        "fault_counts": t.fault_counts,
        "fault_events": t.events,
        "leadoff_spans": [list(map(int, s)) for s in t.leadoff_spans],
    }
    print(
        f"ecgedge sim: sent {t.samples_generated} samples in {t.frames} frames; lost by faults "
        f"{t.lost_samples}, during disconnects {t.outage_samples}, with no reader "
        f"{t.undelivered_samples}; faults {t.fault_counts or 'none'}",
        file=log,
    )
    if args.truth:
        Path(args.truth).write_text(json.dumps(summary, indent=1, default=_np_default))
    return 0


def _np_default(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))
