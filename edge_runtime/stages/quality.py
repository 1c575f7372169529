"""Signal-quality stage: a quality index per lead per window, and the ``noisy_signal`` event.

Why per lead: a false asystole or pause on a bedside monitor is nearly always one bad lead
(a baseline step, an electrode moving, a lead falling off) while another lead still shows
the heart. The alert engine may only call an absence of beats real when no *usable* lead
shows beats, and must hold arrhythmia alarms back while the detection lead is unusable, so
every lead gets a quality index (:class:`LeadQualityIndex`) for every ``window_s`` of signal.

Measured per lead on the raw samples (mV) of each window, causally (state carried across
blocks, so the result does not depend on how the stream was cut):

* ``flat``: peak-to-peak below ``flat_mv``. A flat lead is *usable*: it is what asystole
  looks like (a lead that is off is reported by the device's lead-off flag instead).
* ``noise``: RMS of the content above 40 Hz (EMG, electrode-motion spikes; the ECG itself
  has little there) above ``noise_hf_mv``.
* ``saturation``: the signal stuck at the window's extreme value (identical consecutive
  samples) for ``clip_s`` or longer while the window has a real excursion: a clipped ADC.
  A signal pinned at one value for a whole window is ``flat`` (the rail is not known here;
  a device reports its own saturation in its frame status).
* ``baseline_step``: the baseline (median of ``window_s / 4`` sub-blocks, robust to the QRS)
  moved more than ``step_mv`` between sub-blocks half a second apart.
* ``lead_off``: the device's lead-off flag was set during the window.

A lead with noise, saturation, a baseline step or lead-off is *unusable*. Each window yields
a :class:`~edge_runtime.alerts.QualityEvent` (all leads) keyed at the sample that completed
it; when the detection lead's usability (lead-off aside: that has its own alarm) changes, a
``noisy_signal`` :class:`~edge_runtime.alerts.TechnicalEvent` too. Gap-filled samples are
not measured (:meth:`LeadQualityStage.skip`), but signal time advances. Thresholds were
chosen on MIT-BIH DS1 records (clean and with NSTDB noise) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_runtime.alerts import LeadQualityIndex, QualityEvent, TechnicalEvent
from edge_runtime.dsp import SosFilter, design_highpass

__all__ = ["LeadQualityStage", "QualityConfig"]


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality index (chosen on DS1 only)."""

    window_s: float = 1.0
    noise_hf_mv: float = 0.12  # RMS above 40 Hz
    flat_mv: float = 0.05  # peak-to-peak below this: a flat line
    clip_s: float = 0.06  # stuck at an extreme for this long: saturation
    clip_min_p2p_mv: float = 0.3  # ... in a window with at least this excursion
    step_mv: float = 1.5  # baseline moved this much within 0.5 s: a step


