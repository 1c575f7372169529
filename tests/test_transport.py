"""Transports: loop://, file replay, one-line open errors, reconnect with back-off (pty, TCP)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from edge_runtime import protocol as p
from edge_runtime.errors import EcgEdgeError
from edge_runtime.transport import (
    SCHEMES,
    ReconnectingReader,
    SourceClosed,
    TransportEvent,
    open_source,
    pump,
    register_scheme,
)
from firmware_sim.ports import PtyOutput, TcpOutput


def _header() -> p.Header:
    return p.Header(fs=250.0, leads=("I", "II"), gain=(100.0, 100.0))


def test_loop_url_round_trip():
    src = open_source("loop://")
    enc = p.Encoder(_header(), "binary")
    src.port.write(enc.header() + enc.frame(np.arange(20).reshape(10, 2)))
    dec = p.BinaryDecoder()
    events = []
    for _ in range(20):
        events += dec.push(src.read(0.05))
        if any(isinstance(e, p.Samples) for e in events):
            break
    src.close()
    samples = [e for e in events if isinstance(e, p.Samples)]
    np.testing.assert_array_equal(samples[0].raw, np.arange(20).reshape(10, 2))


def test_file_replay_and_eof(tmp_path):
    enc = p.Encoder(_header(), "csv")
    f = tmp_path / "cap.csv"
    f.write_bytes(enc.header() + enc.frame(np.ones((50, 2))))
    got = []
    reader = ReconnectingReader(f"file:{f}")
    pump(reader, p.StreamDecoder(), got.append)
    assert isinstance(got[0], TransportEvent) and got[0].kind == "connected"
    assert got[-1].kind == "eof" or isinstance(got[-1], p.Samples)
    assert sum(e.n for e in got if isinstance(e, p.Samples)) == 50


@pytest.mark.parametrize("url", ["/dev/ttyUSB_nonexistent_9", "socket://127.0.0.1:1", "nope://x"])
def test_unopenable_port_is_one_line_error(url):
    with pytest.raises(EcgEdgeError) as err:
        next(ReconnectingReader(url).chunks())
    assert "cannot open port" in str(err.value) and "\n" not in str(err.value)


def _collect(reader, stop, out):
    dec = p.BinaryDecoder()
    pump(reader, dec, out.append, stop)
    out.append(dec.stats)


def _stream(output, n_frames: int, unplug_after: int, unplug_s: float, stop) -> int:
    """Device thread body: header, frames, an unplug in the middle (samples keep counting)."""
    enc = p.Encoder(_header(), "binary")
    output.wait_reader(stop, timeout=5)
    time.sleep(0.1)  # pyserial flushes its input right after opening: let that pass
    output.write(enc.header(), stop)
    lost = 0
    for i in range(n_frames):
        frame = enc.frame(np.full((10, 2), i))
        if i == unplug_after:
            output.unplug(unplug_s, stop)
            lost += 10 * 5  # this frame and the next four are produced while unplugged
            for _ in range(4):
                enc.frame(np.zeros((10, 2)))
            output.wait_reader(stop, timeout=5)
            time.sleep(0.1)
            output.write(enc.header(), stop)
            continue
        output.write(frame, stop)
        time.sleep(0.002)
    time.sleep(0.2)
    return lost


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["pty", "tcp"])
def test_reconnect_after_unplug(kind, tmp_path):
    output = PtyOutput(tmp_path / "ecg0") if kind == "pty" else TcpOutput(0)
    stop = threading.Event()
    got: list = []
    reader = ReconnectingReader(output.path, backoff_initial=0.02, backoff_max=0.2)
    t = threading.Thread(target=_collect, args=(reader, stop, got), daemon=True)
    t.start()
    lost = _stream(output, 60, unplug_after=20, unplug_s=0.5, stop=stop)
    deadline = time.time() + 5
    while time.time() < deadline:
        n = sum(e.n for e in got if isinstance(e, p.Samples))
        if n >= 10 * 59:
            break
        time.sleep(0.05)
    stop.set()
    t.join(5)
    output.close()
    kinds = [e.kind for e in got if isinstance(e, TransportEvent)]
    assert kinds[0] == "connected" and "disconnected" in kinds and "reconnected" in kinds
    recon = next(e for e in got if isinstance(e, TransportEvent) and e.kind == "reconnected")
    assert recon.down_s > 0 and recon.attempt >= 2  # it really had to retry
    gaps = [e for e in got if isinstance(e, p.Gap)]
    assert sum(g.lost_samples for g in gaps) == lost
    samples = [e for e in got if isinstance(e, p.Samples)]
    assert sum(s.n for s in samples) == 10 * 59  # every frame written arrived
    assert samples[-1].start == 630 and int(samples[-1].raw[0, 0]) == 59


def test_reader_gives_up_after_max_down(tmp_path):
    link = tmp_path / "gone"
    out = PtyOutput(link)
    reader = ReconnectingReader(str(link), backoff_initial=0.01, max_down_s=0.2)
    it = reader.chunks()
    assert next(it).kind == "connected"
    os.close(out.master)
    link.unlink()
    kinds = [e.kind for e in it if isinstance(e, TransportEvent)]
    assert kinds[0] == "disconnected" and kinds[-1] == "gave_up"


def test_stdin_replay(monkeypatch):
    import io
    import sys

    enc = p.Encoder(_header(), "binary")
    data = enc.header() + enc.frame(np.ones((7, 2)))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    got: list = []
    pump(ReconnectingReader("-"), p.StreamDecoder(), got.append)
    assert sum(e.n for e in got if isinstance(e, p.Samples)) == 7
    assert [e.kind for e in got if isinstance(e, TransportEvent)] == ["connected", "eof"]


def test_paced_file_replay(tmp_path):
    f = tmp_path / "cap.bin"
    f.write_bytes(bytes(2000))
    src = open_source(f"file:{f}?rate=10000")
    t0 = time.monotonic()
    n = 0
    with pytest.raises(SourceClosed):
        while True:
            n += len(src.read(0.05))
    src.close()
    assert n == 2000 and time.monotonic() - t0 >= 0.1  # 2000 B at 10 kB/s: not instant
    with pytest.raises(EcgEdgeError):
        open_source(f"file:{f}?rate=fast")


# --------------------------------------------------------------------------- scheme registry
def test_unknown_scheme_is_one_line_error_naming_the_known_ones():
    with pytest.raises(EcgEdgeError) as err:
        open_source("carrier-pigeon://coop/1")
    msg = str(err.value)
    assert "\n" not in msg and "unknown scheme 'carrier-pigeon'" in msg
    assert "socket:" in msg and "file:" in msg and "loop:" in msg


def test_registered_scheme_is_used_by_the_reader(tmp_path):
    """A transport added with register_scheme is opened by URL like the built-in ones."""
    from edge_runtime.transport import FileSource

    f = tmp_path / "cap.bin"
    f.write_bytes(b"abc")
    register_scheme("capture", lambda url, baud: FileSource(str(f)))
    try:
        items = list(ReconnectingReader("capture://x").chunks())
    finally:
        SCHEMES.pop("capture")
    assert [i for i in items if isinstance(i, bytes)] == [b"abc"]
    assert [i.kind for i in items if isinstance(i, TransportEvent)] == ["connected", "eof"]


def test_file_source_end_of_stream(tmp_path):
    """file: no b"" reads before EOF (nothing to wait for), then SourceClosed, not None."""
    f = tmp_path / "cap.bin"
    f.write_bytes(b"x" * 10)
    src = open_source(f"file:{f}")
    assert not src.reopenable
    assert src.read(0.01) == b"x" * 10
    with pytest.raises(SourceClosed):
        src.read(0.01)
    src.close()


def test_stdin_source_end_of_stream(monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"hello")))
    src = open_source("-")
    assert src.read(0.01) == b"hello"
    with pytest.raises(SourceClosed):
        src.read(0.01)


def test_loop_source_idle_then_closed():
    """loop://: b"" while idle (not an end); SourceClosed once the port is gone."""
    src = open_source("loop://")
    assert src.reopenable
    assert src.read(0.01) == b""
    src.port.write(b"abc")
    assert src.read(0.05) == b"abc"
    src.port.close()
    with pytest.raises(SourceClosed):
        src.read(0.01)


def test_tcp_source_idle_then_peer_closed():
    out = TcpOutput(0)
    src = open_source(out.path)
    try:
        assert src.reopenable
        assert out.wait_reader(threading.Event(), timeout=2)
        assert src.read(0.01) == b""
        out.write(b"ecg")
        got = b""
        deadline = time.time() + 2
        while got != b"ecg" and time.time() < deadline:
            got += src.read(0.05)
        assert got == b"ecg"
        out.close()
        with pytest.raises(SourceClosed):
            for _ in range(40):
                src.read(0.05)
    finally:
        src.close()
        out.close()


def test_pty_source_idle_then_unplugged(tmp_path):
    out = PtyOutput(tmp_path / "ecg0")
    src = open_source(str(tmp_path / "ecg0"))
    try:
        assert src.reopenable
        assert src.read(0.01) == b""
        os.close(out.master)  # the device end disappears (USB unplug)
        with pytest.raises(SourceClosed):
            for _ in range(40):
                src.read(0.05)
    finally:
        src.close()
