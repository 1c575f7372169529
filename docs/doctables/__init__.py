"""Every results table of README.md and docs/*.md, rendered from docs/results/*.json.

A number in the docs is only as good as the run behind it, so no results table is typed by
hand: each sits between two markers in a markdown page,

    <!-- results:NAME -->
    ...generated text, never edited by hand...
    <!-- /results:NAME -->

and ``python docs/tables.py`` renders NAME from the JSON files it names. This package holds
the engine (here) and the renderers, one module per area: ``overview`` (the README),
``models`` (detector, beats, export, CPU classes), ``allcomers`` (the shipped window models
and their study), ``runtime`` (pipeline, protocol, web, alarms). Every block ends with a source
line: the command that wrote the JSON, the machine it ran on (CPU model and SIMD flags as the
JSON records them, or "not recorded") and the JSON path.

    python docs/tables.py --check   # exit 1 and a diff when a block differs from its JSON
    python docs/tables.py --write   # rewrite every block in place
    python docs/tables.py --list    # the table names and the JSON each reads

``tests/test_docs_tables.py`` runs ``--check`` in CI, so a rerun that changes a JSON either
changes the docs (``--write``) or fails the tests. It also checks that every markdown table
outside a block either has no measured numbers (marked ``<!-- table: static -->``: formats,
definitions, defaults) or is a table whose every number occurs in the JSON it names
(``<!-- table: checked FILE.json -->``).

Adding a table for a new JSON file takes a few lines:

1. Write a renderer in the module of its area and register it::

       @table("beats_crossdb", "beats_crossdb.json")
       def _beats_crossdb(d: dict) -> str:
           rows = [[name, pct(r["sveb_se"]), pct(r["sveb_ppv"])] for name, r in d["rows"].items()]
           return md(["row", "SVEB Se %", "SVEB +P %"], rows)

   ``d`` is the parsed JSON (for several files, one argument per file, in order). Return the
   table only: the source line is added for you. Helpers: :func:`md` (a markdown table),
   :func:`pct`, :func:`num`, :func:`mean_sd`.
2. A JSON that already carries its markdown tables as strings (the window studies do:
   ``table_hyp``, ...) needs no code: the block ``<!-- results:window_headline.table_hyp -->``
   renders key ``table_hyp`` of ``docs/results/window_headline.json``.
3. Put the empty markers where the table belongs and run ``python docs/tables.py --write``.

When a rerun changes a JSON's structure (a key renamed, a file split), ``--write`` and
``--check`` stop with exit code 2 naming the block, the page and the JSON it reads: update
that block's renderer in this package.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "docs" / "results"
PAGES = ["README.md", "docs/*.md", "docs/deploy/*.md"]
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w.\-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- /results:(?P=name) -->)", re.S)

#: name -> (JSON file names, renderer)
TABLES: dict[str, tuple[tuple[str, ...], Callable[..., str]]] = {}


def table(name: str, *files: str) -> Callable:
    """Register ``fn(*parsed_json) -> markdown`` as the block ``name``."""
    def deco(fn: Callable[..., str]) -> Callable[..., str]:
        TABLES[name] = (files, fn)
        return fn
    return deco


# ---------------------------------------------------------------- formatting helpers

def num(x, digits: int = 1, sep: bool = False) -> str:
    """A number, or '-' for None; ``sep`` adds thousands separators."""
    if x is None:
        return "-"
    return f"{x:,.{digits}f}" if sep else f"{x:.{digits}f}"


def pct(x, digits: int = 2) -> str:
    """A fraction in percent."""
    return "-" if x is None else f"{100 * x:.{digits}f}"


def signed(x, digits: int = 2) -> str:
    return "-" if x is None else f"{x:+.{digits}f}"


def mean_sd(s, digits: int = 1) -> str:
    """``{"mean", "sd", "n"}`` -> 'm ± sd' (just 'm' for one run); plain numbers as they are."""
    if isinstance(s, dict):
        if s.get("mean") is None:
            return "-"
        out = f"{s['mean']:.{digits}f}"
        return out + (f" ± {s['sd']:.{digits}f}" if s.get("n", 1) > 1 else "")
    return num(s, digits)


def md(header: list[str], rows: list[list], align: list[str] | None = None) -> str:
    """A markdown table; ``align`` per column 'l' or 'r'."""
    align = align or ["l"] * len(header)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _find(d, keys: tuple[str, ...], depth: int = 0):
    """First value under any of ``keys`` in nested dicts (breadth-first, shallow)."""
    if not isinstance(d, dict) or depth > 3:
        return None
    for k in keys:
        if k in d and d[k] not in (None, "", []):
            return d[k]
    for v in d.values():
        hit = _find(v, keys, depth + 1)
        if hit is not None:
            return hit
    return None


def machine(d: dict) -> str:
    """The CPU a JSON says it ran on: model and SIMD flags, or 'CPU not recorded'."""
    model = _find(d, ("cpu_model", "proc_cpuinfo_model"))
    cpu = d.get("machine", {}).get("cpu") if isinstance(d.get("machine"), dict) else None
    if model is None and isinstance(cpu, dict):
        model = cpu.get("model")
    if model is None and isinstance(d.get("cpu"), str):
        model = d["cpu"]
    flags = _find(d, ("simd_flags", "flags_seen"))
    if model is None and flags is None:
        return "CPU not recorded in the JSON"
    out = str(model or "CPU model not recorded")
    if flags:
        keep = [f for f in flags if re.search(r"^avx2$|^avx512f$|vnni|asimd|neon|sve", f, re.I)]
        out += " (" + ", ".join(keep or flags) + ")"
    return out


#: JSON files written before their benchmark recorded its own command line
KNOWN_COMMANDS = {
    "fleet.json": "python bench/fleet.py",
    "web_overhead.json": "python bench/web_overhead.py",
    "isa_parity.json": "python bench/isa_parity.py run --label LABEL (one run per CPU class)",
}


def _command(name: str, d: dict) -> str:
    cmd = d.get("command") or d.get("equivalent_cli")
    if cmd:
        return f"`{cmd.strip()}`"
    if name in KNOWN_COMMANDS:
        return f"`{KNOWN_COMMANDS[name]}` (command not recorded in the JSON)"
    return "command not recorded"


def source(files: tuple[str, ...], data: list[dict]) -> str:
    """The provenance line under every generated table."""
    parts = [f"{_command(f, d)} on {machine(d)} -> `docs/results/{f}`"
             for f, d in zip(files, data, strict=True)]
    if len(parts) <= 2:
        return "*Source: " + "; ".join(parts) + ".*"
    return "*Sources (command on machine -> JSON):*\n\n" + "\n".join(f"- {x}" for x in parts)


# ---------------------------------------------------------------- engine

def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        raise FileNotFoundError(f"docs/results/{name} is missing")
    return json.loads(path.read_text())


def render(name: str) -> str:
    """The text of block ``name``: its table(s), then the source line."""
    if name in TABLES:
        files, fn = TABLES[name]
        data = [_load(f) for f in files]
        return fn(*data).rstrip() + "\n\n" + source(files, data)
    stem, _, key = name.partition(".")
    if key:  # a markdown table stored in the JSON itself
        d = _load(f"{stem}.json")
        if key not in d:
            raise KeyError(f"docs/results/{stem}.json has no key '{key}'")
        return str(d[key]).rstrip() + "\n\n" + source((f"{stem}.json",), [d])
    raise KeyError(f"unknown results table '{name}' (see python docs/tables.py --list)")


def pages() -> list[Path]:
    out: list[Path] = []
    for pat in PAGES:
        out += sorted(REPO.glob(pat))
    return out


class TableError(Exception):
    """A block that cannot be rendered: which one, where, and why (e.g. a JSON key a rerun
    renamed: update that table's renderer)."""


def rendered(text: str, where: str = "") -> str:
    """``text`` with every results block re-rendered."""
    def sub(m: re.Match) -> str:
        try:
            return f"{m[1]}{render(m['name'])}\n{m[4]}"
        except (KeyError, TypeError, ValueError, FileNotFoundError, IndexError) as exc:
            files = TABLES.get(m["name"], (("?",), None))[0]
            raise TableError(f"{where}: block '{m['name']}' (reads {', '.join(files)}): "
                             f"{type(exc).__name__}: {exc}") from exc
    return BLOCK.sub(sub, text)


def blocks() -> dict[str, list[Path]]:
    """Block name -> the pages that hold it."""
    out: dict[str, list[Path]] = {}
    for p in pages():
        for m in BLOCK.finditer(p.read_text()):
            out.setdefault(m["name"], []).append(p)
    return out


def check() -> list[str]:
    """A unified diff per page whose blocks differ from their JSON ([] when all agree)."""
    diffs = []
    for p in pages():
        old = p.read_text()
        rel = str(p.relative_to(REPO))
        new = rendered(old, rel)
        if new != old:
            diffs.append("".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                      rel, rel + " (from JSON)")))
    return diffs


