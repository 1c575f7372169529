"""Each alert rule alone: one rule object in an engine of its own, fed a small built stream.

These hold every rule's onset and offset (and escalation where it has one) without the other
rules, so a new or changed rule can be tested by itself. ``test_alerts.py`` holds the rules
together (interplay: asystole suppression, data gaps, ids).
"""

from __future__ import annotations

import pytest

from edge_runtime.alerts import (
    RULES,
    TECHNICAL_KINDS,
    AlertEngine,
    BeatEvent,
    BeatLabel,
    TechnicalEvent,
    Tick,
    WindowEvent,
    load_config,
    make_rule,
)
from edge_runtime.alerts.rules.af import irregularity
from edge_runtime.errors import EcgEdgeError


def alone(name, **overrides):
    """An engine running only rule ``name`` (defaults + overrides)."""
    return AlertEngine(rules=[make_rule(name, **overrides)])


def beats(times, labels=None, start=0):
    labels = labels or ["N"] * len(times)
    return [BeatEvent(start + i, int(t * 360), float(t), lab)
            for i, (t, lab) in enumerate(zip(times, labels, strict=True))]


def regular(t0, t1, rr):
    return [t0 + i * rr for i in range(int(round((t1 - t0) / rr)))]


def ticks(t0, t1, dt=0.1):
    return [Tick(t0 + (i + 1) * dt) for i in range(int(round((t1 - t0) / dt)))]


def feed(eng, events):
    out = []
    for ev in events:
        out += eng.push([ev])
    return out


def acts(ups):
    return [(u.action, u.alert.type) for u in ups]


def test_registry_matches_the_shipped_config_and_builds_each_rule_alone():
    cfg = load_config()
    assert list(RULES) == ["asystole", "vf", "pause", "bradycardia", "tachycardia", "vt", "svt",
                           "bigeminy", "trigeminy", "pvc_rate", "af", "finding", "lead_off",
                           "noisy_signal", "signal_loss", "disconnect", "data_gap"]
    assert set(RULES) == set(cfg["rules"])
    # technical events are routed to the rule of the same name
    assert {n for n, c in RULES.items() if "on_technical" in c.hooks()} == set(TECHNICAL_KINDS)
    for name, cls in RULES.items():
        # every shipped key is a declared parameter and every parameter is shipped
        assert set(cfg["rules"][name]) == set(cls.schema()) - {"enabled"}, name
        rule = make_rule(name)
        assert isinstance(rule, cls) and rule.severity == cfg["rules"][name]["severity"]
        assert AlertEngine(rules=[rule]).rules == {name: rule}
    with pytest.raises(EcgEdgeError, match="unknown alert rule 'vtach'"):
        make_rule("vtach")
    with pytest.raises(EcgEdgeError, match="rules.pause.rr_s"):
        make_rule("pause", rr_s=-1)


def test_asystole_alone():
    eng = alone("asystole", no_beat_s=3.0)
    t = regular(0, 5, 1.0)
    assert feed(eng, beats(t)) == []
    ups = feed(eng, ticks(t[-1], t[-1] + 5))
    assert acts(ups) == [("onset", "asystole")]
    a = ups[0].alert
    assert a.start_s == pytest.approx(t[-1] + 3.0) and a.evidence["last_beat"] == len(t) - 1
    ups = feed(eng, beats([t[-1] + 6], start=len(t)))
    assert acts(ups) == [("end", "asystole")] and ups[0].alert.end_s == t[-1] + 6
    assert ups[0].alert.evidence["ended_by_beat"] == len(t)


def test_pause_alone():
    eng = alone("pause", rr_s=2.0, clear_s=4.0)
    ups = feed(eng, beats([0, 1, 2, 4.5, 5.5]))
    assert acts(ups) == [("onset", "pause")]
    assert ups[0].alert.start_s == 2 and ups[0].alert.evidence["beats"] == [2, 3]
    ups = feed(eng, beats([8.0], start=5))  # a second pause while active: more evidence
    assert ups == [] and eng.active["pause"].evidence["more"][0]["beats"] == [4, 5]
    ups = feed(eng, ticks(8.0, 12.5))
    assert acts(ups) == [("end", "pause")] and ups[0].alert.end_s == 8.0


