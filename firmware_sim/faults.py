"""Fault injection for the simulated device: each fault a flag, combinable, seeded.

Faults come in three layers, applied in this order by :class:`firmware_sim.device.SimDevice`:

- signal layer (before the ADC): additive noise at a chosen SNR, lead-off spans, clock drift;
- frame layer (after encoding): dropped frames, bit flips, truncated frames, garbage bytes;
- link layer: disconnects (the port disappears for a while, as on a USB unplug).

The spec string of ``ecgedge sim --faults`` is a comma list of ``name[=value]``::

    noise=ma:6        NSTDB muscle artefact at 6 dB SNR (bw, em, ma; synthetic when absent)
    noise=synthetic:12   synthetic baseline wander + EMG + powerline at 12 dB
                      (synthetic-bw, synthetic-emg, synthetic-powerline for one kind)
    leadoff=2:3       on average 2 lead-off spans per minute, 3 s each, one random lead
    drop=0.01         each frame dropped with probability 0.01
    bitflip=0.01      each frame gets 1-3 flipped bits with probability 0.01
    truncate=0.005    each frame cut short with probability 0.005
    garbage=0.01      random bytes (1-64) inserted before a frame with probability 0.01
    drift=500         device clock off by +500 ppm (samples really taken at fs*(1+5e-4))
    disconnect=20:2   the port disappears every 20 s of device time for 2 s
    battery=60        battery-low flag set from 60 s of device time on

A bare name takes the default value shown in :data:`DEFAULTS`. Every injected fault is logged
(device sample index, samples affected) so tests can compare the runtime's report with the
truth. SNR follows the NSTDB ``nst`` convention: S = (QRS peak-to-peak)^2 / 8, N = noise
variance; for the synthetic noise the peak-to-peak is the median over 1 s windows of
(max - min), a QRS-free proxy that needs no annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.errors import EcgEdgeError


def fault_help() -> str:
    """The fault list of this module's docstring, for ``ecgedge sim --help``."""
    doc = __doc__ or ""
    start = doc.index("The spec string")
    end = doc.index("A bare name")
    return "faults (--faults):\n" + doc[start:end].replace("::", ":").rstrip() + (
        "\n\nA bare name (e.g. --faults bitflip,leadoff) takes the value shown above; a bare"
        f" noise is noise={DEFAULTS['noise']}.")


NST_KINDS = ("bw", "em", "ma")
SYNTH_KINDS = ("synthetic", "synthetic-bw", "synthetic-emg", "synthetic-powerline")

#: value used for a bare fault name
DEFAULTS: dict[str, str] = {
    "noise": "synthetic:6",
    "leadoff": "2:3",
    "drop": "0.01",
    "bitflip": "0.01",
    "truncate": "0.005",
    "garbage": "0.01",
    "drift": "500",
    "disconnect": "20:2",
    "battery": "60",
}


@dataclass
class FaultConfig:
    """Parsed fault flags; all off by default."""

    noise: str | None = None
    snr_db: float = 6.0
    leadoff_per_min: float = 0.0
    leadoff_s: float = 3.0
    drop: float = 0.0
    bitflip: float = 0.0
    truncate: float = 0.0
    garbage: float = 0.0
    drift_ppm: float = 0.0
    disconnect_every_s: float = 0.0
    disconnect_s: float = 0.0
    battery_low_after_s: float | None = None

    @property
    def any_frame_fault(self) -> bool:
        return any((self.drop, self.bitflip, self.truncate, self.garbage))


def _floats(name: str, value: str, n: int) -> list[float]:
    parts = value.split(":")
    if len(parts) != n:
        raise EcgEdgeError(f"fault {name}={value}: expected {n} number(s) separated by ':'")
    try:
        return [float(x) for x in parts]
    except ValueError:
        raise EcgEdgeError(f"fault {name}={value}: not a number") from None


