"""Per-ISA int8 parity of chosen tasks on the aarch64 classes through the export's ISA-gate
probe, merged into docs/results/isa_parity.json in ``bench/isa_parity.py``'s format.

``bench/isa_parity.py run`` inside the arm64 root needs the whole project copied into it
(``bench/arm64.sh``); the export's gate (:mod:`export.isa_gate`) needs only onnxruntime there:
it copies one model and its inputs into the root and runs :mod:`export.isa_probe` under
``qemu-aarch64 -cpu cortex-a72`` / ``max`` (root needed: chroot and a /proc/cpuinfo mount),
with this checkout's ``edge_runtime`` first on the probe's path (the root's install may be
older than the probe).
This script runs that probe on the int8 and fp32 ONNX of each task on the fixed subset
(``bench/isa_parity.py prepare``), compares them with ``bench/isa_parity.py``'s own
``_pair`` and writes one entry per CPU (label ``aarch64-qemu-<cpu>-<suffix>``).

    sudo python bench/isa_parity_probe.py --arm64-root /var/tmp/ecgedge-arm64/root \\
        --tasks hyp,findings6 --suffix window-v2
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import isa_parity as bench  # noqa: E402

from edge_runtime.inference import read_card  # noqa: E402
from export import isa_gate  # noqa: E402
from export.isa_gate import run_probe, targets  # noqa: E402


def _with_current_runtime(root: Path):
    """The root's installed ecgedge may predate the probe's imports: put this checkout's
    ``edge_runtime`` (pure Python) first on the probe's path inside the chroot."""
    import shutil

    src = root / "tmp" / "ecgedge_probe_src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(
        REPO / "edge_runtime", src / "edge_runtime", ignore=shutil.ignore_patterns("__pycache__")
    )
    plain_run = isa_gate._run

    def run(argv: list[str], env: dict[str, str], what: str) -> None:
        if argv and argv[0] == "chroot" and "-i" in argv:
            i = argv.index("-i") + 1
            argv = [*argv[:i], "PYTHONPATH=/tmp/ecgedge_probe_src", *argv[i:]]
        plain_run(argv, env, what)

    isa_gate._run = run
    return src


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="ecgedge bench isa_parity_probe", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--arm64-root", required=True, help="root built by bench/arm64.sh")
    ap.add_argument("--tasks", default="hyp,findings6", help="tasks, comma-separated")
    ap.add_argument("--suffix", default="probe", help="label suffix of the entries")
    ap.add_argument("--data", type=Path, default=bench.DATA, help="isa_parity prepare output")
    ap.add_argument("--out", type=Path, default=bench.OUT, help="results file to merge into")
    args = ap.parse_args(argv)
    doc = json.loads(args.out.read_text())
    src = _with_current_runtime(Path(args.arm64_root))
    for t in targets(args.arm64_root):
        if t.kind != "arm64-root":
            continue
        entry: dict = {
            "emulation": t.how,
            "data": "fixed stratified subset of the test split (see bench/isa_parity.py)",
            "session_config": None,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "python "
            + shlex.join(["bench/isa_parity_probe.py", *(argv or sys.argv[1:])]),
            "tasks": {},
        }
        for task in args.tasks.split(","):
            inputs, y = bench.load_split(args.data, task, True)
            i8, info = run_probe(t, bench.MODELS / f"{task}.int8.onnx", inputs)
            f32, _ = run_probe(t, bench.MODELS / f"{task}.fp32.onnx", inputs)
            card = read_card(bench.MODELS / f"{task}.int8.onnx")
            r = bench._pair(card, f32, i8, y)
            entry["tasks"][task] = {"n": int(len(y)), "onnx": r}
            entry["cpu"] = info.get("cpu", {})
            entry["session_config"] = info.get("session_config")
            entry["onnxruntime"] = info.get("onnxruntime")
            print(
                f"[{t.isa_class}] {task} n={len(y)} agreement {r['agreement']:.4f} drop "
                f"{r['metric_drop'] * 100:+.2f} pt passed={r['passed']}",
                flush=True,
            )
        entry["passed"] = all(v["onnx"]["passed"] for v in entry["tasks"].values())
        doc["runs"][f"aarch64-qemu-{t.qemu_cpu}-{args.suffix}"] = entry
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    import shutil

    shutil.rmtree(src, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
