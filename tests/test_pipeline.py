"""The composed pipeline on the shipped MIT-BIH record 100 (no data dir needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import wfdb

from edge_runtime.alerts import AlertEngine
from edge_runtime.errors import EcgEdgeError
from edge_runtime.pipeline import Pipeline, check_card
from edge_runtime.records import read_beat_annotations, read_record, shipped_record_path
from edge_runtime.report import ec57_agreement
from edge_runtime.sinks.journal import JournalSink, read_journal
from tests.pipeline_models import beat_card, linear_onnx, window_card

FS = 360.0


@pytest.fixture(scope="module")
def rec100():
    return read_record(shipped_record_path("100"), sampto=int(180 * FS))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    pytest.importorskip("onnx")
    from edge_runtime.inference import load_model

    d = tmp_path_factory.mktemp("models")
    bm = load_model(linear_onnx(d / "beat.onnx", beat_card(), scale=0.02))
    wm = load_model(linear_onnx(d / "win.onnx", window_card(leads=("II", "V5")), scale=0.002))
    return bm, wm


def run_blocks(sig, sizes, **kw):
    p = Pipeline(FS, ["MLII", "V5"], **kw)
    recs = []
    i = 0
    k = 0
    while i < len(sig):
        n = sizes[k % len(sizes)]
        recs += p.push(sig[i:i + n])
        i += n
        k += 1
    recs += p.finish()
    return p, [r for r in recs if r.get("event") != "session"]


def test_detector_only_finds_every_beat_of_100(rec100):
    p, recs = run_blocks(rec100.signal, [3600])
    ref, sym = read_beat_annotations(shipped_record_path("100"), sampto=int(180 * FS))
    ag = ec57_agreement(ref, list(sym), np.array(p.beat_samples), p.beat_labels, FS)
    assert ag["qrs"]["se"] >= 0.99 and ag["qrs"]["ppv"] >= 0.99
    beats = [r for r in recs if r["event"] == "beat"]
    assert [b["index"] for b in beats] == list(range(len(p.beat_samples)))
    status = [r for r in recs if r["event"] == "status"]
    assert len(status) == pytest.approx(180 / 2, abs=2)
    assert 60 < status[-1]["hr_bpm"] < 90


def test_block_partition_does_not_change_beats_or_alerts(rec100, models):
    """Offline (big blocks) == live (decoder-sized, irregular blocks): the replay contract."""
    bm, wm = models
    _, a = run_blocks(rec100.signal, [65536], beat_model=bm, window_model=wm)
    _, b = run_blocks(rec100.signal, [7, 250, 1, 33, 1024, 5], beat_model=bm, window_model=wm)
    assert a == b  # every record, in the same order (status lines included)
    assert [r for r in a if r["event"] == "window"]
    assert {r["label"] for r in a if r["event"] == "beat"} <= {"N", "S", "V", "F", "Q"}


def test_asystole_alarm_delay_measured_under_10s(rec100):
    """Flat line after a beat: the asystole alarm must come <= 10 s after the last beat."""
    ref, _ = read_beat_annotations(shipped_record_path("100"), sampto=int(180 * FS))
    last = int(ref[ref < 60 * FS][-1])  # last reference beat before 60 s
    sig = rec100.signal[: int(90 * FS)].copy()
    sig[last + int(0.3 * FS):] = sig[last + int(0.3 * FS)]  # signal stays, heart stops
    p, recs = run_blocks(sig, [360])
    onsets = [r for r in recs if r["event"] == "alert" and r["type"] == "asystole"
              and r["action"] == "onset"]
    assert len(onsets) == 1
    delay = onsets[0]["raised_s"] - last / FS
    assert delay <= 10.0
    assert 4.0 < delay < 4.5  # 4 s rule + tick; the detector adds nothing to an absence
    assert onsets[0]["severity"] == "crisis"


def test_gap_is_reported_and_time_stays_true(rec100):
    p = Pipeline(FS, ["MLII", "V5"])
    out = p.push(rec100.signal[: int(20 * FS)])
    out += p.gap(180)
    out += p.push(rec100.signal[int(20 * FS) + 180: int(40 * FS)])
    out += p.finish()
    gaps = [r for r in out if r["event"] == "alert" and r["type"] == "data_gap"]
    assert gaps[0]["action"] == "onset" and gaps[0]["evidence"]["lost"] == 180
    assert gaps[0]["start_s"] == pytest.approx(20.0)
    assert p.n == int(40 * FS)
    assert p.summary()["gaps"] == 1 and p.summary()["lost_samples"] == 180


def test_card_mismatch_is_refused_with_the_reason():
    with pytest.raises(EcgEdgeError, match="lead.*V1.*not in the stream"):
        check_card(window_card(leads=("II", "V1")), 360.0, ["MLII", "V5"], "window model")
    with pytest.raises(EcgEdgeError, match="sampled at 128 Hz.*180 Hz"):
        check_card(beat_card(), 128.0, ["MLII"], "beat model")
    assert check_card(beat_card(), 360.0, ["V5", "MLII"], "beat model") == [1]
    assert check_card(window_card(leads=("II", "V1")), 360.0, ["MLII", "V5"], "w",
                      lead_map={"V1": "V5"}) == [0, 1]


def test_journal_strips_and_report(tmp_path, rec100):
    cfg = tmp_path / "alerts.toml"
    cfg.write_text("[rules.tachycardia]\nhr_above = 60.0\nhr_clear = 55.0\n")
    from edge_runtime.alerts import load_config

    eng = AlertEngine(load_config(cfg), device_id="bed1")
    journal = tmp_path / "run.jsonl"
    sig = rec100.signal[: int(60 * FS)]
    p = Pipeline(FS, ["MLII", "V5"], engine=eng, sinks=[JournalSink(journal)],
                 strips_dir=tmp_path / "strips", source="100")
    for i in range(0, len(sig), 1000):
        p.push(sig[i:i + 1000])
    p.finish()
    p.close()
    recs, bad = read_journal(journal)
    assert bad == 0
    onset = next(r for r in recs if r["event"] == "alert" and r["type"] == "tachycardia")
    assert onset["device_id"] == "bed1" and onset["strip"].endswith(onset["id"])
    strip = wfdb.rdrecord(onset["strip"])
    ann = wfdb.rdann(onset["strip"], "beats")
    assert strip.fs == FS and strip.sig_name == ["MLII", "V5"]
    t0 = min(onset["start_s"], onset["raised_s"])
    want = (t0 + 5.0) - max(0.0, t0 - 10.0)  # 10 s before, 5 s after, clipped at 0
    assert strip.p_signal.shape[0] == pytest.approx(want * FS, abs=2)
    assert len(ann.sample) >= 5
    from edge_runtime.report import main as report_main

    assert report_main([str(journal), "--json", "--record",
                        str(shipped_record_path("100"))]) == 0


def test_report_cli_output(tmp_path, rec100, capsys):
    from edge_runtime.report import main as report_main

    journal = tmp_path / "run.jsonl"
    p = Pipeline(FS, ["MLII", "V5"], sinks=[JournalSink(journal)],
                 source=str(shipped_record_path("100")))
    p.push(rec100.signal[: int(60 * FS)])
    p.finish()
    p.close()
    assert report_main([str(journal), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["beats"] == len(p.beat_samples)
    assert s["ec57"]["qrs"]["se"] > 0.99  # record found from the session source
    with pytest.raises(EcgEdgeError, match="journal not found"):
        report_main([str(tmp_path / "none.jsonl")])


class _Capture:
    """Stands in for a window model: records its inputs, answers 0.5."""

    def __init__(self, card):
        self.card = card
        self.inputs = []

    def predict(self, x):
        self.inputs.append(x)
        return np.full((len(x), len(self.card["classes"])), 0.5, np.float32)


def test_window_stage_mapped_leads_are_conditioned_once_and_identically(rec100):
    from edge_runtime.pipeline import WindowStage

    sig = rec100.signal[: int(30 * FS)]
    a = _Capture(window_card(leads=("II", "X", "V5")))
    b = _Capture(window_card(leads=("II", "V5")))
    sa = WindowStage(a, FS, [0, 0, 1], hop_s=2.0)
    sb = WindowStage(b, FS, [0, 1], hop_s=2.0)
    ev_a = [e for i in range(0, len(sig), 997) for e in sa.push(sig[i:i + 997])]
    ev_b = sb.push(sig)
    assert [k for k, _ in ev_a] == [k for k, _ in ev_b] and len(ev_a) == 11
    xa, xb = np.concatenate(a.inputs), np.concatenate(b.inputs)
    assert xa.shape[1:] == (3, 1000)
    np.testing.assert_allclose(xa[:, 0], xb[:, 0], atol=1e-6)
    np.testing.assert_allclose(xa[:, 1], xb[:, 0], atol=1e-6)  # the mapped lead
    np.testing.assert_allclose(xa[:, 2], xb[:, 1], atol=1e-6)


def test_lead_off_flags_raise_a_technical_alarm_not_asystole(rec100):
    p = Pipeline(FS, ["MLII", "V5"])
    out = p.push(rec100.signal[: int(20 * FS)], lead_off=[False, False])
    flat = np.zeros((int(15 * FS), 2))  # a device sends zeros for a lead that is off
    for i in range(0, len(flat), 360):
        out += p.push(flat[i:i + 360], lead_off=[True, False])
    out += p.push(rec100.signal[int(35 * FS): int(45 * FS)], lead_off=[False, False])
    out += p.finish()
    alerts = [(r["type"], r["action"]) for r in out if r["event"] == "alert"]
    assert ("lead_off", "onset") in alerts and ("lead_off", "end") in alerts
    assert ("asystole", "onset") not in alerts
    onset = next(r for r in out if r["event"] == "alert" and r["type"] == "lead_off")
    assert onset["evidence"]["leads"] == ["MLII"] and onset["start_s"] == pytest.approx(20.0)


def test_history_is_bounded_in_long_live_runs(rec100):
    """A bedside run lasts days: per-beat bookkeeping is trimmed, counts stay exact."""
    from edge_runtime.pipeline import PipelineConfig

    p = Pipeline(FS, ["MLII", "V5"], config=PipelineConfig(max_history_beats=100))
    sig = rec100.signal
    for i in range(0, len(sig), 3600):
        p.push(sig[i:i + 3600])
    p.finish()
    assert len(p.beat_samples) <= 100
    s = p.summary()
    assert s["beats"] == p._beat_index > 200  # all beats counted, not only those kept
    assert sum(s["beats_per_class"].values()) == s["beats"]


def test_window_stage_matches_the_training_preprocessing(rec100):
    """Streaming windows == edge_runtime.windowing.record_windows (what training used)."""
    from edge_runtime.pipeline import WindowStage
    from edge_runtime.windowing import record_windows

    card = window_card(leads=("II", "V5"))
    card["preprocessing"]["normalisation"] = {
        "kind": "per_lead_standard", "leads": ["II", "V5"], "mean": [0.01, -0.02],
        "std": [0.3, 0.2], "clip_sd": 20.0}
    sig = rec100.signal[: int(40 * FS)]
    cap = _Capture(card)
    st = WindowStage(cap, FS, [0, 1], hop_s=2.0)
    events = [e for i in range(0, len(sig), 500) for _, e in st.push(sig[i:i + 500])]
    x_ref, start_ref = record_windows(sig, FS, card, hop_s=2.0)
    x = np.concatenate(cap.inputs)
    assert x.shape == x_ref.shape
    np.testing.assert_allclose(x, x_ref, atol=1e-4)
    np.testing.assert_allclose([e.start_s for e in events], start_ref, atol=1e-9)
