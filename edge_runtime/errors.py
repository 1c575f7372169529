"""User-facing errors.

Bad input (missing files, wrong sample rate, mismatched leads, bad flags) must end in one
clear line and a non-zero exit, never a traceback. Code raises :class:`EcgEdgeError` with a
message written for the user; the CLI prints ``ecgedge: error: <message>`` and exits with
``exit_code``. Bad flags are the same kind of error: :func:`make_parser` gives every command
(``ecgedge run``, ``ecgedge sim``, ...) an argparse that reports them as one line too.
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class EcgEdgeError(Exception):
    """An error caused by the user's input or environment, reported as one line."""

    exit_code: int = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class NotImplementedYet(EcgEdgeError):
    """A CLI command whose issue has not landed yet: says so and exits 2, never pretends."""

    exit_code = 2


class OneLineArgumentParser(argparse.ArgumentParser):
    """argparse that reports bad flags as a single line (plus exit 2), not usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def make_parser(prog: str, description: str, **kwargs) -> OneLineArgumentParser:
    """Parser used by every subcommand so all of them report errors the same way."""
    return OneLineArgumentParser(
        prog=prog,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
