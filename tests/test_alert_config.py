"""Alert config validation: every bad value is a one-line EcgEdgeError naming its key, found
when the config is built (never a crash mid-run, never a silently disabled alarm)."""

from __future__ import annotations

import copy
import math

import pytest

from edge_runtime.alerts import AlertEngine, load_config, validate_config
from edge_runtime.errors import EcgEdgeError


def load(tmp_path, text):
    f = tmp_path / "alerts.toml"
    f.write_text(text)
    return load_config(f)


def one_line_error(tmp_path, text, match):
    with pytest.raises(EcgEdgeError, match=match) as exc:
        load(tmp_path, text)
    assert "\n" not in str(exc.value)
    return str(exc.value)


@pytest.mark.parametrize("text,match", [
    # wrong type
    ('[rules.asystole]\nno_beat_s = "four"\n',
     r"rules\.asystole\.no_beat_s = 'four' must be a number"),
    ("[rules.vt]\nmin_run = 3.5\n", r"rules\.vt\.min_run = 3\.5 must be an integer"),
    ("[rules.vt]\nmin_run = true\n", r"rules\.vt\.min_run = True must be an integer"),
    ("[rules.pause]\nrr_s = [2.5]\n", r"rules\.pause\.rr_s = \[2\.5\] must be a number"),
    ('[rules.pause]\nenabled = "no"\n', r"rules\.pause\.enabled = 'no' must be true or false"),
    ('[rules.af]\nmodel_class = 3\n', r"rules\.af\.model_class = 3 must be a non-empty string"),
    ('[engine]\nhr_beats = "8"\n', r"engine\.hr_beats = '8' must be an integer"),
    ('[engine]\ndevice_id = ""\n', r"engine\.device_id = '' must be a non-empty string"),
    ('[rules.bradycardia]\nescalate_to = "panic"\n', r"escalate_to = 'panic' is not one of"),
    # out of range
    ("[rules.asystole]\nno_beat_s = 0\n", r"rules\.asystole\.no_beat_s = 0 must be > 0"),
    ("[rules.bradycardia]\nonset_s = -1.0\n", r"rules\.bradycardia\.onset_s = -1\.0 must be >= 0"),
    ("[rules.af]\nmodel_threshold = 1.5\n", r"rules\.af\.model_threshold = 1\.5 must be <= 1"),
    ("[rules.vt]\nmin_run = 1\n", r"rules\.vt\.min_run = 1 must be >= 2"),
    ("[rules.pause]\nrr_s = nan\n", r"rules\.pause\.rr_s = nan must be finite"),
    ("[rules.pause]\nclear_s = inf\n", r"rules\.pause\.clear_s = inf must be finite"),
    ("[engine]\nhr_beats = 0\n", r"engine\.hr_beats = 0 must be >= 1"),
    # hysteresis limits the wrong way round (would chatter)
    ("[rules.bradycardia]\nhr_clear = 35.0\n",
     r"rules\.bradycardia: hr_below .* must be <= hr_clear"),
    ("[rules.tachycardia]\nhr_clear = 160.0\n",
     r"rules\.tachycardia: hr_clear .* must be <= hr_above"),
    ("[rules.af]\nclear_ratio = 0.2\n", r"rules\.af: clear_ratio .* must be <= rmssd_ratio"),
    # unknown names and shapes
    ("[rules.vtach]\nmin_run = 3\n", r"unknown rule 'vtach'"),
    ("[rules.vt]\nminrun = 3\n", r"unknown key rules\.vt\.minrun"),
    ("[engine]\nspeed = 1\n", r"unknown key engine\.speed"),
    ("[alarms]\nx = 1\n", r"unknown section \[alarms\]"),
    ("rules = 3\n", r"\[rules\] must be a table"),
    ("[rules]\nvt = 3\n", r"\[rules\.vt\] must be a table"),
])
def test_bad_values_are_one_line_errors_naming_the_key(tmp_path, text, match):
    msg = one_line_error(tmp_path, text, match)
    assert msg.startswith(f"alert config {tmp_path / 'alerts.toml'}: ")


def test_good_user_values_pass_and_ints_are_fine_for_numbers(tmp_path):
    cfg = load(tmp_path, "[engine]\nhr_beats = 4\n[rules.asystole]\nno_beat_s = 6\n"
                         "[rules.vt]\nenabled = false\n")
    assert cfg["rules"]["asystole"]["no_beat_s"] == 6
    assert cfg["engine"]["hr_beats"] == 4
    eng = AlertEngine(cfg)
    assert "vt" not in eng.rules and eng.hr_beats == 4


def test_engine_checks_a_config_dict_it_is_given():
    cfg = load_config()
    bad = copy.deepcopy(cfg)
    bad["rules"]["asystole"]["no_beat_s"] = "four"
    with pytest.raises(EcgEdgeError, match=r"^alert config: rules\.asystole\.no_beat_s"):
        AlertEngine(bad)
    bad = copy.deepcopy(cfg)
    del bad["rules"]["pause"]["clear_s"]
    with pytest.raises(EcgEdgeError, match=r"rules\.pause\.clear_s is missing"):
        AlertEngine(bad)
    bad = copy.deepcopy(cfg)
    del bad["rules"]["noisy_signal"]
    with pytest.raises(EcgEdgeError, match=r"\[rules\.noisy_signal\] is missing"):
        AlertEngine(bad)
    bad = copy.deepcopy(cfg)
    bad["rules"]["pvc_rate"]["per_minute"] = math.inf
    with pytest.raises(EcgEdgeError, match="must be finite"):
        validate_config(bad)
    # the engine section is optional (defaults), and the caller's dict is not modified
    no_engine = {"rules": copy.deepcopy(cfg["rules"])}
    eng = AlertEngine(no_engine)
    assert eng.device_id == "ecgedge-0" and eng.hr_beats == 8
    assert no_engine == {"rules": cfg["rules"]}


def test_cli_reports_a_bad_config_in_one_line(tmp_path, capsys):
    from edge_runtime.cli import main

    f = tmp_path / "alerts.toml"
    f.write_text('[rules.asystole]\nno_beat_s = "four"\n')
    assert main(["run", "--record", "100", "--config", str(f), "--quiet"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rules.asystole.no_beat_s = 'four' must be a number" in err[0]
