"""The bedside pipeline: samples in, beats, window findings, alerts and records out.

Composition (each stage a plain object with ``push``, one module each):

``samples -> RingBuffer (raw, for strips) -> StreamingDetector (R peaks) ->``
:class:`~edge_runtime.stages.beat.BeatStage` (beat windows + RR features -> beat model,
batched per block) and :class:`~edge_runtime.stages.window.WindowStage` (sliding 10 s
multi-lead window, resampled to the card's rate, window model),
:class:`~edge_runtime.stages.quality.LeadQualityStage` (a quality index per lead per second),
:class:`~edge_runtime.stages.lead_beats.LeadBeatStage` (every other lead's own beats, as
evidence against false absence alarms) and :class:`~edge_runtime.stages.vf.VfStage`
(beat-independent VF/flutter analysis of the detector lead) ``->``
:class:`~edge_runtime.events.EventQueue` (keyed: released in key order, so offline run ==
live replay) ``-> AlertEngine -> sinks``. Cards are checked against the stream by
:mod:`edge_runtime.cards`; the per-beat history lives in :mod:`edge_runtime.history`.

Data gaps: lost samples are replaced by the last value (so signal time stays true and no
edge reaches the filters) and reported as a ``data_gap`` technical alert.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.alerts import AlertEngine, AlertUpdate, BeatEvent, BeatLabel, TechnicalEvent
from edge_runtime.cards import LEAD_ALIASES, card_id, check_card, detector_lead_index, lead_index
from edge_runtime.detect import StreamingDetector
from edge_runtime.dsp import RingBuffer
from edge_runtime.errors import EcgEdgeError
from edge_runtime.events import TICK, EventQueue
from edge_runtime.history import BeatHistory, run_summary
from edge_runtime.outputs import OUTPUT_ALARMS, Outputs
from edge_runtime.stages import clock
from edge_runtime.stages.beat import BeatStage, Labelled, UnlabelledBeats
from edge_runtime.stages.clock import set_stage_clock
from edge_runtime.stages.lead_beats import LeadBeatStage
from edge_runtime.stages.quality import LeadQualityStage, QualityConfig
from edge_runtime.stages.vf import VfStage
from edge_runtime.stages.window import WindowStage

__all__ = ["set_stage_clock", "Pipeline", "PipelineConfig", "check_card", "card_id",
           "LEAD_ALIASES", "BeatStage", "WindowStage"]

#: Former private name, kept for callers (bench/pipeline.py).
_lead_index = lead_index


@dataclass
class PipelineConfig:
    tick_s: float = 0.1  # asystole/technical rules are evaluated on this signal-time grid
    status_every_s: float = 2.0
    window_hop_s: float = 2.0
    noise_hf_mv: float = 0.12  # RMS above 40 Hz over 1 s counted as noise
    vf_window_s: float = 4.0   # VF/flutter analysis window on the detector lead ...
    vf_hop_s: float = 1.0      # ... analysed this often (edge_runtime.stages.vf)
    quality: QualityConfig | None = None  # per-lead quality thresholds (None: defaults)
    lead_evidence: bool = True  # run a detector on every other lead (absence-alarm evidence)
    strip_before_s: float = 10.0
    strip_after_s: float = 5.0
    max_gap_fill_s: float = 60.0
    # live runs last days: per-beat history kept for summaries/strips is trimmed to this many
    # beats (about a day); offline runs on an annotated record keep all of it for EC57
    max_history_beats: int = 100_000


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
        self.beat: BeatStage | None = None
        self.window: WindowStage | None = None
        if beat_model is not None:
            idx = check_card(beat_model.card, self.fs, self.leads, "beat model", lead_map)
            self.beat = BeatStage(beat_model, self.fs, idx)
        if window_model is not None:
            idx = check_card(window_model.card, self.fs, self.leads, "window model", lead_map)
            self.window = WindowStage(window_model, self.fs, idx, self.cfg.window_hop_s)
        self._labeller: BeatStage | UnlabelledBeats = self.beat or UnlabelledBeats()
        det = self.det_lead = detector_lead_index(
            self.leads, detector_lead, self.beat.lead_idx[0] if self.beat is not None else 0)
        self.detector = StreamingDetector(self.fs)
        self.raw = RingBuffer(int(self.fs * (self.cfg.strip_before_s + self.cfg.strip_after_s
                                             + 30)), self.n_leads, np.float32)
        qcfg = self.cfg.quality or QualityConfig(noise_hf_mv=self.cfg.noise_hf_mv)
        self.quality = LeadQualityStage(self.fs, self.leads, det, qcfg)
        self.lead_beats = (LeadBeatStage(self.fs, self.n_leads, det)
                           if self.cfg.lead_evidence and self.n_leads > 1 else None)
        self.vf = VfStage(self.fs, self.cfg.vf_window_s, self.cfg.vf_hop_s)
        self._lead_off = np.zeros(self.n_leads, bool)
        self.n = 0  # samples received (incl. gap fill)
        self._chunk = max(1, int(10 * self.fs))
        self.queue = EventQueue(int(round(self.cfg.tick_s * self.fs)))
        self._status_n = max(1, int(round(self.cfg.status_every_s * self.fs)))
        self._next_status = self._status_n
        self._last = np.zeros(self.n_leads)
        self._beat_index = 0
        self._index_of: dict[int, int] = {}  # R sample -> beat index, until labelled
        # results kept for the summary and strips
        self.history = BeatHistory()
        self._onsets: Counter[str] = Counter()
        self.class_counts: Counter[str] = Counter()
        self.gaps = 0
        self.lost_samples = 0
        self.stage_seconds: Counter[str] = Counter()
        self.strips = None
        if strips_dir is not None:
            from edge_runtime.strips import StripWriter

            self.strips = StripWriter(Path(strips_dir), self.fs, self.leads,
                                      self.cfg.strip_before_s, self.cfg.strip_after_s,
                                      png=strip_png)
        self.outputs = Outputs(self.sinks, self.device_id, [self.strips] if self.strips else [])
        self.annotations = annotations
        self._finished = False
        self.on_samples: Callable[[Pipeline, np.ndarray], None] | None = None  # web waveform
        self._emit({
            "event": "session", "action": "start", "source": source, "fs": self.fs,
            "leads": self.leads, "device_id": self.device_id,
            "beat_model": self.beat.card and card_id(self.beat.card, getattr(
                beat_model, "path", None)) if self.beat else None,
            "window_model": self.window.id if self.window else None,
            "wall_time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })

    # ------------------------------------------------------------------ history (read-only)
    @property
    def beat_samples(self) -> list[int]:
        return self.history.beat_samples

    @property
    def beat_labels(self) -> list[str | None]:
        return self.history.beat_labels

    @property
    def label_latency(self) -> list[float]:
        return self.history.label_latency

    @property
    def label_latency_parts(self) -> list[tuple[float, float]]:
        return self.history.label_latency_parts

    @property
    def detect_latency(self) -> list[float]:
        return self.history.detect_latency

    @property
    def updates(self) -> list[AlertUpdate]:
        return self.history.updates

    @property
    def hr_trend(self) -> list[tuple[float, float | None]]:
        return self.history.hr_trend

    # ------------------------------------------------------------------ plumbing
    def _emit(self, record: dict) -> dict:
        return self.outputs.emit(record)  # a failing sink never raises here: see outputs.py

    def check_outputs(self, out: list[dict] | None = None) -> list[dict]:
        """An output failed or came back: the ``storage``/``sink_down`` technical alarms."""
        out = [] if out is None else out
        for u in self.outputs.poll(self.n / self.fs):
            out.append(self._alert(u))
        return out

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
        self.queue.put(start, TechnicalEvent("data_gap", True, start / self.fs, {
            "lost": n_lost, "start_sample": start, "end_s": (start + n_fill) / self.fs}))
        fill = np.repeat(self._last[None, :], n_fill, axis=0)
        for i in range(0, n_fill, self._chunk):
            self._process(fill[i:i + self._chunk], out, fill=True)
        return out

    def technical(self, kind: str, active: bool, detail: dict | None = None) -> list[dict]:
        """A technical condition seen outside the sample stream (disconnect, signal loss)."""
        out: list[dict] = []
        self.queue.put(self.n, TechnicalEvent(kind, active, self.n / self.fs, detail or {}))
        self._release(out)
        self.check_outputs(out)
        return out

    def _set_lead_off(self, mask: np.ndarray, out: list[dict]) -> None:
        if mask.shape != self._lead_off.shape:
            raise EcgEdgeError(f"lead-off mask has {mask.size} entries, stream has "
                               f"{self.n_leads} leads")
        if (mask != self._lead_off).any():
            self._lead_off = mask.copy()
            off = [lead for lead, m in zip(self.leads, mask, strict=True) if m]
            self.queue.put(self.n, TechnicalEvent("lead_off", bool(mask.any()),
                                                  self.n / self.fs, {"leads": off}))

    def _process(self, x: np.ndarray, out: list[dict], fill: bool = False) -> None:
        self._last = x[-1].copy()
        t0 = clock.now()
        self.raw.push(x.astype(np.float32))
        beats = self.detector.push(x[:, self.det_lead])
        if self.lead_beats is not None:
            for key, lb in self.lead_beats.push(x):
                self.queue.put(key, lb)
        t1 = clock.now()
        self.stage_seconds["detector"] += t1 - t0
        decided = self._register(beats, [b.decided_at + 1 for b in beats])
        self._record_labels(self._labeller.push(x, decided))
        t2 = clock.now()
        self.stage_seconds["beats"] += t2 - t1
        if self.window is not None:
            for key, ev in self.window.push(x):
                self.queue.put(key, ev)
                rec = {"event": "window", "start_s": round(ev.start_s, 3), "task": ev.task,
                       "end_s": round(ev.end_s, 3), "model": ev.card_id,
                       "probs": {k: round(v, 4) for k, v in ev.probs.items()}}
                if ev.decided:  # classes a rate/rhythm rule decides (card "rules")
                    rec |= {"decided_by_rule": ev.decided, "rhythm_evidence": ev.evidence}
                self.queue.put(key, rec, prio=2)
        t3 = clock.now()
        self.stage_seconds["window"] += t3 - t2
        if fill:
            self.quality.skip(x.shape[0])
            self.vf.skip(x.shape[0])
        else:
            for key, qev in self.quality.push(x, self._lead_off):
                self.queue.put(key, qev)
            for key, ev in self.vf.push(x[:, self.det_lead]):
                self.queue.put(key, ev)
        if self.on_samples is not None:
            self.on_samples(self, x)
        self.n += x.shape[0]
        if len(self.beat_samples) > self.cfg.max_history_beats and self.annotations is None:
            self.history.trim(self.cfg.max_history_beats)
        if self.strips is not None:
            self.strips.push(self.raw, self.n, self.beat_samples, self.beat_labels, out,
                             self._emit)
        self._release(out)
        self.check_outputs(out)
        self.stage_seconds["alerts+sinks"] += clock.now() - t3

    def _register(self, beats: Sequence[Any], keys: Sequence[int]) -> list[tuple[int, int]]:
        """Number the detector's new beats and queue them at ``keys``; ``(sample, key)``."""
        pending = []
        for b, key in zip(beats, keys, strict=True):
            idx = self._beat_index
            self._beat_index += 1
            self._index_of[b.sample] = idx
            self.history.add_beat(b.sample, (b.decided_at - b.sample) / self.fs)
            self.queue.put(key, BeatEvent(idx, b.sample, b.sample / self.fs))
            pending.append((b.sample, key))
        return pending

    def _record_labels(self, labels: Sequence[Labelled]) -> None:
        """Queue each label for the engine and its beat record for the sinks, at its key."""
        for lab in labels:
            idx = self._index_of.pop(lab.sample)
            self.queue.put(lab.key, BeatLabel(idx, lab.sample / self.fs, lab.label, lab.prob))
            self.history.set_label(idx, lab.label, (lab.key - 1 - lab.sample) / self.fs,
                                   lab.parts)
            self.queue.put(lab.key, {
                "event": "beat", "index": idx, "sample": lab.sample,
                "time_s": round(lab.sample / self.fs, 4), "label": lab.label,
                "prob": None if lab.prob is None else round(lab.prob, 4),
                "decided_s": round((lab.key - 1) / self.fs, 4)}, prio=1)

    def _release(self, out: list[dict]) -> None:
        """Send every queued event with key <= n to the engine (records to the sinks)."""
        engine = self.engine
        for key, ev in self.queue.release(self.n):
            if ev is TICK:
                for u in engine.push_tick(key / self.fs):
                    out.append(self._alert(u))
                if key >= self._next_status:
                    self._status(key, out)
                    self._next_status += self._status_n
            elif isinstance(ev, dict):  # a beat or window record: to the sinks, in key order
                if ev["event"] == "beat":
                    self.class_counts[ev["label"] or "?"] += 1
                out.append(self._emit(ev))
            else:
                for u in engine.push((ev,)):
                    out.append(self._alert(u))

    def _alert(self, u: AlertUpdate) -> dict:
        if (u.action == "onset" and self.strips is not None
                and u.alert.type not in ("data_gap", *OUTPUT_ALARMS)):
            u.alert.strip = self.strips.schedule(u.alert, self.raw)
        self.history.updates.append(u)
        if u.action == "onset":
            self._onsets[u.alert.type] += 1
        return self._emit(u.to_dict())

    def _status(self, key: int, out: list[dict]) -> None:
        hr = self.engine.heart_rate()
        t = key / self.fs
        self.history.hr_trend.append((round(t, 2), None if hr is None else round(hr, 1)))
        rec = {"event": "status", "time_s": round(t, 2), "device_id": self.device_id,
               "hr_bpm": None if hr is None else round(hr, 1),
               "beats": sum(self.class_counts.values()),
               "beats_per_class": dict(sorted(self.class_counts.items())),
               "active_alerts": sorted([*self.engine.active, *self.outputs.active]),
               "gaps": self.gaps,
               "lost_samples": self.lost_samples,
               "lead_off": [lead for lead, m in zip(self.leads, self._lead_off, strict=True)
                            if m]}
        out.append(self._emit(rec))
        if self.on_status is not None:
            self.on_status(rec)

    # ------------------------------------------------------------------ end
    def finish(self) -> list[dict]:
        """End of stream: flush detector and beat stage, close alerts, write the summary."""
        if self._finished:
            return []
        self._finished = True
        out: list[dict] = []
        self._n_latency_live = len(self.label_latency)  # flushed beats have no real latency
        beats = self.detector.flush()
        decided = self._register(beats, [self.n] * len(beats))
        self._record_labels(self._labeller.flush(decided))
        if self.lead_beats is not None:
            for key, lb in self.lead_beats.flush(self.n):
                self.queue.put(key, lb)
        self._release(out)
        for u in self.engine.finish(self.n / self.fs):
            out.append(self._alert(u))
        if self.strips is not None:
            self.strips.finish(self.raw, self.beat_samples, self.beat_labels, out, self._emit)
        for u in self.outputs.finish(self.n / self.fs):
            out.append(self._alert(u))
        out.append(self._emit({"event": "summary", **self.summary()}))
        self._emit({"event": "session", "action": "end", "time_s": round(self.n / self.fs, 3)})
        return out

    def close(self) -> None:
        for s in self.sinks:
            s.close()

    def summary(self) -> dict:
        """Beats per class, HR trend, alerts, gaps, latencies (and EC57 if annotated)."""
        return run_summary(self)
