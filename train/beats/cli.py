"""``ecgedge train beats`` and ``ecgedge eval beats``.

``train beats`` trains one configuration for one or more seeds on DS1 (epoch chosen on the
DS1 patient-wise hold-out), evaluates each on DS2 under conditions (a) reference positions
and (b) the project's streaming detector, writes a JSON report, and saves the seed with the
best DS1-validation score as a checkpoint with its model card.

``eval beats`` re-evaluates a saved checkpoint on DS2 (or other records) under (a) and/or (b).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np

from edge_runtime.cli import make_parser
from edge_runtime.datadir import DATA_DIR_HELP
from edge_runtime.errors import EcgEdgeError
from train.beats.options import IMBALANCE, study_parser

REPO = Path(__file__).resolve().parents[2]


def train_main(argv: list[str]) -> int:
    p = make_parser("ecgedge train beats", "Train a beat classifier on MIT-BIH DS1, test on DS2.")
    p.add_argument("--arch", default="beat_cnn_rr",
                   choices=["beat_cnn", "beat_cnn_rr", "beat_cnn_gru"],
                   help="model architecture (default beat_cnn_rr: CNN + RR features)")
    p.add_argument("--use-rr", action="store_true", help="beat_cnn_gru: fuse RR features")
    p.add_argument("--width", type=int, default=16,
                   help="channels of the first conv block (default 16)")
    p.add_argument("--template-beats", type=int, default=0,
                   help="add a beat-minus-patient-template channel (median of N previous beats)")
    p.add_argument("--imbalance", default="class_weights", choices=list(IMBALANCE),
                   help="class-imbalance handling (default class_weights)")
    p.add_argument("--epochs", type=int, default=12, help="training epochs (default 12)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0],
                   help="one model per seed; the report gives mean +- sd (default 0)")
    p.add_argument("--no-detector", action="store_true", help="skip condition (b)")
    p.add_argument("--out", type=Path, default=REPO / "models" / "checkpoints" / "beat.pt",
                   help="checkpoint to write (default models/checkpoints/beat.pt)")
    p.add_argument("--json", type=Path, default=None, help="write the report here")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    a = p.parse_args(argv)
    if a.epochs < 1:
        raise EcgEdgeError("--epochs must be at least 1")

    import torch

    from edge_runtime.beats import BeatConfig
    from edge_runtime.ec57 import headline
    from train.beats.checkpoint import make_card, save_checkpoint
    from train.beats.dataset import DS1_TRAIN, DS1_VAL, load_beats
    from train.beats.evaluate import detected_beats, latency_summary
    from train.beats.runs import run_inter_patient
    from train.beats.study import summarise
    from train.beats.train import TrainConfig
    from train.data.mitdb import DS2

    torch.set_num_threads(1)
    config = BeatConfig(template_beats=max(0, a.template_beats))
    beats = load_beats(config=config, data_dir=a.data_dir)
    det = None if a.no_detector else detected_beats(DS2, config, a.data_dir)
    kw = {"width": a.width}
    if a.use_rr and a.arch == "beat_cnn_gru":
        kw["use_rr"] = True
    cmd = "ecgedge train beats " + " ".join(shlex.quote(x) for x in argv)
    runs, models = [], []
    for seed in a.seeds:
        cfg = TrainConfig(arch=a.arch, arch_kwargs=kw, imbalance=a.imbalance, epochs=a.epochs,
                          seed=seed)
        print(f"seed {seed}: training {a.arch} {kw} ({a.imbalance})", flush=True)
        r, m = run_inter_patient(cfg, beats, det, config, progress=True,
                                 log=lambda s: print(s, flush=True))
        runs.append(r)
        models.append(m)
        for cond in ("ds2_a", "ds2_b"):
            if cond in r:
                h = headline(r[cond]["gross"])
                print(f"  {cond}: VEB Se {h['veb_se']} +P {h['veb_ppv']} | SVEB Se "
                      f"{h['sveb_se']} +P {h['sveb_ppv']} | acc {h['accuracy']}", flush=True)
    best = int(np.argmax([max(e["val_score"] for e in r["history"]) for r in runs]))
    lat = latency_summary(det, config) if det is not None else {}
    metrics = {"ds2_condition_a": headline(runs[best]["ds2_a"]["gross"]),
               "ds1_val": runs[best]["val"]}
    if det is not None:
        metrics["ds2_condition_b"] = headline(runs[best]["ds2_b"]["gross"])
    card = make_card(a.arch, models[best], config, ["MLII"], list(DS1_TRAIN), list(DS1_VAL),
                     cmd, a.seeds[best], metrics, lat)
    in_ch = card["inputs"][0]["shape"][1]
    save_checkpoint(a.out, a.arch, {"in_leads": in_ch, **kw}, models[best], card)
    print(f"checkpoint (seed {a.seeds[best]}, best DS1-val score) -> {a.out}")
    if a.json:
        rep = {"command": cmd, "runs": runs, "checkpoint_seed": a.seeds[best],
               "ds2_a": summarise(runs, "ds2_a")}
        if det is not None:
            rep["ds2_b"] = summarise(runs, "ds2_b")
            rep["latency"] = lat
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rep, indent=1, default=float))
        print(f"report -> {a.json}")
    return 0


def study_main(argv: list[str]) -> int:
    """``ecgedge train beats-study``: parse first (``--help`` needs no torch), then run."""
    study_parser().parse_args(argv)
    from train.beats.study import main

    return main(argv)


def eval_main(argv: list[str]) -> int:
    p = make_parser("ecgedge eval beats",
                    "EC57 beat-class metrics of a beat checkpoint on MIT-BIH (default DS2).")
    p.add_argument("--checkpoint", type=Path,
                   default=REPO / "models" / "checkpoints" / "beat.pt",
                   help="beat checkpoint (default models/checkpoints/beat.pt)")
    p.add_argument("--model", type=Path, default=None,
                   help="score this shipped artifact (ONNX/TFLite, e.g. models/beat.int8.onnx) "
                        "through the runtime's feed instead of the checkpoint")
    p.add_argument("--condition", choices=["a", "b", "both"], default="both",
                   help="a: reference beat positions; b: the project's streaming detector")
    p.add_argument("--records", nargs="+", default=None,
                   help="MIT-BIH or SVDB records, or 'svdb' for all 38 (default DS2)")
    p.add_argument("--per-record", action="store_true", help="print per-record VEB/SVEB")
    p.add_argument("--json", type=Path, default=None, help="write the metrics JSON here")
    p.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    a = p.parse_args(argv)

    import torch

    from edge_runtime.beats import BeatConfig
    from edge_runtime.ec57 import headline
    from train.beats.checkpoint import load_checkpoint
    from train.beats.dataset import load_beats
    from train.beats.evaluate import detected_beats, evaluate_a, evaluate_b
    from train.data.mitdb import DS1, DS2, NON_PACED
    from train.data.svdb import SVDB

    torch.set_num_threads(1)
    if a.model is not None:
        from edge_runtime.inference import load_model
        from train.beats.artifact_eval import artifact_a, artifact_b

        model = load_model(a.model)
        card = model.card
        if card.get("task") != "beat":
            raise EcgEdgeError(f"{a.model} is not a beat model")
        score_a, score_b = artifact_a, artifact_b
    else:
        model, card = load_checkpoint(a.checkpoint)
        score_a, score_b = evaluate_a, evaluate_b
    records = tuple(SVDB if a.records == ["svdb"] else (a.records or DS2))
    bad = [r for r in records if r not in NON_PACED and r not in SVDB]
    if bad:
        raise EcgEdgeError(f"not a non-paced MIT-BIH or an SVDB record: {', '.join(bad)}")
    config = BeatConfig.from_card(card)
    out: dict = {"checkpoint": str(a.model or a.checkpoint), "records": list(records),
                 "command": "ecgedge eval beats " + " ".join(shlex.quote(x) for x in argv)}
    if a.condition in ("a", "both"):
        # one cache for every record the beat studies use
        every = DS1 + DS2 + (SVDB if set(records) & set(SVDB) else ())
        beats = load_beats(every, config=config, data_dir=a.data_dir).records(records)
        out["condition_a"] = score_a(model, beats)
    if a.condition in ("b", "both"):
        out["condition_b"] = score_b(model, detected_beats(records, config, a.data_dir))
    print(f"{'condition':<28}{'VEB Se':>8}{'VEB +P':>8}{'VEB FPR':>8}{'SVEB Se':>8}"
          f"{'SVEB +P':>8}{'acc':>8}{'mF1':>8}")
    for key, name in (("condition_a", "(a) reference positions"),
                      ("condition_b", "(b) streaming detector")):
        if key not in out:
            continue
        h = headline(out[key]["gross"])
        cells = [h[k] for k in ("veb_se", "veb_ppv", "veb_fpr", "sveb_se", "sveb_ppv",
                                "accuracy", "macro_f1")]
        print(f"{name:<28}" + "".join(f"{'-' if v is None else v:>8}" for v in cells))
        if a.per_record:
            for rec, m in out[key]["per_record"].items():
                hr = headline(m)
                print(f"    {rec}: VEB {hr['veb_se']}/{hr['veb_ppv']}  "
                      f"SVEB {hr['sveb_se']}/{hr['sveb_ppv']}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(out, indent=1, default=float))
        print(f"report -> {a.json}")
    return 0