# ---------------------------------------------------------------- tables outside blocks

MARKER = re.compile(r"<!-- table: (?P<kind>static|checked|tested|one-off)\b(?P<arg>[^>]*)-->")
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")


def loose_tables(text: str) -> list[tuple[int, str, str]]:
    """Markdown tables outside results blocks: (line number, marker line, table text)."""
    text = BLOCK.sub(lambda m: "\n" * m[0].count("\n"), text)  # keep line numbers
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|") and i + 1 < len(lines) and \
                re.match(r"\s*\|\s*:?-", lines[i + 1]):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            out.append((i + 1, lines[k].strip() if k >= 0 else "", "\n".join(lines[i:j])))
            i = j
        else:
            i += 1
    return out


def _json_numbers(files: list[str]) -> set[str]:
    """Every number in the JSON files, formatted as a table might show it."""
    vals: list[float] = []

    def walk(x) -> None:
        if isinstance(x, bool):
            return
        if isinstance(x, (int, float)):
            vals.append(float(x))
        elif isinstance(x, str):
            vals.extend(float(t.replace(",", "")) for t in NUMBER.findall(x))
        elif isinstance(x, dict):
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    for f in files:
        walk(_load(f))
    out: set[str] = set()
    for v in vals:
        for x in (v, 100 * v) if abs(v) <= 1.5 else (v,):
            for d in range(5):
                out.add(f"{abs(x):.{d}f}")
    return out


