"""Every option of every subcommand says what it does (``--help`` is the user's manual)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_runtime.bench_cli import available
from edge_runtime.cli import COMMANDS, main
from export.cli import SUBCOMMANDS as EXPORTS
from train.cli import TRAINERS
from train.eval_cli import EVALS

REPO = Path(__file__).resolve().parent.parent
# every subcommand of every group, read from the dispatch tables (a new one is covered)
GROUPS = ([["train", n] for n in TRAINERS] + [["eval", n] for n in EVALS]
          + [["export", n] for n in EXPORTS] + [["bench", n] for n in available()])
LEAVES = [[c] for c in COMMANDS if c not in {g[0] for g in GROUPS}]
# a Python that cannot import torch (as on a device without the train extra)
NO_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, _NoTorch())
    from edge_runtime.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _run_without_torch(argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", NO_TORCH, *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


class _Captured(Exception):
    pass


@pytest.mark.parametrize("argv", LEAVES + GROUPS, ids=lambda a: " ".join(a))
def test_every_option_has_help(argv, monkeypatch):
    seen: list[argparse.ArgumentParser] = []

    def capture(self, args=None, namespace=None):
        seen.append(self)
        raise _Captured

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(list(argv))
        except (_Captured, SystemExit):
            pass
    if not seen:
        pytest.skip(f"{' '.join(argv)}: its parser needs an extra that is not installed")
    parser = seen[-1]
    bare = [a.option_strings or [a.dest] for a in parser._actions
            if a.help is None and not isinstance(a, (argparse._HelpAction,
                                                     argparse._SubParsersAction))]
    assert not bare, f"{parser.prog}: options without help: {bare}"


def test_sim_help_lists_every_fault_with_its_parameters(capsys):
    from firmware_sim.faults import DEFAULTS

    with pytest.raises(SystemExit):
        main(["sim", "--help"])
    out = capsys.readouterr().out
    for name, value in DEFAULTS.items():
        assert f"{name}={value}" in out, name  # the value a bare name takes
    assert "noise=ma:6" in out and "noise=synthetic:12" in out


@pytest.mark.parametrize("name", sorted(available()))
def test_bench_help_names_the_command(name, capsys):
    main(["bench", name, "--help"])
    assert capsys.readouterr().out.startswith(f"usage: ecgedge bench {name}")


@pytest.mark.parametrize("argv", [g for g in GROUPS if g[0] in ("train", "eval")],
                         ids=lambda a: " ".join(a))
def test_train_and_eval_help_without_torch(argv):
    """``--help`` is the manual a device user reads before installing the train extra."""
    r = _run_without_torch([*argv, "--help"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith(f"usage: ecgedge {' '.join(argv)}"), r.stdout[:200]
    assert "--data-dir" in r.stdout or argv == ["eval", "alarms"] or "-h" in r.stdout
    assert "Traceback" not in r.stderr


def test_training_without_torch_is_one_line():
    """Running (not help) without torch names the extra to install, no traceback."""
    r = _run_without_torch(["train", "beats", "--epochs", "1"])
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert "pip install 'ecgedge[train]'" in r.stderr, r.stderr[-500:]
