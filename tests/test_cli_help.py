"""Every option of every subcommand says what it does (``--help`` is the user's manual)."""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from edge_runtime.cli import COMMANDS, main

GROUPS = [["train", "beats"], ["train", "window"], ["train", "beats-study"],
          ["eval", "detector"], ["eval", "beats"], ["eval", "window"], ["eval", "alarms"],
          ["export", "build"], ["export", "inspect"], ["bench", "pipeline"]]
LEAVES = [[c] for c in COMMANDS if c not in {g[0] for g in GROUPS}]


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
        assert f"{name}={value}" in out or name == "noise", name
    assert "noise=ma:6" in out and "noise=synthetic:12" in out


@pytest.mark.parametrize("name", ["alarms", "detectors", "protocol", "inference",
                                  "isa_parity", "pipeline"])
def test_bench_help_names_the_command(name, capsys):
    from edge_runtime.bench_cli import available

    if name not in available():
        pytest.skip(f"bench/{name}.py not in this checkout")
    main(["bench", name, "--help"])
    assert capsys.readouterr().out.startswith(f"usage: ecgedge bench {name}")
