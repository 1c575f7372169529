"""Model card against stream: does this model fit these leads at this rate, and which columns.

The runtime refuses an artifact whose card does not match the stream (DESIGN.md, contracts):
these checks run once, when a pipeline is built, and say in one line what is missing and how
to map it (``--lead-map``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge_runtime.errors import EcgEdgeError

__all__ = ["LEAD_ALIASES", "card_id", "check_card", "lead_index"]

#: Lead names that denote the same electrode configuration. MIT-BIH's "modified limb lead
#: II" (MLII) is a Holter approximation of II; a card naming one accepts the other.
LEAD_ALIASES: dict[str, tuple[str, ...]] = {"MLII": ("II",), "II": ("MLII",)}


def card_id(card: dict, path: str | Path | None = None) -> str:
    """Short identity of a model: task, arch, file, commit (goes into alert evidence)."""
    name = Path(path).name if path else card.get("task", "?")
    return f"{name}:{card.get('arch', '?')}@{str(card.get('git_commit', ''))[:8]}"


def lead_index(stream_leads: Sequence[str], lead: str) -> int | None:
    """Column of ``lead`` (or an alias of it) in the stream, case-insensitive; None if absent."""
    names = [x.upper() for x in stream_leads]
    for cand in (lead, *LEAD_ALIASES.get(lead, ())):
        if cand.upper() in names:
            return names.index(cand.upper())
    return None


def check_card(card: dict, fs: float, stream_leads: Sequence[str], what: str,
               lead_map: dict[str, str] | None = None) -> list[int]:
    """Indices of the card's leads in the stream; one-line error on any mismatch.

    The runtime can resample any rate *down* to the model's (anti-aliased), but it cannot
    invent bandwidth, so a stream slower than the card's ``fs`` is refused; each card lead
    must be present (by name, an alias, or an explicit ``lead_map`` card->stream entry).
    """
    lead_map = lead_map or {}
    if fs < float(card["fs"]):
        raise EcgEdgeError(
            f"{what}: stream sampled at {fs:g} Hz, the model needs at least {card['fs']:g} Hz"
        )
    idx, missing = [], []
    for lead in card["leads"]:
        i = lead_index(stream_leads, lead_map.get(lead, lead))
        if i is None:
            missing.append(lead)
        idx.append(i)
    if missing:
        raise EcgEdgeError(
            f"{what}: lead(s) {', '.join(missing)} needed by the model are not in the stream "
            f"({', '.join(stream_leads)}); map one with --lead-map {missing[0]}=<stream lead>"
        )
    win = card.get("window", {})
    if card["task"] == "beat" and not {"before", "after"} <= set(win):
        raise EcgEdgeError(f"{what}: a beat model card needs window.before/after")
    if card["task"] != "beat" and "samples" not in win:
        raise EcgEdgeError(f"{what}: a window model card needs window.samples")
    return idx  # type: ignore[return-value]


def detector_lead_index(stream_leads: Sequence[str], wanted: str | None, default: int) -> int:
    """Index of the lead the R-peak detector runs on: the one asked for (an unknown lead is
    a one-line error), else ``default`` (the beat model's lead, or the first)."""
    if wanted is None:
        return default
    idx = lead_index(stream_leads, wanted)
    if idx is None:
        raise EcgEdgeError(f"detector lead {wanted} not in the stream")
    return idx
