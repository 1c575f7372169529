"""The bedside pipeline: samples in, beats, window findings, alerts and records out.

Composition (each stage a plain object with ``push``):

``samples -> RingBuffer (raw, for strips) -> StreamingDetector (R peaks) -> BeatStage
(BeatWindower + beat model, batched per block) -> WindowStage (sliding 10 s multi-lead
window, resampled to the card's rate, window model) -> AlertEngine -> sinks``.

Determinism (offline run == live replay, a test): every event the alert engine sees carries
an integer *key*, the number of input samples that had arrived when the event became known
(a beat: ``decided_at + 1``; a classified beat: when its successor was decided *and* its
window had passed the resampler; a window: when its last sample had; a tick: every
``tick_s`` of signal). Events wait in a queue until every event with a smaller key is known
(after a push of ``n`` samples, that is every key ``<= n``), then go to the engine in key
order. How the stream was cut into blocks (decoder frames, serial reads, a whole record)
therefore cannot change a beat, an alert or the moment it was raised.

Data gaps: lost samples are replaced by the last value (so signal time stays true and no
edge reaches the filters) and reported as a ``data_gap`` technical alert.
"""

from __future__ import annotations

import heapq
import json
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.alerts import (
    AlertEngine,
    AlertUpdate,
    BeatEvent,
    BeatLabel,
    TechnicalEvent,
    Tick,
    WindowEvent,
)
from edge_runtime.beats import RR_FEATURES, BeatConfig, BeatWindower
from edge_runtime.detect import StreamingDetector
from edge_runtime.dsp import (
    RingBuffer,
    SosFilter,
    StreamingResampler,
    design_highpass,
    ecg_filter_sos,
)
from edge_runtime.errors import EcgEdgeError
from edge_runtime.windowing import normalise, to_model_layout

#: Clock of the per-stage timers. Benchmarks on a shared machine set it to
#: ``time.process_time`` (CPU seconds of this process) so other processes do not count.
_clock = time.perf_counter


def set_stage_clock(clock) -> None:
    """Choose the clock used for ``stage_seconds`` and model timings."""
    global _clock
    _clock = clock


__all__ = ["set_stage_clock", "Pipeline", "PipelineConfig", "check_card", "card_id", "LEAD_ALIASES"]

#: Lead names that denote the same electrode configuration. MIT-BIH's "modified limb lead
#: II" (MLII) is a Holter approximation of II; a card naming one accepts the other.
LEAD_ALIASES: dict[str, tuple[str, ...]] = {"MLII": ("II",), "II": ("MLII",)}

# event priority within one key: beats first, then labels, windows, technical, ticks
_PRIO = {BeatEvent: 0, BeatLabel: 1, WindowEvent: 2, TechnicalEvent: 3, Tick: 4}


@dataclass
class PipelineConfig:
    tick_s: float = 0.1  # asystole/technical rules are evaluated on this signal-time grid
    status_every_s: float = 2.0
    window_hop_s: float = 2.0
    noise_hf_mv: float = 0.12  # RMS above 40 Hz over 1 s counted as noise
    strip_before_s: float = 10.0
    strip_after_s: float = 5.0
    max_gap_fill_s: float = 60.0
    # live runs last days: per-beat history kept for summaries/strips is trimmed to this many
    # beats (about a day); offline runs on an annotated record keep all of it for EC57
    max_history_beats: int = 100_000


def card_id(card: dict, path: str | Path | None = None) -> str:
    """Short identity of a model: task, arch, file, commit (goes into alert evidence)."""
    name = Path(path).name if path else card.get("task", "?")
    return f"{name}:{card.get('arch', '?')}@{str(card.get('git_commit', ''))[:8]}"


def _lead_index(stream_leads: Sequence[str], lead: str) -> int | None:
    names = [x.upper() for x in stream_leads]
    for cand in (lead, *LEAD_ALIASES.get(lead, ())):
        if cand.upper() in names:
            return names.index(cand.upper())
    return None


