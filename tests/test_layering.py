"""Dependency direction: the simulator drives the runtime, never the reverse.

Checked on the source (every import statement, top-level or inside a function), so a lazy
import cannot hide a backwards dependency. The ``ecgedge`` dispatcher names ``firmware_sim``,
``train`` and ``export`` commands by module *string*, which is not an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# what firmware_sim may use of the runtime: the wire format, records and user errors, plus
# data-dir resolution and the resampler used to fit NST noise to the device rate
SIM_ALLOWED = ("edge_runtime.protocol", "edge_runtime.records", "edge_runtime.errors",
               "edge_runtime.datadir", "edge_runtime.dsp")
# the demo drives the runtime: its run entry and the journal that entry writes
DEMO_ALLOWED = SIM_ALLOWED + ("edge_runtime.run_cli", "edge_runtime.sinks.journal")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_edge_runtime_never_imports_the_simulator_or_training():
    bad = {
        f"{py.relative_to(REPO)}: {name}"
        for py in (REPO / "edge_runtime").rglob("*.py")
        for name in _imports(py)
        if _under(name, ("firmware_sim", "train", "export", "torch"))
    }
    assert not bad, sorted(bad)


def test_firmware_sim_uses_only_the_runtime_public_protocol_records_errors():
    bad = set()
    for py in (REPO / "firmware_sim").rglob("*.py"):
        allowed = DEMO_ALLOWED if py.name == "demo.py" else SIM_ALLOWED
        for name in _imports(py):
            if name == "edge_runtime":
                continue  # `from edge_runtime import protocol`: the submodule is checked below
            if _under(name, ("edge_runtime",)) and not _under(name, allowed):
                bad.add(f"{py.relative_to(REPO)}: {name}")
    assert not bad, sorted(bad)


def test_demo_is_dispatched_lazily_from_the_simulator():
    from edge_runtime.cli import COMMANDS

    assert COMMANDS["demo"][0] == "firmware_sim.demo:main"
    assert not (REPO / "edge_runtime" / "demo.py").exists()
