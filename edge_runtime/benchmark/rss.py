"""Peak RSS of ``ecgedge run`` (record and live mode) and the import cost of each heavy
dependency, each number from a fresh process (``ecgedge bench pipeline --rss``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge_runtime.benchmark.common import CHECKOUT, child_env

_HWM = ("import sys\n"
        "def _hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1]) / 1024.0\n")
RSS_MODULES = ("scipy.signal", "scipy.ndimage", "onnxruntime", "serial", "wfdb", "pandas",
               "numba", "edge_runtime.detect", "edge_runtime.pipeline", "edge_runtime.run_cli",
               "edge_runtime.records")


def _import_cost(module: str) -> dict | None:
    """RSS added by importing ``module`` after numpy, and its cumulative import time."""
    code = (_HWM + "import numpy\nb = _hwm()\nimport " + module
            + "\nprint(b, _hwm())")
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=CHECKOUT,
                         capture_output=True, text=True)
    if res.returncode != 0:
        return None
    before, after = map(float, res.stdout.split())
    cum_us = [int(line.split("|")[1]) for line in res.stderr.splitlines()
              if line.startswith("import time:") and line.split("|")[2].strip() == module]
    return {"rss_after_numpy_mb": round(after - before, 1),
            "import_ms_cumulative": round(cum_us[-1] / 1e3, 1) if cum_us else None}


def _chain_rss(modules: list[str]) -> float:
    code = _HWM + "".join(f"import {m}\n" for m in modules) + "print(_hwm())"
    res = subprocess.run([sys.executable, "-c", code], cwd=CHECKOUT, capture_output=True,
                         text=True, check=True)
    return round(float(res.stdout), 1)


def _child_peak_mb(cmd: list[str], env: dict) -> tuple[float, int]:
    """Run ``cmd``; its own peak RSS (wait4 rusage of that child only), MB, and exit code."""
    proc = subprocess.Popen(cmd, cwd=CHECKOUT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return round(usage.ru_maxrss / 1024.0, 1), proc.returncode


def rss_report(args) -> dict:
    """Peak RSS of ``ecgedge run`` (record mode; live mode from the simulator over TCP) and
    the import cost of each heavy dependency. Each number comes from a fresh process."""
    import socket

    exe = [sys.executable, "-m", "edge_runtime"]
    env = child_env()
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    out: dict = {"python_only_mb": _chain_rss([]), "numpy_mb": _chain_rss(["numpy"])}
    out["floor_mb"] = {"python+numpy+scipy.signal+onnxruntime": _chain_rss(
        ["numpy", "scipy.signal", "onnxruntime"]),
        "python+numpy+onnxruntime (no scipy)": _chain_rss(["numpy", "onnxruntime"]),
        "runtime live-path imports (run_cli, transport, protocol, inference, serial)": _chain_rss(
            ["edge_runtime.run_cli", "edge_runtime.transport", "edge_runtime.protocol",
             "edge_runtime.inference", "onnxruntime", "serial"])}
    out["imports"] = {m: _import_cost(m) for m in RSS_MODULES}
    with tempfile.TemporaryDirectory() as tmp:
        rec_mb, rc = _child_peak_mb([*exe, "run", "--record", "100", *data, "--quiet",
                                     "--journal", f"{tmp}/rec.jsonl"], env)
        out["run_record_mode"] = {"peak_rss_mb": rec_mb, "rc": rc,
                                  "command": "ecgedge run --record 100 --journal J --quiet"}
        with socket.socket() as so:  # a free port for the simulator
            so.bind(("127.0.0.1", 0))
            port = so.getsockname()[1]
        dur = str(args.rss_live_s)
        sim = subprocess.Popen([*exe, "sim", "--record", "100", *data, "--tcp", str(port),
                                "--speed", "0", "--duration", dur], cwd=CHECKOUT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3.0)  # the simulator listens before the runtime connects
        live_mb, rc = _child_peak_mb([*exe, "run", "--port", f"socket://127.0.0.1:{port}",
                                      "--duration", dur, "--max-down-s", "1", "--quiet",
                                      "--journal", f"{tmp}/live.jsonl"], env)
        sim.wait(timeout=60)
        beats = sum(1 for line in Path(f"{tmp}/live.jsonl").read_text().splitlines()
                    if '"event":"beats"' in line.replace(" ", ""))
        out["run_live_mode"] = {"peak_rss_mb": live_mb, "rc": rc, "signal_s": args.rss_live_s,
                                "beat_batches_journaled": beats,
                                "command": f"ecgedge sim --record 100 --tcp P --speed 0 "
                                           f"--duration {dur} | ecgedge run --port "
                                           f"socket://127.0.0.1:P --duration {dur}"}
    out["note"] = ("MIT-BIH 100 has 2 leads: the shipped 12-lead HYP model is skipped, so both "
                   "modes run detector + beat.int8 + alerts + journal")
    return out