@pytest.mark.parametrize("name,slow,fast,extreme", [
    ("bradycardia", 1.75, 0.75, 2.2),   # 34 bpm, 80 bpm, 27 bpm (escalates)
    ("tachycardia", 0.35, 0.75, 0.3),   # 171 bpm, 80 bpm, 200 bpm (escalates)
])
def test_rate_rules_alone(name, slow, fast, extreme):
    eng = alone(name)
    t = regular(0, 10, 0.75) + regular(10, 30, slow) + regular(30, 60, extreme) \
        + regular(60, 80, fast)
    ups = feed(eng, beats(t))
    assert acts(ups) == [("onset", name), ("escalate", name), ("end", name)]
    a = ups[0].alert
    assert 10 <= a.start_s < 25 and a.severity == "crisis"
    assert a.evidence["extreme_hr_bpm"] == pytest.approx(60 / extreme, rel=0.05)
    assert 60 <= a.end_s < 70


def test_vt_and_svt_alone():
    for name, cls in (("vt", "V"), ("svt", "S")):
        eng = alone(name)
        pre, post = regular(0, 5, 0.8), regular(7, 15, 0.8)
        t = pre + [5.0, 5.4, 5.8, 6.2] + post
        labels = ["N"] * len(pre) + [cls] * 4 + ["N"] * len(post)
        ups = feed(eng, beats(t, labels))
        assert acts(ups) == [("onset", name), ("end", name)]
        assert ups[0].alert.evidence["run_length"] == 3
        assert ups[1].alert.evidence["longest_run"] == 4 and ups[1].alert.end_s == 6.2
        # the other class does not count
        eng = alone(name)
        other = "S" if cls == "V" else "V"
        assert feed(eng, beats(t, ["N"] * len(pre) + [other] * 4 + ["N"] * len(post))) == []


def test_runs_use_labels_that_arrive_late():
    eng = alone("vt")
    t = regular(0, 3, 0.4)
    out = []
    for i, b in enumerate(beats(t, [None] * len(t))):
        out += eng.push([b])
        out += eng.push([BeatLabel(i, b.time_s, "V")])
    assert acts(out) == [("onset", "vt")]


@pytest.mark.parametrize("name,unit", [("bigeminy", ["N", "V"]), ("trigeminy", ["N", "N", "V"])])
def test_pattern_rules_alone(name, unit):
    eng = alone(name, min_cycles=3, clear_beats=4)
    labels = unit * 3 + ["N"] * 6
    t = regular(0, 0.8 * len(labels), 0.8)
    ups = feed(eng, beats(t, labels))
    assert acts(ups) == [("onset", name), ("end", name)]
    assert ups[0].alert.start_s == 0 and ups[0].alert.evidence["cycles"] == 3
    # a rotation of the pattern still matches for len(unit) - 1 more beats; then the 4th
    # beat that does not match ends it
    assert ups[1].alert.end_s == t[len(unit) * 3 + len(unit) - 1 + 3]


def test_pvc_rate_alone():
    eng = alone("pvc_rate", per_minute=5.0, clear_per_minute=2.0, escalate_per_minute=20.0)
    t = regular(0, 60, 0.5)  # 120 beats in a minute
    labels = ["V" if i % 10 == 0 else "N" for i in range(len(t))]  # 12 V/min
    ups = feed(eng, beats(t, labels))
    assert acts(ups) == [("onset", "pvc_rate")]
    assert ups[0].alert.evidence["pvc_per_min"] == 6
    t2 = regular(60, 120, 0.5)
    labels2 = ["V" if i % 2 == 0 else "N" for i in range(len(t2))]  # 60 V/min
    ups = feed(eng, beats(t2, labels2, start=len(t)))
    assert acts(ups) == [("escalate", "pvc_rate")] and ups[0].alert.severity == "warning"
    ups = feed(eng, beats(regular(120, 180, 0.5), start=len(t) + len(t2)))
    assert acts(ups) == [("end", "pvc_rate")]


def test_af_alone_irregularity_hysteresis_and_model_escalation():
    import random

    rng = random.Random(1)
    t = [0.0]
    for _ in range(80):
        t.append(t[-1] + rng.uniform(0.45, 1.1))
    eng = alone("af", onset_s=10.0, offset_s=10.0)
    ups = feed(eng, beats(t))
    assert acts(ups) == [("onset", "af")]
    assert ups[0].alert.evidence["rmssd_ratio"] > 0.10
    ups = eng.push([WindowEvent(t[-1] - 10, t[-1], "rhythm", {"AF": 0.8}, "card")])
    ups += feed(eng, beats([t[-1] + 0.8], start=len(t)))
    assert acts(ups) == [("escalate", "af")] and ups[0].alert.evidence["model"] == "card"
    reg = regular(t[-1] + 1.6, t[-1] + 60, 0.8)
    ups = feed(eng, beats(reg, start=len(t) + 1))
    assert acts(ups) == [("end", "af")]


