"""The ``ecgedge`` command: git-style subcommands dispatched to the module that owns each.

Each subcommand lives in its own module as ``main(argv: list[str]) -> int`` and is imported
only when called, so ``ecgedge run`` on a Raspberry Pi never imports torch and ``ecgedge
train`` can say which extra is missing instead of failing with a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from edge_runtime.errors import EcgEdgeError, OneLineArgumentParser, make_parser

__all__ = ["COMMANDS", "Command", "OneLineArgumentParser", "make_parser", "dispatch", "main"]

# name -> (target "module:function" or None while unbuilt, one-line help, issue that builds it)
Command = tuple[str | None, str, int]

COMMANDS: dict[str, Command] = {
    "demo": ("firmware_sim.demo:main", "stream a shipped MIT-BIH record end to end", 3),
    "sim": ("firmware_sim.cli:main", "simulated acquisition device (replays WFDB records)", 8),
    "run": ("edge_runtime.run_cli:main", "bedside runtime, live from a port or on a record", 9),
    "station": ("edge_runtime.station_cli:main", "central station: many beds over MQTT", 17),
    "annotate": ("edge_runtime.annotate:main", "write WFDB beat annotations for a record", 4),
    "predict": ("edge_runtime.predict:main", "window-model probabilities per 10 s window", 6),
    "train": ("train.cli:main", "train a model (beats, window)", 5),
    "export": ("export.cli:main", "export checkpoints to ONNX/TFLite, inspect model cards", 7),
    "eval": ("train.eval_cli:main", "evaluate (detector, beats, window, alarms)", 4),
    "bench": ("edge_runtime.bench_cli:main", "run a benchmark (pipeline: in the package)", 4),
    "report": ("edge_runtime.report:main", "summarise a run journal", 9),
}

# Subcommands of a group that live in edge_runtime (no torch) while the group itself is
# dispatched to train/: (prog, command, subcommand) -> target
_SUBCOMMANDS: dict[tuple[str, str, str | None], str] = {
    ("ecgedge", "eval", "alarms"): "train.alarms.cli:main",
}

# Optional dependencies and the extra that installs them, for a helpful message.
_EXTRA_FOR_MODULE = {
    "torch": "train",
    "tqdm": "train",
    "matplotlib": "plot",
    "onnx": "export",
    "onnxscript": "export",
    "paho": "mqtt",
    "ai_edge_litert": "tflite",
    "litert_torch": "tflite-export",
    "neurokit2": "bench",
    "sleepecg": "bench",
}


def _load(target: str) -> Callable[[list[str]], int]:
    module_name, func = target.split(":")
    return getattr(importlib.import_module(module_name), func)


def dispatch(prog: str, description: str, table: dict[str, Command], argv: Sequence[str]) -> int:
    """Run ``table[argv[0]]`` with the remaining args; shared by ``ecgedge`` and its groups."""
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        width = max(len(n) for n in table)
        lines = [f"usage: {prog} <command> [options]", "", description, "", "commands:"]
        for name, (target, helptext, issue) in table.items():
            todo = "" if target else f"  [not yet built: issue #{issue}]"
            lines.append(f"  {name:<{width}}  {helptext}{todo}")
        lines += ["", f"Run '{prog} <command> --help' for the options of each command."]
        print("\n".join(lines))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    target = _SUBCOMMANDS.get((prog, name, rest[0] if rest else None))
    if target is not None:  # e.g. 'eval alarms': runtime code, dispatched before train/
        return int(_load(target)(rest[1:]) or 0)
    if name not in table:
        choices = ", ".join(table)
        print(f"{prog}: error: unknown command '{name}' (choose from {choices})", file=sys.stderr)
        return 2
    target, _, issue = table[name]
    func = None
    if target is not None:
        try:
            func = _load(target)
        except ModuleNotFoundError as exc:
            if exc.name != target.split(":")[0]:
                raise  # a dependency is missing, not the command itself
    if func is None:
        print(f"{prog} {name}: not implemented yet (issue #{issue})", file=sys.stderr)
        return 2
    return int(func(rest) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ecgedge`` console script; turns user errors into one line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return dispatch("ecgedge", "Edge ECG toolkit.", COMMANDS, argv)
    except EcgEdgeError as exc:
        print(f"ecgedge: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        extra = _EXTRA_FOR_MODULE.get(top)
        if extra is None:
            raise
        print(
            f"ecgedge: error: this command needs '{top}': pip install 'ecgedge[{extra}]'",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("ecgedge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
