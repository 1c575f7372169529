"""Beat label latency: standard (post-RR, one beat late) vs low-latency labelling, per record.

Runs the real bedside pipeline (detector -> beat front end -> beat model -> keyed event queue
-> alert engine) on MIT-BIH records twice: with the shipped beat card (its ``features``
include post_rr and post_rr_norm: each beat waits for the next R) and with the same card
less those two features (low latency: each beat is labelled once its window has left the
resampler; docs/beat_latency.md). Latency is signal time from the R-peak sample to the key
at which the label is released (``Pipeline.label_latency``: ``(key - 1 - R) / fs``); beats
labelled only by the end-of-stream flush are left out. Blocks do not matter (keys are
block-independent, a test holds it).

The models are linear ONNX stand-ins built from each card (tests/pipeline_models.py): a
label's key depends on the beat's detection and its window, never on the model's output, and
the script checks that by also running the shipped model in standard mode and requiring the
very same latencies. The accuracy cost of dropping post-RR is measured with the trained
models (docs/beats.md), not here.

    python bench/beat_latency.py [--records 100,208,232] [--data-dir D] [--json PATH]
    ecgedge bench beat_latency ...   (the same)

Prints a table and writes docs/results/beat_latency.json (command, CPU model, git commit).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge_runtime.alerts import AlertEngine  # noqa: E402
from edge_runtime.benchmark.common import display_path, record_dir  # noqa: E402
from edge_runtime.datadir import DATA_DIR_HELP  # noqa: E402
from edge_runtime.inference import default_model_path, load_model  # noqa: E402
from edge_runtime.pipeline import Pipeline  # noqa: E402
from edge_runtime.provenance import host, provenance  # noqa: E402
from edge_runtime.records import read_record  # noqa: E402
from tests.pipeline_models import linear_onnx, without_post_rr  # noqa: E402

OUT_JSON = REPO / "docs" / "results" / "beat_latency.json"
MODES = ("standard", "low_latency")


def run_record(rec, model) -> dict[str, np.ndarray]:
    """One pipeline pass; per live-labelled beat: latency, its two parts, detector delay."""
    p = Pipeline(rec.fs, rec.leads, engine=AlertEngine(), beat_model=model)
    step = int(10 * rec.fs)
    for i in range(0, rec.n_samples, step):
        p.push(rec.signal[i:i + step])
    p.finish()
    n = p._n_latency_live
    parts = np.asarray(p.label_latency_parts[:n]).reshape(-1, 2)
    return {"latency": np.asarray(p.label_latency[:n]), "decision": parts[:, 0],
            "window": parts[:, 1], "detector": np.asarray(p.detect_latency[:n]),
            "post_rr": np.asarray([p.beat.post_rr])}


def summary(r: dict[str, np.ndarray]) -> dict:
    lat = r["latency"]

    def q(x: np.ndarray) -> dict:
        return {"median": round(float(np.median(x)), 4),
                "p95": round(float(np.percentile(x, 95)), 4),
                "max": round(float(np.max(x)), 4)}

    return {"beats": int(lat.size), "label_latency_s": q(lat),
            "r_to_awaited_decision_s": q(r["decision"]), "r_to_window_end_s": q(r["window"]),
            "window_end_binding_fraction": round(float(np.mean(r["window"] >= r["decision"])),
                                                 4)}


def main() -> int:
    ap = argparse.ArgumentParser(prog="ecgedge bench beat_latency", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", default="100,208,232",
                    help="comma-separated MIT-BIH records (default 100,208,232)")
    ap.add_argument("--data-dir", help=DATA_DIR_HELP)
    ap.add_argument("--json", help=f"output JSON (default {OUT_JSON.relative_to(REPO)})")
    args = ap.parse_args()
    t0 = time.time()
    data, names = record_dir(args.data_dir, args.records)
    shipped_path = default_model_path("beat")
    shipped = load_model(shipped_path)
    cards = {"standard": shipped.card, "low_latency": without_post_rr(shipped.card)}
    per: dict[str, dict[str, dict]] = {m: {} for m in MODES}
    pooled: dict[str, list[dict[str, np.ndarray]]] = {m: [] for m in MODES}
    same_as_shipped = True
    with tempfile.TemporaryDirectory() as tmp:
        models = {m: load_model(linear_onnx(Path(tmp) / f"{m}.onnx", cards[m], scale=0.02))
                  for m in MODES}
        for name in names.split(","):
            rec = read_record(data / name)
            for m in MODES:
                r = run_record(rec, models[m])
                assert bool(r["post_rr"][0]) == (m == "standard")
                per[m][name] = summary(r)
                pooled[m].append(r)
            real = run_record(rec, shipped)
            same_as_shipped &= bool(np.array_equal(real["latency"], pooled["standard"][-1][
                "latency"]))
            print(f"  {name}: done", file=sys.stderr, flush=True)
    total = {m: summary({k: np.concatenate([r[k] for r in pooled[m]])
                         for k in ("latency", "decision", "window", "detector")})
             for m in MODES}
    det = np.concatenate([r["detector"] for r in pooled["standard"]])
    out = {
        "what": "per-beat label latency (s of signal from R to the label's release) through "
                "the real pipeline; standard = shipped beat card, low_latency = the same card "
                "without post_rr/post_rr_norm",
        "records": names.split(","),
        "data": display_path(data),
        "shipped_card": display_path(shipped_path),
        "features": {m: cards[m]["features"] for m in MODES},
        "models": "linear ONNX stand-ins built from each card (tests/pipeline_models.py); "
                  "latency does not depend on the model's output",
        "shipped_model_gives_the_same_standard_latencies": same_as_shipped,
        "detector_decision_delay_s": {"median": round(float(np.median(det)), 4),
                                      "p95": round(float(np.percentile(det, 95)), 4),
                                      "max": round(float(det.max()), 4)},
        "total": total,
        "per_record": per,
        "command": " ".join(["python bench/beat_latency.py", *sys.argv[1:]]),
        "host": {**host(), "platform": platform.platform()},
        **provenance(),
        "wall_s": round(time.time() - t0, 1),
    }
    print(f"{'record':>8} {'mode':>12} {'beats':>6} {'median':>7} {'p95':>7} {'max':>7}  "
          "(label latency, s after R)")
    for name in [*names.split(","), "all"]:
        for m in MODES:
            s = total[m] if name == "all" else per[m][name]
            lat = s["label_latency_s"]
            print(f"{name:>8} {m:>12} {s['beats']:>6} {lat['median']:>7.3f} {lat['p95']:>7.3f} "
                  f"{lat['max']:>7.3f}")
    if not same_as_shipped:
        print("WARNING: the shipped model's latencies differ from the stand-in's",
              file=sys.stderr)
    js = Path(args.json) if args.json else OUT_JSON
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {display_path(js.resolve())}")
    return 0 if same_as_shipped else 1


if __name__ == "__main__":
    sys.exit(main())