def parse_faults(spec: str | None) -> FaultConfig:
    """Parse ``--faults`` (see module doc); one-line error on anything unknown."""
    cfg = FaultConfig()
    if not spec:
        return cfg
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        name = name.strip().lower()
        if name not in DEFAULTS:
            raise EcgEdgeError(f"unknown fault '{name}' (choose from {', '.join(DEFAULTS)})")
        value = value.strip() or DEFAULTS[name]
        if name == "noise":
            kind, _, snr = value.partition(":")
            if kind not in NST_KINDS + SYNTH_KINDS:
                raise EcgEdgeError(
                    f"unknown noise '{kind}' (choose from {', '.join(NST_KINDS + SYNTH_KINDS)})"
                )
            cfg.noise = kind
            cfg.snr_db = _floats(name, snr or "6", 1)[0]
        elif name in ("drop", "bitflip", "truncate", "garbage"):
            (p,) = _floats(name, value, 1)
            if not 0.0 <= p <= 1.0:
                raise EcgEdgeError(f"fault {name}={value}: probability must be in [0, 1]")
            setattr(cfg, name, p)
        elif name == "leadoff":
            cfg.leadoff_per_min, cfg.leadoff_s = _floats(name, value, 2)
        elif name == "drift":
            (cfg.drift_ppm,) = _floats(name, value, 1)
            if abs(cfg.drift_ppm) > 100_000:
                raise EcgEdgeError(f"fault drift={value}: beyond +-100000 ppm")
        elif name == "disconnect":
            cfg.disconnect_every_s, cfg.disconnect_s = _floats(name, value, 2)
            if cfg.disconnect_every_s <= cfg.disconnect_s or cfg.disconnect_s <= 0:
                raise EcgEdgeError(f"fault disconnect={value}: need every > duration > 0")
        elif name == "battery":
            (cfg.battery_low_after_s,) = _floats(name, value, 1)
    return cfg


