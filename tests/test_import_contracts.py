"""Import contracts of the four packages, checked on the source with ``ast``.

Every import statement counts, top-level or inside a function, so a lazy import cannot hide
a forbidden dependency or a cycle. (A plain ``ast`` walk rather than import-linter: the
contracts are three short rules, the walk needs no extra dependency or config file, and it
also sees the function-level imports this code base uses for optional extras.)

1. ``edge_runtime`` (the Raspberry Pi runtime) never imports torch, ``train``, ``export`` or
   ``firmware_sim``. The ``ecgedge`` dispatcher (``edge_runtime/cli.py``) names those
   commands by module *string*, which is not an import; nowhere else may edge_runtime load
   them through ``importlib.import_module``/``__import__`` with a literal name either.
2. ``firmware_sim`` (a stand-in for the acquisition device) uses only the runtime's public
   wire protocol, records and errors; ``firmware_sim/demo.py``, which drives the runtime end
   to end, may also use its run entry (``edge_runtime.run_cli``) and read the journal that
   run writes (``edge_runtime.sinks.journal``). No private (``_x``) names.
3. No import cycles among the modules of the four packages (and ``bench``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("edge_runtime", "train", "export", "firmware_sim", "bench")
RUNTIME_FORBIDDEN = ("torch", "train", "export", "firmware_sim")
SIM_ALLOWED = ("edge_runtime.protocol", "edge_runtime.records", "edge_runtime.errors")
DEMO_ALLOWED = (*SIM_ALLOWED, "edge_runtime.run_cli", "edge_runtime.sinks.journal")
DISPATCHER = "edge_runtime.cli"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for pkg in PACKAGES:
        for py in sorted((REPO / pkg).rglob("*.py")):
            parts = list(py.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = py
    return out


MODULES = _modules()


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _imports(name: str, path: Path) -> Iterator[tuple[str, str | None, int]]:
    """``(module imported, name taken from it or None, line)`` for every import in a file.

    ``from pkg import sub`` yields the submodule ``pkg.sub`` when it is one of ours.
    """
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = name.split(".")[: len(name.split(".")) - node.level + is_pkg]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                if sub in MODULES:
                    yield sub, None, node.lineno
                else:
                    yield base, a.name, node.lineno
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("__import__",
                                                                         "import_module"))
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value, None, node.lineno


def _where(mod: str, line: int) -> str:
    return f"{MODULES[mod].relative_to(REPO)}:{line}"


def test_the_walk_sees_the_packages():
    assert {"edge_runtime.cli", "edge_runtime.dsp", "train.checkpoint", "export.pipeline",
            "firmware_sim.device"} <= set(MODULES)
    # resolution: a submodule imported by `from pkg import sub` is an edge to the submodule
    edges = {t for t, _, _ in _imports("firmware_sim.device", MODULES["firmware_sim.device"])}
    assert "edge_runtime.protocol" in edges


def test_edge_runtime_never_imports_torch_training_export_or_the_simulator():
    bad = sorted({
        f"{_where(mod, line)}: {target}"
        for mod, path in MODULES.items()
        if _under(mod, ("edge_runtime",))
        for target, _, line in _imports(mod, path)
        if _under(target, RUNTIME_FORBIDDEN)
    })
    assert not bad, "edge_runtime must run without these:\n" + "\n".join(bad)


def test_firmware_sim_uses_only_the_runtime_public_protocol_records_errors():
    bad = []
    for mod, path in MODULES.items():
        if not _under(mod, ("firmware_sim",)):
            continue
        allowed = DEMO_ALLOWED if mod == "firmware_sim.demo" else SIM_ALLOWED
        for target, taken, line in _imports(mod, path):
            if not _under(target, ("edge_runtime",)):
                continue
            if not _under(target, allowed):
                bad.append(f"{_where(mod, line)}: {target}" + (f".{taken}" if taken else ""))
            elif taken and taken.startswith("_"):
                bad.append(f"{_where(mod, line)}: private {target}.{taken}")
    assert not bad, "firmware_sim reaches past the runtime's public surface:\n" + "\n".join(bad)


def _graph() -> dict[str, dict[str, int]]:
    """Module -> {imported module of ours: line}. The dispatcher's string names are not
    imports, so the literal-name rule above does not add edges here."""
    g: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for mod, path in MODULES.items():
        for target, _, line in _imports(mod, path):
            if target in MODULES and target != mod:
                g[mod].setdefault(target, line)
    return g


def _cycles(g: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in g:
        if root in index:
            continue
        work = [(root, iter(g[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = counter
                counter += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(g[w])))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [
        ["a", "b", "c"]]
    assert _cycles({"a": {"b": 1}, "b": {}}) == []


def test_no_import_cycles():
    g = _graph()
    found = _cycles(g)
    lines = []
    for comp in found:
        inner = [f"{_where(a, g[a][b])}: {a} -> {b}" for a in comp for b in g[a] if b in comp]
        lines.append(" | ".join(inner))
    assert not found, "import cycles:\n" + "\n".join(lines)


def test_demo_is_dispatched_lazily_from_the_simulator():
    from edge_runtime.cli import COMMANDS

    assert COMMANDS["demo"][0] == "firmware_sim.demo:main"
    assert not (REPO / "edge_runtime" / "demo.py").exists()
