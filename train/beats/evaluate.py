"""DS2 evaluation of a beat classifier under the two EC57 conditions.

(a) beats at the reference annotation positions (what most papers report);
(b) beats found by the project's own streaming detector (``edge_runtime.detect``) on MLII,
    windows and RR features computed from the *detected* positions, each detection matched
    one-to-one to a reference beat within 150 ms (``edge_runtime.ec57.class_pairs``); a missed
    reference beat counts as an error in its class (column O), an extra detection as a false
    positive for the class it is called (row O). This is what a device achieves, and the
    honest headline.

Latency: a beat is classified once the next R-peak is detected (post-RR feature) and the
window end (0.45 s after R) has passed the filter/resampler, plus the detector's own decision
delay; :func:`latency_summary` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.beats import BeatConfig
from edge_runtime.detect import detect_record
from edge_runtime.ec57 import class_pairs, ec57_report
from train.beats.dataset import (
    BEAT_SOURCES,
    CACHE_DIR,
    CLASS_INDEX,
    BeatSet,
    concat,
    config_key,
    record_beats,
)
from train.beats.train import predict
from train.data.beat_records import load_beat_record, primary_channel, record_fs

#: Code the detection cache derives from: the beat front end plus the whole detector package
#: (streaming logic *and* the compiled-loop kernel) and this module's detection loop.
DETECT_SOURCES: tuple[str, ...] = (*BEAT_SOURCES, "edge_runtime.detect", "train.beats.evaluate")


@dataclass
class DetectedSet:
    """Beats at detected positions plus the reference of the same records."""

    beats: BeatSet  # y == -1
    decided_at: np.ndarray  # detector decision sample per detected beat
    ref_record: np.ndarray
    ref_sample: np.ndarray
    ref_y: np.ndarray


def detected_beats(
    records, config: BeatConfig | None = None, data_dir=None, progress: bool = True
) -> DetectedSet:
    """Run the streaming detector on each record's MLII and extract beats there (cached)."""
    config = config or BeatConfig()
    records = tuple(records)
    key = config_key(config, 1, "det:" + ",".join(records), sources=DETECT_SOURCES)
    path = CACHE_DIR / f"det_{key}.npz"
    if path.is_file():
        z = np.load(path)
        bs = BeatSet(z["x"], z["rr"], z["y"], z["record"], z["sample"])
        return DetectedSet(bs, z["decided_at"], z["ref_record"], z["ref_sample"], z["ref_y"])
    it = records
    if progress:
        from tqdm import tqdm

        it = tqdm(records, desc="detect + extract", unit="rec")
    sets, dec, rr_, rs_, ry_ = [], [], [], [], []
    for name in it:
        rec = load_beat_record(name, data_dir)
        ch = primary_channel(rec)
        found = detect_record(rec.signal[:, ch], rec.fs)
        peaks = np.array(sorted({b.sample for b in found}), dtype=np.int64)
        decided = {b.sample: b.decided_at for b in found}
        sets.append(record_beats(name, config, data_dir, peaks=peaks))
        dec.append(np.array([decided[p] for p in peaks], dtype=np.int64))
        rr_.append(np.full(len(rec.ann_sample), name, dtype="<U4"))
        rs_.append(rec.ann_sample.astype(np.int64))
        ry_.append(np.array([CLASS_INDEX.get(a, -1) for a in rec.aami], dtype=np.int64))
    ds = DetectedSet(concat(sets), np.concatenate(dec), np.concatenate(rr_),
                     np.concatenate(rs_), np.concatenate(ry_))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    b = ds.beats
    np.savez(path, x=b.x, rr=b.rr, y=b.y, record=b.record, sample=b.sample,
             decided_at=ds.decided_at, ref_record=ds.ref_record, ref_sample=ds.ref_sample,
             ref_y=ds.ref_y)
    return ds


def pairs_condition_b(
    det: DetectedSet, pred: np.ndarray, fs: float | None = None, window_s: float = 0.15
):
    """(ref class, alg class, record) triples: matched, missed (alg O), extra (ref O).

    ``fs`` None: each record's native rate (MIT-BIH 360 Hz, SVDB 128 Hz)."""
    refs, algs, recs = [], [], []
    for name in sorted(set(det.ref_record.tolist())):
        rmask = (det.ref_record == name) & (det.ref_y >= 0)
        tmask = det.beats.record == name
        ref, alg = class_pairs(det.ref_sample[rmask], det.ref_y[rmask], det.beats.sample[tmask],
                               pred[tmask], fs or record_fs(name), window_s)
        refs.append(ref)
        algs.append(alg)
        recs.append(np.full(ref.size, name))
    return np.concatenate(refs), np.concatenate(algs), np.concatenate(recs)


def evaluate_a(model, ds2: BeatSet) -> dict:
    labelled = ds2.labelled()
    pred = predict(model, labelled.x, labelled.rr).argmax(axis=1)
    return ec57_report(labelled.y, pred, labelled.record)


def evaluate_b(model, det: DetectedSet) -> dict:
    pred = predict(model, det.beats.x, det.beats.rr).argmax(axis=1)
    ref, alg, rec = pairs_condition_b(det, pred)
    return ec57_report(ref, alg, rec)


def latency_summary(det: DetectedSet, config: BeatConfig, fs: float | None = None,
                    post_rr: bool = True) -> dict:
    """Seconds from an R-peak to its class being available, over the detected beats.

    ``post_rr`` False (a card without post-RR features): a beat is labelled as soon as its
    own window has arrived; otherwise also not before the next beat is decided."""
    out = {}
    for name in sorted(set(det.beats.record.tolist())):
        rfs = fs or record_fs(name)
        m = det.beats.record == name
        s, d = det.beats.sample[m], det.decided_at[m]
        # beat i is classified when beat i+1 is decided and its own window has arrived
        ready_next = np.concatenate([d[1:], d[-1:]]) if post_rr else d
        window_end = s + int(np.ceil(config.after_s * rfs))
        out[name] = (np.maximum(ready_next, window_end) - s) / rfs
    lat = np.concatenate(list(out.values())) if out else np.zeros(0)
    rec_fs = (np.full(len(det.beats), fs) if fs else
              np.array([record_fs(r) for r in det.beats.record.tolist()]))
    det_delay = (det.decided_at - det.beats.sample) / rec_fs
    return {
        "post_rr_beats": 1 if post_rr else 0,
        "detector_delay_s_median": float(np.median(det_delay)) if det_delay.size else None,
        "beat_latency_s_median": float(np.median(lat)) if lat.size else None,
        "beat_latency_s_p95": float(np.percentile(lat, 95)) if lat.size else None,
        "beat_latency_s_max": float(np.max(lat)) if lat.size else None,
    }
