"""Wire protocol: encode/decode round trips, resync, gap accounting, fuzzing, CSV mode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_runtime import protocol as p
from firmware_sim.fuzz import check_decoder_output, fuzz_stream


def _header(nch: int = 2, start: int = 0, boot: int = 0) -> p.Header:
    return p.Header(
        fs=360.0,
        leads=tuple(f"L{i}" for i in range(nch)),
        gain=(200.0,) * nch,
        device_id=5,
        firmware="t-1",
        start_sample=start,
        boot_id=boot,
    )


def _decode(stream: bytes, dec, chunk: int | None = None) -> list:
    events = []
    step = chunk or max(1, len(stream))
    for k in range(0, len(stream), step):
        events += dec.push(stream[k : k + step])
    return events + dec.flush()


def test_crc_check_value():
    assert p.crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE catalogue check value


def test_frame_layout_matches_docs():
    frame = p.encode_data(1, 2, np.array([[1, -1]]), lead_off=0b10, status=1, device_id=3)
    assert frame[:2] == b"\xa5\x5a" and frame[2] == 1 and frame[3] == 1
    assert frame.hex() == "a55a01010300120001000000020000000200010201000100ffff" + frame[-2:].hex()
    assert len(frame) == 8 + 14 + 4 + 2


@settings(max_examples=60, deadline=None)
@given(
    nch=st.integers(1, p.MAX_CHANNELS),
    sizes=st.lists(st.integers(1, p.MAX_SAMPLES_PER_FRAME), min_size=1, max_size=6),
    start=st.integers(0, 2**32 - 1),
    chunk=st.integers(1, 97),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_round_trip(nch, sizes, start, chunk, seed):
    rng = np.random.default_rng(seed)
    h = _header(nch, start=start)
    enc = p.Encoder(h, "binary")
    stream = enc.header()
    sent = []
    for ns in sizes:
        raw = rng.integers(-32768, 32768, (ns, nch))
        raw[0, 0] = rng.choice([-32768, 32767])  # the int16 extremes always appear
        off = int(rng.integers(0, 2**nch))
        stream += enc.frame(raw, lead_off=off, status=p.STATUS_BATTERY_LOW)
        sent.append((raw, off))
    events = _decode(stream, p.BinaryDecoder(), chunk)
    assert events[0] == h
    samples = [e for e in events if isinstance(e, p.Samples)]
    assert len(samples) == len(sent)
    nxt = start
    for s, (raw, off) in zip(samples, sent, strict=True):
        assert s.start == nxt  # sample index unwraps past 2**32
        np.testing.assert_array_equal(s.raw, raw)
        np.testing.assert_allclose(s.data, raw / 200.0)
        assert [bool(b) for b in s.lead_off] == [bool(off >> i & 1) for i in range(nch)]
        assert s.battery_low and not s.saturated
        nxt += raw.shape[0]


@settings(max_examples=40, deadline=None)
@given(
    leads=st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=p.MAX_CHANNELS),
    fs=st.sampled_from([100.0, 250.0, 257.0, 360.0, 500.0, 1000.0, 128.125]),
    fw=st.text(max_size=20),
)
def test_header_round_trip(leads, fs, fw):
    h = p.Header(fs=fs, leads=tuple(leads), gain=(1000.0,) * len(leads), firmware=fw)
    h = p.Header(**{**h.__dict__, "firmware": fw.encode()[:255].decode("utf-8", "ignore")})
    (got,) = p.BinaryDecoder().push(p.encode_header(h))
    assert got.fs == fs and got.firmware == h.firmware and got.gain == h.gain
    assert got.leads == tuple(s.encode()[:255].decode("utf-8", "ignore") for s in leads)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 200))
def test_bitflips_always_detected_and_accounted(seed, chunk):
    """1-3 bit flips: CRC-16 (HD 4) must catch every one, so accounting is exact, always."""
    rng = np.random.default_rng(seed)
    kinds = ("bitflip", "drop", "garbage", "duplicate")
    stream, truth, _ = fuzz_stream(60, rng, p_mutate=0.4, kinds=kinds)
    events = _decode(stream, p.BinaryDecoder(), chunk)
    out = check_decoder_output(events, truth)
    assert out.exact and out.undetected == 0, (out, truth.mutation_counts)
    assert out.reported_lost == truth.lost_samples


def test_fuzz_mutations_exact_accounting():
    """Seeded fuzz over all mutation kinds: no exception, resync, exact lost-sample count."""
    rng = np.random.default_rng(2024)
    dec = p.BinaryDecoder()
    stream, truth, _ = fuzz_stream(20_000, rng, p_mutate=0.3)
    events = _decode(stream, dec, chunk=4093)
    out = check_decoder_output(events, truth)
    assert all(v > 500 for v in truth.mutation_counts.values())
    assert out.exact, out
    # CRC-16 lets ~2**-16 of the ~2,600 shifted frames through: 0 expected, 3 is far out
    assert out.undetected <= 3
    assert dec.stats.lost_samples + dec.stats.samples == truth.samples_sent
    assert dec.stats.stale == truth.mutation_counts["duplicate"]
    assert dec.stats.bad_crc > 0 and dec.stats.garbage_bytes > 0


@settings(max_examples=200, deadline=None)
@given(junk=st.binary(max_size=400), chunk=st.integers(1, 64))
def test_garbage_never_raises_and_valid_frame_after_it_survives(junk, chunk):
    h = _header()
    enc = p.Encoder(h, "binary")
    good = enc.frame(np.array([[1, 2], [3, 4]]))
    for dec in (p.BinaryDecoder(h), p.StreamDecoder("auto", header=h), p.CsvDecoder(fs=360)):
        events = _decode(junk + good, dec, chunk)
        if isinstance(dec, p.CsvDecoder):
            continue  # binary bytes on a CSV decoder: only "never raises" applies
        samples = [e for e in events if isinstance(e, p.Samples) and e.seq == 0]
        assert samples and np.array_equal(samples[-1].raw, [[1, 2], [3, 4]])


def test_frames_before_header_are_counted_not_guessed():
    enc = p.Encoder(_header(), "binary")
    stream = enc.frame(np.zeros((3, 2))) + enc.header() + enc.frame(np.ones((3, 2)))
    dec = p.BinaryDecoder()
    events = _decode(stream, dec)
    assert [type(e).__name__ for e in events] == ["Header", "Samples"]
    assert events[1].start == 3 and dec.stats.no_header == 1


def test_new_boot_resets_session_and_periodic_header_does_not():
    enc = p.Encoder(_header(boot=1), "binary")
    s = enc.header() + enc.frame(np.zeros((4, 2))) + enc.header() + enc.frame(np.zeros((4, 2)))
    enc2 = p.Encoder(_header(boot=2), "binary")
    s += enc2.header() + enc2.frame(np.zeros((4, 2)))
    dec = p.BinaryDecoder()
    events = _decode(s, dec)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Header", "Samples", "Samples", "Header", "Samples"]
    assert events[-1].start == 0 and dec.stats.resets == 1 and dec.stats.gaps == 0


def test_disconnect_drops_partial_frame_and_gap_spans_unplug():
    h = _header()
    enc = p.Encoder(h, "binary")
    dec = p.BinaryDecoder()
    dec.push(enc.header() + enc.frame(np.zeros((5, 2))))
    partial = enc.frame(np.zeros((5, 2)))[:9]
    dec.push(partial)
    dec.disconnect()
    for _ in range(3):
        enc.frame(np.zeros((5, 2)))  # produced while unplugged, never sent
    events = dec.push(enc.header() + enc.frame(np.zeros((5, 2))))
    assert dec.stats.truncated_bytes == 9
    # the re-sent handshake announces sample 25: the loss shows before any data arrives
    assert events[0] == p.Gap(5, 20, None) and events[1].start == 25
    # without the header, the data frame alone reveals it (with the frame count from seq)
    dec2 = p.BinaryDecoder(h)
    dec2.push(p.encode_data(0, 0, np.zeros((5, 2))))
    assert dec2.push(p.encode_data(4, 25, np.zeros((5, 2))))[0] == p.Gap(5, 20, 3)


# --------------------------------------------------------------------------- CSV
def test_csv_round_trip_with_header_gap_and_leadoff():
    h = _header()
    enc = p.Encoder(h, "csv")
    stream = enc.header() + enc.frame(np.array([[1, 2], [3, 4]]))
    enc.frame(np.zeros((3, 2)))  # dropped
    stream += enc.frame(np.array([[5, 6], [7, 8]]), lead_off=0b01)
    dec = p.CsvDecoder()
    chunked = _decode(stream, p.CsvDecoder(), chunk=5)
    got = np.concatenate([e.raw for e in chunked if isinstance(e, p.Samples)])
    np.testing.assert_array_equal(got, [[1, 2], [3, 4], [0, 6], [0, 8]])
    events = _decode(stream, dec)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Header", "Samples", "Gap", "Samples"]
    assert events[2] == p.Gap(2, 3)
    assert events[3].start == 5 and events[3].lead_off.tolist() == [True, False]
    np.testing.assert_array_equal(events[3].raw, [[0, 6], [0, 8]])
    np.testing.assert_allclose(events[1].data, [[0.005, 0.01], [0.015, 0.02]])


def test_csv_corrupted_index_costs_one_line():
    lines = b"0,1\n1,1\n2,1\n9999,1\n4,1\n5,1\n"  # line 3 index corrupted
    dec = p.CsvDecoder(fs=250)
    events = _decode(lines, dec)
    gaps = [e for e in events if isinstance(e, p.Gap)]
    assert gaps == [p.Gap(3, 1)] and dec.stats.samples == 5 and dec.stats.bad_lines == 1


def test_csv_plain_hobby_lines_and_garbage():
    dec = p.CsvDecoder(fs=250, time="none")
    events = _decode(b"512\n\xff\xfe junk\n513\nabc\n514", dec)
    got = np.concatenate([e.raw for e in events if isinstance(e, p.Samples)])
    assert got.ravel().tolist() == [512, 513, 514] and dec.stats.bad_lines == 2


@pytest.mark.parametrize("mode", ["binary", "csv"])
def test_auto_detects_mode(mode):
    enc = p.Encoder(_header(), mode)
    dec = p.StreamDecoder()
    events = _decode(enc.header() + enc.frame(np.ones((4, 2))), dec, chunk=3)
    assert dec.mode == mode and sum(e.n for e in events if isinstance(e, p.Samples)) == 4


def test_clean_stream_has_no_garbage_whatever_the_read_size():
    """Frames ending in 0xA5 are rescanned from that byte: never counted as garbage."""
    enc = p.Encoder(_header(), "binary")
    rng = np.random.default_rng(1)
    stream = enc.header()
    n = 0
    while n < 400 or b"\xa5\xa5\x5a" not in stream:  # a CRC ending in 0xA5 before a sync
        stream += enc.frame(rng.integers(-99, 99, (5, 2)))
        n += 1
    for chunk in (1, 2, 3, 7, 64, 4096):
        dec = p.BinaryDecoder()
        _decode(stream, dec, chunk)
        assert dec.stats.garbage_bytes == 0 and dec.stats.truncated_bytes == 0, chunk
        assert dec.stats.samples == 5 * n