def test_af_irregularity_ignores_ectopic_beats():
    t = regular(0, 16, 0.8)
    labels = ["N"] * len(t)
    assert irregularity(beats(t, labels)) == pytest.approx(0.0)
    t[8] -= 0.4  # one premature S beat: its RRs are dropped
    labels[8] = "S"
    assert irregularity(beats(t, labels)) == pytest.approx(0.0)
    assert irregularity(beats(t[:8])) is None  # fewer than 8 usable RR intervals


def test_finding_alone():
    eng = alone("finding", windows_on=2, windows_off=1)
    ws = [WindowEvent(2 * i, 2 * i + 10, "t", {"MI": p}, "c", {"MI": 0.5})
          for i, p in enumerate([0.6, 0.4, 0.6, 0.7, 0.9, 0.2])]
    ups = feed(eng, ws)
    assert acts(ups) == [("onset", "finding:MI"), ("end", "finding:MI")]
    assert ups[0].alert.start_s == 4 and ups[0].alert.evidence["max_prob"] == 0.9
    assert ups[0].alert.id.endswith("finding-MI") and ups[1].alert.end_s == 10


@pytest.mark.parametrize("name", ["lead_off", "noisy_signal"])
def test_held_technical_conditions_alone(name):
    eng = alone(name, onset_s=1.0, offset_s=2.0)
    ups = eng.push([TechnicalEvent(name, True, 5.0, {"leads": ["MLII"]})])
    ups += feed(eng, ticks(5.0, 5.5))
    assert ups == []  # not held long enough yet
    ups = feed(eng, ticks(5.5, 7.0))
    assert acts(ups) == [("onset", name)] and ups[0].alert.evidence == {"leads": ["MLII"]}
    ups = eng.push([TechnicalEvent(name, False, 8.0)]) + feed(eng, ticks(8.0, 11.0))
    assert acts(ups) == [("end", name)] and ups[0].alert.end_s == 8.0


@pytest.mark.parametrize("name", ["signal_loss", "disconnect"])
def test_device_conditions_alone(name):
    eng = alone(name, clear_s=10.0)
    ups = eng.push([TechnicalEvent(name, True, 3.0, {"port": "x"})])
    ups += eng.push([TechnicalEvent(name, False, 9.0, {"bytes": 0})])
    assert acts(ups) == [("onset", name)]  # open until clear for clear_s
    assert not eng.technical_active()  # back: asystole is judged again at once
    ups += feed(eng, ticks(9.0, 19.5))
    assert acts(ups) == [("onset", name), ("end", name)]
    a = ups[1].alert
    assert a.severity == "technical" and a.end_s == 9.0 and a.evidence["count"] == 1
    assert a.evidence["last_clear"] == {"bytes": 0}


def test_data_gap_alone_is_one_episode_and_respects_min_samples():
    eng = alone("data_gap", min_samples=10, clear_s=10.0)
    assert eng.push([TechnicalEvent("data_gap", True, 2.0, {"lost": 5, "end_s": 2.1})]) == []
    ups = eng.push([TechnicalEvent("data_gap", True, 4.0, {"lost": 36, "end_s": 4.1})])
    assert acts(ups) == [("onset", "data_gap")]
    assert eng.asystole_ref == 4.1 and list(eng.gaps) == [(4.0, 4.1)]
    ups = feed(eng, ticks(4.1, 14.3))
    assert acts(ups) == [("end", "data_gap")] and ups[0].alert.end_s == 4.1
    assert ups[0].alert.evidence["gaps"] == 1 and ups[0].alert.evidence["lost_total"] == 36


def test_a_disabled_rule_is_not_built_and_ignores_its_events():
    cfg = load_config()
    cfg["rules"]["lead_off"]["enabled"] = False
    eng = AlertEngine(cfg)
    assert "lead_off" not in eng.rules
    ups = eng.push([TechnicalEvent("lead_off", True, 1.0)]) + feed(eng, ticks(1.0, 3.0))
    assert ("onset", "lead_off") not in acts(ups)
    with pytest.raises(ValueError, match="unknown technical event kind"):
        eng.push([TechnicalEvent("smoke", True, 1.0)])
