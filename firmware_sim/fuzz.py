"""Mutated binary streams with a ground truth, for the decoder's fuzz test and fuzz campaign.

``fuzz_stream`` encodes frames of known content, mutates a chosen fraction of them (bit flips,
byte insertions, byte deletions, truncation, dropped frames, garbage between frames, replayed
duplicates) and returns the bytes together with what an exact decoder must report: which
frames arrive intact, how many samples are lost, in how many gaps. ``check_decoder_output``
compares a decoder's events with that truth.

Why these mutations are fair: CRC-16/CCITT has Hamming distance 4 for frames this size, so
1-3 bit flips are always detected; insertions, deletions and truncations shift the CRC window
and escape detection with probability about 2**-16 each (reported, not hidden, as
``undetected``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge_runtime.protocol import Encoder, Gap, Header, Samples

MUTATIONS = ("bitflip", "insert", "delete", "truncate", "drop", "garbage", "duplicate")
#: mutations after which the frame cannot be decoded (its samples must be reported lost)
DESTRUCTIVE = frozenset({"bitflip", "insert", "delete", "truncate", "drop"})


@dataclass
class FuzzTruth:
    """What the sender did: the reference a decoder's output is judged against."""

    n_frames: int = 0
    samples_sent: int = 0
    intact_samples: int = 0
    lost_samples: int = 0
    lost_runs: int = 0  # runs of consecutive destroyed frames = expected Gap events
    mutation_counts: dict[str, int] = field(default_factory=dict)
    # per intact frame: (first sample index, raw array)
    intact: list[tuple[int, np.ndarray]] = field(default_factory=list)
    # per destroyed frame: first sample index -> its original raw samples
    destroyed: dict[int, np.ndarray] = field(default_factory=dict)


def fuzz_stream(
    n_frames: int,
    rng: np.random.Generator,
    p_mutate: float = 0.3,
    n_channels: int = 2,
    max_samples: int = 16,
    encoder: Encoder | None = None,
    keep_intact: bool = True,
    kinds: tuple[str, ...] = MUTATIONS,
) -> tuple[bytes, FuzzTruth, Encoder]:
    """Encode ``n_frames`` frames (after a header when ``encoder`` is None) and mutate some.

    The last frame is always left intact so that every loss is followed by a frame that
    reveals it. Pass the returned encoder back in to continue the same stream in chunks.
    """
    truth = FuzzTruth(mutation_counts=dict.fromkeys(MUTATIONS, 0))
    parts: list[bytes] = []
    if encoder is None:
        h = Header(
            fs=360.0,
            leads=tuple(f"L{i}" for i in range(n_channels)),
            gain=(200.0,) * n_channels,
            device_id=7,
            firmware="fuzz",
        )
        encoder = Encoder(h, "binary")
        parts.append(encoder.header())
    nch = encoder.base.n_channels
    sizes = rng.integers(1, max_samples + 1, n_frames)
    bad = [k for k in kinds if k not in MUTATIONS]
    if bad:
        raise ValueError(f"unknown mutation {bad[0]!r}")
    picks = rng.integers(0, len(kinds), n_frames)
    mutate = rng.random(n_frames) < p_mutate
    mutate[-1] = False
    in_loss = False
    for i in range(n_frames):
        ns = int(sizes[i])
        raw = rng.integers(-32768, 32768, (ns, nch), dtype=np.int64)
        first = encoder.next_sample
        frame = encoder.frame(raw)
        truth.n_frames += 1
        truth.samples_sent += ns
        kind = kinds[picks[i]] if mutate[i] else None
        if kind is not None:
            truth.mutation_counts[kind] += 1
        if kind in DESTRUCTIVE:
            parts.append(_destroy(frame, kind, rng))
            truth.lost_samples += ns
            if keep_intact:
                truth.destroyed[first] = raw
            if not in_loss:
                truth.lost_runs += 1
            in_loss = True
            continue
        in_loss = False
        if kind == "garbage":
            parts.append(rng.bytes(int(rng.integers(1, 65))))
        parts.append(frame)
        if kind == "duplicate":
            parts.append(frame)
        truth.intact_samples += ns
        if keep_intact:
            truth.intact.append((first, raw))
    return b"".join(parts), truth, encoder


def _destroy(frame: bytes, kind: str, rng: np.random.Generator) -> bytes:
    n = len(frame)
    if kind == "drop":
        return b""
    if kind == "bitflip":
        buf = bytearray(frame)
        k = int(rng.integers(1, 4))
        for bit in rng.choice(n * 8, size=k, replace=False):
            buf[bit // 8] ^= 1 << (bit % 8)
        return bytes(buf)
    if kind == "insert":
        at = int(rng.integers(1, n))
        return frame[:at] + rng.bytes(int(rng.integers(1, 9))) + frame[at:]
    if kind == "delete":
        k = int(rng.integers(1, min(8, n - 1) + 1))
        at = int(rng.integers(0, n - k + 1))
        return frame[:at] + frame[at + k :]
    # truncate: keep a strict prefix
    return frame[: int(rng.integers(1, n))]


@dataclass
class FuzzOutcome:
    """Comparison of decoder events with :class:`FuzzTruth`.

    ``exact``: every sample sent is accounted for (delivered + reported lost == sent), every
    intact frame is delivered bit-exact and nothing else is delivered except ``undetected``
    frames; with no undetected frame the lost samples and the number of gaps equal the truth.
    ``undetected``: destroyed frames whose corruption the CRC-16 did not catch (delivered with
    their original header but wrong content): the CRC's residual error, about 2**-16 per frame
    whose CRC window was shifted. ``recovered``: damaged frames whose payload survived intact
    and passed the CRC (e.g. only the last CRC byte cut off and the next frame's sync byte
    happening to equal it): correct data, but the truth counted them lost.
    """

    delivered_samples: int
    reported_lost: int
    gap_events: int
    exact: bool
    undetected: int
    unexplained: int
    recovered: int = 0  # delivered frames that are neither intact nor a CRC escape


def check_decoder_output(events: list, truth: FuzzTruth) -> FuzzOutcome:
    """Judge decoded ``events`` against ``truth`` (needs ``keep_intact=True``)."""
    samples = [e for e in events if isinstance(e, Samples)]
    gaps = [e for e in events if isinstance(e, Gap)]
    delivered = sum(s.n for s in samples)
    lost = sum(g.lost_samples for g in gaps)
    expected = {first: raw for first, raw in truth.intact}
    matched = undetected = unexplained = recovered = 0
    for s in samples:
        ref = expected.get(s.start)
        if ref is not None and ref.shape == s.raw.shape and np.array_equal(ref, s.raw):
            matched += 1
            continue
        orig = truth.destroyed.get(s.start)
        if orig is not None and orig.shape == s.raw.shape:
            if np.array_equal(orig, s.raw):
                recovered += 1
            else:
                undetected += 1
        else:
            unexplained += 1
    exact = (
        delivered + lost == truth.samples_sent
        and matched == len(truth.intact)
        and unexplained == 0
        and (
            undetected + recovered > 0
            or (lost == truth.lost_samples and len(gaps) == truth.lost_runs)
        )
    )
    return FuzzOutcome(delivered, lost, len(gaps), exact, undetected, unexplained, recovered)
