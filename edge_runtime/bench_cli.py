"""``ecgedge bench NAME [args]``: run the benchmark script ``bench/NAME.py``.

Benchmarks are plain scripts (they print a table and write ``docs/results/*.json``); this
command only finds them, so ``ecgedge bench detectors --quick`` equals
``python bench/detectors.py --quick`` run from the repository root.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from edge_runtime.errors import EcgEdgeError

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"


def available() -> dict[str, str]:
    """Benchmark name -> first line of its docstring (or '')."""
    out = {}
    for p in sorted(BENCH_DIR.glob("*.py")):
        if p.name.startswith("_"):
            continue
        first = ""
        text = p.read_text(encoding="utf-8", errors="replace").lstrip()
        if text.startswith(('"""', "'''")):
            first = text[3:].strip().splitlines()[0].rstrip('"').strip() if text[3:] else ""
        out[p.stem] = first
    return out


def main(argv: list[str]) -> int:
    """Run ``bench/<argv[0]>.py`` with the remaining arguments."""
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        lines = ["usage: ecgedge bench NAME [args...]", "", "benchmarks (bench/*.py):"]
        width = max((len(n) for n in names), default=4)
        lines += [f"  {n:<{width}}  {d}" for n, d in names.items()] or ["  (none found)"]
        lines += ["", "Run 'ecgedge bench NAME --help' for the options of each."]
        print("\n".join(lines))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        choices = ", ".join(names) or "none found"
        raise EcgEdgeError(f"unknown benchmark '{name}' (choose from {choices})", exit_code=2)
    script = BENCH_DIR / f"{name}.py"
    old_argv = sys.argv
    sys.argv = [str(script), *rest]
    root = str(BENCH_DIR.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # scripts end with sys.exit(main())
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = old_argv
    return 0
