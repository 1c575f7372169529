"""Alarm benchmark: reference episodes from annotations, episode scoring, ``eval alarms``.

Reference extraction and scoring run on hand-built annotation lists and alarms whose right
answers are known exactly; the CLI smoke test runs the shipped runtime on 60 s of record 100.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_runtime.alarm_eval import (
    Alarm,
    alarm_matches,
    alarms_from_records,
    ec57_episodes,
    episode_detection,
    lethal_detection,
    noise_alarms,
    score_record,
)
from edge_runtime.alarm_reference import (
    Episode,
    ReferenceRules,
    gap_episodes,
    merge,
    pvc_rate_episodes,
    rate_episodes,
    reference_episodes,
    rhythm_episodes,
    run_episodes,
)
from edge_runtime.datadir import find_data_dir

FS = 100.0


def _by(eps, kind):
    return [(round(e.start_s, 3), round(e.end_s, 3)) for e in eps if e.kind == kind]


# ------------------------------------------------------------------ reference extraction
def test_rhythm_episodes_end_at_next_change_or_record_end():
    eps = rhythm_episodes(np.array([0.0, 10.0, 25.0]), ["(N", "(VT\x00", "(AFIB"], 60.0)
    assert [(e.kind, e.start_s, e.end_s) for e in eps] == [
        ("n", 0.0, 10.0), ("VT", 10.0, 25.0), ("AFIB", 25.0, 60.0)]


def test_pauses_asystole_and_exclusion_in_vf():
    bt = np.array([0.0, 1.0, 4.0, 5.0, 10.0, 11.0, 20.0, 21.0])  # RR 3, 5 and (in VF) 9 s
    vf = [Episode("VF", 12.0, 19.0)]
    assert _by(gap_episodes(bt, 2.5, "pause", vf), "pause") == [(1.0, 4.0), (5.0, 10.0)]
    assert _by(gap_episodes(bt, 4.0, "asystole", vf), "asystole") == [(5.0, 10.0)]


def test_v_runs_need_three_beats_above_100_bpm():
    # beats every 0.5 s; V run of 3 at 120 bpm, V run of 4 at 0.8 s (75 bpm), a V pair
    t = np.arange(20) * 0.5
    sym = list("NNVVVNNNNNNNNNNVVNNN")
    fast = run_episodes(t, sym, frozenset("VE"), "vrun", ReferenceRules())
    assert _by(fast, "vrun") == [(1.0, 2.0)]
    slow_t = np.array([0.0, 0.8, 1.6, 2.4, 3.2])
    assert run_episodes(slow_t, list("NVVVV"), frozenset("VE"), "vrun", ReferenceRules()) == []


def test_brady_and_tachy_from_reference_rate():
    rules = ReferenceRules(rate_min_s=5.0)
    t = np.concatenate([np.arange(0, 20, 1.0),  # 60 bpm
                        20 + np.arange(1, 11) * 2.0])  # 30 bpm for 20 s
    eps = rate_episodes(t, rules)
    brady = _by(eps, "brady")
    assert len(brady) == 1
    # 8 RR span > 12 s (< 40 bpm) from the beat at 28 s (RR 1,1,1,1,2,2,2,2 + the 15->16 s
    # one: 28 - 15 = 13 s) to the last beat
    assert brady[0][0] == pytest.approx(28.0) and brady[0][1] == pytest.approx(40.0)
    fast = np.arange(0, 30, 0.3)  # 200 bpm
    assert _by(rate_episodes(fast, rules), "tachy") == [(2.4, round(fast[-1], 3))]


def test_pvc_rate_episode_on_one_second_grid():
    t = np.arange(0, 12) * 2.0 + 5.0  # 12 V beats, 5..27 s
    eps = pvc_rate_episodes(t, ["V"] * 12, 100.0, ReferenceRules(pvc_per_min=10))
    # > 10 V in (t-60, t] from the 11th V beat (25 s); at 65 s the first has left (11 remain),
    # at 67 s the second too (10): the last grid second that holds is 66
    assert _by(eps, "pvc_rate") == [(25.0, 66.0)]


def test_reference_episodes_from_a_full_annotation_list():
    # (N at 0, (VT at 10 s with 4 V beats at 0.4 s, back to (N at 12 s; VF [ ] 20-26 s;
    # noise ~ 30-40 s; a 3 s pause at 41-44 s
    beats = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 10.4, 10.8, 11.2, 12.0, 13.0,
             14.0, 27.0, 28.0, 41.0, 44.0, 45.0]
    syms = ["N"] * 9 + ["V", "V", "V", "V"] + ["N"] * 8
    ann = [(0.0, "+", "(N", 0), (9.95, "+", "(VT", 0), (11.9, "+", "(N", 0),
           (20.0, "[", "", 0), (26.0, "]", "", 0), (30.0, "~", "", 1), (40.0, "~", "", 0)]
    ann += [(b, s, "", 0) for b, s in zip(beats, syms, strict=True)]
    ann.sort(key=lambda a: a[0])
    samples = np.array([round(a[0] * FS) for a in ann])
    eps = reference_episodes(FS, int(50 * FS), samples, [a[1] for a in ann],
                             [a[2] for a in ann], [a[3] for a in ann])
    assert _by(eps, "VT") == [(9.95, 11.9)]
    assert _by(eps, "vrun") == [(10.0, 11.2)]
    assert _by(eps, "vt") == [(9.95, 11.9)]  # merged (VT + run
    assert _by(eps, "VF") == [(20.0, 26.0)]
    assert _by(eps, "noise") == [(30.0, 40.0)]
    # 14 -> 27 s spans the VF episode: not a pause; 28 -> 41 is (13 s), and 41 -> 44 is
    assert _by(eps, "pause") == [(28.0, 41.0), (41.0, 44.0)]
    assert _by(eps, "asystole") == [(28.0, 41.0)]


def test_merge_joins_overlapping_episodes():
    m = merge([Episode("a", 0, 2), Episode("b", 1, 3), Episode("a", 5, 6)], "x")
    assert [(e.kind, e.start_s, e.end_s) for e in m] == [("x", 0, 3), ("x", 5, 6)]


# ------------------------------------------------------------------ scoring
def _alarm(typ, t, end=None, sev="warning", start=None, action="onset"):
    return Alarm(typ, sev, t, t if start is None else start, t + 1 if end is None else end,
                 action=action)


def test_alarm_matching_and_episode_delay_exact():
    eps = [Episode("pause", 100.0, 103.0), Episode("pause", 200.0, 202.0)]
    alarms = [_alarm("pause", 103.4), _alarm("pause", 208.1), _alarm("pause", 500.0)]
    assert alarm_matches(alarms, eps, 5.0) == [True, False, False]
    # 208.1 > 202 + 5: the second episode is missed; the first has delay 3.4 s
    det = episode_detection(eps, alarms, 5.0)
    assert det[0] == pytest.approx(3.4) and det[1] is None
    # an alarm already sounding when the episode starts detects it with delay 0
    assert episode_detection([Episode("vt", 50, 52)], [_alarm("vt", 40, end=60)], 5.0) == [0.0]


def test_score_record_rows():
    eps = [Episode("vt", 10, 12), Episode("vt", 100, 105), Episode("VFL", 300, 320),
           Episode("tachy", 50, 70)]
    alarms = [_alarm("vt", 11.5, sev="crisis"), _alarm("vt", 400, sev="crisis"),
              _alarm("vt", 303, sev="crisis"),  # in flutter: a true lethal-rhythm alarm
              _alarm("tachycardia", 310, sev="crisis"),  # in flutter too: true
              _alarm("tachycardia", 55), _alarm("tachycardia", 80, sev="crisis",
                                                action="escalate")]
    rows = score_record("r", alarms, eps, hours=0.5)
    vt = rows[("vt", "any")]
    assert (vt.episodes, vt.detected, vt.alarms, vt.true_alarms) == (2, 1, 3, 2)
    assert vt.delays == [pytest.approx(1.5)] and vt.missed == ["r@100.0(5s)"]
    assert vt.to_dict()["false_per_hour"] == 2.0  # 1 false in 0.5 h
    assert rows[("tachycardia", "warning")].true_alarms == 1
    # escalation at 80 > 70 + 5: false; the crisis in flutter: true
    assert rows[("tachycardia", "crisis")].alarms == 2
    assert rows[("tachycardia", "crisis")].true_alarms == 1
    vf = rows[("VFL:any-crisis", "crisis")]
    assert (vf.episodes, vf.detected, vf.judged) == (1, 1, False)
    # every severity row counts the same episodes; the aggregate drops those without alarms
    assert rows[("vt", "warning")].episodes == 2 and rows[("vt", "warning")].alarms == 0
    from train.alarms.cli import aggregate
    from train.alarms.run import RecordResult

    agg = aggregate([RecordResult("r", 0.5, alarms, rows)])
    assert "vt/warning" not in agg["rows"] and agg["rows"]["vt/crisis"]["episodes"] == 2
    assert agg["rows"]["vt/any"]["sensitivity"] == 50.0


def test_ec57_episode_statistics_with_flutter_exclusion():
    ref = [(400.0, 500.0), (600.0, 610.0), (100.0, 200.0)]  # the last is in the learning period
    test = [(450.0, 520.0), (700.0, 720.0), (800.0, 850.0)]
    afl = [(795.0, 900.0)]  # the third test episode lies in flutter: ignored for +P
    d = ec57_episodes(ref, test, 1000.0, exclude=afl)
    assert (d["TPs"], d["FN"], d["TPp"], d["FP"]) == (1, 1, 1, 1)
    assert d["ref_s"] == 110.0 and d["overlap_ref_s"] == 50.0
    assert d["test_s"] == 90.0 and d["overlap_test_s"] == 50.0


def test_lethal_detection_within_10s():
    eps = [Episode("vt", 100, 106), Episode("VFL", 104, 130), Episode("vt", 300, 302),
           Episode("VF", 500, 520)]
    alarms = [_alarm("vt", 101, end=131, sev="crisis"), _alarm("asystole", 515, sev="crisis")]
    out = lethal_detection("r", eps, alarms)
    assert [(x["onset_s"], x["crisis_delay_s"]) for x in out] == [(100, 1.0), (500, None)]


def test_alarms_from_pipeline_records_and_noise_counts():
    recs = [{"event": "alert", "action": "onset", "type": "tachycardia", "severity": "warning",
             "time_s": 20.0, "start_s": 15.0, "id": "a"},
            {"event": "alert", "action": "escalate", "type": "tachycardia",
             "severity": "crisis", "time_s": 30.0, "start_s": 15.0, "id": "a"},
            {"event": "alert", "action": "end", "type": "tachycardia", "severity": "crisis",
             "time_s": 41.0, "start_s": 15.0, "end_s": 40.0, "id": "a"},
            {"event": "status", "time_s": 2.0}]
    al = alarms_from_records(recs, 100.0)
    assert [(a.severity, a.t, a.start_s, a.end_s) for a in al] == [
        ("warning", 20.0, 15.0, 40.0), ("crisis", 30.0, 30.0, 40.0)]
    # onset + escalate in one engine step: both records carry "crisis": one alarm, not two
    same = [{**recs[0], "severity": "crisis"}, recs[1]]
    assert [(a.severity, a.action) for a in alarms_from_records(same, 100.0)] == [
        ("crisis", "onset")]
    al.append(Alarm("noise", "technical", 12.0, 10.0, 25.0))
    n = noise_alarms(al, [(10.0, 22.0), (50.0, 60.0)], tol=5.0)
    assert n["by_type"] == {"noise:technical": 1, "tachycardia:warning": 1}
    assert n["noise_s"] == 22.0 and n["noise_alarm_covered_s"] == 12.0


# ------------------------------------------------------------------ CLI
def test_cli_smoke_on_record_100(tmp_path, capsys):
    root = find_data_dir()
    if root is None or not (root / "mitdb" / "100.hea").is_file():
        pytest.skip("MIT-BIH data not found (../shared/data/mitdb)")
    from edge_runtime.cli import main

    out = tmp_path / "a.json"
    rc = main(["eval", "alarms", "--db", "mitdb", "--records", "100", "--duration", "60",
               "--json", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "alarm/severity" in text and "selected: 1 records" in text
    res = json.loads(out.read_text())
    agg = res["sets"]["selected"]
    assert agg["records"] == 1 and agg["hours"] == pytest.approx(60 / 3600, abs=1e-3)
    assert res["records"]["100"]["hours"] == pytest.approx(60 / 3600, abs=1e-3)


def test_cli_bad_input_is_one_line(capsys):
    from edge_runtime.cli import main

    assert main(["eval", "alarms", "--records", "999"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "999" in err[0]


def test_eval_alarms_runs_without_torch():
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    code = ("import sys\nfrom edge_runtime.cli import main\n"
            "try:\n    main(['eval', 'alarms', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch',) if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                         text=True, env={"PYTHONPATH": str(repo), "PATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
