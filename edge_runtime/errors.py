"""User-facing errors.

Bad input (missing files, wrong sample rate, mismatched leads, bad flags) must end in one
clear line and a non-zero exit, never a traceback. Code raises :class:`EcgEdgeError` with a
message written for the user; the CLI prints ``ecgedge: error: <message>`` and exits with
``exit_code``.
"""

from __future__ import annotations


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
