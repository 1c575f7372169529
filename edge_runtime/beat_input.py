"""Beat-model inputs from the model card: the one place that turns beats into model feeds.

:mod:`edge_runtime.beats` cuts the beat windows (filter, resampler, median baseline and the
template channel when the card asks for one) and computes the RR features; this module does
the rest of what the card prescribes, so that the bedside pipeline, ``ecgedge annotate``
(:func:`classify_record_beats`) and the export calibration / parity data feed a model the
very same arrays:

* the window normalisation (``preprocessing.normalisation``: median-baselined mV as cut, or a
  fixed ``(x - mean) / std`` scaling),
* the RR columns the card lists (``features``, in the card's order; all of
  :data:`~edge_runtime.beats.RR_FEATURES` when it lists none) and their normalisation
  (``preprocessing.rr_normalisation``),
* the input names: the card's first input gets the windows, its second (if any) the RR
  features,
* the labelling mode (:attr:`BeatInputs.post_rr`): a model fed ``post_rr`` or
  ``post_rr_norm`` waits for the next R-peak; any other model is labelled as soon as its
  window is ready (docs/beat_latency.md).

A card the device cannot serve (unknown feature or normalisation, shapes that disagree with
its own window and leads) is refused when the builder is made, with a one-line error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_runtime.beats import POST_RR_FEATURES, RR_FEATURES, BeatConfig, extract_beats
from edge_runtime.errors import EcgEdgeError

__all__ = ["BeatInputs", "classify_record_beats"]

#: Window normalisations: the first three leave the median-baselined mV windows as cut.
WINDOW_NORMS = ("none", "subtract_window_median", "median_baseline", "scale", "standard",
                "per_lead_standard")
RR_NORMS = ("none", "standard")


def _norm(card: dict[str, Any], key: str) -> dict[str, Any]:
    entry = (card.get("preprocessing") or {}).get(key)
    return entry if isinstance(entry, dict) else {"kind": "none"}


class BeatInputs:
    """``BeatInputs(card)(windows, rr) -> {input name: array}``: the exact beat-model feed.

    ``windows`` are ``(n, channels, length)`` beat windows and ``rr`` the ``(n, 7)`` RR
    features, both as :class:`edge_runtime.beats.BeatWindower` / ``extract_beats`` return
    them (the template channel is already there when the card's config asks for it).
    """

    def __init__(self, card: dict[str, Any]) -> None:
        self.card = card
        names = [s["name"] for s in card["inputs"]]
        if not 1 <= len(names) <= 2:
            raise EcgEdgeError(f"beat model card lists {len(names)} inputs; the device builds "
                               "two (beat windows, RR features)")
        self.x_name = names[0]
        self.rr_name = names[1] if len(names) > 1 else None
        features = list(card.get("features") or [])
        unknown = [f for f in features if f not in RR_FEATURES]
        if unknown:
            raise EcgEdgeError(f"beat model: unknown RR feature(s) {unknown} in its card")
        self.features = features or list(RR_FEATURES)
        self.rr_cols = [RR_FEATURES.index(f) for f in self.features]
        self.norm = _norm(card, "normalisation")
        self.rr_norm = _norm(card, "rr_normalisation")
        for n, kinds in ((self.norm, WINDOW_NORMS), (self.rr_norm, RR_NORMS)):
            if n.get("kind", "none") not in kinds:
                raise EcgEdgeError(f"beat model: normalisation kind {n.get('kind')!r} unknown")
        self._check_shapes(card)

    @property
    def post_rr(self) -> bool:
        """Whether the model is fed a post-RR feature, so each beat waits for the next R.

        False (low-latency labelling) when the card's ``features`` lists neither ``post_rr``
        nor ``post_rr_norm``, or the model has no RR input at all. A card listing no
        features with an RR input is fed all seven, post-RR included.
        """
        return self.rr_name is not None and any(f in POST_RR_FEATURES for f in self.features)

    def _check_shapes(self, card: dict[str, Any]) -> None:
        """The card's declared input shapes must be what its own window/leads/features give."""
        config = BeatConfig.from_card(card)
        want = {self.x_name: [len(card["leads"]) * config.channels_per_lead, config.length]}
        if self.rr_name is not None:
            want[self.rr_name] = [len(self.rr_cols)]
        for spec in card["inputs"]:
            shape = list(spec.get("shape") or [])[1:]
            exp = want[spec["name"]]
            if len(shape) == len(exp) and any(isinstance(s, int) and s != e
                                               for s, e in zip(shape, exp, strict=True)):
                raise EcgEdgeError(f"beat model card: input {spec['name']} has shape {shape}, "
                                   f"its window/leads/features give {exp}")

    def windows(self, w: np.ndarray) -> np.ndarray:
        """Window normalisation of ``(n, channels, length)`` windows -> float32."""
        kind = self.norm.get("kind", "none")
        if kind in ("scale", "standard", "per_lead_standard"):
            mean = np.asarray(self.norm.get("mean", 0.0), dtype=np.float64).reshape(-1, 1)
            std = np.asarray(self.norm.get("std", self.norm.get("scale", 1.0)),
                             dtype=np.float64).reshape(-1, 1)
            return ((w - mean) / std).astype(np.float32)
        return np.ascontiguousarray(w, dtype=np.float32)

    def rr(self, f: np.ndarray) -> np.ndarray:
        """The card's RR columns of ``(n, 7)`` features, normalised -> float32."""
        f = f[:, self.rr_cols]
        if self.rr_norm.get("kind") == "standard":
            mean = np.asarray(self.rr_norm["mean"], dtype=np.float64)
            std = np.asarray(self.rr_norm["std"], dtype=np.float64)
            f = (f - mean) / std
        return np.ascontiguousarray(f, dtype=np.float32)

    def __call__(self, windows: np.ndarray, rr: np.ndarray) -> dict[str, np.ndarray]:
        inputs = {self.x_name: self.windows(windows)}
        if self.rr_name is not None:
            inputs[self.rr_name] = self.rr(rr)
        return inputs


def classify_record_beats(
    signal: np.ndarray, fs: float, peaks: Sequence[int], model, batch: int = 512
) -> list[str]:
    """AAMI class symbol of every detected beat, with a loaded beat model (runtime, no torch).

    ``model`` is an :class:`edge_runtime.inference.Model` whose card has task ``beat``; the
    windows and RR features are built with the card's own beat config and fed through
    :class:`BeatInputs` (the pipeline's and export's feed). The card's leads are taken as the
    record's first ``len(leads)`` columns (``ecgedge annotate --channel`` picks them).
    """
    card = model.card
    if card.get("task") != "beat":
        raise EcgEdgeError(f"{model.path.name} is a '{card.get('task')}' model, not a beat model")
    build = BeatInputs(card)
    config = BeatConfig.from_card(card)
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n_leads = len(card["leads"])
    if x.shape[1] < n_leads:
        raise EcgEdgeError(f"beat model needs {n_leads} lead(s), the record gives {x.shape[1]}")
    wins, feats = extract_beats(x[:, :n_leads], fs, peaks, config, post_rr=build.post_rr)
    classes = list(card["classes"])
    out: list[str] = []
    for i in range(0, len(wins), batch):
        prob = model.predict(**build(wins[i : i + batch], feats[i : i + batch]))
        out += [classes[j] for j in prob.argmax(axis=1)]
    return out
