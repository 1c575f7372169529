"""Alert engine: each rule's onset, hysteresis, escalation and end on synthetic beat streams."""

from __future__ import annotations

import json

import pytest

from edge_runtime.alerts import (
    AlertEngine,
    BeatEvent,
    TechnicalEvent,
    Tick,
    WindowEvent,
    load_config,
)
from edge_runtime.errors import EcgEdgeError


def beats_at(times, labels=None, start_index=0):
    labels = labels or ["N"] * len(times)
    return [
        BeatEvent(index=start_index + i, sample=int(t * 360), time_s=float(t), label=lab)
        for i, (t, lab) in enumerate(zip(times, labels, strict=True))
    ]


def run(engine, events):
    """Push events one at a time with a tick every 0.1 s in between (like the pipeline)."""
    ups = []
    for ev in events:
        ups += engine.push([ev])
    return ups


def regular(start, stop, rr, label="N"):
    n = int(round((stop - start) / rr))
    return [start + i * rr for i in range(n)], [label] * n


def ticks_between(t0, t1, dt=0.1):
    n = int(round((t1 - t0) / dt))
    return [Tick(t0 + (i + 1) * dt) for i in range(n)]


def actions(ups, kind=None):
    return [(u.action, u.alert.type) for u in ups if kind is None or u.alert.type == kind]


def test_default_config_loads_and_is_complete():
    cfg = load_config()
    for rule in ("asystole", "pause", "bradycardia", "tachycardia", "vt", "bigeminy",
                 "trigeminy", "pvc_rate", "svt", "af", "finding", "lead_off", "signal_loss",
                 "noisy_signal", "disconnect", "data_gap"):
        assert rule in cfg["rules"], rule
    assert cfg["rules"]["asystole"]["no_beat_s"] == 4.0
    assert cfg["rules"]["pause"]["rr_s"] == 2.5


