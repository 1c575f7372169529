"""Event strips: the signal around each alert, saved as a WFDB record + beat annotations.

For every alert the pipeline schedules a strip from ``before_s`` before the alert's start to
``after_s`` after it; the strip is written once the ``after`` part has arrived (or at the end
of the stream). Output per alert, in ``strips_dir``: ``<alert id>.hea/.dat`` (WFDB format 16,
physical units as streamed), ``<alert id>.beats`` (``wfdb.wrann``: the detected beats with
their AAMI class symbol, sample numbers relative to the strip) and optionally
``<alert id>.png`` (matplotlib, the ``plot`` extra) with the beats and labels drawn. WFDB
was chosen because any PhysioNet tool (``rdsamp``, WAVE, ``wfdb.plot_wfdb``) can open it.

The directory is checked when the writer is made (:func:`check_strips_dir`: a file, or a
directory we may not write to, is a one-line error before the run starts). A strip that
cannot be written during the run (disk full, I/O error) never stops monitoring: its partial
files are removed, its ``strip`` record carries the ``error``, and ``health()`` reports the
writer down (a ``storage`` technical alarm) until a strip is written again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.alerts import Alert
from edge_runtime.dsp import RingBuffer
from edge_runtime.errors import EcgEdgeError
from edge_runtime.sinks import OK, SinkHealth

__all__ = ["StripWriter", "write_strip", "check_strips_dir"]

log = logging.getLogger("ecgedge.sinks")


def check_strips_dir(path: str | Path) -> Path:
    """``path`` as a directory we can create files in (made if missing), or a one-line error.

    Only creating a file is tried (an empty one, removed at once): a disk that is full at
    start-up is not refused here; it becomes a ``storage`` alarm when a strip is due.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise EcgEdgeError(f"--strips {p} is not a directory")
    probe = p / f".ecgedge-probe-{os.getpid()}"
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise EcgEdgeError(f"cannot write event strips to {p}: {exc.strerror or exc}") from None
    return p


@dataclass
class _Pending:
    alert: Alert
    start: int  # absolute sample of the strip's first sample (wanted)
    stop: int  # absolute sample after the last


