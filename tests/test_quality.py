"""Signal quality and multi-lead evidence (issue 14 items 2 and 5), on signals built here.

* the per-lead quality index flags flat, saturated, HF-noisy, baseline-step and lead-off
  windows, and only those;
* gating: a pause (or a stretch without beats) on the detection lead while another lead shows
  beats raises no pause / asystole; both leads flat raises asystole; arrhythmia onsets are
  held while the detection lead is unusable, and counted in the ``noisy_signal`` alarm;
* coalescing: a burst of 500 data gaps in 60 s is one ``data_gap`` onset with running counts
  and one end; a port flapping 120 times in a second is one ``disconnect`` episode.
"""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.alerts import (
    AlertEngine,
    BeatEvent,
    LeadQualityIndex,
    QualityEvent,
    TechnicalEvent,
    Tick,
)
from edge_runtime.pipeline import Pipeline
from edge_runtime.stages.quality import LeadQualityStage

FS = 360.0


def ecg(seconds: float, rr: float = 0.8, amp: float = 1.2, seed: int = 0) -> np.ndarray:
    """A plain synthetic ECG (mV): Gaussian QRS (20 ms), small T wave, light noise."""
    n = int(seconds * FS)
    t = np.arange(n) / FS
    x = np.zeros(n)
    for r in np.arange(0.5, seconds, rr):
        x += amp * np.exp(-0.5 * ((t - r) / 0.012) ** 2)
        x += 0.2 * amp * np.exp(-0.5 * ((t - r - 0.25) / 0.04) ** 2)
    return x + np.random.default_rng(seed).normal(0, 0.01, n)


def quality(x: np.ndarray, lead_off: np.ndarray | None = None) -> list[LeadQualityIndex]:
    """The detection lead's quality index per 1-s window of ``x`` (one lead)."""
    st = LeadQualityStage(FS, ["I"], 0)
    out = []
    for i in range(0, len(x), int(FS)):
        for _, ev in st.push(x[i:i + int(FS), None], lead_off):
            if isinstance(ev, QualityEvent):
                out.append(ev.leads[0])
    return out


def flags(q: list[LeadQualityIndex]) -> set[str]:
    return {f for w in q for f in w.flags}


# ------------------------------------------------------------------ quality index
def test_clean_ecg_is_usable_with_no_flags():
    q = quality(ecg(20))
    assert len(q) == 20 and all(w.usable for w in q) and flags(q) == set()


def test_flat_line_is_flagged_but_stays_usable():
    q = quality(np.full(int(5 * FS), 0.3) + np.random.default_rng(1).normal(0, 0.002,
                                                                            int(5 * FS)))
    assert all("flat" in w.flags and w.usable for w in q)  # a flat line is what asystole is


def test_saturation():
    x = ecg(10)
    x[int(3.3 * FS):int(3.4 * FS)] = 2.0  # an excursion clipped at the ADC rail for 0.1 s
    q = quality(x)
    assert "saturation" in q[3].flags and not q[3].usable
    assert all(w.usable and not w.flags for k, w in enumerate(q) if k not in (3, 4))
    # a whole window pinned at one value is a flat line (the rail is not known here)
    x[int(5 * FS):int(7 * FS)] = 2.0
    assert "flat" in quality(x)[6].flags


def test_high_frequency_noise():
    x = ecg(10)
    rng = np.random.default_rng(2)
    x[int(5 * FS):] += rng.normal(0, 0.4, x.size - int(5 * FS))  # EMG-like broadband
    q = quality(x)
    assert all(w.usable for w in q[:5])
    assert all("noise" in w.flags and not w.usable for w in q[5:])


def test_baseline_step():
    x = ecg(10)
    x[int(6.3 * FS):] += 3.0  # electrode shift: a 3 mV step
    q = quality(x)
    assert all(w.usable for w in q[:6])
    assert "baseline_step" in q[6].flags and not q[6].usable
    assert all(w.usable for w in q[8:])  # a step, not a state: it passes


