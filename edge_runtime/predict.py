"""``ecgedge predict --record PATH --model MODEL``: window-model probabilities as JSON lines.

Reads any WFDB record, takes the leads the model card names (a missing lead is a one-line
error), resamples to the card's rate, applies the card's filter and per-lead normalisation
(:mod:`edge_runtime.windowing`, the same code training used) and prints one JSON object per
10 s window: its start time, the per-class probabilities and the decision at each of the card's
operating points. Classes the card has a rate/rhythm rule decide (``rules.decision_sources``,
:mod:`edge_runtime.rhythm_rules`) take the rule's decision at every operating point, and the row
says so (``decision_sources``, ``rhythm_evidence``). Runtime code: no torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from edge_runtime.cli import make_parser
from edge_runtime.errors import EcgEdgeError, positive_float
from edge_runtime.rhythm_rules import card_rule_classes, window_rule_decisions
from edge_runtime.windowing import record_windows

#: Alternative spellings of the 12 standard lead names found in WFDB headers.
_ALIASES = {"AVR": ("aVR", "avr"), "AVL": ("aVL", "avl"), "AVF": ("aVF", "avf")}


def match_leads(available: list[str], wanted: list[str]) -> list[int]:
    """Channel index of each wanted lead (case-insensitive, aVR/AVR alike); one-line error
    naming every missing lead."""
    norm = {name.upper(): i for i, name in enumerate(available)}
    idx, missing = [], []
    for lead in wanted:
        i = norm.get(lead.upper())
        if i is None:
            missing.append(lead)
        else:
            idx.append(i)
    if missing:
        raise EcgEdgeError(
            f"record lacks lead(s) {', '.join(missing)} that the model needs "
            f"(record has {', '.join(available)})"
        )
    return idx


def decisions(prob: np.ndarray, classes: list[str], ops: dict) -> dict[str, dict[str, bool]]:
    """For each operating point, which classes are called positive (prob >= threshold)."""
    out = {}
    for name, th in (ops or {}).items():
        out[name] = {c: bool(p >= float(th.get(c, 0.5))) for c, p in zip(classes, prob,
                                                                          strict=True)}
    return out


def predict_record(record: str | Path, model, hop_s: float | None = None) -> list[dict]:
    """Per-window results for one record with a loaded :class:`edge_runtime.inference.Model`."""
    from edge_runtime.records import read_record

    card = model.card
    if card.get("task") not in ("hyp", "findings6"):
        raise EcgEdgeError(f"model task {card.get('task')!r} is not a window model "
                           "(expected hyp or findings6)")
    rec = read_record(record)
    idx = match_leads(rec.leads, list(card["leads"]))
    sig = rec.signal[:, idx]
    x, starts = record_windows(sig, rec.fs, card, hop_s)
    if len(x) == 0:
        need = float(card["window"]["seconds"])
        raise EcgEdgeError(
            f"record {rec.name} is {rec.duration_s:.1f} s long; the model needs {need:g} s"
        )
    name = card["inputs"][0]["name"]
    probs = model.predict(**{name: x})
    classes = list(card["classes"])
    ruled = card_rule_classes(card)
    rows = []
    for s, p, xi in zip(starts, probs, x, strict=True):
        row = {
            "record": rec.name,
            "start_s": round(float(s), 3),
            "probabilities": {c: round(float(v), 5) for c, v in zip(classes, p, strict=True)},
            "decisions": decisions(p, classes, card.get("operating_points", {})),
        }
        if ruled:
            evidence, decided = window_rule_decisions(card, xi)
            for op in row["decisions"].values():
                op.update(decided)
            row["decision_sources"] = {c: ruled.get(c, "network") for c in classes}
            row["rhythm_evidence"] = evidence
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    """CLI entry: print JSON lines, one per 10 s window."""
    p = make_parser("ecgedge predict",
                    "Window-model probabilities per 10 s window of a WFDB record (JSON lines).")
    p.add_argument("--record", required=True, help="WFDB record path (dir/name[.hea])")
    p.add_argument("--model", required=True, help="model artifact (.onnx or .tflite with card)")
    p.add_argument("--hop", type=positive_float, default=None,
                   help="seconds between window starts (default: the window length)")
    args = p.parse_args(argv)
    if args.hop is not None and args.hop <= 0:
        raise EcgEdgeError("--hop must be positive")
    from edge_runtime.inference import Model

    model = Model(args.model)
    for row in predict_record(args.record, model, args.hop):
        sys.stdout.write(json.dumps(row) + "\n")
    return 0
