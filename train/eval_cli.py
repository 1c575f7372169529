"""``ecgedge eval <what>``: one dispatch table for the evaluations that each issue owns."""

from __future__ import annotations

from edge_runtime.cli import Command, dispatch

# what -> (target "module:function" or None while unbuilt, one-line help, issue)
EVALS: dict[str, Command] = {
    "detector": ("train.eval_detector:main", "EC57 QRS detection (Se, +P) on MIT-BIH", 4),
    "beats": ("train.beats.cli:eval_main", "EC57 beat classes (VEB, SVEB) on MIT-BIH DS2", 5),
    "window": ("train.window.cli:eval_main", "PTB-XL window models on the test fold", 6),
    "alarms": ("train.alarms.cli:main", "episode-level alarm benchmark (MIT-BIH, NSTDB)",
               14),
}


def main(argv: list[str]) -> int:
    """Dispatch ``ecgedge eval <what> [options]``."""
    return dispatch("ecgedge eval", "Evaluate a detector or model.", EVALS, argv)