def write_strip(
    path: Path,
    signal: np.ndarray,
    fs: float,
    leads: Sequence[str],
    beat_samples: np.ndarray,
    beat_labels: Sequence[str | None],
    title: str = "",
    png: bool = False,
) -> Path:
    """Write ``path``.hea/.dat/.beats (+ .png); beats are relative to the strip start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sig = np.asarray(signal, dtype=np.float64)
    if sig.shape[0] < 2:  # WFDB needs samples; a strip of nothing is padded with one sample
        sig = np.zeros((2, len(leads)))
    import wfdb  # lazy: wfdb pulls in pandas (~50 MB RSS); only a strip being written needs it

    wfdb.wrsamp(path.name, fs=fs, units=["mV"] * len(leads), sig_name=list(leads),
                p_signal=sig, fmt=["16"] * len(leads), adc_gain=[200.0] * len(leads),
                baseline=[0] * len(leads), write_dir=str(path.parent),
                comments=[title] if title else None)
    samples = np.asarray(beat_samples, dtype=np.int64)
    if samples.size:
        symbols = [lab if lab in ("N", "S", "V", "F", "Q") else "N" for lab in beat_labels]
        wfdb.wrann(path.name, "beats", samples, symbol=symbols, write_dir=str(path.parent),
                   fs=fs)
    if png:
        _plot(path.with_suffix(".png"), sig, fs, leads, samples, beat_labels, title)
    return path


def _plot(out: Path, sig, fs, leads, samples, labels, title) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        return  # the WFDB strip is always written; the picture needs the `plot` extra
    t = np.arange(sig.shape[0]) / fs
    fig, axes = plt.subplots(len(leads), 1, figsize=(12, 1.8 * len(leads) + 0.6), sharex=True,
                             squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, sig[:, i], lw=0.7, color="k")
        ax.set_ylabel(f"{leads[i]} (mV)")
        ax.grid(alpha=0.3)
        for s, lab in zip(samples, labels, strict=True):
            if 0 <= s < sig.shape[0]:
                color = {"V": "r", "S": "b", "F": "m", "Q": "g"}.get(lab or "N", "0.4")
                ax.axvline(s / fs, color=color, lw=0.5, alpha=0.6)
                if i == 0:
                    ax.text(s / fs, ax.get_ylim()[1], lab or "?", color=color, ha="center",
                            va="bottom", fontsize=8)
    axes[-1, 0].set_xlabel("seconds from strip start")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


class StripWriter:
    """Schedules and writes strips for alerts raised by the pipeline."""

    name = "strips"
    alarm_kind = "storage"

    def __init__(self, out_dir: Path, fs: float, leads: Sequence[str], before_s: float = 10.0,
                 after_s: float = 5.0, png: bool = False) -> None:
        self.out_dir = check_strips_dir(out_dir)
        self.fs = fs
        self.leads = list(leads)
        self.before = int(round(before_s * fs))
        self.after = int(round(after_s * fs))
        self.png = png
        self._pending: list[_Pending] = []
        self.written: list[Path] = []
        self.failed = 0
        self._error: str | None = None

    def health(self) -> SinkHealth:
        return OK if self._error is None else SinkHealth(False, self._error)

    def schedule(self, alert: Alert, raw: RingBuffer) -> str:
        """Plan the strip of a new alert; returns its path (without extension)."""
        center = int(round(min(alert.start_s, alert.raised_s) * self.fs))
        start = max(center - self.before, raw.start, 0)
        self._pending.append(_Pending(alert, start, center + self.after))
        return str(self.out_dir / alert.id)

    def _write(self, p: _Pending, raw: RingBuffer, beats: Sequence[int],
               labels: Sequence[str | None]) -> dict:
        """Write one strip; the ``strip`` record (with ``error`` if it could not be)."""
        try:
            path = self._write_files(p, raw, beats, labels)
        except Exception as exc:  # noqa: BLE001 - a strip must never stop monitoring
            self.failed += 1
            reason = f"{self.out_dir}: {getattr(exc, 'strerror', None) or exc}"
            if self._error is None:
                log.warning("event strip %s not written: %s", p.alert.id, reason)
            self._error = reason
            for f in self.out_dir.glob(f"{p.alert.id}.*"):  # no half-written strip left
                try:
                    f.unlink()
                except OSError:
                    pass
            return {"event": "strip", "alert_id": p.alert.id, "path": None, "error": reason}
        self._error = None
        return {"event": "strip", "alert_id": p.alert.id, "path": str(path)}

    def _write_files(self, p: _Pending, raw: RingBuffer, beats: Sequence[int],
                     labels: Sequence[str | None]) -> Path:
        start = max(p.start, raw.start)
        stop = min(p.stop, raw.total)
        sig = raw.get(start, stop) if stop > start else np.zeros((0, len(self.leads)))
        b = np.asarray(beats, dtype=np.int64)
        sel = (b >= start) & (b < stop)
        idx = np.flatnonzero(sel)
        a = p.alert
        title = f"{a.id} {a.type} ({a.severity}) start {a.start_s:.1f} s"
        path = write_strip(self.out_dir / a.id, sig, self.fs, self.leads, b[sel] - start,
                           [labels[i] for i in idx], title, self.png)
        self.written.append(path)
        return path

    def push(self, raw: RingBuffer, n: int, beats: Sequence[int],
             labels: Sequence[str | None], out: list, emit: Callable[[dict], dict]) -> None:
        """Write every strip whose end has arrived."""
        if not self._pending:
            return
        keep = []
        for p in self._pending:
            if p.stop <= n:
                out.append(emit(self._write(p, raw, beats, labels)))
            else:
                keep.append(p)
        self._pending = keep

    def finish(self, raw: RingBuffer, beats: Sequence[int], labels: Sequence[str | None],
               out: list, emit: Callable[[dict], dict]) -> None:
        """End of stream: write the remaining strips with what arrived."""
        for p in self._pending:
            out.append(emit(self._write(p, raw, beats, labels)))
        self._pending = []
