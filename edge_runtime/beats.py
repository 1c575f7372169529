"""Beat windowing and causal RR features: the device's beat front end (training calls it).

A beat classifier sees, for every R-peak the detector reports, a fixed window of the
conditioned signal around the peak and a handful of RR-interval features. This module is the
single implementation of both, used live by the bedside runtime and offline by the training
code (``train.beats.dataset`` calls :func:`extract_beats`), so the model is trained on exactly
what the device computes.

Signal path (per lead): causal 0.5-40 Hz Butterworth (``dsp.SosFilter``, the device's filter)
at the native rate -> causal polyphase resampling to the model rate (``dsp.StreamingResampler``)
-> window ``[R - before, R + after)`` -> subtract the window median (baseline), keep mV.

Why 180 Hz: after the 40 Hz low-pass there is no content above ~45 Hz, so 180 Hz (Nyquist
90 Hz) loses nothing the model could use, halves the compute and memory of 360 Hz, and is an
easy rational ratio from the common device rates (360 -> 1/2, 250 -> 18/25, 500 -> 9/25).
The window (0.25 s before, 0.45 s after R) holds the P wave (PR interval <= 0.2 s) and the
T wave of a normal-rate beat. Optionally (``template_beats > 0``) each lead gets a second
channel, the beat minus the patient's running template beat (:class:`TemplateTracker`).

RR features: :mod:`edge_runtime.beat_rr` (pre-RR, post-RR, local and long running means and
their ratios; ``post_rr`` and ``post_rr_norm`` need the next R). The windower runs in one of
two labelling modes, chosen by the model card's ``features``
(:attr:`edge_runtime.beat_input.BeatInputs.post_rr`; docs/beat_latency.md): with post-RR
features a beat is emitted once the next R is known (one beat of latency); without them
(``post_rr=False``, low latency) as soon as its window has left the resampler, with the
same window and the same five other features.

What beat i reads (held by tests/test_beat_causality.py): its window and template channel,
the conditioned signal up to the window's end and earlier beats' windows; its RR features,
R-peak times up to R_i (the first beat: R_1), post-RR ones up to R_{i+1}.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from edge_runtime.beat_rr import POST_RR_FEATURES, RR_FEATURES, RRTracker, rr_features
from edge_runtime.dsp import RingBuffer, SosFilter, StreamingResampler, ecg_filter_sos

__all__ = [
    "RR_FEATURES",
    "POST_RR_FEATURES",
    "BeatConfig",
    "RRTracker",
    "rr_features",
    "BeatWindower",
    "extract_beats",
]


@dataclass(frozen=True)
class BeatConfig:
    """Everything that defines a beat input; stored in the model card."""

    fs: float = 180.0
    before_s: float = 0.25
    after_s: float = 0.45
    highpass: float | None = 0.5
    lowpass: float | None = 40.0
    notch: float | None = None
    order: int = 2
    local_beats: int = 10
    long_beats: int = 300
    template_beats: int = 0  # >0: add a "beat minus patient template" channel per lead

    @property
    def channels_per_lead(self) -> int:
        return 2 if self.template_beats > 0 else 1

    @property
    def before(self) -> int:
        return int(round(self.before_s * self.fs))

    @property
    def after(self) -> int:
        return int(round(self.after_s * self.fs))

    @property
    def length(self) -> int:
        return self.before + self.after

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_card(cls, card: dict) -> BeatConfig:
        """Rebuild the config a model was trained with from its model card."""
        filt = card.get("preprocessing", {}).get("filter", {})
        rr = card.get("preprocessing", {}).get("rr", {})
        fs = float(card["fs"])
        win = card["window"]
        return cls(
            fs=fs,
            before_s=win["before"] / fs,
            after_s=win["after"] / fs,
            highpass=filt.get("highpass", 0.5),
            lowpass=filt.get("lowpass", 40.0),
            notch=filt.get("notch"),
            order=filt.get("order", 2),
            local_beats=rr.get("local_beats", 10),
            long_beats=rr.get("long_beats", 300),
            template_beats=int(
                (card.get("preprocessing", {}).get("template") or {}).get("beats", 0)
            ),
        )


class TemplateTracker:
    """The patient's running template beat: per-sample median of the previous K windows.

    A median over the last K beats (strictly before the current one: causal) is the
    patient's usual beat as long as fewer than half of recent beats are ectopic. Giving the
    model ``beat - template`` next to the beat makes its job patient-relative (how this beat
    differs from *this* patient's usual beat), which is what transfers to unseen patients:
    a bundle-branch-block patient's wide normal beats differ little from their own template.
    The first beat of a stream uses itself as template (difference 0).

    Speed: instead of ``np.median`` over the K stored windows for every beat (a partition
    along a strided axis, ~0.1 ms), each sample position keeps its last K values *sorted*
    (``(leads*L, K)``, rows contiguous); a new beat replaces the oldest value in each row and
    the nearly sorted rows are re-sorted. The median is then read off the middle one or two
    columns with ``np.median``'s own arithmetic (float32 ``(lo + hi) / 2``), so the template
    is bit-identical. A non-finite sample switches to plain ``np.median`` for good (its NaN
    semantics).
    """

    def __init__(self, beats: int) -> None:
        self._hist: deque[np.ndarray] = deque(maxlen=beats)
        self._sorted: np.ndarray | None = None  # (leads*L, n) per-position sorted history
        self._exact_only = False

    def _median(self) -> np.ndarray:
        s = self._sorted
        assert s is not None
        n = s.shape[1]
        if n % 2:
            return s[:, n // 2].copy()
        return (s[:, n // 2 - 1] + s[:, n // 2]) / 2

    def apply(self, w: np.ndarray) -> np.ndarray:
        """``(leads, L)`` window -> ``(2*leads, L)``: the window, then window - template."""
        if not self._exact_only and not np.isfinite(w).all():
            self._exact_only = True
            self._sorted = None
        if self._exact_only:
            tpl = np.median(np.stack(self._hist), axis=0) if self._hist else w
        else:
            tpl = self._median().reshape(w.shape) if self._hist else w
        if not self._exact_only:
            flat = np.asarray(w, dtype=np.float32).reshape(-1, 1)
            if self._sorted is None:
                self._sorted = flat.copy()
            elif len(self._hist) < (self._hist.maxlen or 0):
                self._sorted = np.sort(np.concatenate([self._sorted, flat], axis=1), axis=1)
            else:  # full: the oldest window leaves, this one enters, in every row
                old = np.asarray(self._hist[0], dtype=np.float32).reshape(-1, 1)
                s = self._sorted
                col = np.argmax(s == old, axis=1)  # a position holding the old value
                s[np.arange(len(s)), col] = flat[:, 0]
                s.sort(axis=1)
        self._hist.append(w)
        return np.concatenate([w, (w - tpl).astype(np.float32)], axis=0)


def _median_baseline(w: np.ndarray) -> np.ndarray:
    """Subtract each lead's window median: removes residual offset, keeps mV amplitude.

    ``np.median``'s arithmetic (partition, then the mean of the middle one or two values in
    the input's dtype) without its per-call wrapper cost; bit-identical.
    """
    n = w.shape[-1]
    if n == 0 or not np.isfinite(w).all():
        return w - np.median(w, axis=-1, keepdims=True)
    h = n // 2
    if n % 2:
        med = np.partition(w, h, axis=-1)[..., h : h + 1]
    else:
        part = np.partition(w, (h - 1, h), axis=-1)
        med = (part[..., h - 1 : h] + part[..., h : h + 1]) / 2
    return w - med


class BeatWindower:
    """Streaming beat front end: ``push(samples, peaks) -> (windows, features, peaks_done)``.

    ``samples`` are raw samples at ``fs_in`` (``(n,)`` or ``(n, leads)``); ``peaks`` are the
    absolute sample indices (at ``fs_in``) of R-peaks the detector reported since the last
    call. A beat's window is cut as soon as its end has arrived through filter and resampler
    (so a long pause before the next beat never lets the ring buffer overwrite it), and the
    beat is emitted once the next R-peak is known too (post-RR) or, with ``post_rr=False``
    (low latency), once its window is cut (the first beat of a stream waits for the second R:
    its pre-RR is its post-RR). Pushes of any length are
    processed in chunks shorter than the buffer. Windows reaching before the stream start are
    padded with the first conditioned sample; :meth:`flush` emits the pending beats at the end
    of a stream, padding past the last sample.
    """

    #: seconds of input conditioned per chunk inside one push (must stay well under the buffer)
    CHUNK_S = 10.0

    def __init__(self, fs_in: float, n_leads: int = 1, config: BeatConfig | None = None,
                 post_rr: bool = True):
        self.config = config or BeatConfig()
        self.post_rr = bool(post_rr)
        c = self.config
        self.fs_in = float(fs_in)
        self.n_leads = int(n_leads)
        self._filter = SosFilter(
            ecg_filter_sos(fs_in, c.highpass, c.lowpass, c.notch, order=c.order)
        )
        self._resampler = StreamingResampler(fs_in, c.fs)
        self._buffer = RingBuffer(int(c.fs * 30) + c.length, self.n_leads, dtype=np.float32)
        self._chunk = max(1, int(self.fs_in * self.CHUNK_S))
        self._rr = RRTracker(c.local_beats, c.long_beats, self.post_rr)
        self._template = TemplateTracker(c.template_beats) if c.template_beats > 0 else None
        self._uncut: deque[int] = deque()  # peaks whose window has not fully arrived yet
        self._cut_wins: deque[tuple[int, np.ndarray]] = deque()  # (peak, window), in order
        self._feats: deque[np.ndarray] = deque()  # RR features, in peak order

    @property
    def latency_beats(self) -> int:
        """Beats of latency added by the post-RR feature (0 in low-latency mode)."""
        return 1 if self.post_rr else 0

    def center(self, peak: int) -> int:
        """Index at the model rate of the conditioned sample that lines up with ``peak``."""
        return int(round((peak + self._resampler.delay_in) * self.config.fs / self.fs_in))

    def _cut(self, peak: int, final: bool) -> np.ndarray | None:
        """The window of ``peak`` (None until its end has arrived, unless ``final``)."""
        c = self.config
        mid = self.center(peak)
        lo, hi = mid - c.before, mid + c.after
        buf = self._buffer
        if hi > buf.total and not final:
            return None
        if buf.total == 0:
            return np.zeros((self.n_leads, c.length), dtype=np.float32)
        if lo >= buf.start and hi <= buf.total:  # the usual case: no padding, one copy
            return _median_baseline(np.ascontiguousarray(buf.get(lo, hi).T, dtype=np.float32))
        a = min(max(lo, buf.start), buf.total - 1)
        b = min(max(hi, a + 1), buf.total)
        core = buf.get(a, b)
        pad_lo = np.repeat(core[:1], max(0, a - lo), axis=0)
        pad_hi = np.repeat(core[-1:], max(0, c.length - len(pad_lo) - len(core)), axis=0)
        w = np.concatenate([pad_lo, core, pad_hi], axis=0)[: c.length]
        return _median_baseline(w.T.astype(np.float32))

    def _cut_ready(self, final: bool) -> None:
        while self._uncut:
            w = self._cut(self._uncut[0], final)
            if w is None:
                break
            peak = self._uncut.popleft()
            if self._template is not None:
                w = self._template.apply(w)
            self._cut_wins.append((peak, w))

    def _emit(self):
        wins, feats, peaks = [], [], []
        while self._cut_wins and self._feats:
            peak, w = self._cut_wins.popleft()
            wins.append(w)
            feats.append(self._feats.popleft())
            peaks.append(peak)
        return self._pack(wins, feats, peaks)

    def _pack(self, wins, feats, peaks):
        c = self.config
        if not wins:
            return (
                np.zeros((0, self.n_leads * c.channels_per_lead, c.length), np.float32),
                np.zeros((0, len(RR_FEATURES)), np.float32),
                np.zeros(0, np.int64),
            )
        return (
            np.stack(wins).astype(np.float32),
            np.stack(feats).astype(np.float32),
            np.asarray(peaks, dtype=np.int64),
        )

    def push(self, samples: np.ndarray, peaks: Sequence[int] = ()):
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        for p in sorted(int(p) for p in peaks):
            self._feats.extend(self._rr.add_beat(p / self.fs_in))
            self._uncut.append(p)
        for s in range(0, x.shape[0], self._chunk):
            y = self._resampler.push(self._filter.push(x[s : s + self._chunk]))
            self._buffer.push(y.astype(np.float32))
            self._cut_ready(final=False)
        if not x.shape[0]:
            self._cut_ready(final=False)
        return self._emit()

    def flush(self):
        """End of stream: emit every pending beat (the last one with post-RR := pre-RR)."""
        self._feats.extend(self._rr.finish_beats())
        self._cut_ready(final=True)
        return self._emit()


def extract_beats(
    signal: np.ndarray, fs: float, peaks: Sequence[int], config: BeatConfig | None = None,
    post_rr: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``(n_beats, channels, length)`` and RR features ``(n_beats, 7)`` of a record.

    ``channels`` is the number of leads, doubled (beat, beat - template) when
    ``config.template_beats > 0``.

    Runs the very same :class:`BeatWindower` (filter, resampler, RR tracker) on the whole
    signal at once (windows are cut as their samples arrive, so its 30 s buffer suffices).
    ``post_rr=False`` runs it in low-latency mode: the same windows and the same numbers in
    every column but ``post_rr``/``post_rr_norm`` (NaN there), so training may use either.
    """
    config = config or BeatConfig()
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    peaks = np.asarray(peaks, dtype=np.int64)
    if peaks.size and np.any(np.diff(peaks) <= 0):
        raise ValueError("peaks must be strictly increasing")
    bw = BeatWindower(fs, x.shape[1], config, post_rr)
    w1, f1, p1 = bw.push(x, peaks)
    w2, f2, p2 = bw.flush()
    wins = np.concatenate([w1, w2])
    feats = np.concatenate([f1, f2])
    assert np.array_equal(np.concatenate([p1, p2]), peaks)
    return wins, feats

