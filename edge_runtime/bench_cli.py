"""``ecgedge bench NAME [args]``: run a benchmark.

Two kinds: the device-side benchmark ``pipeline`` ships inside the package
(:mod:`edge_runtime.benchmark`), so it runs from an installed wheel; the others are plain
scripts in a checkout's ``bench/`` (they print a table and write ``docs/results/*.json``),
and this command only finds them, so ``ecgedge bench detectors --quick`` equals
``python bench/detectors.py --quick`` run from the repository root.
"""

from __future__ import annotations

import importlib
import importlib.util
import runpy
import sys
from pathlib import Path

from edge_runtime.errors import EcgEdgeError

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
#: benchmarks shipped in the package: name -> module with ``main(argv) -> int``
PACKAGED = {"pipeline": "edge_runtime.benchmark.pipeline"}


def _first_doc_line(path: Path) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").lstrip()
    if text.startswith(('"""', "'''")) and text[3:].strip():
        return text[3:].strip().splitlines()[0].rstrip('"').strip()
    return ""


def available() -> dict[str, str]:
    """Benchmark name -> first line of its docstring (or '')."""
    out = {}
    for p in sorted(BENCH_DIR.glob("*.py")) if BENCH_DIR.is_dir() else []:
        if not p.name.startswith("_"):
            out[p.stem] = _first_doc_line(p)
    for name, module in PACKAGED.items():
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin:
            out[name] = _first_doc_line(Path(spec.origin))
    return dict(sorted(out.items()))


def main(argv: list[str]) -> int:
    """Run the packaged benchmark ``argv[0]``, or ``bench/<argv[0]>.py``, with the rest."""
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        lines = ["usage: ecgedge bench NAME [args...]", "", "benchmarks:"]
        width = max((len(n) for n in names), default=4)
        lines += [f"  {n:<{width}}  {d}" for n, d in names.items()] or ["  (none found)"]
        if not BENCH_DIR.is_dir():
            lines += ["", "(installed package: the other benchmarks need a source checkout)"]
        lines += ["", "Run 'ecgedge bench NAME --help' for the options of each."]
        print("\n".join(lines))
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in names:
        choices = ", ".join(names) or "none found"
        raise EcgEdgeError(f"unknown benchmark '{name}' (choose from {choices})", exit_code=2)
    if name in PACKAGED:
        return _run(lambda: importlib.import_module(PACKAGED[name]).main(rest))
    script = BENCH_DIR / f"{name}.py"
    old_argv = sys.argv
    sys.argv = [str(script), *rest]
    root = str(BENCH_DIR.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return _run(lambda: runpy.run_path(str(script), run_name="__main__"))
    finally:
        sys.argv = old_argv


def _run(fn) -> int:
    try:
        res = fn()
    except SystemExit as exc:  # scripts end with sys.exit(main()); argparse exits too
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return res if isinstance(res, int) else 0
