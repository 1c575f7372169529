"""One beat-model feed (edge_runtime.beat_input.BeatInputs) for the pipeline, annotate, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_runtime.beat_input import BeatInputs, classify_record_beats
from edge_runtime.beats import RR_FEATURES, BeatConfig, extract_beats
from edge_runtime.errors import EcgEdgeError
from edge_runtime.pipeline import Pipeline
from edge_runtime.records import read_record, shipped_record_path
from tests.pipeline_models import beat_card, linear_onnx

SHIPPED_BEAT = Path(__file__).resolve().parents[1] / "models" / "beat.int8.onnx"


class _Capture:
    """A loaded model that records every feed it gets (copies), then answers as itself."""

    def __init__(self, model):
        self.model = model
        self.card = model.card
        self.path = model.path
        self.feeds: list[dict[str, np.ndarray]] = []

    def predict(self, **inputs):
        self.feeds.append({k: v.copy() for k, v in inputs.items()})
        return self.model.predict(**inputs)

    def stacked(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([f[k] for f in self.feeds]) for k in self.feeds[0]}


@pytest.fixture(scope="module")
def rec100():
    return read_record(shipped_record_path("100"), sampto=int(60 * 360))


def _pipeline_and_annotate(model, rec):
    """Feeds of the pipeline (whole record in one push) and of classify_record_beats."""
    cp = _Capture(model)
    p = Pipeline(rec.fs, rec.leads, beat_model=cp)
    p.push(rec.signal)
    p.finish()
    peaks = np.asarray(p.beat_samples, np.int64)
    ca = _Capture(model)
    labels = classify_record_beats(rec.signal, rec.fs, peaks, ca)
    return peaks, p, cp.stacked(), ca.stacked(), labels


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype == np.float32
        np.testing.assert_array_equal(a[k], b[k])


def test_pipeline_annotate_and_export_feed_the_shipped_model_identically(rec100, monkeypatch):
    if not SHIPPED_BEAT.is_file():
        pytest.skip(f"no shipped beat model at {SHIPPED_BEAT}")
    pytest.importorskip("onnxruntime")
    from edge_runtime.inference import load_model

    model = load_model(SHIPPED_BEAT)
    peaks, p, fed_pipe, fed_annot, labels = _pipeline_and_annotate(model, rec100)
    assert len(peaks) > 60
    assert fed_pipe["x"].shape == (len(peaks), 2, 126)  # beat + template channel
    # the card's RR subset (issue 16: the five causal features, no post-RR)
    assert fed_pipe["rr"].shape == (len(peaks), len(model.card["features"]))
    assert model.card["inputs"][1]["shape"][1] == len(model.card["features"])
    _assert_same(fed_pipe, fed_annot)
    assert labels == p.beat_labels

    # export's calibration/parity arrays: the training dataset's beats through the same feed
    from export import datasets
    from train.beats import dataset as beat_dataset

    x, rr = extract_beats(rec100.signal[:, :1], rec100.fs, peaks,
                          BeatConfig.from_card(model.card))
    beats = beat_dataset.BeatSet(x, rr, np.zeros(len(peaks), np.int64),
                                 np.full(len(peaks), "100"), peaks)
    monkeypatch.setattr(beat_dataset, "load_beats", lambda *a, **k: beats)
    data = datasets._beat_data(model.card, None, seed=0)
    assert data.test.ids == ["100"]  # record 100 is in DS2, the parity split
    _assert_same(data.test.inputs, fed_pipe)


def _subset_card() -> dict:
    card = beat_card()
    card["features"] = ["post_rr", "pre_rr_norm"]
    card["inputs"][1]["shape"] = [None, 2]
    card["preprocessing"]["rr_normalisation"] = {"kind": "standard", "mean": [0.8, 1.0],
                                                 "std": [0.2, 0.25]}
    card["preprocessing"]["normalisation"] = {"kind": "scale", "scale": 0.5}
    return card


def test_a_card_listing_a_subset_of_rr_features_gets_exactly_those(rec100, tmp_path):
    card = _subset_card()
    build = BeatInputs(card)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((5, 1, 126)).astype(np.float32)
    f = rng.uniform(0.5, 1.5, (5, len(RR_FEATURES))).astype(np.float32)
    feed = build(w, f)
    cols = [RR_FEATURES.index("post_rr"), RR_FEATURES.index("pre_rr_norm")]
    np.testing.assert_allclose(feed["rr"], (f[:, cols] - [0.8, 1.0]) / [0.2, 0.25], rtol=1e-6)
    np.testing.assert_allclose(feed["x"], w / 0.5, rtol=1e-6)

    # both runtime callers honour it (annotate used to feed un-normalised windows)
    pytest.importorskip("onnx")
    from edge_runtime.inference import load_model

    model = load_model(linear_onnx(tmp_path / "beat.onnx", card, scale=0.02))
    peaks, _, fed_pipe, fed_annot, _ = _pipeline_and_annotate(model, rec100)
    assert fed_pipe["rr"].shape == (len(peaks), 2)
    _assert_same(fed_pipe, fed_annot)
    x, rr = extract_beats(rec100.signal[:, :1], rec100.fs, peaks, BeatConfig.from_card(card))
    _assert_same(fed_pipe, build(x, rr))


def test_cards_the_device_cannot_feed_are_refused_in_one_line():
    card = beat_card()
    card["features"] = ["pre_rr", "qrs_width"]
    with pytest.raises(EcgEdgeError, match="unknown RR feature.*qrs_width"):
        BeatInputs(card)
    card = beat_card()
    card["inputs"][1]["shape"] = [None, 5]  # lists 7 features, declares 5 columns
    with pytest.raises(EcgEdgeError, match="input rr has shape"):
        BeatInputs(card)
    card = beat_card()
    card["preprocessing"]["rr_normalisation"] = {"kind": "robust"}
    with pytest.raises(EcgEdgeError, match="normalisation kind 'robust'"):
        BeatInputs(card)
