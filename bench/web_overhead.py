"""Cost of the bedside web view on the signal path: the pipeline with and without ``--web``.

The same record is pushed through the same :class:`~edge_runtime.pipeline.Pipeline` (shipped
int8 beat model, live-sized 0.25 s blocks) twice per repeat, alternating: without the web
view, and with a :class:`~edge_runtime.web.WebSink`, its server and one live client
(``curl -N`` on ``/api/events`` in another process, as a browser would be). Throughput is
signal seconds per CPU second of this process, pinned to one core (server threads included;
the machine is shared, so wall time would count other jobs), best and median of ``--repeat``. Writes
docs/results/web_overhead.json.

    python bench/web_overhead.py [--record 100] [--seconds 600] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_runtime.inference import default_model_path, load_model  # noqa: E402
from edge_runtime.pipeline import Pipeline  # noqa: E402
from edge_runtime.provenance import host  # noqa: E402
from edge_runtime.records import find_record, read_record  # noqa: E402
from edge_runtime.web import WebServer, WebSink  # noqa: E402


def one(rec, bm, web: bool, block: int) -> tuple[float, dict]:
    sink = srv = client = None
    sinks = []
    if web:
        sink = WebSink()
        srv = WebServer(sink, "127.0.0.1:0")
        sinks = [sink]
    spent = [0.0]

    def timed(fn):
        def call(*a):
            t = time.process_time()
            out = fn(*a)
            spent[0] += time.process_time() - t
            return out
        return call

    if web:
        sink.handle = timed(sink.handle)
        sink.take_reports = timed(sink.take_reports)
    p = Pipeline(rec.fs, rec.leads, beat_model=bm, sinks=sinks)
    if web:
        p.on_samples = timed(sink.samples)
        client = subprocess.Popen(["curl", "-sN", srv.url + "api/events"],
                                  stdout=subprocess.DEVNULL)
        while sink.status()["clients"] < 1:
            time.sleep(0.05)
    t0 = time.process_time()
    for i in range(0, rec.signal.shape[0], block):
        p.push(rec.signal[i:i + block])
    p.finish()
    cpu = time.process_time() - t0
    info = {}
    if web:
        st = sink.status()
        info = {"messages": sink.messages, "clients_dropped": st["clients_dropped"],
                "signal_path_web_pct": round(100 * spent[0] / cpu, 2)}
        client.terminate()
        client.wait()
        srv.close()
    return rec.signal.shape[0] / rec.fs / cpu, info


def main() -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench web_overhead",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--record", default="100", help="MIT-BIH record to run (default 100)")
    ap.add_argument("--data-dir", help="data dir (default $ECGEDGE_DATA or ../shared/data)")
    ap.add_argument("--seconds", type=float, default=600.0,
                    help="seconds of signal per run (default 600)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs with and without the web sink, alternating (default 3)")
    ap.add_argument("--out", default=str(REPO / "docs" / "results" / "web_overhead.json"),
                    help="JSON to write (default docs/results/web_overhead.json)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core, server threads included (a Pi's budget)
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if shutil.which("curl") is None:
        raise SystemExit("web_overhead: needs curl for the client")
    path = find_record(args.record, args.data_dir)
    rec = read_record(path, sampto=int(args.seconds * 360))
    bm = load_model(default_model_path("beat", "int8"), threads=1)
    block = int(0.25 * rec.fs)
    one(read_record(path, sampto=int(30 * rec.fs)), bm, False, block)  # warm-up (JIT, ORT)
    res: dict[str, list[float]] = {"without": [], "with_web_1_client": []}
    info: dict = {}
    path_pct = []
    for _ in range(args.repeat):
        res["without"].append(one(rec, bm, False, block)[0])
        x, info = one(rec, bm, True, block)
        res["with_web_1_client"].append(x)
        path_pct.append(info["signal_path_web_pct"])
    best = {k: round(max(v), 1) for k, v in res.items()}
    med = {k: round(statistics.median(v), 1) for k, v in res.items()}
    out = {"record": args.record, "signal_s": rec.signal.shape[0] / rec.fs,
           "block_s": 0.25, "beat_model": "int8", "repeat": args.repeat,
           "x_real_time_per_cpu_s": {k: [round(x, 1) for x in v] for k, v in res.items()},
           "best": best, "median": med, "web": info,
           # CPU share of the pipeline's own thread spent in the web sink's calls
           "signal_path_web_pct_median": round(statistics.median(path_pct), 2),
           "slowdown_pct_best": round(100 * (1 - best["with_web_1_client"] / best["without"]), 2),
           "slowdown_pct_median": round(100 * (1 - med["with_web_1_client"] / med["without"]),
                                        2),
           "command": "python bench/web_overhead.py " + " ".join(sys.argv[1:]), "host": host()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
