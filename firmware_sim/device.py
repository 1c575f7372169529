"""A simulated acquisition device that replays a WFDB recording as real hardware would.

It samples (optionally resampling to a device rate such as 250/500 Hz), quantises to int16 ADC
counts with a declared gain, frames the samples with :mod:`edge_runtime.protocol`, injects the
configured faults (:mod:`firmware_sim.faults`) and paces the bytes in (scaled) real time.

Use from Python (the demo and the bedside runtime's tests do)::

    from firmware_sim import SimDevice, open_pty
    from edge_runtime.records import read_record, shipped_record_path
    dev = SimDevice(read_record(shipped_record_path("100")), speed=20.0, mode="binary",
                    faults=parse_faults("drop,bitflip"), seed=0)
    master_fd, slave_path = open_pty()          # runtime opens slave_path with pyserial
    stop = threading.Event()
    threading.Thread(target=dev.run, args=(lambda b: os.write(master_fd, b), stop)).start()

``frames()`` yields the same bytes unpaced (for offline tests). ``truth`` holds the ground
truth of what was sent and lost, so a test can check the runtime's gap report against it.
The simulator never silently changes the data it claims to send: everything it does to the
signal is either announced in the header (fs, gain, ADC bits) or logged as a fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from edge_runtime import protocol
from edge_runtime.errors import EcgEdgeError
from edge_runtime.records import Recording
from firmware_sim.faults import FaultConfig, FrameFaults, add_noise, leadoff_mask

MIN_FS, MAX_FS = 50.0, 10_000.0


@dataclass
class Chunk:
    """Bytes the device emits at device time ``t`` (seconds since start)."""

    t: float
    data: bytes
    kind: str  # "header" | "data" | "outage"
    first_sample: int = 0
    n: int = 0
    fault: str | None = None  # frame fault applied ("drop", "bitflip", ...)
    outage_s: float = 0.0  # for kind == "outage": how long the port is gone (device time)


@dataclass
class Truth:
    """What the device did: every sample is either delivered intact or counted here."""

    samples_generated: int = 0
    frames: int = 0
    lost_samples: int = 0  # samples in frames destroyed by drop/bitflip/truncate
    outage_samples: int = 0  # samples produced while the port was unplugged
    undelivered_samples: int = 0  # written while no reader was attached (pty/TCP)
    fault_counts: dict[str, int] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)  # first N fault events, for logs
    noise: str | None = None
    leadoff_spans: list[tuple[int, int, int]] = field(default_factory=list)

    def log(self, kind: str, sample: int, n: int) -> None:
        self.fault_counts[kind] = self.fault_counts.get(kind, 0) + 1
        if len(self.events) < 10_000:
            self.events.append({"fault": kind, "sample": sample, "n": n})


def _resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Zero-phase polyphase resampling (sample i stays at time i/fs: annotations align)."""
    if fs_in == fs_out:
        return x
    from scipy import signal

    ratio = Fraction(fs_out).limit_denominator(1000) / Fraction(fs_in).limit_denominator(1000)
    if ratio.numerator > 10_000 or ratio.denominator > 10_000:
        raise EcgEdgeError(f"unsupported fs {fs_out:g} Hz: ratio to {fs_in:g} Hz too complex")
    return signal.resample_poly(x, ratio.numerator, ratio.denominator, axis=0)


def _drift(x: np.ndarray, ppm: float) -> np.ndarray:
    """Samples taken by a clock ``ppm`` fast: value k is the signal at time k/(fs(1+ppm))."""
    from scipy.interpolate import CubicSpline

    n = x.shape[0]
    t_new = np.arange(int(n * (1 + ppm * 1e-6))) / (1 + ppm * 1e-6)
    t_new = t_new[t_new <= n - 1]
    return CubicSpline(np.arange(n), x, axis=0)(t_new)


