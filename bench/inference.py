"""Inference latency: torch eager vs ONNX Runtime fp32/int8 vs TFLite, per shipped model.

For every task with shipped artifacts (``models/<task>.<fp32|int8>.<onnx|tflite>``) and its
training checkpoint (``models/checkpoints/<task>.pt``, for the torch eager baseline) this
measures, all in one run and all with ONE intra-op thread (a Pi-class budget, and the only
fair comparison on a shared machine):

* latency per call at batch 1 and batch 32: median and p99 over timed repetitions after a
  warm-up, taken in alternating turns across the backends (so load drift on a shared
  machine hits all of them alike), and throughput (examples/s at the median);
* ratios to torch eager (speed-up = torch median / backend median);
* file sizes;
* peak RSS (VmHWM) of a fresh process that only imports the runtime, loads the model and
  runs one inference (and, for comparison, of a process doing the same with torch).

Every backend is timed on the raw logits call (``model(*args)`` for torch under
``inference_mode``, :meth:`edge_runtime.inference.Model.run` for artifacts).
Inputs are random float32 arrays of the card's shapes: these models have no data-dependent
control flow, so latency does not depend on the values. Prints a table, writes
``docs/results/inference.json`` (with the command) and ``docs/results/inference.png``.

    python bench/inference.py [--tasks beat,hyp,findings6] [--budget-s 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_runtime.inference import load_model, read_card  # noqa: E402
from edge_runtime.provenance import provenance  # noqa: E402

MODELS = REPO / "models"
RESULTS = REPO / "docs" / "results"
BATCHES = (1, 32)
TARGETS = {
    "int8_size_ratio_max": 0.35,
    "int8_vs_ort_fp32_latency_b1_max": 0.6,
    "ort_fp32_speedup_vs_torch_b1_min": 3.0,
}


def _inputs(card: dict, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        s["name"]: rng.standard_normal((batch, *s["shape"][1:])).astype(np.float32)
        for s in card["inputs"]
    }


def _time_interleaved(
    fns: dict[str, object], budget_s: float, calls_per_turn: int, min_turns: int = 5,
    warmup: int = 10,
) -> dict[str, np.ndarray]:
    """Per-call times (ms) of several backends, taken in alternating turns.

    On a shared machine the load changes from second to second; timing the backends one
    after the other would let that drift masquerade as a speed difference. Turns of
    ``calls_per_turn`` calls rotate over the backends until ``budget_s`` per backend is spent.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[int]] = {k: [] for k in fns}
    t_end = time.perf_counter() + budget_s * len(fns)
    turns = 0
    while turns < min_turns or time.perf_counter() < t_end:
        for name, fn in fns.items():
            for _ in range(calls_per_turn):
                t0 = time.perf_counter_ns()
                fn()
                times[name].append(time.perf_counter_ns() - t0)
        turns += 1
    return {k: np.asarray(v, dtype=np.float64) / 1e6 for k, v in times.items()}


def _stats(ms: np.ndarray, batch: int) -> dict[str, float]:
    med = float(np.median(ms))
    return {
        "median_ms": med,
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "reps": int(ms.size),
        "throughput_per_s": batch / (med / 1e3),
    }


def _size_breakdown(path: Path) -> dict[str, int | None]:
    """Bytes of weights (initializers) and of the embedded card in an ONNX file: on a model of
    tens of KB the card and graph are a visible share, so the ratio is reported both ways."""
    if path.suffix != ".onnx":
        return {"weights_bytes": None, "card_bytes": None}
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        return {"weights_bytes": None, "card_bytes": None}
    m = onnx.load(str(path))
    weights = sum(numpy_helper.to_array(i).nbytes for i in m.graph.initializer)
    card = sum(len(p.value.encode()) for p in m.metadata_props)
    return {"weights_bytes": int(weights), "card_bytes": int(card)}


def _runners(task: str) -> dict[str, tuple[str, Path]]:
    """backend name -> (kind, file) for what exists."""
    out: dict[str, tuple[object, Path]] = {}
    ckpt = MODELS / "checkpoints" / f"{task}.pt"
    if ckpt.is_file():
        try:
            import torch  # noqa: F401

            out["torch_eager"] = ("torch", ckpt)
        except ImportError:
            pass
    for prec in ("fp32", "int8"):
        p = MODELS / f"{task}.{prec}.onnx"
        if p.is_file():
            out[f"ort_{prec}"] = ("artifact", p)
    for prec in ("fp32", "int8"):
        p = MODELS / f"{task}.{prec}.tflite"
        if p.is_file():
            try:
                load_model(p)
                out[f"tflite_{prec}"] = ("artifact", p)
            except Exception as exc:  # no interpreter installed: reported, not fatal
                print(f"  skip {p.name}: {exc}")
    return out


