"""``ecgedge export``: checkpoints -> deployable artifacts, and model-card inspection.

Subcommands::

    ecgedge export build [CKPT ...] [--out models] [--data-dir DIR] [--methods ...]
                         [--arm64-root DIR]
    ecgedge export tflite [CKPT ...] [--out models] [--data-dir DIR] [--seed N]
    ecgedge export inspect MODEL [--json]

``build`` without checkpoints exports every ``models/checkpoints/<task>.pt`` that exists.
``tflite`` adds only the .tflite pair next to already shipped ONNX artifacts, which it reads
but never rewrites (:mod:`export.tflite_rebuild`).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from edge_runtime.cli import Command, dispatch, make_parser
from edge_runtime.errors import EcgEdgeError
from edge_runtime.inference import TASKS, read_card

_REPO = Path(__file__).resolve().parent.parent
DEFAULT_CKPT_DIR = _REPO / "models" / "checkpoints"
DEFAULT_OUT = _REPO / "models"
DEFAULT_RESULTS = _REPO / "docs" / "results"


def _tflite_available() -> bool:
    try:
        import litert_torch  # noqa: F401
    except ImportError:
        return False
    return True


def build_main(argv: list[str]) -> int:
    p = make_parser(
        "ecgedge export build",
        "Export trained checkpoints to fp32 + int8 ONNX (+ TFLite) with model cards; fail if "
        "parity with torch on the test split is broken.",
    )
    p.add_argument("checkpoints", nargs="*", help="checkpoint files (default: "
                   "models/checkpoints/<task>.pt for every task present)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output dir (default: models/)")
    p.add_argument("--data-dir", help="PhysioNet data dir (default: $ECGEDGE_DATA or "
                   "../shared/data)")
    p.add_argument("--methods", default="minmax,percentile,entropy",
                   help="calibration methods to try, comma-separated")
    p.add_argument("--keep-float", default="none,first,first+head",
                   help="mixed-precision options to try, comma-separated (none = all int8)")
    p.add_argument("--tflite", choices=("auto", "yes", "no"), default="auto",
                   help="also write .tflite (needs the tflite-export extra; auto: if installed)")
    p.add_argument("--report-dir", default=str(DEFAULT_RESULTS),
                   help="where export_<task>.json reports go (default: docs/results)")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration sample")
    p.add_argument("--arm64-root", metavar="DIR",
                   help="arm64 root built by bench/arm64.sh: also hold int8 parity under "
                   "qemu-aarch64 cortex-a72 and max (needs root); without it the aarch64 "
                   "classes are recorded as not checked")
    args = p.parse_args(argv)

    from export.quantize import METHODS

    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        known = ", ".join(METHODS)
        raise EcgEdgeError(f"unknown calibration method(s) {bad} (choose from {known})")
    from export.quantize import KEEP_FLOAT

    keep = tuple(k.strip() for k in args.keep_float.split(",") if k.strip())
    if not keep or any(k not in KEEP_FLOAT for k in keep):
        raise EcgEdgeError(f"--keep-float takes {', '.join(KEEP_FLOAT)} (comma-separated)")
    tflite = args.tflite == "yes" or (args.tflite == "auto" and _tflite_available())
    if args.tflite == "yes" and not _tflite_available():
        raise EcgEdgeError("--tflite yes needs litert-torch: pip install 'ecgedge[tflite-export]'")
    ckpts = _default_ckpts(args.checkpoints)

    from export.checkpoint import load_checkpoint
    from export.datasets import load_export_data
    from export.isa_gate import targets
    from export.pipeline import export_checkpoint, write_report

    isa_targets = targets(args.arm64_root)
    for t in isa_targets:
        print(f"int8 parity target {t.isa_class}: "
              f"{t.how if not t.reason else 'not checked (' + t.reason + ')'}", flush=True)
    command = "ecgedge export build " + " ".join(shlex.quote(a) for a in argv)
    loaded = [load_checkpoint(c) for c in ckpts]  # refuse bad checkpoints before any work
    for ck in loaded:
        task = ck.card["task"]
        print(f"[{task}] {ck.path}: arch {ck.arch}; loading {task} data", flush=True)
        data = load_export_data(ck.card, args.data_dir, seed=args.seed)
        print(f"[{task}] calibration {len(data.calib)} / val {len(data.val)} / "
              f"test {len(data.test)} examples ({data.source})", flush=True)
        report = export_checkpoint(
            ck, args.out, data, methods=methods, keep_float=keep, tflite=tflite,
            command=command, isa_targets=isa_targets,
            log=lambda m: print(m, flush=True),
        )
        Path(args.report_dir).mkdir(parents=True, exist_ok=True)
        rpath = Path(args.report_dir) / f"export_{task}.json"
        write_report(report, rpath)
        for path in report.artifacts.values():
            print(f"[{task}] wrote {path} ({Path(path).stat().st_size / 1024:.1f} KiB)")
        print(f"[{task}] report {rpath}")
    return 0


def _default_ckpts(given: list[str]) -> list[Path]:
    ckpts = [Path(c) for c in given]
    if not ckpts:
        ckpts = [DEFAULT_CKPT_DIR / f"{t}.pt" for t in TASKS]
        ckpts = [c for c in ckpts if c.is_file()]
        if not ckpts:
            raise EcgEdgeError(f"no checkpoints given and none found in {DEFAULT_CKPT_DIR}")
    return ckpts


def tflite_main(argv: list[str]) -> int:
    p = make_parser(
        "ecgedge export tflite",
        "Convert checkpoints to fp32 + int8 TFLite next to their shipped ONNX artifacts, "
        "which are read (cards, calibration ids) but not rewritten; fail if parity with torch "
        "on the test split is broken. Needs the tflite-export extra.",
    )
    p.add_argument("checkpoints", nargs="*", help="checkpoint files (default: "
                   "models/checkpoints/<task>.pt for every task present)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="dir of the shipped ONNX "
                   "artifacts; the .tflite files are written there (default: models/)")
    p.add_argument("--data-dir", help="PhysioNet data dir (default: $ECGEDGE_DATA or "
                   "../shared/data)")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration sample (must "
                   "give the ids the int8 ONNX card records)")
    p.add_argument("--report-dir", default=str(DEFAULT_RESULTS),
                   help="where export_<task>_tflite.json reports go (default: docs/results)")
    p.add_argument("--isa-dropped", action="append", default=[], metavar="RECIPE=REASON",
                   help="an int8 recipe whose TFLite test parity failed on an ISA class "
                   "(bench/isa_parity.py run --tflite): not offered, the next one in "
                   "validation order is kept (the ISA gate's rule); the reason goes to the "
                   "card; repeatable")
    args = p.parse_args(argv)
    from export.tflite import TFLITE_RECIPES

    dropped = dict(d.split("=", 1) for d in args.isa_dropped if "=" in d)
    if len(dropped) != len(args.isa_dropped) or set(dropped) - set(TFLITE_RECIPES):
        raise EcgEdgeError(f"--isa-dropped takes RECIPE=REASON, RECIPE one of "
                           f"{', '.join(TFLITE_RECIPES)}")
    if not _tflite_available():
        raise EcgEdgeError("ecgedge export tflite needs litert-torch: "
                           "pip install 'ecgedge[tflite-export]'")
    ckpts = _default_ckpts(args.checkpoints)

    from export.checkpoint import load_checkpoint
    from export.datasets import load_export_data
    from export.tflite_rebuild import rebuild_tflite

    command = "ecgedge export tflite " + " ".join(shlex.quote(a) for a in argv)
    loaded = [load_checkpoint(c) for c in ckpts]
    for ck in loaded:
        task = ck.card["task"]
        print(f"[{task}] {ck.path}: arch {ck.arch}; loading {task} data", flush=True)
        data = load_export_data(ck.card, args.data_dir, seed=args.seed)
        report = rebuild_tflite(ck, args.out, data, command=command,
                                log=lambda m: print(m, flush=True), isa_dropped=dropped)
        Path(args.report_dir).mkdir(parents=True, exist_ok=True)
        rpath = Path(args.report_dir) / f"export_{task}_tflite.json"
        rpath.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        for path in report["artifacts"].values():
            print(f"[{task}] wrote {path} ({Path(path).stat().st_size / 1024:.1f} KiB)")
        print(f"[{task}] report {rpath}")
    return 0


def inspect_main(argv: list[str]) -> int:
    p = make_parser("ecgedge export inspect", "Print the model card of an .onnx or .tflite file.")
    p.add_argument("model", help="artifact path (.onnx, or .tflite with its .card.json)")
    p.add_argument("--json", action="store_true", help="print the whole card as JSON")
    args = p.parse_args(argv)
    card = read_card(args.model)
    if args.json:
        print(json.dumps(card, indent=2, sort_keys=True))
        return 0
    print(format_card(card, args.model))
    return 0


def format_card(card: dict, path: str | Path = "") -> str:
    """Human summary of a card: what a deployer checks before wiring a model in."""
    shapes = ", ".join(f"{s['name']}{s['shape']}" for s in card["inputs"])
    lines = [
        f"{path}",
        f"  task        {card['task']}  ({card['arch']}, output {card['output']})",
        f"  classes     {', '.join(card['classes'])}",
        f"  inputs      {shapes}",
        f"  fs / leads  {card['fs']} Hz / {', '.join(card['leads'])}",
        f"  window      {json.dumps(card['window'])}",
    ]
    pre = card.get("preprocessing") or {}
    if pre:
        norm = (pre.get("normalisation") or {}).get("kind", "none")
        lines.append(f"  filter      {json.dumps(pre.get('filter'))}; normalisation {norm}")
    if card.get("features"):
        lines.append(f"  features    {', '.join(card['features'])}")
    if card.get("operating_points"):
        lines.append(f"  op. points  {', '.join(card['operating_points'])}")
    tr = card.get("training") or {}
    if tr:
        lines.append(f"  training    {tr.get('data', '?')} / {tr.get('split', '?')} "
                     f"(ids hash {tr.get('ids_hash', '?')}, {len(tr.get('train_ids') or [])} ids)")
    q = card.get("quantization")
    if q:
        cal = q.get("calibration")
        on = f" on {cal.get('n')} training examples" if cal else ""
        lines.append(f"  quantized   int8 {q.get('format')} per_channel={q.get('per_channel')} "
                     f"calibration={q.get('method')}{on}; activations {q.get('activations')}; "
                     f"float layers: {', '.join(q.get('float_nodes') or []) or 'none'}")
    else:
        lines.append("  quantized   no (fp32)")
    for key in ("metrics", "metrics_fp32", "metrics_int8"):
        if card.get(key):
            lines.append(f"  {key:<11} {json.dumps(card[key], sort_keys=True)[:300]}")
    par = card.get("parity")
    if par:
        lines.append(f"  parity      max|diff|={par.get('max_abs_diff_logits'):.2e} "
                     f"agreement={par.get('agreement'):.4f} {par.get('metric')} drop="
                     f"{par.get('metric_drop'):.4f} passed={par.get('passed')}")
    if card.get("parity_per_isa"):
        from export.isa_card import format_table

        lines += format_table(card["parity_per_isa"])
    exp = card.get("export") or {}

    def dirty(d: dict) -> str:
        return " +uncommitted changes" if d.get("git_dirty") else ""

    lines.append(f"  git commit  {card.get('git_commit', '?')}{dirty(card)} "
                 f"(export {exp.get('git_commit', '-')}{dirty(exp)})")
    if exp.get("command"):
        lines.append(f"  command     {exp['command']}")
    if exp.get("tflite_command"):  # TFLite added later to a shipped ONNX export
        lines.append(f"  tflite      {exp['tflite_command']} ({exp.get('converter', '?')}, "
                     f"{exp.get('tflite_exported', '?')}, commit "
                     f"{str(exp.get('tflite_git_commit', '?'))[:12]}"
                     f"{dirty({'git_dirty': exp.get('tflite_git_dirty')})})")
    return "\n".join(lines)


SUBCOMMANDS: dict[str, Command] = {
    "build": ("export.cli:build_main", "checkpoints -> fp32/int8 ONNX (+TFLite), cards, parity", 7),
    "tflite": ("export.cli:tflite_main", "checkpoints -> TFLite next to shipped ONNX (ONNX "
               "untouched), cards, parity", 7),
    "inspect": ("export.cli:inspect_main", "print an artifact's model card", 7),
}


def main(argv: list[str]) -> int:
    return dispatch("ecgedge export", "Export and inspect model artifacts.", SUBCOMMANDS, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
