"""Input validation (issue 14, item 8): bad settings, sampling rates, units, non-ECG channels.

Every bad input must end in one line on stderr and a non-zero exit, never a traceback.
Records are written with wfdb from record 100 (shipped with the package).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import wfdb

from edge_runtime import cli
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import read_record, shipped_record_path
from edge_runtime.validation import check_fs, classify_channels, mv_factor

NO_MODELS = ["--beat-model", "none", "--window-model", "none"]


def _main(argv: list[str], capsys) -> tuple[int, list[str]]:
    """Run ``ecgedge ARGV`` in process: exit code and stderr lines (argparse exits too)."""
    try:
        rc = cli.main(argv)
    except SystemExit as exc:
        rc = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("flags, says", [
    (["--status-every", "0"], "--status-every: must be > 0"),
    (["--status-every", "-1"], "--status-every: must be > 0"),
    (["--status-every", "nan"], "--status-every: expected a finite number"),
    (["--duration", "0"], "--duration: must be > 0"),
    (["--duration", "inf"], "--duration: expected a finite number"),
    (["--duration", "ten"], "--duration: expected a number"),
    (["--max-down-s", "-1"], "--max-down-s: must be >= 0"),
    (["--queue-size", "0"], "--queue-size: must be an integer >= 1"),
    (["--baud", "0"], "--baud: must be an integer >= 1"),
    (["--threads", "0"], "--threads: must be an integer >= 1"),
    (["--threads", "1.5"], "--threads: expected a number"),
    (["--data-dir", "/nonexistent"], "data dir not found: /nonexistent"),
    (["--lead-map", "MLII=V9"], "the stream has no lead V9"),
    (["--lead-map", "FOO=V5"], "no loaded model uses lead FOO"),
    (["--lead-map", "MLII"], "--lead-map wants CARD=STREAM"),
    (NO_MODELS + ["--lead-map", "MLII=V5"], "no model is loaded that uses leads"),
])
def test_bad_setting_is_one_line_and_non_zero_exit(flags, says, capsys, tmp_path):
    rc, err = _main(["run", "--record", "100", "--quiet", "--duration", "5",
                     "--journal", str(tmp_path / "j.jsonl"), *flags], capsys)
    assert rc != 0
    assert len(err) == 1 and says in err[0], err


def test_missing_record_in_a_named_data_dir_does_not_fall_back_to_the_shipped_one(
        capsys, tmp_path):
    rc, err = _main(["run", "--record", "100", "--data-dir", str(tmp_path), "--quiet"], capsys)
    assert rc == 1 and len(err) == 1 and "record not found: 100" in err[0]


def _write(tmp_path, name: str, sig: np.ndarray, fs: float, names: list[str],
           units: list[str]) -> str:
    wfdb.wrsamp(name, fs=fs, units=units, sig_name=names, p_signal=sig, fmt=["16"] * len(names),
                write_dir=str(tmp_path))
    return str(tmp_path / name)


@pytest.fixture(scope="module")
def rec100():
    return read_record(shipped_record_path("100"), sampto=360 * 60)


def _journal(path) -> list[dict]:
    return [json.loads(line) for line in open(path)]


def _beat_samples(records: list[dict]) -> list[int]:
    out: list[int] = []
    for r in records:
        if r.get("event") in ("beat", "beats"):
            s = r["sample"]
            out += s if isinstance(s, list) else [s]
    return out


@pytest.mark.parametrize("fs", [50.0, 99.0])
def test_record_below_the_supported_rate_is_refused(fs, rec100, tmp_path, capsys):
    path = _write(tmp_path, "slow", rec100.signal[:3000], fs, rec100.leads, ["mV", "mV"])
    rc, err = _main(["run", "--record", path, *NO_MODELS, "--quiet"], capsys)
    assert rc == 1 and len(err) == 1
    assert f"sampled at {fs:g} Hz" in err[0] and "supports 100-1000 Hz" in err[0]


def test_record_above_the_supported_rate_is_resampled_and_says_so(rec100, tmp_path, capsys):
    from scipy.signal import resample_poly

    hi = resample_poly(rec100.signal[: 360 * 30], 5000, 360, axis=0)
    path = _write(tmp_path, "fast", hi, 5000.0, rec100.leads, ["mV", "mV"])
    j = tmp_path / "j.jsonl"
    rc, err = _main(["run", "--record", path, *NO_MODELS, "--quiet", "--journal", str(j)],
                    capsys)
    assert rc == 0
    assert err == ["ecgedge run: record fast: resampled from 5000 Hz to 500 Hz"]
    recs = _journal(j)
    assert recs[0]["fs"] == 500.0
    beats = _beat_samples(recs)
    ref = _beat_samples(_offline(rec100.signal[: 360 * 30], 360.0))
    assert len(beats) == len(ref)  # the same beats, at the new rate (within 10 ms)
    assert np.abs(np.array(beats) / 500.0 - np.array(ref) / 360.0).max() <= 0.01


def _offline(sig: np.ndarray, fs: float) -> list[dict]:
    from edge_runtime.pipeline import Pipeline

    p = Pipeline(fs, ["MLII", "V5"])
    return p.push(sig) + p.finish()


def test_record_in_volts_is_converted_by_its_units(rec100, tmp_path, capsys):
    x = rec100.signal
    mv = _write(tmp_path, "inmv", x, 360.0, rec100.leads, ["mV", "mV"])
    v = _write(tmp_path, "inv", x / 1000.0, 360.0, rec100.leads, ["V", "V"])
    out = {}
    for name, path in (("mv", mv), ("v", v)):
        j = tmp_path / f"{name}.jsonl"
        rc, err = _main(["run", "--record", path, *NO_MODELS, "--journal", str(j), "--quiet"],
                        capsys)
        assert rc == 0
        out[name] = (err, _beat_samples(_journal(j)))
    assert out["mv"][0] == []
    assert out["v"][0] == ["ecgedge run: record inv: converted to mV: MLII (V), V5 (V)"]
    assert len(out["mv"][1]) > 60 and out["v"][1] == out["mv"][1]


def test_non_ecg_channels_of_a_record_are_not_used(rec100, tmp_path, capsys):
    n = 360 * 20
    t = np.arange(n) / 360.0
    pleth = 1.0 + 0.5 * np.sin(2 * np.pi * 1.2 * t)
    abp = 90.0 + 30.0 * np.sin(2 * np.pi * 1.2 * t)
    resp = 0.2 * np.sin(2 * np.pi * 0.25 * t)
    sig = np.column_stack([rec100.signal[:n, 0], pleth, abp, resp])
    path = _write(tmp_path, "icu", sig, 360.0, ["II", "PLETH", "ABP", "RESP"],
                  ["mV", "NU", "mmHg", "mV"])
    j = tmp_path / "j.jsonl"
    rc, err = _main(["run", "--record", path, *NO_MODELS, "--journal", str(j)], capsys)
    assert rc == 0
    assert ("ecgedge run: record icu: not ECG, not used: PLETH (units NU, not a voltage); "
            "ABP (units mmHg, not a voltage); RESP (not an ECG signal)") in err
    assert _journal(j)[0]["leads"] == ["II"]


def test_record_without_ecg_is_one_line_error(rec100, tmp_path, capsys):
    sig = np.column_stack([np.ones(3600), np.full(3600, 80.0)])
    path = _write(tmp_path, "noecg", sig, 360.0, ["PLETH", "ABP"], ["NU", "mmHg"])
    rc, err = _main(["run", "--record", path, *NO_MODELS, "--quiet"], capsys)
    assert rc == 1 and len(err) == 1 and "no ECG lead among the channels" in err[0]


def test_classify_channels_by_units_and_name():
    ch = classify_channels(["MLII", "V1", "SpO2", "Pleth", "ART", "ECG", "CO2"],
                           ["mV", "uV", "%", "NU", "mmHg", "", "mmHg"])
    assert ch.ecg == [0, 1, 5]
    assert ch.factors == [1.0, 1e-3, 1.0]
    assert [n for n, _ in ch.skipped] == ["SpO2", "Pleth", "ART", "CO2"]
    assert classify_channels(["I", "II", "AVR", "V6"]).ecg == [0, 1, 2, 3]
    assert classify_channels(["ABP", "II"], ["mV", "mV"]).ecg == [1]  # the name decides
    assert mv_factor("V") == 1000.0 and mv_factor("mV") == 1.0 and mv_factor("mmHg") is None


def test_check_fs_range():
    check_fs(100.0, "x")
    check_fs(1000.0, "x")
    for bad in (50.0, 99.9, 1000.1, 5000.0, float("nan")):
        with pytest.raises(EcgEdgeError, match="supports 100-1000 Hz"):
            check_fs(bad, "x")


def test_live_stream_at_an_unsupported_rate_is_refused(tmp_path, capsys):
    from edge_runtime import protocol as pr

    h = pr.Header(fs=50.0, leads=("II",), gain=(200.0,))
    enc = pr.Encoder(h, "binary")
    data = enc.header() + b"".join(enc.frame(np.zeros((10, 1), np.int16)) for _ in range(20))
    f = tmp_path / "cap.bin"
    f.write_bytes(data)
    rc, err = _main(["run", "--port", f"file:{f}", *NO_MODELS, "--quiet"], capsys)
    assert rc == 1 and len(err) == 1
    assert "sampled at 50 Hz" in err[0] and "supports 100-1000 Hz" in err[0]


def _journal_of(tmp_path, source: str, seconds: float = 30.0) -> str:
    from edge_runtime.pipeline import Pipeline
    from edge_runtime.sinks.journal import JournalSink

    rec = read_record(shipped_record_path("100"), sampto=int(seconds * 360))
    j = tmp_path / "run.jsonl"
    p = Pipeline(360.0, rec.leads, sinks=[JournalSink(j)], source=source)
    p.push(rec.signal)
    p.finish()
    p.close()
    return str(j)


def test_report_record_of_another_record_is_refused(tmp_path, capsys):
    j = _journal_of(tmp_path, str(shipped_record_path("100")))
    other = _write(tmp_path, "119", np.zeros((360 * 60, 1)), 360.0, ["MLII"], ["mV"])
    rc, err = _main(["report", j, "--record", other], capsys)
    assert rc == 1 and len(err) == 1 and "the journal is a run of record 100" in err[0]
    slow = _write(tmp_path, "100", np.zeros((250 * 60, 1)), 250.0, ["MLII"], ["mV"])
    rc, err = _main(["report", j, "--record", slow], capsys)  # same name, another rate
    assert rc == 1 and len(err) == 1 and "sampled at 250 Hz" in err[0]
    rc, err = _main(["report", j, "--json", "--record", str(shipped_record_path("100"))],
                    capsys)
    assert rc == 0 and err == []


def test_report_record_for_a_live_stream_is_checked_and_warned(tmp_path, capsys):
    j = _journal_of(tmp_path, "/dev/pts/7", seconds=30.0)
    short = _write(tmp_path, "short", np.zeros((360 * 10, 1)), 360.0, ["MLII"], ["mV"])
    rc, err = _main(["report", j, "--record", short], capsys)
    assert rc == 1 and "longer than record short" in err[-1]
    rc, err = _main(["report", j, "--json", "--record", str(shipped_record_path("100"))],
                    capsys)
    assert rc == 0
    assert err == ["ecgedge report: warning: the journal's stream came from /dev/pts/7; "
                   "nothing in it says it was record 100"]


def test_report_negative_skip_is_one_line(tmp_path, capsys):
    rc, err = _main(["report", "x.jsonl", "--skip-s", "-1"], capsys)
    assert rc == 2 and len(err) == 1 and "--skip-s: must be >= 0" in err[0]


@pytest.mark.parametrize("argv, says", [
    (["sim", "--record", "100", "--stdout", "--duration", "0"], "--duration: must be > 0"),
    (["sim", "--record", "100", "--stdout", "--device-id", "70000"], "must be 0-65535"),
    (["sim", "--record", "100", "--stdout", "--speed", "nan"], "expected a finite number"),
    (["sim", "--record", "100", "--stdout", "--seed", "-1"], "--seed: must be an integer >= 0"),
    (["sim", "--record", "100", "--stdout", "--data-dir", "/nonexistent"],
     "data dir not found: /nonexistent"),
    (["demo", "--speed", "0"], "--speed: must be > 0"),
    (["demo", "--duration", "0"], "--duration: must be > 0"),
    (["annotate", "100", "--block-s", "0"], "--block-s: must be > 0"),
    (["predict", "x", "--hop", "-2"], "--hop: must be > 0"),
])
def test_other_commands_check_their_numbers(argv, says, capsys):
    rc, err = _main(argv, capsys)
    assert rc != 0
    assert len(err) == 1 and says in err[0], err