class LeadQualityStage:
    """``push(block, lead_off) -> [(key, event)]`` for ``(n, n_leads)`` raw samples in mV."""

    def __init__(self, fs: float, leads: Sequence[str], detector_lead: int,
                 config: QualityConfig | None = None) -> None:
        self.fs = float(fs)
        self.leads = list(leads)
        self.det = int(detector_lead)
        self.cfg = cfg = config or QualityConfig()
        nl = len(self.leads)
        self._hf = SosFilter(design_highpass(self.fs, min(40.0, 0.4 * self.fs), 2))
        self._per = max(4, int(round(cfg.window_s * self.fs)))
        self._sub = self._per // 4
        self._lag = max(1, int(round(0.5 * self.fs / self._sub)))  # sub-blocks in 0.5 s
        self._clip_n = max(2, int(round(cfg.clip_s * self.fs)))
        self._buf = np.zeros((self._per, nl))
        self._hfbuf = np.zeros((self._per, nl))
        self._count = 0
        self._off = np.zeros(nl, bool)
        self._medians: list[np.ndarray] = []  # recent sub-block medians (for the step)
        self.n = 0  # input samples so far (measured or skipped)
        self.noisy = False  # detection lead unusable (lead-off aside), as last reported
        self.latest: tuple[LeadQualityIndex, ...] = ()

    def skip(self, n: int) -> None:
        """``n`` samples that are not signal (gap fill): time advances, nothing is measured."""
        self.n += int(n)
        self._count = 0
        self._off[:] = False
        self._medians.clear()
        self._hf.reset()

    def push(self, x: np.ndarray, lead_off: np.ndarray | None = None) -> list[tuple[int, object]]:
        """A block ``(n, n_leads)``; ``lead_off`` the device's per-lead flags for it."""
        n0 = self.n
        self.n += x.shape[0]
        if lead_off is not None:
            self._off |= lead_off
        hf = self._hf.push(x)
        out: list[tuple[int, object]] = []
        per = self._per
        i = 0
        while i < x.shape[0]:
            take = min(per - self._count, x.shape[0] - i)
            self._buf[self._count:self._count + take] = x[i:i + take]
            self._hfbuf[self._count:self._count + take] = hf[i:i + take]
            self._count += take
            i += take
            if self._count == per:
                key = n0 + i
                out.extend(self._window(key))
                self._count = 0
                self._off = (lead_off.copy() if lead_off is not None
                             else np.zeros_like(self._off))
        return out

    def _window(self, key: int) -> list[tuple[int, object]]:
        cfg, x = self.cfg, self._buf
        p2p = x.max(axis=0) - x.min(axis=0)
        hf = np.sqrt(np.mean(self._hfbuf ** 2, axis=0))
        sub = self._sub
        self._medians.extend(np.median(x[:4 * sub].reshape(4, sub, -1), axis=1))
        keep = 4 + self._lag
        del self._medians[:-keep]
        med = np.asarray(self._medians)
        step = (np.abs(med[self._lag:] - med[:-self._lag]).max(axis=0)
                if len(med) > self._lag else np.zeros(x.shape[1]))
        clip = _stuck_at_extreme(x, self._clip_n)
        end_s = key / self.fs
        start_s = end_s - self._per / self.fs
        leads = []
        for j, name in enumerate(self.leads):
            flags = []
            if self._off[j]:
                flags.append("lead_off")
            if hf[j] > cfg.noise_hf_mv:
                flags.append("noise")
            if clip[j] >= self._clip_n and p2p[j] >= cfg.clip_min_p2p_mv:
                flags.append("saturation")
            if step[j] > cfg.step_mv:
                flags.append("baseline_step")
            usable = not flags
            if p2p[j] < cfg.flat_mv:
                flags.append("flat")
            leads.append(LeadQualityIndex(name, usable, tuple(flags), float(p2p[j]),
                                          float(hf[j]), float(step[j]), clip[j] / self.fs))
        self.latest = tuple(leads)
        out: list[tuple[int, object]] = [(key, QualityEvent(start_s, end_s, self.det,
                                                            self.latest))]
        d = leads[self.det]
        noisy = any(f in d.flags for f in ("noise", "saturation", "baseline_step"))
        if noisy != self.noisy:
            self.noisy = noisy
            out.append((key, TechnicalEvent("noisy_signal", noisy, end_s, {
                "lead": d.lead, "flags": [f for f in d.flags if f != "flat"],
                "quality": [q.to_dict() for q in leads]})))
        return out


def _stuck_at_extreme(x: np.ndarray, at_least: int) -> np.ndarray:
    """Per lead: the longest run of identical consecutive samples at the window's max or min
    (0 where fewer than ``at_least`` samples sit there at all: the common, cheap case)."""
    out = np.zeros(x.shape[1], np.int64)
    for j in range(x.shape[1]):
        col = x[:, j]
        for ext in (col.max(), col.min()):
            at = col == ext
            if np.count_nonzero(at) < at_least:
                continue
            # longest run of True in `at`
            d = np.diff(np.concatenate(([0], at.view(np.int8), [0])))
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            out[j] = max(out[j], int((ends - starts).max()))
    return out
