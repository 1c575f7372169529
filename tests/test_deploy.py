"""The bedside service example (docs/deploy): the systemd unit passes ``systemd-analyze
verify``, restarts on failure, and its ``ecgedge run`` command line is one the CLI accepts;
the udev rule gives the stable name the unit uses."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from edge_runtime.run_cli import build_parser

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
UNIT = DEPLOY / "ecgedge.service"
EXE = "/opt/ecgedge/venv/bin/ecgedge"


def _unit() -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str  # systemd keys are case-sensitive
    text = UNIT.read_text().replace("\\\n", " ")  # continuation lines
    cp.read_string(text)
    return cp


def _exec_start() -> list[str]:
    return shlex.split(_unit()["Service"]["ExecStart"])


def test_unit_restarts_on_failure_and_runs_a_valid_command():
    svc = _unit()["Service"]
    assert svc["Restart"] in ("on-failure", "always")
    assert _unit()["Unit"]["StartLimitIntervalSec"] == "0"  # never gives up
    argv = _exec_start()
    assert argv[0] == EXE and argv[1] == "run"
    args = build_parser().parse_args(argv[2:])  # flags the CLI really has
    assert args.port == "/dev/ecg0" and args.journal.startswith("/var/lib/ecgedge/")
    assert svc["StateDirectory"] == "ecgedge"


def test_udev_rule_makes_the_name_the_unit_uses():
    rules = [ln for ln in (DEPLOY / "99-ecgedge.rules").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert rules and all('SUBSYSTEM=="tty"' in r for r in rules)
    port = build_parser().parse_args(_exec_start()[2:]).port
    assert any(f'SYMLINK+="{Path(port).name}"' in r for r in rules)


def test_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    fake = tmp_path / "ecgedge"  # verify checks that ExecStart's binary exists
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    unit = tmp_path / "ecgedge.service"
    unit.write_text(UNIT.read_text().replace(EXE, str(fake)))
    res = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "ecgedge.service" not in res.stderr, res.stderr  # no warning about our unit
