"""Simulated device: exact fault truth, resampling/quantisation, faults, CLI, pty/TCP end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edge_runtime import protocol as p
from edge_runtime.datadir import find_data_dir
from edge_runtime.records import read_record, shipped_record_path
from edge_runtime.transport import ReconnectingReader, TransportEvent, pump
from firmware_sim import SimDevice, parse_faults
from firmware_sim.faults import qrs_amplitude_proxy, synthetic_noise
from firmware_sim.ports import PtyOutput

REPO = Path(__file__).resolve().parent.parent
DATA = find_data_dir()


@pytest.fixture(scope="module")
def rec100():
    return read_record(shipped_record_path("100"), sampto=360 * 120)


def _decode_all(dev: SimDevice, mode: str = "auto") -> tuple[list, p.DecoderStats]:
    dec = p.make_decoder(mode)
    events = []
    for chunk in dev.frames():
        events += dec.push(chunk.data)
    events += dec.flush()
    return events, dec.stats


def test_clean_replay_is_bit_exact(rec100):
    dev = SimDevice(rec100, speed=0, duration_s=30)
    events, stats = _decode_all(dev)
    h = events[0]
    assert h.fs == 360 and h.leads == ("MLII", "V5") and h.gain == (200.0, 200.0)
    got = np.concatenate([e.data for e in events if isinstance(e, p.Samples)])
    # MIT-BIH is stored as 11-bit counts at 200/mV: replay reproduces them exactly
    np.testing.assert_array_equal(got, rec100.signal[: 360 * 30])
    assert stats.gaps == 0 and stats.garbage_bytes == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_drop_bitflip_truncate_garbage_truth_is_exact(rec100, seed):
    faults = parse_faults("drop=0.03,bitflip=0.03,truncate=0.01,garbage=0.03")
    dev = SimDevice(rec100, speed=0, faults=faults, seed=seed)
    events, stats = _decode_all(dev, "binary")
    t = dev.truth
    assert min(t.fault_counts[k] for k in ("drop", "bitflip", "truncate")) > 5
    assert stats.lost_samples == t.lost_samples
    assert stats.samples + stats.lost_samples == t.samples_generated
    # the faults are reproducible from the seed
    again = SimDevice(rec100, speed=0, faults=faults, seed=seed)
    assert b"".join(c.data for c in again.frames()) == b"".join(c.data for c in dev.frames())


def test_csv_mode_drop_truth_is_exact(rec100):
    dev = SimDevice(rec100, speed=0, mode="csv", faults=parse_faults("drop=0.05"), seed=3)
    events, stats = _decode_all(dev)
    assert stats.lost_samples == dev.truth.lost_samples > 0
    assert stats.samples + stats.lost_samples == dev.truth.samples_generated


def test_resample_and_adc_quantisation(rec100):
    dev = SimDevice(rec100, speed=0, fs=250, gain=200, adc_bits=8, duration_s=20)
    events, stats = _decode_all(dev)
    assert events[0].fs == 250 and events[0].gain == (200.0, 200.0) and events[0].adc_bits == 8
    samples = [e for e in events if isinstance(e, p.Samples)]
    raw = np.concatenate([s.raw for s in samples])
    assert raw.shape == (250 * 20, 2) and raw.max() <= 127 and raw.min() >= -128
    # 8 bits at 200/mV clip at +-0.64 mV: R peaks of record 100 saturate and are flagged
    assert any(s.saturated for s in samples)
    assert all(s.saturated for s in samples if (np.abs(s.raw) >= 127).any())


def test_leadoff_spans_are_flagged_and_zeroed(rec100):
    dev = SimDevice(rec100, speed=0, faults=parse_faults("leadoff=6:2"), seed=4)
    events, _ = _decode_all(dev)
    spans = dev.truth.leadoff_spans
    assert spans
    start, length, lead = spans[0]
    flagged = [s for s in events if isinstance(s, p.Samples) and s.lead_off[lead]]
    covered = {i for s in flagged for i in range(s.start, s.start + s.n)}
    assert set(range(start, start + length)) <= covered
    assert all((s.raw[:, lead] == 0).all() for s in flagged)


def test_clock_drift_and_loop_keep_counting(rec100):
    dev = SimDevice(rec100, speed=0, faults=parse_faults("drift=10000"), duration_s=10)
    assert dev.clock_fs == pytest.approx(360 * 1.01)
    events, _ = _decode_all(dev)
    assert events[0].fs == 360  # the device still claims its nominal rate
    short = read_record(shipped_record_path("100"), sampto=1000)
    looped = SimDevice(short, speed=0, loop=True, duration_s=10)
    ev, st = _decode_all(looped)
    assert st.samples == 3600 and st.gaps == 0


@pytest.mark.parametrize(
    "kind", ["synthetic", "synthetic-bw", "synthetic-emg", "synthetic-powerline"]
)
def test_synthetic_noise_hits_requested_snr(rec100, kind):
    faults = parse_faults(f"noise={kind}:6")
    dev = SimDevice(rec100, speed=0, faults=faults, seed=5, gain=1000)
    noisy = dev._raw / 1000.0
    noise = noisy - rec100.signal
    clean_p2p = qrs_amplitude_proxy(rec100.signal[:, 0], 360)
    snr = 10 * np.log10(clean_p2p**2 / 8 / np.var(noise[:, 0]))
    assert snr == pytest.approx(6.0, abs=0.3)
    assert dev.truth.noise == kind
    assert np.std(synthetic_noise(kind, 5000, 360, np.random.default_rng(0))) == pytest.approx(1)


@pytest.mark.skipif(
    DATA is None or not (DATA / "nstdb" / "ma.hea").is_file(), reason="NSTDB not in the data dir"
)
def test_nstdb_noise_named_honestly(rec100):
    from edge_runtime.records import read_beat_annotations

    qrs = read_beat_annotations(shipped_record_path("100"), sampto=rec100.n_samples)[0]
    dev = SimDevice(
        rec100,
        speed=0,
        faults=parse_faults("noise=ma:6"),
        qrs_samples=qrs,
        data_dir=DATA,
        gain=1000,
    )
    assert dev.truth.noise == "nstdb-ma"
    assert np.std(dev._raw / 1000.0 - rec100.signal) > 0.05
    proxy = SimDevice(rec100, speed=0, faults=parse_faults("noise=em:0"), data_dir=DATA)
    assert proxy.truth.noise == "nstdb-em-proxy"


@pytest.mark.skipif(
    DATA is None or not (DATA / "ptb-xl" / "records500").is_dir(),
    reason="PTB-XL 500 Hz records not in the data dir",
)
def test_ptbxl_twelve_leads_resampled():
    rec = read_record(DATA / "ptb-xl/records500/00000/00001_hr")
    dev = SimDevice(rec, speed=0, fs=250)
    events, stats = _decode_all(dev)
    assert len(events[0].leads) == 12 and stats.samples == 2500 and stats.gaps == 0


# --------------------------------------------------------------------------- CLI
def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_runtime", "sim", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--record", "no_such_record_xyz"], "record not found"),
        (["--record", "100", "--fs", "5"], "unsupported fs"),
        (["--record", "100", "--speed", "5000"], "speed"),
        (["--record", "100", "--faults", "meteor"], "unknown fault"),
        (["--record", "100", "--serial", "/dev/ttyUSB_nonexistent_9"], "cannot open port"),
        (["--record", "100", "--leads", "V9"], "lacks lead"),
    ],
)
def test_cli_bad_input_one_line(args, needle, capsys):
    from edge_runtime.cli import main

    code = main(["sim", *args])
    err = capsys.readouterr().err
    assert code != 0 and needle in err and len(err.strip().splitlines()) == 1


def test_cli_bad_input_no_traceback_in_a_real_process():
    r = _cli("--record", "no_such_record_xyz")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (
        "ecgedge: error: record not found: no_such_record_xyz (no such WFDB record here"
        + (f" or under {DATA})" if DATA else " (no data dir found))")
    )


def test_cli_stdout_replay_and_truth(tmp_path):
    truth = tmp_path / "t.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_runtime",
            "sim",
            "--record",
            "100",
            "--speed",
            "0",
            "--stdout",
            "--duration",
            "30",
            "--faults",
            "drop,bitflip",
            "--truth",
            str(truth),
        ],
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    assert r.returncode == 0
    dec = p.StreamDecoder()
    dec.push(r.stdout)
    dec.flush()
    t = json.loads(truth.read_text())
    assert dec.stats.lost_samples == t["lost_samples"] > 0
    assert dec.stats.samples + t["lost_samples"] == t["samples_generated"] == 30 * 360


def _expected_after(truth: dict, got: list) -> tuple[int, int]:
    """(samples generated, samples lost by faults) from the reader's first sample on.

    pyserial flushes its input buffer right after opening, so a reader may miss the very
    start of the stream; the comparison with the truth starts where the reader started."""
    first = next(e.start for e in got if isinstance(e, p.Samples))
    lost = sum(
        ev["n"]
        for ev in truth["fault_events"]
        if ev["sample"] >= first and ev["fault"] in ("drop", "bitflip", "truncate")
    )
    return truth["samples_generated"] - first, lost


def _run_reader(url: str, stop: threading.Event, out: list) -> None:
    dec = p.StreamDecoder()
    pump(ReconnectingReader(url, backoff_initial=0.02, backoff_max=0.2), dec, out.append, stop)
    out.append(dec.stats)


def _e2e(args: list[str], tmp_path: Path, wait_s: float = 30) -> tuple[list, dict]:
    truth = tmp_path / "truth.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_runtime", "sim", *args, "--truth", str(truth)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url, proc.stderr.read()
        stop = threading.Event()
        got: list = []
        t = threading.Thread(target=_run_reader, args=(url, stop, got), daemon=True)
        t.start()
        proc.wait(wait_s)
        # the sim closed its port after its last byte: once the reader has seen that
        # disconnect it has read everything (pty and TCP deliver all data before EOF)
        deadline = time.time() + 20
        while time.time() < deadline and not any(
            isinstance(e, TransportEvent) and e.kind == "disconnected" for e in got
        ):
            time.sleep(0.05)
        stop.set()
        t.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
    return got, json.loads(truth.read_text())


@pytest.mark.timeout(60)
def test_pty_end_to_end_exact_gap_counts(tmp_path):
    """The issue's acceptance: sim --speed 50 --faults bitflip,drop to a pty; exact gaps."""
    got, truth = _e2e(
        [
            "--record",
            "100",
            "--speed",
            "50",
            "--faults",
            "bitflip=0.02,drop=0.02",
            "--duration",
            "40",
            "--seed",
            "11",
        ],
        tmp_path,
    )
    stats = got[-1]
    assert truth["undelivered_samples"] == 0 and truth["samples_generated"] == 40 * 360
    assert truth["fault_counts"]["drop"] > 0 and truth["fault_counts"]["bitflip"] > 0
    generated, lost = _expected_after(truth, got)
    assert lost > 0 and stats.lost_samples == lost
    assert stats.samples + stats.lost_samples == generated
    assert stats.bad_crc + stats.rejected_syncs >= 1