class SimDevice:
    """Replays ``recording`` as a device streaming in ``mode`` ("binary" or "csv").

    Parameters: ``speed`` (x real time, 1-1000; 0 = unpaced), ``fs`` (device rate; default
    the record's), ``gain`` (ADC counts per mV; default from the record header, else 200),
    ``adc_bits`` (clip range, saturation flagged), ``samples_per_frame`` (default fs/25, i.e.
    a 40 ms frame), ``loop`` (repeat the record, the sample counter keeps counting),
    ``duration_s`` (stop after this much device time), ``header_every_s`` (periodic handshake
    so a reader can join mid-stream), ``faults`` and ``seed`` (reproducible faults).
    """

    def __init__(
        self,
        recording: Recording,
        speed: float = 20.0,
        mode: str = "binary",
        faults: FaultConfig | None = None,
        seed: int = 0,
        fs: float | None = None,
        gain: float | None = None,
        adc_bits: int = 16,
        samples_per_frame: int | None = None,
        loop: bool = False,
        duration_s: float | None = None,
        header_every_s: float = 1.0,
        device_id: int = 1,
        firmware: str = "ecgedge-sim-0.1",
        data_dir=None,
        qrs_samples: np.ndarray | None = None,
    ) -> None:
        if mode not in ("binary", "csv"):
            raise EcgEdgeError(f"unknown mode '{mode}' (binary or csv)")
        if not (speed == 0 or 0 < speed <= 1000):
            raise EcgEdgeError(f"speed {speed:g} out of range (1-1000 x real time, 0 = unpaced)")
        fs_dev = float(fs or recording.fs)
        if not MIN_FS <= fs_dev <= MAX_FS:
            raise EcgEdgeError(f"unsupported fs {fs_dev:g} Hz (device rates {MIN_FS:g}-{MAX_FS:g})")
        n_leads = recording.signal.shape[1]
        if not 1 <= n_leads <= protocol.MAX_CHANNELS:
            raise EcgEdgeError(f"{n_leads} leads: the protocol carries 1-{protocol.MAX_CHANNELS}")
        if not 2 <= adc_bits <= 16:
            raise EcgEdgeError(f"ADC bits {adc_bits} out of range (2-16)")
        self.recording = recording
        self.speed = float(speed)
        self.mode = mode
        self.faults = faults or FaultConfig()
        self.seed = seed
        self.fs = fs_dev
        self.adc_bits = adc_bits
        self.loop = loop
        self.duration_s = duration_s
        self.header_every_s = header_every_s
        gains = (float(gain),) * n_leads if gain else _record_gain(recording)
        if gains is None:
            gains = (200.0,) * n_leads
        if not all(g > 0 for g in gains):
            raise EcgEdgeError(f"ADC gain must be positive, got {gain}")
        self.gain = gains
        spf = samples_per_frame or max(1, round(fs_dev / 25))
        if not 1 <= spf <= protocol.MAX_SAMPLES_PER_FRAME:
            raise EcgEdgeError(f"samples per frame {spf} out of range (1-255)")
        self.samples_per_frame = int(spf)
        self.truth = Truth()
        rng = np.random.default_rng(seed)
        self._frame_seed = int(rng.integers(2**63))
        # ---- signal layer: what the electrodes + ADC see
        x = _resample(recording.signal, recording.fs, fs_dev)
        if qrs_samples is not None and fs_dev != recording.fs:
            qrs_samples = np.round(np.asarray(qrs_samples) * fs_dev / recording.fs).astype(int)
        cfg = self.faults
        if cfg.noise:
            x, used = add_noise(x, fs_dev, cfg.noise, cfg.snr_db, rng, data_dir, qrs_samples)
            self.truth.noise = used
        if cfg.drift_ppm:
            x = _drift(x, cfg.drift_ppm)
        self._leadoff, self.truth.leadoff_spans = leadoff_mask(
            x.shape[0], fs_dev, n_leads, cfg.leadoff_per_min, cfg.leadoff_s, rng
        )
        lim = 2 ** (adc_bits - 1)
        counts = np.round(x * np.asarray(self.gain)[None, :])
        self._saturated = ((counts < -lim) | (counts > lim - 1)).any(axis=1)
        self._raw = np.clip(counts, -lim, lim - 1).astype(np.int16)
        self.header = protocol.Header(
            fs=fs_dev,
            leads=tuple(recording.leads),
            gain=self.gain,
            device_id=device_id,
            firmware=firmware,
            start_sample=0,
            adc_bits=adc_bits,
            boot_id=int(rng.integers(0, 2**16)),
        )

    @property
    def clock_fs(self) -> float:
        """Rate at which samples really come out (the drifting crystal), not the announced fs."""
        return self.fs * (1 + self.faults.drift_ppm * 1e-6)

    def frames(self) -> Iterator[Chunk]:
        """Every chunk of bytes the device emits, in order, with its device time (unpaced)."""
        enc = protocol.Encoder(self.header, self.mode)
        frame_faults = FrameFaults(self.faults, np.random.default_rng(self._frame_seed))
        cfg = self.faults
        # every pass replays the same faults; the truth describes the latest pass
        truth = self.truth = Truth(noise=self.truth.noise, leadoff_spans=self.truth.leadoff_spans)
        n_rec = self._raw.shape[0]
        spf = self.samples_per_frame
        clock = self.clock_fs
        limit = None if self.duration_s is None else int(self.duration_s * clock)
        next_header = 0.0
        next_outage = cfg.disconnect_every_s or None
        outage_until = -1.0
        header_after_outage = False
        yield Chunk(0.0, enc.header(), "header")
        while True:
            k = enc.next_sample
            i = k % n_rec if self.loop else k
            if (limit is not None and k >= limit) or i >= n_rec:
                # closing handshake: announces the final count, so trailing losses show too
                yield Chunk(k / clock, enc.header(), "header", k)
                return
            n = min(spf, n_rec - i)
            if limit is not None:
                n = min(n, limit - k)
            t = (k + n) / clock  # the frame is complete when its last sample is taken
            if t >= next_header + self.header_every_s and k > 0:
                next_header = t
                yield Chunk(k / clock, enc.header(), "header", k)
            if next_outage is not None and t >= next_outage:
                outage_until = next_outage + cfg.disconnect_s
                truth.log("disconnect", k, int(round(cfg.disconnect_s * clock)))
                yield Chunk(t, b"", "outage", k, outage_s=cfg.disconnect_s)
                next_outage += cfg.disconnect_every_s
            raw = self._raw[i : i + n]
            off_bits = int(np.bitwise_or.reduce(self._leadoff[i : i + n]))
            if off_bits:
                raw = raw.copy()
                for c in range(raw.shape[1]):
                    if off_bits >> c & 1:
                        raw[:, c] = 0
            status = protocol.STATUS_SATURATION if self._saturated[i : i + n].any() else 0
            if cfg.battery_low_after_s is not None and t >= cfg.battery_low_after_s:
                status |= protocol.STATUS_BATTERY_LOW
            data = enc.frame(raw, off_bits, status)
            truth.samples_generated += n
            truth.frames += 1
            if t < outage_until:
                truth.outage_samples += n
                header_after_outage = True
                continue  # produced while unplugged: never leaves the device
            if header_after_outage:  # re-enumerated: handshake first, as real devices do
                header_after_outage = False
                yield Chunk(k / clock, enc.header_at(k), "header", k)
            fault = None
            if cfg.any_frame_fault:
                data, fault = frame_faults.apply(data)
                if fault is not None:
                    truth.lost_samples += n
                    truth.log(fault, k, n)
            yield Chunk(t, data, "data", k, n, fault)

    def run(
        self,
        write: Callable[[bytes], object],
        stop_event: threading.Event | None = None,
        on_outage: Callable[[float], None] | None = None,
    ) -> Truth:
        """Stream to ``write`` paced at ``speed`` x real time until done or ``stop_event``.

        ``write`` may return False to say the bytes reached no reader (counted as
        undelivered). ``on_outage(wall_seconds)`` is called for a disconnect fault and must
        make the port disappear for that long (see :mod:`firmware_sim.ports`); without it the
        device simply goes silent for that time.
        """
        stop = stop_event or threading.Event()
        t0 = time.monotonic()
        shift = 0.0  # wall seconds spent in outages (already paced inside on_outage)
        pending = bytearray()
        pending_samples = 0
        for chunk in self.frames():
            if stop.is_set():
                break
            if chunk.kind == "outage":
                self._flush(write, pending, pending_samples)
                pending.clear()
                pending_samples = 0
                wall = chunk.outage_s / self.speed if self.speed else 0.0
                t_start = time.monotonic()
                if on_outage is not None:
                    on_outage(wall)
                else:
                    stop.wait(wall)
                shift += time.monotonic() - t_start
                continue
            delay = 0.0
            if self.speed:
                delay = t0 + shift + chunk.t / self.speed - time.monotonic()
            if delay > 0.002 or len(pending) > 65536:  # unpaced: write in 64 KiB pieces
                self._flush(write, pending, pending_samples)
                pending.clear()
                pending_samples = 0
                if delay > 0:
                    stop.wait(delay)
            pending += chunk.data
            if chunk.fault is None:
                pending_samples += chunk.n
        if not stop.is_set():
            self._flush(write, pending, pending_samples)
        return self.truth

    def _flush(self, write: Callable[[bytes], object], data: bytearray, n_samples: int) -> None:
        if data and write(bytes(data)) is False:
            self.truth.undelivered_samples += n_samples


def _record_gain(recording: Recording) -> tuple[float, ...] | None:
    """ADC gain (counts/mV) from the record's header, so replay reproduces its own counts."""
    if recording.path is None:
        return None
    try:
        import wfdb

        h = wfdb.rdheader(str(recording.path))
        names = list(h.sig_name or [])
        gains = [float(h.adc_gain[names.index(lead)]) for lead in recording.leads]
        gains = [g for g in gains if g > 0]
    except Exception:
        return None
    if len(gains) != recording.signal.shape[1]:
        return None
    return tuple(gains)