def test_unknown_rule_key_severity_are_one_line_errors(tmp_path):
    bad = tmp_path / "a.toml"
    bad.write_text("[rules.vtach]\nmin_run = 3\n")
    with pytest.raises(EcgEdgeError, match="unknown rule 'vtach'"):
        load_config(bad)
    bad.write_text("[rules.vt]\nminrun = 3\n")
    with pytest.raises(EcgEdgeError, match="unknown key rules.vt.minrun"):
        load_config(bad)
    bad.write_text('[rules.vt]\nseverity = "loud"\n')
    with pytest.raises(EcgEdgeError, match="not one of"):
        load_config(bad)
    bad.write_text("[rules.vt\n")
    with pytest.raises(EcgEdgeError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(EcgEdgeError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_user_config_overrides_and_disables(tmp_path):
    f = tmp_path / "a.toml"
    f.write_text("[rules.asystole]\nno_beat_s = 6.0\n[rules.pause]\nenabled = false\n")
    cfg = load_config(f)
    assert cfg["rules"]["asystole"]["no_beat_s"] == 6.0
    assert cfg["rules"]["bradycardia"]["hr_below"] == 40.0  # defaults kept
    eng = AlertEngine(cfg)
    t, lab = regular(0, 10, 0.8)
    ups = run(eng, beats_at(t + [13.5], lab + ["N"]))
    assert ("onset", "pause") not in actions(ups)


def test_asystole_raised_within_10s_and_ended_by_next_beat():
    eng = AlertEngine()
    t, lab = regular(0, 20, 0.8)
    ups = run(eng, beats_at(t, lab))
    last = t[-1]
    ups = run(eng, ticks_between(last, last + 12.0))
    onset = [u for u in ups if u.action == "onset" and u.alert.type == "asystole"]
    assert len(onset) == 1
    delay = onset[0].time_s - last
    assert 4.0 < delay <= 4.2  # tick granularity 0.1 s; IEC 60601-2-27 needs <= 10 s
    assert onset[0].alert.severity == "crisis"
    assert onset[0].alert.evidence["alarm_delay_s"] == pytest.approx(delay, abs=1e-3)
    ups = run(eng, beats_at([last + 12.5], ["N"], start_index=len(t)))
    assert ("end", "asystole") in actions(ups)


def test_pause_then_clears():
    eng = AlertEngine()
    ups = run(eng, beats_at([0, 0.8, 1.6, 4.5, 5.3]))
    onset = [u for u in ups if u.alert.type == "pause"]
    assert onset and onset[0].alert.evidence["rr_s"] == pytest.approx(2.9)
    ups = run(eng, ticks_between(5.3, 16.0))
    assert ("end", "pause") in actions(ups)


def test_bradycardia_hysteresis_and_escalation():
    eng = AlertEngine()
    t1, _ = regular(0, 10, 0.75)  # 80 bpm
    t2, _ = regular(10, 40, 1.75)  # 34 bpm -> brady
    t3, _ = regular(40, 60, 2.2)  # 27 bpm -> crisis
    t4, _ = regular(60, 80, 0.75)  # back to 80
    times = t1 + t2 + t3 + t4
    ups = run(eng, beats_at(times))
    acts = actions(ups, "bradycardia")
    assert acts == [("onset", "bradycardia"), ("escalate", "bradycardia"),
                    ("end", "bradycardia")]
    onset = next(u for u in ups if u.alert.type == "bradycardia")
    assert onset.alert.severity == "crisis"  # escalated in place (same alert object)
    assert 10 <= onset.alert.start_s < 25


def test_brady_does_not_chatter_at_the_limit():
    """HR alternating 39/41 bpm: one episode, not one per beat (hysteresis)."""
    eng = AlertEngine()
    t = [0.0]
    for i in range(60):
        t.append(t[-1] + (60 / 39 if i % 2 else 60 / 41))
    ups = run(eng, beats_at(t))
    assert actions(ups, "bradycardia").count(("onset", "bradycardia")) <= 1


def test_tachycardia_onset_and_end():
    eng = AlertEngine()
    a, _ = regular(0, 10, 0.75)
    b, _ = regular(10, 30, 0.35)  # 171 bpm
    c, _ = regular(30, 50, 0.75)
    ups = run(eng, beats_at(a + b + c))
    assert actions(ups, "tachycardia") == [("onset", "tachycardia"), ("end", "tachycardia")]


def test_vt_run_needs_three_fast_v_beats():
    eng = AlertEngine()
    a, la = regular(0, 10, 0.8)
    v = [10.0, 10.4, 10.8, 11.2]  # 150 bpm V run
    c, lc = regular(12, 20, 0.8)
    ups = run(eng, beats_at(a + v + c, la + ["V"] * 4 + lc))
    vt = [u for u in ups if u.alert.type == "vt"]
    assert vt[0].action == "onset" and vt[0].alert.severity == "crisis"
    assert vt[0].alert.evidence["run_length"] == 3
    assert vt[-1].action == "end" and vt[-1].alert.evidence["longest_run"] == 4
    # slow V run (idioventricular, 50 bpm) is not VT
    eng = AlertEngine()
    ups = run(eng, beats_at(a + [10.0, 11.2, 12.4], la + ["V"] * 3))
    assert not [u for u in ups if u.alert.type == "vt"]


def test_vt_ends_after_the_run_despite_later_isolated_v_beats():
    """The clear timer starts at the end of the alarming run; isolated PVCs inside the timer
    (every 3 s, under clear_s) must not keep the crisis alive."""
    eng = AlertEngine()
    a, la = regular(0, 10, 0.8)
    v = [10.0, 10.4, 10.8, 11.2]
    t, lab = a + v, la + ["V"] * 4
    x = 12.0
    while x < 40:
        t += [x, x + 0.8, x + 1.6, x + 2.4]
        lab += ["N", "N", "V", "N"]
        x += 3.2
    ups = run(eng, beats_at(t, lab))
    vt = [u for u in ups if u.alert.type == "vt"]
    assert [u.action for u in vt] == ["onset", "end"]
    assert vt[-1].alert.end_s == pytest.approx(11.2)


def test_vt_run_with_fusion_beats_and_slowing_rhythm():
    """F beats continue a ventricular run (fusion is a sign of VT) but never start one or
    count towards min_run; once VT is alarmed, runs of >= min_run V beats keep it at any rate."""
    eng = AlertEngine()
    a, la = regular(0, 10, 0.8)
    vf = [10.0 + 0.55 * i for i in range(9)]  # V F V F V F V F V at 109 bpm
    lab = ["V" if i % 2 == 0 else "F" for i in range(9)]
    ups = run(eng, beats_at(a + vf, la + lab))
    vt = [u for u in ups if u.alert.type == "vt"]
    assert vt and vt[0].action == "onset" and vt[0].alert.start_s == pytest.approx(10.0)
    assert vt[0].alert.evidence["run_length"] == 5  # V F V F V: the third V
    # F beats alone, or F starting a sequence, never make VT
    eng = AlertEngine()
    lab = ["F" if i % 2 == 0 else "N" for i in range(9)]
    assert not [u for u in run(eng, beats_at(a + vf, la + lab)) if u.alert.type == "vt"]
    eng = AlertEngine()
    lab = ["F", "F", "V", "V", "N", "F", "V", "N", "N"]  # at most 2 V in a run
    assert not [u for u in run(eng, beats_at(a + vf, la + lab)) if u.alert.type == "vt"]
    # VT at 150 bpm, then the ventricular rhythm slows to 86 bpm: the alarm stays on until
    # clear_s after that slow run ends
    eng = AlertEngine()
    fast = [10.0 + 0.4 * i for i in range(5)]
    slow = [12.0 + 0.7 * i for i in range(10)]
    tail, lt = regular(20, 40, 0.8)
    ups = run(eng, beats_at(a + fast + slow + tail, la + ["V"] * 15 + lt))
    vt = [u for u in ups if u.alert.type == "vt"]
    assert [u.action for u in vt] == ["onset", "end"]
    assert vt[-1].alert.end_s == pytest.approx(slow[-1])


def test_bigeminy_and_trigeminy():
    eng = AlertEngine()
    t, _ = regular(0, 20, 0.8)
    labels = ["N", "V"] * (len(t) // 2)
    ups = run(eng, beats_at(t[: len(labels)], labels))
    assert ("onset", "bigeminy") in actions(ups)
    eng = AlertEngine()
    labels = ["N", "N", "V"] * (len(t) // 3)
    ups = run(eng, beats_at(t[: len(labels)], labels))
    assert ("onset", "trigeminy") in actions(ups)
    assert ("onset", "bigeminy") not in actions(ups)


def test_pvc_rate_escalates():
    eng = AlertEngine()
    t, _ = regular(0, 120, 0.5)
    labels = ["V" if i % 5 == 0 else "N" for i in range(len(t))]  # 24 PVC/min
    ups = run(eng, beats_at(t, labels))
    assert ("onset", "pvc_rate") in actions(ups)
    a = next(u.alert for u in ups if u.alert.type == "pvc_rate")
    assert a.severity == "advisory" and a.evidence["max_per_min"] >= 20
    eng = AlertEngine()
    labels = ["V" if i % 3 == 0 else "N" for i in range(len(t))]  # 40 PVC/min
    ups = run(eng, beats_at(t, labels))
    assert ("escalate", "pvc_rate") in actions(ups)


def test_svt_run():
    eng = AlertEngine()
    a, la = regular(0, 10, 0.8)
    s = [10.0 + 0.35 * i for i in range(6)]
    ups = run(eng, beats_at(a + s, la + ["S"] * 6))
    assert ("onset", "svt") in actions(ups)


def test_af_suspicion_irregular_rr_and_model_escalation():
    import random

    rng = random.Random(0)
    t = [0.0]
    for _ in range(150):
        t.append(t[-1] + rng.uniform(0.45, 1.1))
    eng = AlertEngine()
    ups = run(eng, beats_at(t))
    assert ("onset", "af") in actions(ups)
    af = next(u.alert for u in ups if u.alert.type == "af")
    assert af.severity == "advisory"
    ups = eng.push([WindowEvent(t[-1] - 10, t[-1], "findings6", {"AF": 0.9}, "card1")])
    ups += run(eng, beats_at([t[-1] + 0.7], start_index=len(t)))
    assert ("escalate", "af") in actions(ups)
    # a regular rhythm raises nothing
    eng = AlertEngine()
    r, _ = regular(0, 120, 0.8)
    assert ("onset", "af") not in actions(run(eng, beats_at(r)))


def test_findings_need_consecutive_windows_and_use_card_thresholds():
    eng = AlertEngine()
    w = [WindowEvent(2 * i, 2 * i + 10, "hyp", {"HYP": p}, "hyp-card", {"HYP": 0.3})
         for i, p in enumerate([0.2, 0.4, 0.1, 0.5, 0.6, 0.7, 0.1, 0.05])]
    ups = run(eng, w)
    kinds = actions(ups)
    assert kinds == [("onset", "finding:HYP"), ("end", "finding:HYP")]
    onset = ups[0].alert
    assert onset.severity == "advisory" and onset.evidence["model"] == "hyp-card"
    assert onset.start_s == 6  # first of the consecutive windows above 0.3
    json.dumps(onset.to_dict())


def test_technical_alarms_and_asystole_suppression():
    eng = AlertEngine()
    t, lab = regular(0, 10, 0.8)
    run(eng, beats_at(t, lab))
    ups = eng.push([TechnicalEvent("lead_off", True, 10.0, {"leads": ["MLII"]})])
    ups += run(eng, ticks_between(10.0, 20.0))
    assert ("onset", "lead_off") in actions(ups)
    assert ("onset", "asystole") not in actions(ups)  # technical condition, not asystole
    ups = eng.push([TechnicalEvent("lead_off", False, 20.0)])
    ups += run(eng, ticks_between(20.0, 22.0))
    assert ("onset", "asystole") not in actions(ups)  # clock restarted at lead-on
    ups = eng.push([TechnicalEvent("data_gap", True, 22.0, {"lost": 90, "end_s": 22.25})])
    assert actions(ups) == [("onset", "data_gap")]  # one episode, open until 10 s clear
    assert ups[0].alert.severity == "technical" and ups[0].alert.evidence["lost"] == 90
    ups = eng.push([TechnicalEvent("disconnect", True, 23.0, {"port": "x"})])
    ups += eng.push([TechnicalEvent("disconnect", False, 30.0)])
    assert [a for a in actions(ups) if a[1] != "lead_off"] == [("onset", "disconnect")]
    ups = run(eng, ticks_between(30.0, 41.0))
    assert ("end", "data_gap") in actions(ups) and ("end", "disconnect") in actions(ups)


def test_finish_closes_active_alerts_and_ids_are_deterministic():
    def go():
        eng = AlertEngine(device_id="bed-7")
        t, _ = regular(0, 10, 0.8)
        ups = run(eng, beats_at(t) + ticks_between(t[-1], t[-1] + 6))
        ups += eng.finish(20.0)
        return [u.to_dict() for u in ups]

    a, b = go(), go()
    assert a == b
    assert a[-1]["action"] == "end" and a[-1]["end_s"] == 20.0
    assert a[0]["id"].startswith("bed-7-")
    assert a[0]["device_id"] == "bed-7"


def test_data_gap_is_not_a_pause_or_asystole():
    eng = AlertEngine()
    t, lab = regular(0, 10, 0.8)
    ups = run(eng, beats_at(t, lab))
    ups += eng.push([TechnicalEvent("data_gap", True, 9.7, {"lost": 3600, "end_s": 19.7})])
    ups += run(eng, ticks_between(9.7, 19.7))
    ups += run(eng, beats_at([20.0, 20.8, 21.6], start_index=len(t)))
    ups += run(eng, ticks_between(21.6, 24.0))
    kinds = {k for _, k in actions(ups)}
    assert "data_gap" in kinds
    assert "pause" not in kinds and "asystole" not in kinds
    assert eng.heart_rate() == pytest.approx(75.0)  # from beats after the gap only
