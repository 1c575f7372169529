"""``ecgedge train window``: one window-model run, or the whole study (``--study all``)."""

from __future__ import annotations

import shlex

from edge_runtime.cli import make_parser
from edge_runtime.datadir import DATA_DIR_HELP
from edge_runtime.errors import EcgEdgeError


def main(argv: list[str]) -> int:
    """Train one PTB-XL window model (or run study parts); see docs/window_models.md."""
    from train.window.data import LEAD_SETS, SOURCES, TASKS
    from train.window.options import ARCHS, BALANCING, FINETUNE, PARTS

    p = make_parser("ecgedge train window", "Train 12-lead PTB-XL window models.")
    p.add_argument("--study", help=f"comma list of study parts or 'all' ({', '.join(PARTS)})")
    p.add_argument("--seeds", default="0,1,2", help="seeds for study parts (default 0,1,2)")
    p.add_argument("--task", choices=TASKS, default="hyp",
                   help="hyp: HYP vs NORM; hyp_all: HYP vs every other record; findings6: the "
                   "six findings; multi: HYP + six findings + superclass heads (default hyp)")
    p.add_argument("--source", choices=SOURCES, default="records100",
                   help="training waveforms: records100 (PhysioNet 100 Hz files) or device "
                   "(500 Hz files through the runtime's resampler + filter where they exist; "
                   "default records100)")
    p.add_argument("--arch", choices=ARCHS, default="window_se_cnn",
                   help="model architecture (default window_se_cnn)")
    p.add_argument("--leads", choices=list(LEAD_SETS), default="12", help="lead subset")
    p.add_argument("--balance", choices=BALANCING, default="none",
                   help="class-imbalance method (default none)")
    p.add_argument("--cost-fn-fp", type=float, default=5.0, help="FN:FP cost for --balance cost")
    p.add_argument("--no-augment", action="store_true",
                   help="train without waveform augmentation")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (default 40)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=64,
                   help="GLOBAL batch per optimiser step, split across torchrun processes "
                        "(default 64; docs/training_at_scale.md)")
    p.add_argument("--lr", type=float, default=1e-3,
                   help="AdamW learning rate for the global batch (default 0.001)")
    p.add_argument("--init", help="pre-trained checkpoint to fine-tune from")
    p.add_argument("--finetune", choices=FINETUNE, default="full",
                   help="with --init: which layers train (default full)")
    p.add_argument("--out", help="checkpoint path to write (default runs/window/<task>.pt)")
    p.add_argument("--json", help="report path (default: beside the checkpoint)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    args = p.parse_args(argv)
    command = "ecgedge train window " + " ".join(shlex.quote(a) for a in argv)

    if args.study:
        from train.distributed import session
        from train.window.study import run_study

        with session() as ddp:
            if ddp.active:
                raise EcgEdgeError("--study runs its configs one after another in one "
                                   "process: launch it without torchrun")

        parts = list(PARTS) if args.study == "all" else args.study.split(",")
        bad = [x for x in parts if x not in PARTS]
        if bad:
            raise EcgEdgeError(f"unknown study part '{bad[0]}' (choose from {', '.join(PARTS)})")
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise EcgEdgeError(f"--seeds must be comma-separated integers: {args.seeds}") from None
        run_study(parts, seeds, args.data_dir, argv)
        return 0

    from pathlib import Path

    from train.window.data import REPO_ROOT, load_conditioned
    from train.window.train import TrainConfig, public, run, save_checkpoint, write_json

    if args.init and not Path(args.init).is_file():
        raise EcgEdgeError(f"checkpoint not found: {args.init}")
    cfg = TrainConfig(task=args.task, arch=args.arch, lead_set=args.leads, balance=args.balance,
                      cost_fn_fp=args.cost_fn_fp, augment=not args.no_augment,
                      epochs=args.epochs, seed=args.seed, init=args.init,
                      finetune=args.finetune, batch_size=args.batch_size, lr=args.lr,
                      source=args.source)
    out = Path(args.out) if args.out else REPO_ROOT / "runs" / "window" / f"{args.task}.pt"
    from train.distributed import session

    with session() as ddp:  # one process, or one rank of a torchrun job
        ddp.check_batch(cfg.batch_size)
        with ddp.main_first():  # rank 0 writes the waveform cache before the others read it
            cond = load_conditioned(args.data_dir, source=args.source)
        model, rep = run(cfg, cond)
        if not ddp.is_main:
            return 0
        save_checkpoint(model, cfg, rep, out, command)
        js = Path(args.json) if args.json else out.with_suffix(".json")
        extra = {"distributed": ddp.describe(cfg.batch_size)} if ddp.active else {}
        write_json({**public(rep), "command": command, **extra}, js)
    t = rep.get("test", {})
    print(f"{args.task} {args.arch}: val macro AUROC {rep['val']['macro_auroc']:.3f}, "
          f"test macro AUROC {t.get('macro_auroc', float('nan')):.3f}; "
          f"checkpoint {out}; report {js}")
    return 0


def eval_main(argv: list[str]) -> int:
    """``ecgedge eval window``: parse first (``--help`` needs no torch), then evaluate."""
    from train.window.options import eval_parser

    eval_parser().parse_args(argv)
    from train.window.evaluate import main as evaluate

    return evaluate(argv)
