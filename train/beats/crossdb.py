"""``ecgedge train beats-crossdb``: the cross-database beat study (DS1 + SVDB, CV, DS2 once).

Stages (each writes into ``docs/results/beats_crossdb.json``, keeping the other stages):

* ``cv``: leave-records-out CV (:mod:`train.beats.folds`, 5 folds over DS1 + SVDB, assigned
  before training) of every variant of :data:`train.beats.crossdb_cv.VARIANTS`; the ablation
  table of out-of-fold EC57 SVEB/VEB Se/+P, with argmax decisions and with S/V offsets
  cross-fitted on the other folds (:mod:`train.beats.thresholds`); the choice of the shipped
  variant (best CV score among the DS1 + SVDB variants; DS2 never read).
* ``final``: the chosen variants as fold ensembles with offsets fitted on all their OOF
  predictions, evaluated once on DS2 (a: reference positions, b: streaming detector) and the
  cross-database rows; per-member DS2 spread; per-record DS2 error table.
* ``ship``: the chosen ensemble as ``models/checkpoints/beat.pt`` with its card (then
  ``ecgedge export build models/checkpoints/beat.pt``).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from edge_runtime.datadir import DATA_DIR_HELP
from train.beats.crossdb_cv import CONFIG

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "docs" / "results" / "beats_crossdb.json"


def load_all(data_dir=None):
    """Reference-position beats of DS1 + DS2 + SVDB (one cache)."""
    from train.beats.dataset import load_beats
    from train.data.mitdb import DS1, DS2
    from train.data.svdb import SVDB

    return load_beats(DS1 + DS2 + SVDB, CONFIG, data_dir, progress=False)


def main(argv: list[str]) -> int:
    from edge_runtime.cli import make_parser

    p = make_parser("ecgedge train beats-crossdb", __doc__.split("\n")[0])
    p.add_argument("--stage", default="cv",
                   help="comma list of: cv, final, ship, int8 (score the exported "
                        "models/beat.int8.onnx on DS2 through the runtime feed)")
    p.add_argument("--variants", default=None,
                   help="comma list of variants for the cv stage (default: all)")
    p.add_argument("--epochs", type=int, default=6, help="epochs per fold model (default 6)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cmd = "ecgedge train beats-crossdb " + " ".join(shlex.quote(x) for x in argv)
    stages = a.stage.split(",")
    from edge_runtime.errors import EcgEdgeError

    bad = [s for s in stages if s not in ("cv", "final", "ship", "int8")]
    if bad:
        raise EcgEdgeError(f"unknown stage(s) {', '.join(bad)}")
    from train.beats import crossdb_report as rep
    from train.beats.crossdb_cv import VARIANTS, cv_beats, record_counts, run_variant
    from train.beats.folds import make_folds
    from train.data.mitdb import DS1
    from train.data.svdb import SVDB

    log = lambda s: print(s, flush=True)  # noqa: E731
    beats = load_all(a.data_dir)
    cv = cv_beats(beats, DS1 + SVDB)
    folds = make_folds(record_counts(cv))
    names = a.variants.split(",") if a.variants else list(VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise EcgEdgeError(f"unknown variant(s) {', '.join(unknown)}")
    res = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    t0 = time.time()
    results = {}
    if "cv" in stages:
        for n in names:
            results[n] = run_variant(VARIANTS[n], cv, folds, a.epochs, a.seed, log=log)
        res.update(rep.cv_section(results, cv, folds, a.epochs, cmd, res.get("cv")))
        _save(res)
    if "final" in stages or "ship" in stages:
        chosen = res["cv"]["chosen"]
        need = {chosen["shipped"], chosen["low_latency"], "ds1_only", "base"} - {None}
        for n in need:
            if n not in results:
                results[n] = run_variant(VARIANTS[n], cv, folds, a.epochs, a.seed, log=log)
        if "final" in stages:
            res["final"] = rep.final_section(results, beats, cv, chosen, cmd, a.data_dir, log)
            _save(res)
        if "ship" in stages:
            from train.beats.crossdb_ship import ship

            ship(results[chosen["shipped"]], cv, res, cmd, a.data_dir, log)
    if "int8" in stages:
        res["int8"] = _int8_rows(beats, a.data_dir, cmd)
        _save(res)
    log(f"done in {time.time() - t0:.0f} s")
    return 0


def _int8_rows(beats, data_dir, cmd: str) -> dict:
    """The shipped int8 artifact on DS2 (a) and (b), through the runtime's loader and feed."""
    from edge_runtime.ec57 import headline
    from edge_runtime.inference import load_model
    from train.beats.artifact_eval import artifact_a, artifact_b
    from train.beats.crossdb_report import error_table
    from train.beats.evaluate import detected_beats
    from train.data.mitdb import DS2

    path = REPO / "models" / "beat.int8.onnx"
    model = load_model(path)
    a = artifact_a(model, beats.records(DS2))
    b = artifact_b(model, detected_beats(DS2, CONFIG, data_dir, progress=False))
    return {"shipped int8 ONNX | DS2 | (a) reference": headline(a["gross"]),
            "shipped int8 ONNX | DS2 | (b) detector": headline(b["gross"]),
            "errors_b": error_table(b), "artifact": str(path.relative_to(REPO)),
            "command": cmd}


def _save(res: dict) -> None:
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(res, indent=1, default=float))
    print(f"wrote {RESULT.relative_to(REPO)}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