def test_lead_off_flag():
    q = quality(ecg(3), lead_off=np.array([True]))
    assert all("lead_off" in w.flags and not w.usable for w in q)


# ------------------------------------------------------------------ gating in the pipeline
def run(sig: np.ndarray) -> list:
    p = Pipeline(FS, ["MLII", "V1"])
    for i in range(0, len(sig), int(FS)):
        p.push(sig[i:i + int(FS)])
    p.finish()
    return [u for u in p.updates if u.action == "onset"]


def test_beats_missing_on_the_detection_lead_only_raise_no_pause_or_asystole():
    a, b = ecg(60), ecg(60, amp=0.8, seed=3)
    drop = slice(int(30 * FS), int(36 * FS))  # 6 s without QRS on MLII only
    a[drop] = np.random.default_rng(4).normal(0, 0.01, a[drop].size)
    kinds = [u.alert.type for u in run(np.stack([a, b], axis=1))]
    assert "pause" not in kinds and "asystole" not in kinds
    # the same drop on the only lead there is: both alarms (the evidence is one lead)
    one = Pipeline(FS, ["MLII"])
    one.push(a[:, None])
    one.finish()
    kinds1 = [u.alert.type for u in one.updates if u.action == "onset"]
    assert "pause" in kinds1 and "asystole" in kinds1


def test_both_leads_flat_is_asystole_with_per_lead_evidence():
    a, b = ecg(40), ecg(40, amp=0.8, seed=3)
    rng = np.random.default_rng(5)
    for x in (a, b):
        x[int(25 * FS):] = rng.normal(0, 0.005, x.size - int(25 * FS))
    onsets = [u for u in run(np.stack([a, b], axis=1)) if u.alert.type == "asystole"]
    assert len(onsets) == 1
    ev = onsets[0].alert.evidence
    assert ev["decision"] == "no beat on any usable lead"
    assert [d["lead"] for d in ev["leads"]] == ["MLII", "V1"]
    assert all(d["usable"] and "flat" in d["flags"] for d in ev["leads"])
    assert 28.5 < onsets[0].time_s < 30.5  # <= 5 s after the last beat


def test_noise_on_every_lead_holds_absence_alarms_and_says_why():
    a, b = ecg(60), ecg(60, amp=0.8, seed=3)
    rng = np.random.default_rng(6)
    for x in (a, b):  # heavy EMG from 20 s on
        x[int(20 * FS):] += rng.normal(0, 0.8, x.size - int(20 * FS))
    kinds = [u.alert.type for u in run(np.stack([a, b], axis=1))]
    assert "noisy_signal" in kinds
    assert not {"asystole", "pause", "bradycardia"} & set(kinds)


# ------------------------------------------------------------------ engine: holding, coalescing
def q_event(t: float, usable: bool) -> QualityEvent:
    idx = LeadQualityIndex("MLII", usable, () if usable else ("noise",), 1.0, 0.5, 0.0, 0.0)
    return QualityEvent(t - 1.0, t, 0, (idx,))


def test_arrhythmia_onsets_are_held_while_the_detection_lead_is_unusable():
    eng = AlertEngine()
    evs: list = []
    for k, t in enumerate(np.arange(0.3, 40.0, 0.3)):  # 200 bpm all along
        evs.append(BeatEvent(k, int(t * FS), float(t)))
        if t % 1.0 < 0.3:
            sec = float(np.floor(t))
            evs.append(q_event(sec, usable=sec > 25.0))
            if sec == 1.0:
                evs.append(TechnicalEvent("noisy_signal", True, 1.0, {"lead": "MLII"}))
            if sec == 26.0:
                evs.append(TechnicalEvent("noisy_signal", False, 26.0, {}))
        evs.append(Tick(float(t)))
    ups = eng.push(evs)
    tachy = [u for u in ups if u.alert.type == "tachycardia" and u.action == "onset"]
    noisy = [u for u in ups if u.alert.type == "noisy_signal"]
    assert tachy and tachy[0].time_s >= 25.0 + eng.evidence.settle_s  # released after
    assert noisy[0].action == "onset"
    assert noisy[-1].alert.evidence["held"]["tachycardia"] >= 1
    assert eng.evidence.held["tachycardia"] >= 1