def unmatched_numbers(table_text: str, files: list[str]) -> list[str]:
    """Numbers of a hand-written table that occur in none of ``files`` (at the shown
    precision, fractions also as percent)."""
    have = _json_numbers(files)
    table_text = re.sub(r"\]\([^)]*\)", "]", table_text)  # link targets are not numbers
    return [t for t in NUMBER.findall(table_text)
            if t.lstrip("+-").replace(",", "") not in have]


def lint() -> list[str]:
    """Problems with tables outside results blocks: each table with digits needs a marker on
    the line before it, and a ``checked`` table's numbers must all be in its JSON."""
    problems = []
    for p in pages():
        rel = p.relative_to(REPO)
        for line, marker, tbl in loose_tables(p.read_text()):
            body = "\n".join(tbl.split("\n")[2:])
            if not re.search(r"\d", body):
                continue
            m = MARKER.fullmatch(marker)
            if m is None:
                problems.append(f"{rel}:{line}: table with numbers outside a results block and "
                                "without a <!-- table: static|checked FILE.json|tested FILE|"
                                "one-off REASON --> marker")
                continue
            arg = m["arg"].strip()
            if m["kind"] == "checked":
                files = arg.split()
                missing = [f for f in files if not (RESULTS / f).is_file()]
                if not files or missing:
                    problems.append(f"{rel}:{line}: checked against missing JSON {missing}")
                    continue
                bad = unmatched_numbers(body, files)
                if bad:
                    problems.append(f"{rel}:{line}: numbers not in {', '.join(files)}: "
                                    f"{', '.join(bad[:12])}")
            elif m["kind"] == "tested":
                if not arg or not (REPO / arg.split()[0]).is_file():
                    problems.append(f"{rel}:{line}: 'tested' needs an existing test file")
            elif m["kind"] == "one-off" and not arg:
                problems.append(f"{rel}:{line}: 'one-off' needs the reason")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python docs/tables.py", description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--check", action="store_true", help="exit 1 with a diff if any block is stale")
    g.add_argument("--write", action="store_true", help="rewrite every block from its JSON")
    g.add_argument("--list", action="store_true", help="table names and the JSON each reads")
    a = ap.parse_args(argv)
    try:
        return _run(a)
    except TableError as exc:
        print(f"docs/tables.py: {exc}", file=sys.stderr)
        return 2


def _run(a: argparse.Namespace) -> int:
    if a.list:
        where = blocks()
        for name in sorted(set(TABLES) | set(where)):
            files = TABLES[name][0] if name in TABLES else (name.partition(".")[0] + ".json",)
            pages_ = ", ".join(str(p.relative_to(REPO)) for p in where.get(name, [])) or "unused"
            print(f"{name:28s} {', '.join(files):60s} {pages_}")
        return 0
    if a.write:
        for p in pages():
            old = p.read_text()
            new = rendered(old, str(p.relative_to(REPO)))
            if new != old:
                p.write_text(new)
                print(f"wrote {p.relative_to(REPO)}")
        return 0
    diffs, problems = check(), lint()
    for d in diffs:
        print(d)
    for q in problems:
        print(q)
    if diffs:
        print("docs differ from docs/results/*.json: run python docs/tables.py --write",
              file=sys.stderr)
    return 1 if diffs or problems else 0


# the renderers register themselves with @table on import
from doctables import allcomers, models, overview, runtime  # noqa: E402, F401