def _make_fn(kind: str, path: Path, card: dict, batch: int):
    feeds = _inputs(card, batch)
    if kind == "torch":
        import torch

        from export.checkpoint import load_checkpoint

        torch.set_num_threads(1)
        ck = load_checkpoint(path)
        args = [torch.from_numpy(feeds[n]) for n in ck.input_names]

        def run_torch() -> None:
            with torch.inference_mode():
                ck.model(*args)

        return run_torch
    model = load_model(path, threads=1)
    prepared = model.prepare(**feeds)

    def run_artifact() -> None:
        model.run(prepared)  # raw logits, like the torch call: engine time only

    return run_artifact


_RSS_CODE = """
import resource, sys
import numpy as np
kind, path = sys.argv[1], sys.argv[2]
if kind == "torch":
    import torch
    torch.set_num_threads(1)
    from export.checkpoint import load_checkpoint
    ck = load_checkpoint(path)
    args = [torch.zeros([1, *s["shape"][1:]]) for s in ck.card["inputs"]]
    with torch.inference_mode():
        ck.model(*args)
else:
    from edge_runtime.inference import load_model
    m = load_model(path, threads=1)
    m.predict(**{s["name"]: np.zeros([1, *s["shape"][1:]], np.float32) for s in m.input_specs})
# VmHWM (peak resident set of this address space): unlike ru_maxrss it is not inherited
# from the parent across fork/exec, so the benchmark's own torch does not leak into it.
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mib(kind: str, path: Path) -> float | None:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CODE, kind, str(path)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if out.returncode != 0:
        print(f"  peak RSS failed for {path.name}: {out.stderr.strip().splitlines()[-1:]}")
        return None
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0  # KiB -> MiB


def bench_task(task: str, budget_s: float) -> dict | None:
    runners = _runners(task)
    artifacts = [p for k, (_, p) in runners.items() if k != "torch_eager"]
    if not artifacts:
        print(f"[{task}] no shipped artifacts in {MODELS}; skipped")
        return None
    card = read_card(artifacts[0])
    res: dict = {"card_arch": card["arch"], "inputs": card["inputs"], "backends": {}}
    for name, (kind, path) in runners.items():
        entry: dict = {"file": os.path.relpath(path, REPO),
                       "size_bytes": path.stat().st_size}
        if kind == "artifact":
            entry.update(_size_breakdown(path))
        res["backends"][name] = entry
    for b in BATCHES:
        fns = {name: _make_fn(kind, path, card, b) for name, (kind, path) in runners.items()}
        per = _time_interleaved(fns, budget_s, calls_per_turn=20 if b == 1 else 2)
        for name, ms in per.items():
            res["backends"][name][f"batch{b}"] = _stats(ms, b)
    for name, (kind, path) in runners.items():
        entry = res["backends"][name]
        entry["peak_rss_mib"] = peak_rss_mib(kind, path)
        b1 = entry["batch1"]
        print(f"[{task}] {name:<12} b1 median {b1['median_ms']:.3f} ms p99 {b1['p99_ms']:.3f} | "
              f"b32 median {entry['batch32']['median_ms']:.3f} ms | "
              f"{entry['size_bytes'] / 1024:.1f} KiB | RSS {entry['peak_rss_mib']:.0f} MiB",
              flush=True)
    be = res["backends"]
    if "torch_eager" in be:
        for entry in be.values():
            for b in BATCHES:
                t = be["torch_eager"][f"batch{b}"]["median_ms"]
                entry[f"batch{b}"]["speedup_vs_torch"] = t / entry[f"batch{b}"]["median_ms"]
    checks = {}
    if "ort_fp32" in be and "ort_int8" in be:
        checks["int8_size_ratio"] = be["ort_int8"]["size_bytes"] / be["ort_fp32"]["size_bytes"]
        if be["ort_int8"].get("weights_bytes") and be["ort_fp32"].get("weights_bytes"):
            res["int8_weights_ratio"] = (be["ort_int8"]["weights_bytes"]
                                         / be["ort_fp32"]["weights_bytes"])
        checks["int8_vs_ort_fp32_latency_b1"] = (
            be["ort_int8"]["batch1"]["median_ms"] / be["ort_fp32"]["batch1"]["median_ms"]
        )
    if "ort_fp32" in be and "torch_eager" in be:
        checks["ort_fp32_speedup_vs_torch_b1"] = be["ort_fp32"]["batch1"]["speedup_vs_torch"]
    res["targets"] = {
        k: {"value": v, "target": _target(k), "met": _met(k, v)} for k, v in checks.items()
    }
    return res


def _target(k: str) -> str:
    return {"int8_size_ratio": "<= 0.35", "int8_vs_ort_fp32_latency_b1": "<= 0.6",
            "ort_fp32_speedup_vs_torch_b1": ">= 3"}[k]


def _met(k: str, v: float) -> bool:
    if k == "int8_size_ratio":
        return v <= TARGETS["int8_size_ratio_max"]
    if k == "int8_vs_ort_fp32_latency_b1":
        return v <= TARGETS["int8_vs_ort_fp32_latency_b1_max"]
    return v >= TARGETS["ort_fp32_speedup_vs_torch_b1_min"]


def _cpu() -> dict[str, object]:
    """CPU model and the SIMD flags int8 kernels depend on (VNNI makes int8 GEMM ~2x faster
    than AVX2's pmaddubsw path; without it int8 gains are modest)."""
    model, flags = platform.processor(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    simd = sorted(f for f in flags if f.startswith(("avx", "amx", "sse4")) or "vnni" in f)
    return {"model": model, "simd_flags": simd}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("numpy", "onnxruntime", "torch", "ai_edge_litert"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:
            out[mod] = "absent"
    return out


def table(results: dict) -> str:
    rows = ["| model | backend | size KiB | b1 median ms | b1 p99 ms | b1 x torch | "
            "b32 median ms | b32 ex/s | b32 x torch | peak RSS MiB |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for task, r in results.items():
        for name, e in r["backends"].items():
            b1, b32 = e["batch1"], e["batch32"]
            rss = f"{e['peak_rss_mib']:.0f}" if e["peak_rss_mib"] else "-"
            rows.append(
                f"| {task} | {name} | {e['size_bytes'] / 1024:.1f} | {b1['median_ms']:.3f} | "
                f"{b1['p99_ms']:.3f} | {b1.get('speedup_vs_torch', float('nan')):.2f} | "
                f"{b32['median_ms']:.2f} | {b32['throughput_per_s']:.0f} | "
                f"{b32.get('speedup_vs_torch', float('nan')):.2f} | {rss} |"
            )
    return "\n".join(rows)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    backends = sorted({b for r in results.values() for b in r["backends"]},
                      key=["torch_eager", "ort_fp32", "ort_int8", "tflite_fp32",
                           "tflite_int8"].index)
    tasks = list(results)
    width = 0.8 / max(1, len(backends))
    for ax, b in zip(axes, BATCHES, strict=True):
        for i, be in enumerate(backends):
            vals = [results[t]["backends"].get(be, {}).get(f"batch{b}", {}).get("median_ms",
                    np.nan) for t in tasks]
            ax.bar(np.arange(len(tasks)) + i * width, vals, width, label=be)
        ax.set_xticks(np.arange(len(tasks)) + width * (len(backends) - 1) / 2, tasks)
        ax.set_yscale("log")
        ax.set_ylabel("median latency per call (ms, log)")
        ax.set_title(f"batch {b}, 1 intra-op thread")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench inference",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="beat,hyp,findings6",
                    help="comma list of shipped models to time (default beat,hyp,findings6)")
    ap.add_argument("--budget-s", type=float, default=3.0,
                    help="timing budget per backend and batch size (seconds)")
    ap.add_argument("--out", default=str(RESULTS / "inference.json"),
                    help="JSON to write (default docs/results/inference.json)")
    ap.add_argument("--models-dir", default=None,
                    help="where <task>.<prec>.onnx and checkpoints/<task>.pt are (models/)")
    ap.add_argument("--no-plot", action="store_true", help="do not draw the latency plot")
    args = ap.parse_args(argv)
    global MODELS
    if args.models_dir:
        MODELS = Path(args.models_dir).resolve()
    results = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        r = bench_task(task, args.budget_s)
        if r:
            results[task] = r
    if not results:
        print("no shipped models found; run `ecgedge export build` first", file=sys.stderr)
        return 1
    print()
    print(table(results))
    for task, r in results.items():
        for k, t in r["targets"].items():
            print(f"[{task}] {k} = {t['value']:.3f} (target {t['target']}): "
                  f"{'met' if t['met'] else 'NOT met'}")
        if "int8_weights_ratio" in r:
            print(f"[{task}] int8/fp32 weights-only bytes = {r['int8_weights_ratio']:.3f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "command": "python bench/inference.py " + " ".join(shlex.quote(a) for a in (argv or
                   sys.argv[1:])),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **provenance(),
        "machine": {"platform": platform.platform(), "cpu": _cpu(),
                    "cpu_count": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "versions": _versions(),
        "settings": {"intra_op_threads": 1, "batches": list(BATCHES),
                     "budget_s": args.budget_s, "inputs": "random normal, card shapes"},
        "results": results,
        "table_markdown": table(results),
    }
    out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    if not args.no_plot:
        png = out.with_suffix(".png")
        plot(results, png)
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
