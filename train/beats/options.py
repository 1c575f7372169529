"""Choices and parsers of the beat commands, importable without torch.

``ecgedge train beats --help`` and ``ecgedge train beats-study --help`` must work on a
machine without the ``train`` extra, so the tables their parsers offer (imbalance
strategies, study budgets, study models) live here and the torch modules import them.
"""

from __future__ import annotations

import argparse

from edge_runtime.datadir import DATA_DIR_HELP
from edge_runtime.errors import make_parser

IMBALANCE = ("none", "class_weights", "focal", "sampler", "cost", "undersample")

BUDGETS = {
    "full": {"seeds": [0, 1, 2], "epochs": 12},
    "reduced": {"seeds": [0], "epochs": 8},
    "smoke": {"seeds": [0], "epochs": 1},  # plumbing check only
}

#: name -> (registered arch, arch kwargs, BeatConfig overrides)
MODELS = {
    "beat_cnn": ("beat_cnn", {}, {}),
    "beat_cnn_rr": ("beat_cnn_rr", {}, {}),
    "beat_cnn_gru": ("beat_cnn_gru", {}, {}),
    "beat_cnn_gru_rr": ("beat_cnn_gru", {"use_rr": True}, {}),
    # + a second channel per lead: beat minus the patient's running median template
    "beat_cnn_rr_tpl": ("beat_cnn_rr", {}, {"template_beats": 32}),
}


def study_parser() -> argparse.ArgumentParser:
    """The parser of ``ecgedge train beats-study`` (one definition: help and the run)."""
    p = make_parser("ecgedge train beats-study",
                    "Beat study: imbalance, model comparison, headline, leaky row.")
    p.add_argument("--stage", default="all",
                   help="all, or a comma list of: imbalance, models, headline, leaky")
    p.add_argument("--budget", default="full", choices=list(BUDGETS),
                   help="full: 3 seeds x 12 epochs; reduced: 1 x 8; smoke: plumbing only")
    p.add_argument("--imbalance", default=None, help="skip selection: use this strategy")
    p.add_argument("--model", default=None, choices=list(MODELS),
                   help="skip selection: use this model")
    p.add_argument("--headline-seeds", type=int, default=3,
                   help="seeds of the headline model (default 3)")
    p.add_argument("--headline-epochs", type=int, default=12,
                   help="epochs of the headline model (default 12)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    return p