def check_card(card: dict, fs: float, stream_leads: Sequence[str], what: str,
               lead_map: dict[str, str] | None = None) -> list[int]:
    """Indices of the card's leads in the stream; one-line error on any mismatch.

    The runtime can resample any rate *down* to the model's (anti-aliased), but it cannot
    invent bandwidth, so a stream slower than the card's ``fs`` is refused; each card lead
    must be present (by name, an alias, or an explicit ``lead_map`` card->stream entry).
    """
    lead_map = lead_map or {}
    if fs < float(card["fs"]):
        raise EcgEdgeError(
            f"{what}: stream sampled at {fs:g} Hz, the model needs at least {card['fs']:g} Hz"
        )
    idx, missing = [], []
    for lead in card["leads"]:
        i = _lead_index(stream_leads, lead_map.get(lead, lead))
        if i is None:
            missing.append(lead)
        idx.append(i)
    if missing:
        raise EcgEdgeError(
            f"{what}: lead(s) {', '.join(missing)} needed by the model are not in the stream "
            f"({', '.join(stream_leads)}); map one with --lead-map {missing[0]}=<stream lead>"
        )
    win = card.get("window", {})
    if card["task"] == "beat" and not {"before", "after"} <= set(win):
        raise EcgEdgeError(f"{what}: a beat model card needs window.before/after")
    if card["task"] != "beat" and "samples" not in win:
        raise EcgEdgeError(f"{what}: a window model card needs window.samples")
    return idx  # type: ignore[return-value]


def _needed_inputs(n_out: int, rs: StreamingResampler) -> int:
    """Input samples needed before the resampler has produced ``n_out`` outputs."""
    if n_out <= 0:
        return 0
    return ((n_out - 1) * rs.down) // rs.up + 1