@pytest.mark.timeout(60)
def test_tcp_end_to_end_csv(tmp_path):
    got, truth = _e2e(
        [
            "--record",
            "100",
            "--speed",
            "100",
            "--mode",
            "csv",
            "--tcp",
            "0",
            "--faults",
            "drop=0.02",
            "--duration",
            "30",
        ],
        tmp_path,
    )
    stats = got[-1]
    generated, lost = _expected_after(truth, got)
    assert lost > 0 and stats.lost_samples == lost
    assert stats.samples + stats.lost_samples == generated


@pytest.mark.timeout(60)
def test_pty_disconnect_fault_reconnects(tmp_path):
    link = tmp_path / "ecgsim"
    got, truth = _e2e(
        [
            "--record",
            "100",
            "--speed",
            "10",
            "--faults",
            "disconnect=3:1",
            "--duration",
            "8",
            "--pty",
            str(link),
        ],
        tmp_path,
    )
    kinds = [e.kind for e in got if isinstance(e, TransportEvent)]
    assert "disconnected" in kinds and "reconnected" in kinds
    stats = got[-1]
    assert truth["outage_samples"] > 0
    # everything the device produced is delivered or reported lost, nothing invented
    generated, _ = _expected_after(truth, got)
    assert stats.samples + stats.lost_samples == generated
    assert stats.lost_samples >= truth["outage_samples"]


def test_pty_output_drops_without_reader(rec100):
    out = PtyOutput()
    try:
        assert not out.has_reader() and out.write(b"abc") is False
    finally:
        out.close()


def test_tcp_port_in_use_is_one_line_error(capsys):
    import socket

    from edge_runtime.cli import main

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        code = main(["sim", "--record", "100", "--tcp", str(port), "--duration", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot listen" in err and len(err.strip().splitlines()) == 1


def test_serial_url_output_loop():
    from firmware_sim.ports import SerialOutput

    out = SerialOutput("loop://")
    # loop:// holds 4 KiB: keep the stream below that
    dev = SimDevice(read_record(shipped_record_path("100"), sampto=360), speed=0)
    dev.run(out.write)
    data = out._port.read(out._port.in_waiting)
    out.close()
    dec = p.BinaryDecoder()
    dec.push(data)
    assert dec.stats.samples == 360 and dec.stats.gaps == 0
