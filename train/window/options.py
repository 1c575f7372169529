"""Choices and parsers of the window commands, importable without torch.

``ecgedge train window --help`` and ``ecgedge eval window --help`` must work on a machine
without the ``train`` extra, so the tables their parsers offer live here and the torch
modules (``study``, ``train``, ``evaluate``) import them.
"""

from __future__ import annotations

import argparse

from edge_runtime.datadir import DATA_DIR_HELP
from edge_runtime.errors import make_parser

ARCHS = ("window_cnn", "window_se_cnn", "window_resnet")
PARTS = ("headline", "imbalance", "finetune", "augment", "leads", "report")
BALANCING = ("none", "weighted", "focal", "sampler", "cost", "undersample")
FINETUNE = ("frozen", "partial", "full")


def eval_parser() -> argparse.ArgumentParser:
    """The parser of ``ecgedge eval window`` (one definition: help and the run)."""
    p = make_parser("ecgedge eval window",
                    "Evaluate a saved PTB-XL window-model checkpoint (test fold by default).")
    p.add_argument("--checkpoint", required=True, help="e.g. models/checkpoints/hyp.pt")
    p.add_argument("--split", choices=("val", "test"), default="test",
                   help="PTB-XL fold 9 (val) or 10 (test, default)")
    p.add_argument("--figures", default=None, help="folder for PNGs (e.g. docs/figures)")
    p.add_argument("--saliency", type=int, default=2, help="saliency strips per class")
    p.add_argument("--json", default=None, help="report path (default: print only)")
    p.add_argument("--n-boot", type=int, default=1000,
                   help="bootstrap resamples for the confidence intervals (default 1000)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    return p
