"""``ecgedge train <what>``: dispatch table of the training entry points each issue owns."""

from __future__ import annotations

from edge_runtime.cli import Command, dispatch

# what -> (target "module:function" or None while unbuilt, one-line help, issue)
TRAINERS: dict[str, Command] = {
    "beats": ("train.beats.cli:train_main", "MIT-BIH beat classifier (AAMI N/S/V/F/Q)", 5),
    "beats-study": ("train.beats.cli:study_main",
                    "beat study: imbalance, model comparison, headline, leaky row", 5),
    "beats-crossdb": ("train.beats.crossdb:main",
                      "cross-database beat study: DS1 + SVDB leave-records-out CV, DS2 once",
                      16),
    "window": ("train.window.cli:main", "PTB-XL window models (HYP, six findings)", 6),
}


def main(argv: list[str]) -> int:
    """Dispatch ``ecgedge train <what> [options]``."""
    return dispatch("ecgedge train", "Train a model.", TRAINERS, argv)
