"""Alarm benchmark: episode Se, alarm +P, false alarms/h and delay on MIT-BIH + NSTDB noise.

Runs the shipped runtime (``ecgedge eval alarms``'s code) on all 48 MIT-BIH records, reports
DS1 (the records any later alarm tuning may use), DS2 (reported, held out) and all 48, then
the noise-stress set (6 clean records + NSTDB em, ma, bw at 24, 18, 12, 6, 0 dB, nst
protocol). Writes docs/results/alarms.json (with the command, CPU model and git commit) and
docs/figures/alarms.png, and prints the tables. Matching rules: docs/alarms.md.

    python bench/alarms.py [--data-dir D] [--duration S] [--quick]

``--quick``: records 100,203,207,208 and em at 12,0 dB only, first 10 min (a smoke run; it
does not overwrite the committed results unless --json/--plot name them).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_runtime.datadir import DATA_DIR_HELP  # noqa: E402
from edge_runtime.provenance import host  # noqa: E402
from train.alarms.cli import print_tables, run_benchmark  # noqa: E402
from train.alarms.plot import plot_alarms  # noqa: E402

OUT_JSON = REPO / "docs" / "results" / "alarms.json"
OUT_PNG = REPO / "docs" / "figures" / "alarms.png"


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench alarms", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", help=DATA_DIR_HELP)
    ap.add_argument("--duration", type=float, help="first S seconds of each record only")
    ap.add_argument("--quick", action="store_true", help="a few records, short (smoke run)")
    ap.add_argument("--json", help=f"output JSON (default {OUT_JSON.relative_to(REPO)})")
    ap.add_argument("--plot", help=f"output PNG (default {OUT_PNG.relative_to(REPO)})")
    args = ap.parse_args()
    quick = args.quick
    ns = argparse.Namespace(
        db="mitdb", records="100,203,207,208" if quick else "all",
        noise="em" if quick else "em,ma,bw", snr="12,0" if quick else "24,18,12,6,0",
        noise_records="100,115" if quick else "100,103,113,115,117,122",
        duration=600.0 if quick and args.duration is None else args.duration, tol=5.0,
        precision="int8", data_dir=args.data_dir, quiet=False)
    t0 = time.time()
    out = run_benchmark(ns)
    out["command"] = "python bench/alarms.py " + " ".join(sys.argv[1:])
    out["equivalent_cli"] = (f"ecgedge eval alarms --db mitdb --records {ns.records} "
                             f"--noise {ns.noise} --snr {ns.snr} "
                             f"--noise-records {ns.noise_records}"
                             + (f" --duration {ns.duration:g}" if ns.duration else ""))
    out["host"] = {**host(), "platform": platform.platform()}
    out["git_commit"] = _git_commit()
    out["wall_s"] = round(time.time() - t0, 1)
    print_tables(out)
    js = Path(args.json) if args.json else (None if quick else OUT_JSON)
    png = Path(args.plot) if args.plot else (None if quick else OUT_PNG)
    if js is not None:
        js.parent.mkdir(parents=True, exist_ok=True)
        js.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {js}")
    if png is not None:
        plot_alarms(out, png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
