"""User-facing errors.

Bad input (missing files, wrong sample rate, mismatched leads, bad flags) must end in one
clear line and a non-zero exit, never a traceback. Code raises :class:`EcgEdgeError` with a
message written for the user; the CLI prints ``ecgedge: error: <message>`` and exits with
``exit_code``. Bad flags are the same kind of error: :func:`make_parser` gives every command
(``ecgedge run``, ``ecgedge sim``, ...) an argparse that reports them as one line too, and
the flag types (:func:`positive_float`, ...) refuse out-of-range numbers the same way.
"""

from __future__ import annotations

import argparse
import math
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


def _number(text: str, kind: type) -> float | int:
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"expected a finite number, got '{text}'")
    return v


def _at_least(kind: type, lo: float, strict: bool, name: str, what: str):
    """An argparse type: a finite ``kind`` that is ``> lo`` (strict) or ``>= lo``."""

    def check(text: str):
        v = _number(text, kind)
        if v < lo or (strict and v == lo):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return kind(v)

    check.__name__ = name  # argparse names the type in some messages
    check.__doc__ = f"argparse type: {what}."
    return check


positive_float = _at_least(float, 0, True, "positive_float", "> 0")
nonneg_float = _at_least(float, 0, False, "nonneg_float", ">= 0")
positive_int = _at_least(int, 1, False, "positive_int", "an integer >= 1")
nonneg_int = _at_least(int, 0, False, "nonneg_int", "an integer >= 0")


def device_id(text: str) -> int:
    """argparse type: a device id as the wire carries it (16 bits, 0-65535)."""
    v = _number(text, int)
    if not 0 <= v <= 0xFFFF:
        raise argparse.ArgumentTypeError(f"must be 0-65535 (16 bits on the wire), got {text}")
    return int(v)