# --------------------------------------------------------------------------- beat stage
class BeatStage:
    """Beat windows + RR features (edge_runtime.beats) -> beat model, one batch per block."""

    def __init__(self, model: Any, fs: float, lead_idx: list[int]) -> None:
        self.model = model
        card = model.card
        self.card = card
        self.classes = list(card["classes"])
        self.lead_idx = lead_idx
        self.config = BeatConfig.from_card(card)
        self.windower = BeatWindower(fs, len(lead_idx), self.config)
        feats = card.get("features") or []
        unknown = [f for f in feats if f not in RR_FEATURES]
        if unknown:
            raise EcgEdgeError(f"beat model: unknown RR feature(s) {unknown} in its card")
        self.feat_idx = [RR_FEATURES.index(f) for f in feats]
        names = [s["name"] for s in card["inputs"]]
        self.x_name = names[0]
        self.rr_name = names[1] if len(names) > 1 else None
        pre = card.get("preprocessing") or {}
        self.norm = pre.get("normalisation") or {"kind": "none"}
        self.rr_norm = pre.get("rr_normalisation") or {"kind": "none"}
        for n, kinds in ((self.norm, ("none", "subtract_window_median", "median_baseline",
                                      "scale", "standard", "per_lead_standard")),
                         (self.rr_norm, ("none", "standard"))):
            if n.get("kind", "none") not in kinds:
                raise EcgEdgeError(f"beat model: normalisation kind {n.get('kind')!r} unknown")
        self.seconds = 0.0  # time spent in the model (benchmark)
        self.batches = 0

    def _x(self, w: np.ndarray) -> np.ndarray:
        kind = self.norm.get("kind", "none")
        if kind in ("scale", "standard", "per_lead_standard"):
            mean = np.asarray(self.norm.get("mean", 0.0), dtype=np.float64).reshape(-1, 1)
            std = np.asarray(self.norm.get("std", self.norm.get("scale", 1.0)),
                             dtype=np.float64).reshape(-1, 1)
            return ((w - mean) / std).astype(np.float32)
        return np.ascontiguousarray(w, dtype=np.float32)

    def _rr(self, f: np.ndarray) -> np.ndarray:
        f = f[:, self.feat_idx]
        if self.rr_norm.get("kind") == "standard":
            f = (f - np.asarray(self.rr_norm["mean"])) / np.asarray(self.rr_norm["std"])
        return np.ascontiguousarray(f, dtype=np.float32)

    def classify(self, wins: np.ndarray, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class index and probability per beat."""
        if len(wins) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        t0 = _clock()
        inputs = {self.x_name: self._x(wins)}
        if self.rr_name is not None:
            inputs[self.rr_name] = self._rr(feats)
        p = self.model.predict(**inputs)
        self.seconds += _clock() - t0
        self.batches += 1
        k = p.argmax(axis=1)
        return k, p[np.arange(len(k)), k]

    def window_ready_at(self, peak: int) -> int:
        """Input count at which the beat window of ``peak`` has left the resampler."""
        hi = self.windower.center(peak) + self.config.after
        return _needed_inputs(hi, self.windower._resampler)


# --------------------------------------------------------------------------- window stage
class WindowStage:
    """Sliding multi-lead window (card's fs and length, hop ``hop_s``) -> window model.

    Same order as :func:`edge_runtime.windowing.record_windows` (resample -> condition ->
    window -> normalise), but streaming: a causal resampler and filter run block by block
    into a ring buffer at the model rate and a window is cut whenever its end has arrived.
    """

    def __init__(self, model: Any, fs: float, lead_idx: list[int], hop_s: float) -> None:
        self.model = model
        self.card = card = model.card
        self.classes = list(card["classes"])
        self.lead_idx = lead_idx
        # a stream lead used for several card leads (--lead-map) is conditioned once
        self.cols = sorted(set(lead_idx))
        self.pos = [self.cols.index(i) for i in lead_idx]
        self.fs_model = float(card["fs"])
        self.n_win = int(card["window"]["samples"])
        self.hop = max(1, int(round(hop_s * self.fs_model)))
        pre = card.get("preprocessing") or {}
        f = pre.get("filter") or {}
        self.norm = pre.get("normalisation") or {"kind": "none"}
        self.resampler = StreamingResampler(fs, self.fs_model)
        self.filter = SosFilter(ecg_filter_sos(self.fs_model, f.get("highpass", 0.5),
                                               f.get("lowpass", 40.0), f.get("notch"),
                                               int(f.get("order", 2))))
        # the buffer holds model-ready samples (card lead order, normalised): normalisation is
        # per sample and per lead, so doing it once per sample equals doing it per window
        # (which would repeat it window/hop = 5 times)
        self.buffer = RingBuffer(self.n_win + 4 * self.hop + 64, len(lead_idx), np.float32)
        self._identity = self.pos == list(range(len(self.cols)))
        self.next_end = self.n_win
        self.delay_s = self.resampler.delay_in / fs
        self.fs = fs
        ops = card.get("operating_points") or {}
        op = ops.get("balanced") or ops.get("screening") or {}
        th = op.get("thresholds", op) if isinstance(op, dict) else {}
        self.thresholds = {c: float(v) for c, v in th.items()
                           if c in self.classes and isinstance(v, int | float)}
        self.id = card_id(card, getattr(model, "path", None))
        self.seconds = 0.0
        self.windows = 0

    def push(self, x: np.ndarray) -> list[tuple[int, WindowEvent]]:
        y = self.filter.push(self.resampler.push(x[:, self.cols]))
        if len(y):
            if not self._identity:
                y = y[:, self.pos]
            y = normalise(y, self.norm)
        out: list[tuple[int, WindowEvent]] = []
        ends: list[int] = []
        wins: list[np.ndarray] = []
        step = 2 * self.hop  # the ring buffer holds a window + 4 hops: feed it in pieces
        for i in range(0, len(y), step):
            self.buffer.push(y[i:i + step])
            while self.buffer.total >= self.next_end:
                ends.append(self.next_end)
                wins.append(self.buffer.get(self.next_end - self.n_win, self.next_end))
                self.next_end += self.hop
        if not ends:
            return out
        t0 = _clock()
        p = self.model.predict(x=to_model_layout(np.stack(wins)))
        self.seconds += _clock() - t0
        self.windows += len(ends)
        for e, row in zip(ends, p, strict=True):
            start_s = max((e - self.n_win) / self.fs_model - self.delay_s, 0.0)
            end_s = e / self.fs_model - self.delay_s
            ev = WindowEvent(start_s, end_s, self.card["task"],
                             {c: float(v) for c, v in zip(self.classes, row, strict=True)},
                             self.id, self.thresholds)
            out.append((_needed_inputs(e, self.resampler), ev))
        return out


# --------------------------------------------------------------------------- pipeline
class Pipeline:
    """All stages for one stream; ``push(samples) -> records`` (also sent to the sinks).

    ``samples`` are ``(n, n_leads)`` raw samples in mV at ``fs``. ``lead_off`` is an
    optional per-lead bool for the block (from the device's frame flags). The returned
    records are the JSON-able dicts the sinks received (beats, windows, alerts, status).
    """

    def __init__(
        self,
        fs: float,
        leads: Sequence[str],
        *,
        engine: AlertEngine | None = None,
        sinks: Iterable[Any] = (),
        beat_model: Any = None,
        window_model: Any = None,
        lead_map: dict[str, str] | None = None,
        detector_lead: str | None = None,
        config: PipelineConfig | None = None,
        strips_dir: str | Path | None = None,
        strip_png: bool = False,
        on_status: Callable[[dict], None] | None = None,
        source: str = "",
        annotations: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.fs = float(fs)
        self.leads = list(leads)
        self.n_leads = len(self.leads)
        self.cfg = config or PipelineConfig()
        self.engine = engine or AlertEngine()
        self.device_id = self.engine.device_id
        self.sinks = list(sinks)
        self.on_status = on_status
        self.source = source
        self.beat = None
        self.window = None
        if beat_model is not None:
            idx = check_card(beat_model.card, self.fs, self.leads, "beat model", lead_map)
            self.beat = BeatStage(beat_model, self.fs, idx)
        if window_model is not None:
            idx = check_card(window_model.card, self.fs, self.leads, "window model", lead_map)
            self.window = WindowStage(window_model, self.fs, idx, self.cfg.window_hop_s)
        if detector_lead is not None:
            det = _lead_index(self.leads, detector_lead)
            if det is None:
                raise EcgEdgeError(f"detector lead {detector_lead} not in the stream")
        elif self.beat is not None:
            det = self.beat.lead_idx[0]
        else:
            det = 0
        self.det_lead = det
        self.detector = StreamingDetector(self.fs)
        self.raw = RingBuffer(int(self.fs * (self.cfg.strip_before_s + self.cfg.strip_after_s
                                             + 30)), self.n_leads, np.float32)
        self._hf = SosFilter(design_highpass(self.fs, min(40.0, 0.4 * self.fs), 2))
        self._noise_acc = 0.0
        self._noise_n = 0
        self._noise_state = False
        self._lead_off = np.zeros(self.n_leads, bool)
        self.n = 0  # samples received (incl. gap fill)
        self._chunk = max(1, int(10 * self.fs))
        self._tick_n = max(1, int(round(self.cfg.tick_s * self.fs)))
        self._next_tick = self._tick_n
        self._status_n = max(1, int(round(self.cfg.status_every_s * self.fs)))
        self._next_status = self._status_n
        self._queue: list[tuple[int, int, int, Any]] = []
        self._seq = 0
        self._last = np.zeros(self.n_leads)
        self._beats: deque[tuple[int, int]] = deque()  # (sample, decided_at) awaiting labels
        self._beat_index = 0
        self._label_index = 0
        self._index_of: dict[int, int] = {}
        # results kept for the summary and strips
        self._beat_base = 0  # index of beat_samples[0] (history is trimmed in long runs)
        self._onsets: Counter[str] = Counter()
        self.beat_samples: list[int] = []
        self.beat_labels: list[str | None] = []
        self.label_latency: list[float] = []  # signal seconds from R peak to label
        #: per labelled beat (beat model only): (R -> successor decided, R -> window end), s
        self.label_latency_parts: list[tuple[float, float]] = []
        self.detect_latency: list[float] = []
        self.class_counts: Counter[str] = Counter()
        self.gaps = 0
        self.lost_samples = 0
        self.updates: list[AlertUpdate] = []
        self.hr_trend: list[tuple[float, float | None]] = []
        self.stage_seconds: Counter[str] = Counter()
        self.strips = None
        if strips_dir is not None:
            from edge_runtime.strips import StripWriter

            self.strips = StripWriter(Path(strips_dir), self.fs, self.leads,
                                      self.cfg.strip_before_s, self.cfg.strip_after_s,
                                      png=strip_png)
        self.annotations = annotations
        self._finished = False
        self._emit({
            "event": "session", "action": "start", "source": source, "fs": self.fs,
            "leads": self.leads, "device_id": self.device_id,
            "beat_model": self.beat.card and card_id(self.beat.card, getattr(
                beat_model, "path", None)) if self.beat else None,
            "window_model": self.window.id if self.window else None,
            "wall_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })

    # ------------------------------------------------------------------ plumbing
    def _emit(self, record: dict) -> dict:
        for s in self.sinks:
            s.handle(record)
            rep = getattr(s, "overflow_report", None)
            if rep is not None:
                over = rep()
                if over is not None:
                    for t in self.sinks:
                        if getattr(t, "overflow_report", None) is None:
                            t.handle(over)
        return record

    def _put(self, key: int, ev: Any, prio: int | None = None) -> None:
        """Queue an engine event, or a record for the sinks (a dict), at its key."""
        self._seq += 1
        p = _PRIO[type(ev)] if prio is None else prio
        heapq.heappush(self._queue, (key, p, self._seq, ev))

    # ------------------------------------------------------------------ input
    def push(self, samples: np.ndarray, lead_off: Sequence[bool] | None = None) -> list[dict]:
        """Feed a block of samples; returns the records produced (already sent to sinks)."""
        x = np.asarray(samples, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.n_leads:
            raise EcgEdgeError(f"expected samples of {self.n_leads} leads, got shape {x.shape}")
        out: list[dict] = []
        if lead_off is not None:
            self._set_lead_off(np.asarray(lead_off, bool), out)
        if x.shape[0] == 0:
            return out
        # big blocks (a whole record offline) go through in chunks: results do not depend on
        # the partition, and the stages' ring buffers (beats: 30 s) stay within reach
        for i in range(0, x.shape[0], self._chunk):
            self._process(x[i:i + self._chunk], out)
        return out

    def gap(self, n_lost: int) -> list[dict]:
        """``n_lost`` samples never arrived: fill with the last value, report a data gap."""
        out: list[dict] = []
        n_lost = int(n_lost)
        if n_lost <= 0:
            return out
        self.gaps += 1
        self.lost_samples += n_lost
        n_fill = min(n_lost, int(self.cfg.max_gap_fill_s * self.fs))
        start = self.n
        self._put(start, TechnicalEvent("data_gap", True, start / self.fs, {
            "lost": n_lost, "start_sample": start, "end_s": (start + n_fill) / self.fs}))
        fill = np.repeat(self._last[None, :], n_fill, axis=0)
        for i in range(0, n_fill, self._chunk):
            self._process(fill[i:i + self._chunk], out, fill=True)
        return out

    def technical(self, kind: str, active: bool, detail: dict | None = None) -> list[dict]:
        """A technical condition seen outside the sample stream (disconnect, signal loss)."""
        out: list[dict] = []
        self._put(self.n, TechnicalEvent(kind, active, self.n / self.fs, detail or {}))
        self._release(out)
        return out

    def _set_lead_off(self, mask: np.ndarray, out: list[dict]) -> None:
        if mask.shape != self._lead_off.shape:
            raise EcgEdgeError(f"lead-off mask has {mask.size} entries, stream has "
                               f"{self.n_leads} leads")
        if (mask != self._lead_off).any():
            self._lead_off = mask.copy()
            off = [lead for lead, m in zip(self.leads, mask, strict=True) if m]
            self._put(self.n, TechnicalEvent("lead_off", bool(mask.any()), self.n / self.fs,
                                             {"leads": off}))

    def _process(self, x: np.ndarray, out: list[dict], fill: bool = False) -> None:
        n0 = self.n
        n1 = n0 + x.shape[0]
        self._last = x[-1].copy()
        t0 = _clock()
        self.raw.push(x.astype(np.float32))
        det_x = x[:, self.det_lead]
        beats = self.detector.push(det_x)
        t1 = _clock()
        self.stage_seconds["detector"] += t1 - t0
        for b in beats:
            idx = self._beat_index
            self._beat_index += 1
            self._index_of[b.sample] = idx
            self.beat_samples.append(b.sample)
            self.beat_labels.append(None)
            self.detect_latency.append((b.decided_at - b.sample) / self.fs)
            self._put(b.decided_at + 1, BeatEvent(idx, b.sample, b.sample / self.fs))
            self._beats.append((b.sample, b.decided_at))
        if self.beat is not None:
            self._label(x, [b.sample for b in beats], final=False)
        else:
            for b in beats:
                idx = self._index_of.pop(b.sample)
                self._put(b.decided_at + 1, BeatLabel(idx, b.sample / self.fs, None))
                self._beat_record(idx, b.sample, None, None, b.decided_at + 1)
            self._beats.clear()
        t2 = _clock()
        self.stage_seconds["beats"] += t2 - t1
        if self.window is not None:
            for key, ev in self.window.push(x):
                self._put(key, ev)
                self._put(key, {"event": "window", "start_s": round(ev.start_s, 3),
                                "end_s": round(ev.end_s, 3), "task": ev.task,
                                "probs": {k: round(v, 4) for k, v in ev.probs.items()},
                                "model": ev.card_id}, prio=2)
        t3 = _clock()
        self.stage_seconds["window"] += t3 - t2
        if not fill:
            self._noise(x[:, self.det_lead], n0)
        self.n = n1
        if len(self.beat_samples) > self.cfg.max_history_beats and self.annotations is None:
            self._trim()
        if self.strips is not None:
            self.strips.push(self.raw, self.n, self.beat_samples, self.beat_labels, out,
                             self._emit)
        self._release(out)
        self.stage_seconds["alerts+sinks"] += _clock() - t3

    def _noise(self, x: np.ndarray, n0: int) -> None:
        """Per second: RMS of the content above 40 Hz (EMG, electrode motion spikes)."""
        hf = self._hf.push(x)
        per = int(self.fs)
        i = 0
        while i < len(hf):
            take = min(per - self._noise_n, len(hf) - i)
            self._noise_acc += float(np.sum(hf[i:i + take] ** 2))
            self._noise_n += take
            i += take
            if self._noise_n == per:
                rms = (self._noise_acc / per) ** 0.5
                noisy = rms > self.cfg.noise_hf_mv
                if noisy != self._noise_state:
                    self._noise_state = noisy
                    k = n0 + i
                    self._put(k, TechnicalEvent("noise", noisy, k / self.fs,
                                                {"hf_rms_mv": round(rms, 4)}))
                self._noise_acc = 0.0
                self._noise_n = 0

    def _label(self, x: np.ndarray | None, peaks: list[int], final: bool) -> None:
        st = self.beat
        assert st is not None
        if final:
            wins, feats, done = st.windower.flush()
        else:
            wins, feats, done = st.windower.push(x[:, st.lead_idx], peaks)
        if len(done) == 0:
            return
        k, p = st.classify(wins, feats)
        for peak, ki, pi in zip(done, k, p, strict=True):
            # successor's decision (post-RR) and the window's arrival, both deterministic
            sample, _ = self._beats.popleft()
            assert sample == peak, (sample, peak)
            succ = self._beats[0][1] + 1 if self._beats else self.n
            ready = st.window_ready_at(int(peak))
            key = self.n if final else max(succ, ready)
            # latency parts (signal s after R): successor decided (post-RR), window end
            self.label_latency_parts.append(((succ - 1 - peak) / self.fs,
                                             (ready - 1 - peak) / self.fs))
            idx = self._index_of.pop(int(peak))
            label = st.classes[int(ki)]
            self._put(key, BeatLabel(idx, peak / self.fs, label, float(pi)))
            self._beat_record(idx, int(peak), label, float(pi), key)

    def _beat_record(self, idx: int, sample: int, label: str | None, prob: float | None,
                     key: int) -> None:
        self.beat_labels[idx - self._beat_base] = label
        self.label_latency.append((key - 1 - sample) / self.fs)
        self._put(key, {"event": "beat", "index": idx, "sample": sample,
                        "time_s": round(sample / self.fs, 4), "label": label,
                        "prob": None if prob is None else round(prob, 4),
                        "decided_s": round((key - 1) / self.fs, 4)}, prio=1)

    def _release(self, out: list[dict]) -> None:
        """Send every queued event with key <= n to the engine, in key order."""
        q = self._queue
        engine = self.engine
        while True:
            # ticks are implicit (one every tick_s, after every event with the same key)
            tick = self._next_tick
            if tick <= self.n and (not q or q[0][0] > tick):
                self._next_tick += self._tick_n
                for u in engine.push_tick(tick / self.fs):
                    out.append(self._alert(u))
                if tick >= self._next_status:
                    self._status(tick, out)
                    self._next_status += self._status_n
                continue
            if not q or q[0][0] > self.n:
                break
            key, _, _, ev = heapq.heappop(q)
            if isinstance(ev, dict):  # a beat or window record: to the sinks, in key order
                if ev["event"] == "beat":
                    self.class_counts[ev["label"] or "?"] += 1
                out.append(self._emit(ev))
                continue
            for u in engine.push((ev,)):
                out.append(self._alert(u))

    def _trim(self) -> None:
        """Drop the older half of the per-beat history (bounded memory in long live runs)."""
        k = len(self.beat_samples) // 2
        del self.beat_samples[:k], self.beat_labels[:k]
        self._beat_base += k
        del self.label_latency[: max(0, len(self.label_latency) - k)]
        del self.label_latency_parts[: max(0, len(self.label_latency_parts) - k)]
        del self.detect_latency[: max(0, len(self.detect_latency) - k)]
        keep = self.cfg.max_history_beats // 10
        if len(self.updates) > keep:
            del self.updates[: len(self.updates) - keep]
        if len(self.hr_trend) > keep:
            self.hr_trend = self.hr_trend[::2]

    def _alert(self, u: AlertUpdate) -> dict:
        if u.action == "onset" and self.strips is not None and u.alert.type != "data_gap":
            u.alert.strip = self.strips.schedule(u.alert, self.raw)
        self.updates.append(u)
        if u.action == "onset":
            self._onsets[u.alert.type] += 1
        return self._emit(u.to_dict())

    def _status(self, key: int, out: list[dict]) -> None:
        hr = self.engine.heart_rate()
        t = key / self.fs
        self.hr_trend.append((round(t, 2), None if hr is None else round(hr, 1)))
        rec = {"event": "status", "time_s": round(t, 2), "device_id": self.device_id,
               "hr_bpm": None if hr is None else round(hr, 1), "beats": self._label_index_count(),
               "beats_per_class": dict(sorted(self.class_counts.items())),
               "active_alerts": sorted(self.engine.active), "gaps": self.gaps,
               "lost_samples": self.lost_samples,
               "lead_off": [lead for lead, m in zip(self.leads, self._lead_off, strict=True)
                            if m]}
        out.append(self._emit(rec))
        if self.on_status is not None:
            self.on_status(rec)

    def _label_index_count(self) -> int:
        return sum(self.class_counts.values())

    # ------------------------------------------------------------------ end
    def finish(self) -> list[dict]:
        """End of stream: flush detector and beat stage, close alerts, write the summary."""
        if self._finished:
            return []
        self._finished = True
        out: list[dict] = []
        self._n_latency_live = len(self.label_latency)  # flushed beats have no real latency
        beats = self.detector.flush()
        for b in beats:
            idx = self._beat_index
            self._beat_index += 1
            self._index_of[b.sample] = idx
            self.beat_samples.append(b.sample)
            self.beat_labels.append(None)
            self.detect_latency.append((b.decided_at - b.sample) / self.fs)
            self._put(self.n, BeatEvent(idx, b.sample, b.sample / self.fs))
            self._beats.append((b.sample, self.n - 1))
        if self.beat is not None:
            if beats:
                self._label(np.zeros((0, self.n_leads)), [b.sample for b in beats], False)
            self._label(None, [], final=True)
        else:
            for b in beats:
                idx = self._index_of.pop(b.sample)
                self._put(self.n, BeatLabel(idx, b.sample / self.fs, None))
                self._beat_record(idx, b.sample, None, None, self.n)
            self._beats.clear()
        self._release(out)
        for u in self.engine.finish(self.n / self.fs):
            out.append(self._alert(u))
        if self.strips is not None:
            self.strips.finish(self.raw, self.beat_samples, self.beat_labels, out, self._emit)
        out.append(self._emit({"event": "summary", **self.summary()}))
        self._emit({"event": "session", "action": "end", "time_s": round(self.n / self.fs, 3)})
        return out

    def close(self) -> None:
        for s in self.sinks:
            s.close()

    def summary(self) -> dict:
        """Beats per class, HR trend, alerts, gaps, latencies (and EC57 if annotated)."""
        live = self.label_latency[: getattr(self, "_n_latency_live", len(self.label_latency))]
        lat = np.asarray(live) if live else np.zeros(1)
        s = {
            "duration_s": round(self.n / self.fs, 3),
            "beats": self._beat_index,
            "beats_per_class": dict(sorted(self.class_counts.items())),
            "alerts": dict(sorted(self._onsets.items())),
            "gaps": self.gaps,
            "lost_samples": self.lost_samples,
            "hr_trend": self.hr_trend[:: max(1, len(self.hr_trend) // 120)],
            "beat_latency_s": {"p50": round(float(np.percentile(lat, 50)), 4),
                               "p99": round(float(np.percentile(lat, 99)), 4)},
        }
        if self.annotations is not None:
            from edge_runtime.report import ec57_agreement

            s["ec57"] = ec57_agreement(self.annotations[0], self.annotations[1],
                                       np.asarray(self.beat_samples, np.int64),
                                       self.beat_labels, self.fs,
                                       skip_s=0.0)
        return json.loads(json.dumps(s))
