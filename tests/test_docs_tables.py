"""The docs say what the committed results say (``docs/tables.py``), and the README is a
front page a newcomer can follow: its quick start is what CI runs and its links resolve."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
# pages other work adds; linked from the docs before they land
PENDING_PAGES = {"docs/beats_crossdb.md", "docs/beat_latency.md", "docs/window_allcomers.md",
                 "docs/training_at_scale.md"}


def _tables():
    """``docs/doctables``, the engine behind ``python docs/tables.py``."""
    docs = str(REPO / "docs")
    if docs not in sys.path:
        sys.path.insert(0, docs)
    return importlib.import_module("doctables")


def test_the_command_line_checks():
    """``python docs/tables.py --check`` is what a contributor runs: exit 0 on this tree."""
    r = subprocess.run([sys.executable, str(REPO / "docs" / "tables.py"), "--check"], cwd="/",
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_every_results_block_matches_its_json():
    diffs = _tables().check()
    assert not diffs, ("docs differ from docs/results/*.json (run python docs/tables.py "
                       "--write):\n" + "\n".join(diffs)[:4000])


def test_every_table_outside_a_block_is_accounted_for():
    problems = _tables().lint()
    assert not problems, "\n".join(problems)


def test_every_registered_table_is_shown_and_every_block_is_known():
    t = _tables()
    where = t.blocks()
    assert set(t.TABLES) <= set(where), f"tables on no page: {set(t.TABLES) - set(where)}"
    for name in where:
        t.render(name)  # an unknown block or a missing JSON key raises


def test_a_stale_number_is_caught(tmp_path, monkeypatch):
    """Change one number in a JSON: the check must fail, and --write must fix the page."""
    t = _tables()
    results = tmp_path / "docs" / "results"
    results.mkdir(parents=True)
    (results / "toy.json").write_text(json.dumps({"command": "python bench/toy.py",
                                                  "host": {"cpu_model": "Toy CPU",
                                                           "simd_flags": ["AVX2"]},
                                                  "rows": {"a": 0.5}}))
    page = tmp_path / "README.md"
    page.write_text("intro\n<!-- results:toy -->\n<!-- /results:toy -->\nend\n")
    monkeypatch.setattr(t, "REPO", tmp_path)
    monkeypatch.setattr(t, "RESULTS", results)
    monkeypatch.setattr(t, "PAGES", ["README.md"])

    def _toy(d):
        return t.md(["row", "Se %"], [[k, t.pct(v)] for k, v in d["rows"].items()])

    monkeypatch.setitem(t.TABLES, "toy", (("toy.json",), _toy))

    assert t.check(), "an empty block must differ from its rendering"
    assert t.main(["--write"]) == 0
    text = page.read_text()
    assert "| a | 50.00 |" in text
    assert "`python bench/toy.py` on Toy CPU (AVX2) -> `docs/results/toy.json`" in text
    assert t.check() == []
    (results / "toy.json").write_text(json.dumps({"command": "python bench/toy.py",
                                                  "rows": {"a": 0.51}}))
    assert t.check(), "a changed result must make the check fail"
    assert t.main(["--check"]) == 1


def test_json_markdown_keys_need_no_code(tmp_path, monkeypatch):
    """A JSON that carries its own markdown table renders as <!-- results:FILE.KEY -->."""
    t = _tables()
    monkeypatch.setattr(t, "RESULTS", tmp_path)
    (tmp_path / "study.json").write_text(json.dumps({"command": "ecgedge train x",
                                                     "table_x": "| a |\n| --- |\n| 1 |"}))
    out = t.render("study.table_x")
    assert out.startswith("| a |\n| --- |\n| 1 |")
    assert "CPU not recorded in the JSON" in out
    with pytest.raises(KeyError):
        t.render("study.table_y")


def test_checked_tables_fail_on_a_number_missing_from_the_json(tmp_path, monkeypatch):
    t = _tables()
    monkeypatch.setattr(t, "RESULTS", tmp_path)
    (tmp_path / "r.json").write_text(json.dumps({"se": 0.9876, "n": 1234}))
    assert t.unmatched_numbers("| x | 98.76 % | 1,234 |", ["r.json"]) == []
    assert t.unmatched_numbers("| x | 98.8 | 1234 | 77.1 |", ["r.json"]) == ["77.1"]


def test_readme_is_a_front_page():
    text = README.read_text()
    assert len(text.splitlines()) <= 250
    assert not re.search(r"issue[ -]?#?\d|<!-- issue", text, re.I), "no work-log markers"
    for heading in ("## Quick start", "## Results", "## Hardware support", "## Command line",
                    "## Data provenance and licences"):
        assert heading in text
    assert "Not a medical device" in text
    assert "docs/figures/web_bedside.png" in text


def test_quick_start_is_what_ci_runs():
    """Exactly two commands, demo first, tests second; .ci/run extracts the second."""
    text = README.read_text()
    block = re.search(r"## Quick start\n\n```sh\n(.*?)```", text, re.S)
    assert block is not None
    assert block[1].splitlines() == ["make demo", "make test"]
    ci = (REPO / ".ci" / "run").read_text()
    awk = re.search(r"cmd=\$\((.*)\)\n", ci)[1]
    got = subprocess.run(["bash", "-c", awk], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert got == "make test"


def test_docs_have_no_work_log_markers():
    for p in [README, *(REPO / "docs").glob("*.md")]:
        text = p.read_text()
        assert not re.search(r"<!-- issue-\d+|\(issue \d+|issue \d+ item", text, re.I), p.name


def test_links_in_readme_and_docs_resolve():
    missing = []
    for p in [README, *(REPO / "docs").glob("*.md"), *(REPO / "docs" / "deploy").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", p.read_text()):
            if re.match(r"[a-z]+://|mailto:", target):
                continue
            path = (p.parent / target).resolve()
            rel = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else target
            if not path.exists() and rel not in PENDING_PAGES:
                missing.append(f"{p.relative_to(REPO)} -> {target}")
    assert not missing, missing


def test_hardware_tables_take_runs_that_hold_only_some_models(tmp_path, monkeypatch):
    """isa_parity.json runs may each hold some of the models (a re-exported model gets fresh
    runs of its own): the README and portability tables show each model's newest run on the
    most data per CPU class, and '-' where a run lacks a model."""
    t = _tables()
    real = json.loads((REPO / "docs/results/isa_parity.json").read_text())
    vnni = next(r for r in real["runs"].values() if r["cpu"]["isa_class"] == "x86-64 VNNI")

    def run(date: str, **agreements: float) -> dict:
        res = {m: {"n": 10, "onnx": {"agreement": a, "metric_drop": 0.0, "passed": True,
                                     "n": 10}} for m, a in agreements.items()}
        return {**vnni, "emulation": None, "data": "full test split", "date": date,
                "tasks": res, "passed": True}

    doc = {"bounds": real["bounds"], "runs": {
        "old-beat": run("2026-01-01", beat=0.95),
        "window": run("2026-01-02", hyp=0.991, findings6=0.992),
        "new-beat": run("2026-01-03", beat=0.993)}}
    (tmp_path / "isa_parity.json").write_text(json.dumps(doc))
    (tmp_path / "arm64.json").write_text((REPO / "docs/results/arm64.json").read_text())
    monkeypatch.setattr(t, "RESULTS", tmp_path)
    readme = t.render("readme_hardware")
    assert "| x86-64 VNNI | native, full test splits | 99.30 % / 99.10 % / 99.20 % | pass |" \
        in readme, readme
    assert "95.00" not in readme  # the older beat run is superseded
    portability = t.render("isa_parity")
    assert "| window | " in portability and "(n=-/10/10) | - |" in portability
