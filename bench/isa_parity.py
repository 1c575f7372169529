"""int8-vs-fp32 decision parity per instruction-set class.

The int8 artifacts must decide like the fp32 ones on every CPU the runtime ships to, and
onnxruntime picks different int8 kernels per ISA: x86-64 AVX2 without VNNI (saturating
u8s8 unless ``session.x64quantprecision`` is set), x86-64 AVX-512 VNNI, aarch64 NEON
(Cortex-A72, Raspberry Pi 4) and aarch64 with dot-product (Pi 5 / Cortex-A76 class).
QEMU user-mode reaches the classes this host lacks (docs/portability.md).

Two steps, so the emulated runs need neither torch nor the raw data:

* ``prepare`` (native, full dev venv): builds each task's **test split** exactly as the
  export's parity does (:func:`export.datasets.load_export_data`: MIT-BIH DS2 beats,
  PTB-XL fold 10 windows) and saves the model inputs and labels to one ``.npz``. The slow
  emulated runs use a fixed, stratified subset (``--subset``, drawn with seed 0 from the
  labels by numpy's PCG64, which draws the same on every platform):
  beats: ~2000, class-proportional with a floor of 20 per AAMI class (all of a rarer one);
  windows: 120, up to ``n/(2*classes)`` positives of each class, filled at random.
* ``run`` (any CPU, numpy + onnxruntime only): int8 vs fp32 ONNX (and the TFLite pair when
  an interpreter is importable) through the runtime's own loader, compared with
  :func:`export.parity.compare`; fp32 ONNX stands in for torch (it matches torch to
  < 1e-4, docs/results/export_*.json), so the agreement and metric drop are int8's own.
  Records the CPU (model name, the ISA flags numpy's CPUID/HWCAP probe sees, the ISA class),
  SHA-256 digests of the int8 logits and decisions (equal digests across CPUs = identical
  outputs), and merges one entry per ``--label`` into ``docs/results/isa_parity.json``.
  ``--without-exact-int8`` also runs the int8 ONNX without the runtime's exact-int8 session
  option, to show what it fixes; ``--latency`` times the int8 ONNX with and without it.

    python bench/isa_parity.py prepare
    python bench/isa_parity.py run --label native
    python bench/isa_parity.py card       # per-ISA table -> the shipped int8 cards
    qemu-x86_64 -cpu Haswell python bench/isa_parity.py run --subset --label x86-haswell
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_runtime import inference  # noqa: E402
from edge_runtime.inference import load_model, read_card  # noqa: E402
from edge_runtime.ort_config import ORT_EXACT_INT8  # noqa: E402

TASKS = ("beat", "hyp", "findings6")
MODELS = REPO / "models"
OUT = REPO / "docs" / "results" / "isa_parity.json"
DATA = Path(os.environ.get("ECGEDGE_ISA_DATA", "/var/tmp/ecgedge-isa/parity_data.npz"))

# CPU probe and the fixed subsets live in export/ (the export's ISA gate uses them too)
from export.isa_probe import KERNEL_FLAGS, cpu_info, isa_class  # noqa: E402,F401
from export.isa_subset import SUBSET, _subset_beats, _subset_windows, subset  # noqa: E402,F401


# --------------------------------------------------------------------------- data
def prepare(out: Path, seed: int) -> None:
    from export.datasets import load_export_data

    arrays: dict[str, np.ndarray] = {}
    for task in TASKS:
        card = read_card(MODELS / f"{task}.fp32.onnx")
        t0 = time.time()
        test = load_export_data(card, seed=seed).test
        for name, x in test.inputs.items():
            arrays[f"{task}/x/{name}"] = x
        arrays[f"{task}/y"] = test.y
        print(f"[{task}] test n={len(test)} subset n={len(subset(task, test.y))} "
              f"({time.time() - t0:.0f} s)", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def load_split(data: Path, task: str, sub: bool) -> tuple[dict[str, np.ndarray], np.ndarray]:
    z = np.load(data)
    prefix = f"{task}/x/"
    idx = subset(task, z[f"{task}/y"]) if sub else slice(None)
    inputs = {k[len(prefix):]: np.ascontiguousarray(z[k][idx]) for k in z.files
              if k.startswith(prefix)}
    return inputs, np.asarray(z[f"{task}/y"][idx])


# --------------------------------------------------------------------------- run
@contextmanager
def exact_int8(mode: str | None):
    """Force the runtime's int8 session config: "on" (:data:`ORT_EXACT_INT8`), "off"
    (onnxruntime's default kernels), None (the runtime's own choice for this CPU)."""
    saved = inference.ort_session_config
    if mode is not None:
        forced = dict(ORT_EXACT_INT8) if mode == "on" else {}
        inference.ort_session_config = lambda: dict(forced)
    try:
        yield
    finally:
        inference.ort_session_config = saved


def logits(path: Path, inputs: dict[str, np.ndarray], batch: int = 256) -> np.ndarray:
    model = load_model(path, threads=1)
    n = next(iter(inputs.values())).shape[0]
    return np.concatenate([model.logits(**{k: v[i:i + batch] for k, v in inputs.items()})
                           for i in range(0, n, batch)])


def _pair(card: dict, ref: np.ndarray, art: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from export.parity import compare, decisions, probabilities

    r = compare(card, "int8", ref, art, y).to_dict()
    r.pop("split", None)
    r["reference"] = "fp32 artifact of the same format on this CPU"
    # digests: equal digests across CPUs = bit-identical outputs / identical decisions
    r["int8_logits_sha256"] = hashlib.sha256(np.ascontiguousarray(art, np.float32)).hexdigest()
    dec = decisions(card, probabilities(card, art))
    r["int8_decisions_sha256"] = hashlib.sha256(np.ascontiguousarray(dec, np.int8)).hexdigest()
    r["fp32_decisions_sha256"] = hashlib.sha256(
        np.ascontiguousarray(decisions(card, probabilities(card, ref)), np.int8)).hexdigest()
    return r


def latency(path: Path, inputs: dict[str, np.ndarray], budget_s: float) -> dict[str, Any]:
    """Median call time of the int8 ONNX at batch 1 and 32 with the exact-int8 option
    forced on and off, timed in alternating turns so load drift hits both alike."""
    out: dict[str, Any] = {}
    for batch in (1, 32):
        feeds = {k: v[:batch] for k, v in inputs.items()}
        models = {}
        for on in (True, False):
            with exact_int8("on" if on else "off"):
                models[on] = load_model(path, threads=1)
            models[on].logits(**feeds)
        times: dict[bool, list[float]] = {True: [], False: []}
        t_end = time.perf_counter() + budget_s
        while time.perf_counter() < t_end or len(times[True]) < 5:
            for on in (True, False):
                t0 = time.perf_counter()
                models[on].logits(**feeds)
                times[on].append(time.perf_counter() - t0)
        med = {on: float(np.median(t)) for on, t in times.items()}
        out[f"b{batch}"] = {"exact_ms": med[True] * 1e3, "default_ms": med[False] * 1e3,
                            "ratio_exact_over_default": med[True] / med[False],
                            "reps": len(times[True])}
    return out


def run_task(task: str, data: Path, subset: bool, args) -> dict[str, Any]:
    inputs, y = load_split(data, task, subset)
    fp32, int8 = MODELS / f"{task}.fp32.onnx", MODELS / f"{task}.int8.onnx"
    card = read_card(fp32)
    t0 = time.time()
    ref = logits(fp32, inputs)
    res: dict[str, Any] = {"n": int(len(y)), "onnx": _pair(card, ref, logits(int8, inputs), y)}
    if args.without_exact_int8:
        with exact_int8("off"):
            res["onnx_without_exact_int8"] = _pair(card, ref, logits(int8, inputs), y)
    if not inference.ort_session_config():  # the runtime leaves the option off here (VNNI)
        with exact_int8("on"):
            forced = _pair(card, ref, logits(int8, inputs), y)
        res["onnx_exact_int8_forced_identical"] = (
            forced["int8_logits_sha256"] == res["onnx"]["int8_logits_sha256"])
    if args.tflite:
        try:
            inference._tflite_interpreter_class()
            tf32, tf8 = MODELS / f"{task}.fp32.tflite", MODELS / f"{task}.int8.tflite"
            tcard = read_card(tf8)
            res["tflite"] = _pair(tcard, logits(tf32, inputs), logits(tf8, inputs), y)
            res["tflite"]["quantization"] = tcard.get("quantization")
        except inference.EcgEdgeError as exc:
            res["tflite"] = {"skipped": str(exc)}
    if args.latency:
        res["latency_int8_onnx"] = latency(int8, inputs, args.budget_s)
    res["seconds"] = round(time.time() - t0, 1)
    return res


def write_cards(results: Path, models: Path, tasks: list[str],
                formats: tuple[str, ...] = ("onnx", "tflite")) -> int:
    """``parity_per_isa`` from the results file into each int8 card (ONNX metadata_props,
    TFLite .card.json); the ONNX graph is checked byte-identical before/after. ``formats``
    limits it, e.g. to "tflite" when only the TFLite pair was rebuilt (the ONNX files are
    then not even rewritten)."""
    from export.isa_card import table_from_results, write_onnx_section, write_tflite_section

    doc = json.loads(results.read_text())
    try:
        source = str(results.resolve().relative_to(REPO))
    except ValueError:
        source = str(results)
    for task in tasks:
        for fmt, writer in (("onnx", write_onnx_section), ("tflite", write_tflite_section)):
            if fmt not in formats:
                continue
            path = models / f"{task}.int8.{fmt}"
            if not path.is_file():
                print(f"[{task}] {path.name}: absent, skipped")
                continue
            section = table_from_results(doc, task, fmt, source)
            writer(path, section)
            states = ", ".join(f"{c}: {t['status']}" for c, t in section["targets"].items())
            print(f"[{task}] {path.name}: {states}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench isa_parity",
                                 description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build the test-split arrays (native, dev venv)")
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("run", help="int8-vs-fp32 parity on this CPU")
    r.add_argument("--data", type=Path, default=DATA)
    r.add_argument("--label", required=True, help="entry name in the results file")
    r.add_argument("--emulation", default="", help="how this CPU was reached, e.g. "
                   "'qemu-x86_64 -cpu Haswell' (recorded verbatim)")
    r.add_argument("--subset", action="store_true", help="the fixed stratified subset")
    r.add_argument("--tasks", default=",".join(TASKS))
    r.add_argument("--tflite", action="store_true", help="also the TFLite int8/fp32 pair")
    r.add_argument("--without-exact-int8", action="store_true")
    r.add_argument("--latency", action="store_true")
    r.add_argument("--budget-s", type=float, default=2.0)
    r.add_argument("--out", type=Path, default=OUT)
    c = sub.add_parser("card", help="write the per-ISA table into the shipped int8 cards "
                       "(metadata only, never the weights)")
    c.add_argument("--results", type=Path, default=OUT)
    c.add_argument("--models", type=Path, default=MODELS)
    c.add_argument("--tasks", default=",".join(TASKS))
    c.add_argument("--formats", default="onnx,tflite",
                   help="which int8 cards to write, comma-separated (onnx, tflite)")
    args = ap.parse_args(argv)
    if args.cmd == "card":
        formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
        if not formats or set(formats) - {"onnx", "tflite"}:
            ap.error("--formats takes onnx, tflite (comma-separated)")
        return write_cards(args.results, args.models, args.tasks.split(","), formats)
    if args.cmd == "prepare":
        prepare(args.data, args.seed)
        return 0
    if not args.data.is_file():
        print(f"error: {args.data} not found; run `python bench/isa_parity.py prepare` first")
        return 2
    import onnxruntime as ort

    entry: dict[str, Any] = {
        "cpu": cpu_info(),
        "emulation": args.emulation or None,
        "data": "fixed stratified subset of the test split (see module docstring)"
        if args.subset else "full test split (MIT-BIH DS2 / PTB-XL fold 10)",
        "onnxruntime": ort.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "session_config": inference.ort_session_config(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + shlex.join(["bench/isa_parity.py", *(argv or sys.argv[1:])]),
        "tasks": {},
    }
    for task in args.tasks.split(","):
        entry["tasks"][task] = res = run_task(task, args.data, args.subset, args)
        o = res["onnx"]
        line = (f"[{task}] n={res['n']} onnx agreement {o['agreement']:.4f} "
                f"{o['metric']} drop {o['metric_drop'] * 100:+.2f} pt passed={o['passed']}")
        if "onnx_without_exact_int8" in res:
            w = res["onnx_without_exact_int8"]
            line += f" | without option: {w['agreement']:.4f}, drop {w['metric_drop'] * 100:+.2f}"
        if "agreement" in res.get("tflite", {}):
            t = res["tflite"]
            line += f" | tflite {t['agreement']:.4f}, drop {t['metric_drop'] * 100:+.2f}"
        print(line, flush=True)
    entry["passed"] = all(t["onnx"]["passed"] and t.get("tflite", {}).get("passed", True)
                          for t in entry["tasks"].values())
    doc = json.loads(args.out.read_text()) if args.out.is_file() else {}
    doc.setdefault("bounds", {"min_agreement": 0.99, "max_metric_drop": 0.005})
    doc.setdefault("runs", {})[args.label] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{args.label}: {entry['cpu']['isa_class']} passed={entry['passed']} -> {args.out}")
    return 0 if entry["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