def test_a_burst_of_500_gaps_is_one_data_gap_alarm_with_counts():
    p = Pipeline(FS, ["MLII"])
    x = ecg(90)
    pos = 0
    rng = np.random.default_rng(7)
    for _ in range(500):  # 500 gaps within the first 60 s
        step = int(rng.integers(20, 40))
        p.push(x[pos:pos + step, None])
        p.gap(3)
        pos += step + 3
    assert pos < 60 * FS
    p.push(x[pos:, None])
    p.finish()
    ups = [u for u in p.updates if u.alert.type == "data_gap"]
    assert [u.action for u in ups] == ["onset", "end"]
    ev = ups[-1].alert.evidence
    assert ev["gaps"] == 500 and ev["lost_total"] == 1500
    assert ups[-1].alert.end_s < 60.0 and ups[-1].time_s >= ups[-1].alert.end_s + 10.0


def test_a_flapping_port_is_one_disconnect_episode():
    p = Pipeline(FS, ["MLII"])
    x = ecg(40)
    p.push(x[: int(10 * FS), None])
    for _ in range(120):  # 120 disconnect/reconnect pairs within one second
        p.technical("disconnect", True, {"port": "/dev/pts/9"})
        p.technical("disconnect", False, {"down_s": 0.005})
    p.push(x[int(10 * FS):, None])
    p.finish()
    ups = [u for u in p.updates if u.alert.type == "disconnect"]
    assert [u.action for u in ups] == ["onset", "end"]
    assert ups[-1].alert.evidence["count"] == 120
    assert not [u for u in p.updates if u.alert.type == "asystole"]


@pytest.mark.parametrize("kind", ["data_gap", "disconnect", "signal_loss"])
def test_onsets_of_one_technical_type_are_at_least_10_s_apart(kind):
    eng = AlertEngine()
    rng = np.random.default_rng(8)
    times = np.sort(rng.uniform(0, 300, 400))
    ups = []
    for t in times:
        evs = [TechnicalEvent(kind, True, float(t), {"lost": 2, "end_s": float(t)})]
        if kind != "data_gap":
            evs.append(TechnicalEvent(kind, False, float(t) + 0.01, {}))
        ups += eng.push([*evs, Tick(float(t) + 0.01)])
    onsets = [u.time_s for u in ups if u.action == "onset" and u.alert.type == kind]
    assert onsets and np.all(np.diff(onsets) >= 10.0)


@pytest.mark.parametrize("kind", ["lead_off", "noisy_signal"])
def test_a_flapping_held_condition_raises_at_most_one_onset_per_10_s(kind):
    eng = AlertEngine()
    rng = np.random.default_rng(9)
    t, state, ups = 0.0, False, []
    while t < 600.0:
        state = not state
        ups += eng.push([TechnicalEvent(kind, state, t, {})])
        end = t + float(rng.uniform(0.3, 15.0))
        ups += eng.push([Tick(float(x)) for x in np.arange(t + 0.1, end, 0.1)])
        t = end
    onsets = [u.time_s for u in ups if u.action == "onset" and u.alert.type == kind]
    assert len(onsets) >= 3 and np.all(np.diff(onsets) >= 10.0)


def test_a_user_config_with_the_old_noise_rule_gets_the_new_name(tmp_path):
    from edge_runtime.alerts import load_config
    from edge_runtime.errors import EcgEdgeError

    f = tmp_path / "old.toml"
    f.write_text("[rules.noise]\nonset_s = 2.0\n")
    with pytest.raises(EcgEdgeError, match="rule 'noise' is now 'noisy_signal'"):
        load_config(f)
