"""The walking skeleton end to end: simulated device -> pty -> runtime -> journal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from edge_runtime.sinks.journal import read_journal

REPO = Path(__file__).resolve().parent.parent


def test_demo_streams_record_100_through_a_pty(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "edge_runtime", "demo", "--duration", "60", "--speed", "200",
         "--out", str(tmp_path), "--mode", "csv"],
        capture_output=True, text=True, cwd=REPO, timeout=180,
    )
    assert res.returncode == 0, res.stderr
    check = [ln for ln in res.stdout.splitlines() if ln.startswith("demo check:")]
    assert len(check) == 1, res.stdout
    # record 100 has 74 reference beats in its first 60 s; the journal holds what was detected
    assert "vs 74 reference beats" in check[0]
    records, bad = read_journal(tmp_path / "journal.jsonl")
    assert bad == 0
    samples = [s for r in records if r.get("event") == "beats" for s in r["sample"]]
    assert abs(len(samples) - 74) <= 1
    assert "samples lost in transit 0" in check[0]


def test_demo_bad_flags_are_one_line_errors(tmp_path: Path) -> None:
    for args in (["--speed", "0"], ["--record", str(tmp_path / "missing")]):
        res = subprocess.run(
            [sys.executable, "-m", "edge_runtime", "demo", *args, "--out", str(tmp_path)],
            capture_output=True, text=True, cwd=REPO, timeout=60,
        )
        assert res.returncode != 0
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
