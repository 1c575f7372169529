"""R-peak detectors side by side on MIT-BIH (EC57) and under NSTDB noise.

One run, same records, same harness (edge_runtime.ec57): this project's streaming detector (1 s and
0.1 s blocks, MLII; and both leads fused) against wfdb ``XQRS`` (offline), NeuroKit2
``ecg_peaks`` (default ``neurokit`` method, ``pantompkins1985`` and ``hamilton2002``, each
after the matching ``ecg_clean``) and ``sleepecg.detect_heartbeats``. Reports gross/average
Se, +P, F1 (150 ms window, from 5 min, on the 44 non-paced and on all 48 records), median/IQR
R-peak timing error of the matched beats, speed as seconds of ECG per CPU second (one
process, ``time.process_time`` around the detection call only, best of 3 runs on each of
records 100-102, after a warm-up call; the single-pass figure over all records is kept as
``speed_single_pass``), and the peak Python heap
(tracemalloc) while one 30-min record is processed (memory per stream).

Noise stress test: records 118 and 119 (MLII) with NSTDB em, ma and bw noise added the way
``nst`` does (:mod:`firmware_sim.noise`) at 24, 18, 12, 6, 0 and -6 dB; Se/+P from 5 min.

Writes docs/results/detectors.json, docs/figures/detector_accuracy_speed.png and
docs/figures/detector_noise.png. Peers come from the ``bench`` extra.
Usage: ``ecgedge bench detectors [--quick] [--skip-noise]`` (run it under ``nice``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import wfdb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge_runtime.datadir import resolve_data_dir  # noqa: E402
from edge_runtime.detect import StreamingDetector  # noqa: E402
from edge_runtime.ec57 import gross_average, record_stats  # noqa: E402
from edge_runtime.provenance import host, provenance  # noqa: E402
from firmware_sim.noise import mix_nst_noise  # noqa: E402
from train.data.mitdb import ALL_RECORDS, DS1, DS2, PACED  # noqa: E402
from train.eval_detector import load_eval_record  # noqa: E402

Detector = Callable[[np.ndarray, float], np.ndarray]


def ours(block_s: float, backend: str = "auto") -> Detector:
    def run(x: np.ndarray, fs: float) -> np.ndarray:
        det = StreamingDetector(fs, backend=backend)
        step = max(1, int(round(block_s * fs)))
        beats = []
        for i in range(0, x.shape[0], step):
            beats += det.push(x[i : i + step])
        beats += det.flush()
        return np.array([b.sample for b in beats], dtype=np.int64)

    return run


def xqrs(x: np.ndarray, fs: float) -> np.ndarray:
    from wfdb import processing

    q = processing.XQRS(sig=x, fs=fs)
    q.detect(verbose=False)
    return np.asarray(q.qrs_inds, dtype=np.int64)


def neurokit(method: str) -> Detector:
    def run(x: np.ndarray, fs: float) -> np.ndarray:
        import neurokit2 as nk

        clean_method = method if method in ("pantompkins1985", "hamilton2002") else "neurokit"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = nk.ecg_clean(x, sampling_rate=int(fs), method=clean_method)
            _, info = nk.ecg_peaks(c, sampling_rate=int(fs), method=method)
        return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)

    return run


def sleepecg_det(x: np.ndarray, fs: float) -> np.ndarray:
    import sleepecg

    return np.asarray(sleepecg.detect_heartbeats(x, fs), dtype=np.int64)


def methods(include_slow: bool = True) -> dict[str, tuple[Detector, bool]]:
    """name -> (function, uses both leads)."""
    m: dict[str, tuple[Detector, bool]] = {
        "ecgedge stream 1 s": (ours(1.0), False),
        "ecgedge stream 0.1 s": (ours(0.1), False),
        "ecgedge stream 1 s, numpy backend": (ours(1.0, "numpy"), False),
        "ecgedge stream 1 s, 2 leads": (ours(1.0), True),
        "sleepecg": (sleepecg_det, False),
        "neurokit2 neurokit": (neurokit("neurokit"), False),
        "neurokit2 pantompkins1985": (neurokit("pantompkins1985"), False),
    }
    if include_slow:
        m["neurokit2 hamilton2002"] = (neurokit("hamilton2002"), False)
        m["wfdb xqrs"] = (xqrs, False)
    return m


def peak_memory(fn: Detector, x: np.ndarray, fs: float) -> float:
    """Peak traced Python/numpy heap (MiB) while ``fn`` processes ``x`` (input excluded)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn(x, fs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def best_speed(fn: Detector, recs: list, repeats: int = 3) -> float:
    """Seconds of ECG per CPU second: the fastest of ``repeats`` runs per record, summed.

    The host is shared, so single timings swing with other people's load; the minimum over
    repeats (as ``timeit`` advises) is the detector's own cost.
    """
    cpu = dur = 0.0
    for rec in recs:
        best = float("inf")
        for _ in range(repeats):
            t0 = time.process_time()
            fn(rec.signal, rec.fs)
            best = min(best, time.process_time() - t0)
        cpu += best
        dur += rec.signal.shape[0] / rec.fs
    return dur / cpu if cpu > 0 else float("nan")


def summarise(stats: dict) -> dict:
    every = list(stats.values())
    return {
        "non_paced_44": gross_average([s for s in every if s.record not in PACED]),
        "all_48": gross_average(every),
        "ds1": gross_average([s for s in every if s.record in DS1]),
        "ds2": gross_average([s for s in every if s.record in DS2]),
    }


# same beats as the 1 s run (block invariance, backend twin): timed on 8 records only
SPEED_ONLY = ("ecgedge stream 0.1 s", "ecgedge stream 1 s, numpy backend")


def run_mitdb(db: Path, records: list[str], meths: dict) -> dict:
    recs1 = {r: load_eval_record(r, db, "mlii") for r in records}
    recs2 = {r: load_eval_record(r, db, "all") for r in records}
    out = {}
    first_beats: dict[str, np.ndarray] = {}
    for name, (fn, multi) in meths.items():
        cpu = dur = 0.0
        st150, st50, st150_0 = {}, {}, {}
        warm = recs2[records[0]] if multi else recs1[records[0]]
        fn(warm.signal[: int(20 * warm.fs)], warm.fs)  # imports, JIT/cache load: not timed
        for k, r in enumerate(records):
            rec = recs2[r] if multi else recs1[r]
            if name in SPEED_ONLY and k >= 8:
                break  # speed measured on 8 records; accuracy equals the 1 s run
            t0 = time.process_time()
            det = fn(rec.signal, rec.fs)
            cpu += time.process_time() - t0
            dur += rec.signal.shape[0] / rec.fs
            if name == "ecgedge stream 1 s":
                first_beats[r] = det
            if name in SPEED_ONLY:
                if not np.array_equal(det, first_beats[r]):
                    raise RuntimeError(f"block size changed the beats of record {r}")
                continue
            st150[r] = record_stats(r, rec.ref, det, rec.fs, 0.15, 300.0, rec.exclude)
            st50[r] = record_stats(r, rec.ref, det, rec.fs, 0.05, 300.0, rec.exclude)
            st150_0[r] = record_stats(r, rec.ref, det, rec.fs, 0.15, 0.0, rec.exclude)
        probe = recs2[records[0]] if multi else recs1[records[0]]
        mem = peak_memory(fn, probe.signal, probe.fs)
        pool = recs2 if multi else recs1
        speed = best_speed(fn, [pool[r] for r in records[:3]])
        if name in SPEED_ONLY:
            base = out["ecgedge stream 1 s"]
            out[name] = {**base, "speed_x_realtime": speed, "speed_single_pass": dur / cpu,
                         "cpu_s": cpu, "speed_records": records[:8],
                         "peak_heap_mib_one_record": mem,
                         "note": "beats identical to the 1 s run (checked on speed_records)"}
            print(f"{name:<30} (same beats as 1 s) {speed:9.0f}x  {mem:7.2f} MiB", flush=True)
            continue
        res = {
            "from_300s_150ms": summarise(st150),
            "from_300s_50ms": summarise(st50),
            "from_0s_150ms": summarise(st150_0),
            "per_record_from_300s_150ms": {r: s.as_dict() for r, s in st150.items()},
            "speed_x_realtime": speed,
            "speed_single_pass": dur / cpu if cpu > 0 else float("nan"),
            "speed_method": "best of 3 runs on each of the first 3 records",
            "cpu_s": cpu,
            "peak_heap_mib_one_record": mem,
        }
        g = res["from_300s_150ms"]["non_paced_44"]
        print(f"{name:<30} Se {100 * g['gross_se']:7.3f} +P {100 * g['gross_ppv']:7.3f} "
              f"F1 {100 * g['gross_f1']:7.3f}  {res['speed_x_realtime']:9.0f}x  "
              f"{mem:7.2f} MiB", flush=True)
        out[name] = res
    return out


def run_noise(data: Path, meths: dict, snrs: list[float]) -> dict:
    out: dict = {}
    for rname in ("118", "119"):
        rec = load_eval_record(rname, data / "mitdb", "mlii")
        for noise_name in ("em", "ma", "bw"):
            nrec = wfdb.rdrecord(str(data / "nstdb" / noise_name))
            noise = nrec.p_signal[:, 0]
            for snr in snrs:
                noisy = mix_nst_noise(rec.signal, noise, rec.fs, snr, rec.ref)
                for name, (fn, multi) in meths.items():
                    if multi or name in SPEED_ONLY or name == "neurokit2 hamilton2002":
                        continue
                    det = fn(noisy, rec.fs)
                    st = record_stats(rname, rec.ref, det, rec.fs, 0.15, 300.0, rec.exclude)
                    key = f"{name}|{noise_name}|{snr:g}"
                    d = out.setdefault(key, {"tp": 0, "fn": 0, "fp": 0})
                    d["tp"] += st.tp
                    d["fn"] += st.fn
                    d["fp"] += st.fp
        print(f"noise: record {rname} done", flush=True)
    table: dict = {}
    for key, d in out.items():
        name, noise_name, snr = key.split("|")
        se = d["tp"] / max(d["tp"] + d["fn"], 1)
        ppv = d["tp"] / max(d["tp"] + d["fp"], 1)
        table.setdefault(name, {}).setdefault(noise_name, {})[snr] = {**d, "se": se, "ppv": ppv}
    return table


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def plot(results: dict, noise: dict | None, fig_dir: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots", file=sys.stderr)
        return []
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    # label offsets (points) and alignment for the points that sit close together
    place = {"ecgedge stream 0.1 s": (4, -11, "left"),
             "ecgedge stream 1 s, numpy backend": (-5, 5, "right"),
             "ecgedge stream 1 s, 2 leads": (4, -11, "left")}
    for name, r in results.items():
        g = r["from_300s_150ms"]["non_paced_44"]
        ours_ = name.startswith("ecgedge")
        ax.scatter(r["speed_x_realtime"], 100 * g["gross_f1"], s=70 if ours_ else 40,
                   marker="*" if ours_ else "o")
        dx, dy, ha = place.get(name, (4, 4, "left"))
        ax.annotate(name, (r["speed_x_realtime"], 100 * g["gross_f1"]), fontsize=7,
                    xytext=(dx, dy), textcoords="offset points", ha=ha)
    ax.set_xscale("log")
    ax.set_xlabel("speed (s of ECG per CPU s, log)")
    ax.set_ylabel("gross F1 % (44 non-paced, from 5 min, 150 ms)")
    ax.set_title("R-peak detectors on MIT-BIH: accuracy vs speed")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    p = fig_dir / "detector_accuracy_speed.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(_rel(p))
    if noise:
        fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True, sharey="row")
        for j, nz in enumerate(("em", "ma", "bw")):
            for name, per in noise.items():
                if nz not in per:
                    continue
                snrs = sorted(per[nz], key=float, reverse=True)
                xs = [float(s) for s in snrs]
                style = "-*" if name.startswith("ecgedge") else "--o"
                axes[0, j].plot(xs, [100 * per[nz][s]["se"] for s in snrs], style, label=name,
                                ms=4)
                axes[1, j].plot(xs, [100 * per[nz][s]["ppv"] for s in snrs], style, ms=4)
            axes[0, j].set_title(f"{nz} noise (records 118 + 119)")
            axes[1, j].set_xlabel("SNR (dB)")
            for i in (0, 1):
                axes[i, j].grid(alpha=0.3)
        axes[0, 0].set_ylabel("Se %")
        axes[1, 0].set_ylabel("+P %")
        axes[0, 0].legend(fontsize=7)
        fig.tight_layout()
        p = fig_dir / "detector_noise.png"
        fig.savefig(p, dpi=120)
        plt.close(fig)
        paths.append(_rel(p))
    return paths


def _backend() -> str:
    det = StreamingDetector(360.0)
    det.push(np.zeros(10))
    return det.backend


def main() -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench detectors", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="6 records, no slow peers")
    ap.add_argument("--skip-noise", action="store_true", help="no noise stress test")
    ap.add_argument("--data-dir", help="data dir (default $ECGEDGE_DATA or ../shared/data)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "detectors.json",
                    help="JSON to write (default docs/results/detectors.json)")
    ap.add_argument("--fig-dir", type=Path, default=ROOT / "docs" / "figures",
                    help="folder for the two plots (default docs/figures)")
    ap.add_argument("--replot", action="store_true", help="only redraw the plots from --out")
    args = ap.parse_args()
    if args.replot:
        doc = json.loads(args.out.read_text())
        print("\n".join(plot(doc["mitdb"], doc.get("noise"), args.fig_dir)))
        return 0
    data = resolve_data_dir(args.data_dir)
    records = ["100", "105", "108", "119", "203", "208"] if args.quick else list(ALL_RECORDS)
    meths = methods(include_slow=not args.quick)
    t0 = time.time()
    print(f"{'detector':<30} {'gross Se':>10} {'+P':>10} {'F1':>10} {'speed':>10} {'heap':>10}")
    results = run_mitdb(data / "mitdb", records, meths)
    noise = None
    if not args.skip_noise:
        noise = run_noise(data, meths, [24.0, 18.0, 12.0, 6.0, 0.0, -6.0])
        print("\nnoise stress (118+119, from 5 min): Se / +P %")
        for name, per in noise.items():
            for nz, rows in per.items():
                cells = " ".join(f"{s:>3}dB {100 * v['se']:5.1f}/{100 * v['ppv']:5.1f}"
                                 for s, v in rows.items())
                print(f"  {name:<28} {nz}: {cells}")
    figs = plot(results, noise, args.fig_dir)
    det = StreamingDetector(360.0)
    doc = {
        "command": "python bench/detectors.py " + " ".join(sys.argv[1:]),
        **provenance(),
        "host": host(),
        "records": records,
        "wall_s": time.time() - t0,
        "notes": "EC57 beat-by-beat, reference = MIT-BIH beat labels, VF/flutter episodes of "
                 "record 207 excluded; MLII lead unless '2 leads'; speed = s of ECG per CPU s "
                 "of the detection call (best of 3 per record on 3 records), one process, "
                 "OMP_NUM_THREADS=1; shared 2-core host (single-pass speeds swing +-50% "
                 "with other users' load).",
        "ecgedge_detector": {"max_delay_s": det.max_delay_s, "backend": _backend(),
                             "primary_delay_s": det.primary_delay_s,
                             "config": det.cfg.__dict__},
        "mitdb": results,
        "noise": noise,
        "figures": figs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, default=str))
    print(f"\nwrote {args.out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