# --------------------------------------------------------------------------- noise
def qrs_amplitude_proxy(x: np.ndarray, fs: float) -> float:
    """Median over 1 s windows of (max - min): the QRS peak-to-peak where beats dominate."""
    w = max(1, int(round(fs)))
    n = (len(x) // w) * w
    if n == 0:
        return float(np.ptp(x)) if len(x) else 0.0
    win = x[:n].reshape(-1, w)
    return float(np.median(win.max(axis=1) - win.min(axis=1)))


def synthetic_noise(kind: str, n: int, fs: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance synthetic noise of one kind (``synthetic`` = equal-power mix of three).

    bw: sum of random sinusoids 0.05-0.5 Hz (respiration, electrode drift); emg: white
    Gaussian noise band-limited to 20-150 Hz (clipped below Nyquist); powerline: 50 Hz (or
    60 Hz, chosen at random) with a third harmonic when below Nyquist, slowly varying amplitude.
    """
    t = np.arange(n) / fs
    if kind == "synthetic":
        parts = [synthetic_noise(f"synthetic-{k}", n, fs, rng) for k in ("bw", "emg", "powerline")]
        out = sum(parts) / np.sqrt(3.0)
    elif kind == "synthetic-bw":
        out = np.zeros(n)
        for _ in range(4):
            f = rng.uniform(0.05, 0.5)
            out += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    elif kind == "synthetic-emg":
        from scipy import signal

        hi = min(150.0, 0.45 * fs)
        lo = min(20.0, 0.5 * hi)
        sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
        out = signal.sosfilt(sos, rng.standard_normal(n))
    elif kind == "synthetic-powerline":
        mains = rng.choice([50.0, 60.0])
        if mains >= fs / 2:
            mains = fs / 2.5  # aliased mains still lands somewhere in band on a slow ADC
        amp = 1.0 + 0.2 * np.sin(2 * np.pi * 0.1 * t + rng.uniform(0, 2 * np.pi))
        out = amp * np.sin(2 * np.pi * mains * t + rng.uniform(0, 2 * np.pi))
        if 3 * mains < fs / 2:
            out += 0.3 * np.sin(2 * np.pi * 3 * mains * t)
    else:
        raise EcgEdgeError(f"unknown synthetic noise '{kind}'")
    sd = float(np.std(out))
    return out / sd if sd > 0 else out


def scale_to_snr(clean: np.ndarray, noise: np.ndarray, fs: float, snr_db: float) -> np.ndarray:
    """Scale ``noise`` (per lead) so that S/N = ``snr_db`` with S = (QRS p2p)^2 / 8."""
    clean = np.atleast_2d(clean.T).T
    noise = np.atleast_2d(noise.T).T
    out = np.empty_like(noise, dtype=np.float64)
    for j in range(clean.shape[1]):
        s = qrs_amplitude_proxy(clean[:, j], fs) ** 2 / 8.0
        nv = float(np.var(noise[:, j]))
        k = np.sqrt(s / (nv * 10 ** (snr_db / 10))) if nv > 0 and s > 0 else 0.0
        out[:, j] = noise[:, j] * k
    return out


def add_noise(
    signal: np.ndarray,
    fs: float,
    kind: str,
    snr_db: float,
    rng: np.random.Generator,
    data_dir=None,
    qrs_samples: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """Return (noisy signal, name of the noise actually used).

    NSTDB kinds use the real noise record when the data dir has ``nstdb/``: mixed with
    ``firmware_sim.noise.mix_nst_noise`` (the detector team's ``nst`` mixer, noise on for the
    whole stream) when reference beats are given, else scaled with the annotation-free QRS
    proxy (name ``nstdb-<kind>-proxy``). Without the data the synthetic noise of the closest
    kind is used and the returned name says ``synthetic-...``, never hiding it.
    """
    n, n_leads = signal.shape
    if kind in NST_KINDS:
        mixed = _try_nst(signal, fs, kind, snr_db, rng, data_dir, qrs_samples)
        if mixed is not None:
            proxy = qrs_samples is None or len(qrs_samples) == 0
            return mixed, f"nstdb-{kind}" + ("-proxy" if proxy else "")
        kind = {"bw": "synthetic-bw", "em": "synthetic", "ma": "synthetic-emg"}[kind]
    noise = np.stack([synthetic_noise(kind, n, fs, rng) for _ in range(n_leads)], axis=1)
    return signal + scale_to_snr(signal, noise, fs, snr_db), kind


def _try_nst(signal, fs, kind, snr_db, rng, data_dir, qrs_samples) -> np.ndarray | None:
    from edge_runtime.errors import EcgEdgeError
    from edge_runtime.records import find_record, read_record

    try:
        path = find_record(f"nstdb/{kind}", data_dir)
        from firmware_sim.noise import mix_nst_noise
    except (EcgEdgeError, ImportError):
        return None
    noise = read_record(path, fs=fs).signal
    n = signal.shape[0]
    reps = -(-n // noise.shape[0])
    offset = int(rng.integers(0, noise.shape[0]))
    noise = np.roll(np.tile(noise, (reps, 1)), -offset, axis=0)[:n]
    if qrs_samples is None or len(qrs_samples) == 0:
        # no reference beats (a record without annotations): the same real noise, scaled by
        # the annotation-free QRS-size proxy instead of nst's beat-based measure
        return signal + scale_to_snr(
            signal, noise[:, np.arange(signal.shape[1]) % noise.shape[1]], fs, snr_db
        )
    # noise on for the whole stream (nst's default schedule starts it after 5 min)
    span = n / fs + 1.0
    return mix_nst_noise(signal, noise, fs, snr_db, qrs_samples, start_s=0.0, segment_s=span)


# --------------------------------------------------------------------------- lead-off
def leadoff_mask(
    n: int, fs: float, n_leads: int, per_min: float, span_s: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Per-sample lead-off bit mask (uint16) and the spans (start, length, lead)."""
    mask = np.zeros(n, dtype=np.uint16)
    spans: list[tuple[int, int, int]] = []
    if per_min <= 0 or n == 0:
        return mask, spans
    n_spans = rng.poisson(per_min * n / fs / 60.0)
    length = max(1, int(round(span_s * fs)))
    for _ in range(int(n_spans)):
        start = int(rng.integers(0, max(1, n - length)))
        lead = int(rng.integers(0, n_leads))
        mask[start : start + length] |= np.uint16(1 << lead)
        spans.append((start, min(length, n - start), lead))
    spans.sort()
    return mask, spans


# --------------------------------------------------------------------------- frame faults
class FrameFaults:
    """Mutates encoded frames: drop, bit flips (1-3 bits), truncation, leading garbage.

    ``apply(frame) -> (bytes, destroyed)``: ``destroyed`` is True when the frame's samples
    can no longer be decoded (dropped, flipped or truncated). A binary frame with 1-3 flipped
    bits is always caught by CRC-16 (Hamming distance 4), so the runtime's lost-sample count
    must equal the simulator's for ``drop`` and ``bitflip``; truncation escapes the CRC with
    probability ~2**-16.
    """

    def __init__(self, cfg: FaultConfig, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.rng = rng

    def apply(self, frame: bytes) -> tuple[bytes, str | None]:
        cfg, rng = self.cfg, self.rng
        prefix = b""
        if cfg.garbage and rng.random() < cfg.garbage:
            prefix = rng.bytes(int(rng.integers(1, 65)))
        if cfg.drop and rng.random() < cfg.drop:
            return prefix, "drop"
        if cfg.bitflip and rng.random() < cfg.bitflip:
            buf = bytearray(frame)
            k = int(rng.integers(1, 4))
            for bit in rng.choice(len(buf) * 8, size=min(k, len(buf) * 8), replace=False):
                buf[bit // 8] ^= 1 << (bit % 8)
            return prefix + bytes(buf), "bitflip"
        if cfg.truncate and rng.random() < cfg.truncate and len(frame) > 1:
            return prefix + frame[: int(rng.integers(1, len(frame)))], "truncate"
        return prefix + frame, None
