"""Experiment: how much of live ``ecgedge run``'s peak RSS is
``scipy.signal``'s package ``__init__``, which imports stats, interpolate, optimize, ...
even when only a few functions are used.

Runs the live path twice (simulator over TCP, MIT-BIH 100, 600 s, beat.int8 + journal,
``ECGEDGE_NUMBA=0``): stock, and with ``scipy.signal`` replaced by a stub package that
imports only the private modules holding the functions the runtime asks for
(``_filter_design``, ``_fir_filter_design``, ``_signaltools``; the set asked is printed).
Compares peak RSS (wait4 rusage) and the journals' beat events (must be identical).
Not used by the runtime: the stub relies on scipy's private layout.

    python bench/scipy_lite_rss.py [--duration 600]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import runpy
import socket
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WHERE = {"butter": "_filter_design", "iirnotch": "_filter_design", "tf2sos": "_filter_design",
         "sos2tf": "_filter_design", "group_delay": "_filter_design",
         "firwin": "_fir_filter_design", "lfilter": "_signaltools",
         "lfilter_zi": "_signaltools", "sosfilt_zi": "_signaltools", "sosfilt": "_signaltools",
         "resample_poly": "_signaltools"}


def _lite_child(argv: list[str], asked_file: str) -> None:
    """Install the stub ``scipy.signal`` and run ``python -m edge_runtime argv``."""
    import scipy

    stub = types.ModuleType("scipy.signal")
    stub.__path__ = [str(Path(scipy.__file__).parent / "signal")]
    asked: set[str] = set()

    def getattr_(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in WHERE:  # a private submodule: from scipy.signal import _x
            return importlib.import_module(f"scipy.signal.{name}")
        asked.add(name)
        return getattr(importlib.import_module(f"scipy.signal.{WHERE[name]}"), name)

    stub.__getattr__ = getattr_
    sys.modules["scipy.signal"] = stub
    scipy.signal = stub
    import atexit

    atexit.register(lambda: Path(asked_file).write_text(" ".join(sorted(asked))))
    sys.argv = ["edge_runtime", *argv]
    runpy.run_module("edge_runtime", run_name="__main__")


def _live(pre: list[str], journal: Path, dur: int, env: dict) -> tuple[float, int]:
    exe = [sys.executable, "-m", "edge_runtime"]
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    sim = subprocess.Popen([*exe, "sim", "--record", "100", "--tcp", str(port), "--speed", "0",
                            "--duration", str(dur)], cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3.0)
    p = subprocess.Popen([*pre, "run", "--port", f"socket://127.0.0.1:{port}", "--duration",
                          str(dur), "--max-down-s", "1", "--quiet", "--journal", str(journal)],
                         cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    sim.wait(timeout=60)
    return round(usage.ru_maxrss / 1024.0, 1), os.waitstatus_to_exitcode(status)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _lite_child(sys.argv[3:], sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(prog="ecgedge bench scipy_lite_rss",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=600,
                    help="seconds of record 100 streamed live (default 600)")
    args = ap.parse_args()
    env = {**os.environ, "ECGEDGE_NUMBA": "0",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        stock = _live([sys.executable, "-m", "edge_runtime"], t / "stock.jsonl", args.duration,
                      env)
        lite = _live([sys.executable, __file__, "--child", str(t / "asked")], t / "lite.jsonl",
                     args.duration, env)

        def beats(p: Path) -> list[dict]:
            return [d for d in map(json.loads, p.read_text().splitlines())
                    if d.get("event") == "beats"]

        b0, b1 = beats(t / "stock.jsonl"), beats(t / "lite.jsonl")
        print(json.dumps({"stock_peak_rss_mb": stock[0], "stock_rc": stock[1],
                          "lite_peak_rss_mb": lite[0], "lite_rc": lite[1],
                          "scipy_signal_functions_used": (t / "asked").read_text().split(),
                          "beat_batches": len(b0), "beats_identical": b0 == b1}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
