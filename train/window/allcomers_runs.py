"""Training runs of the all-comers study (issue 18), cached by config like the study's runs.

``python -m train.window.allcomers_runs NAME[,NAME...]`` trains the named configs (see
:data:`CONFIGS`) one after another into ``runs/window/<config hash>.{pt,json}`` (gitignored);
a run already there is skipped. Selection between them happens on fold 9 only
(:mod:`train.window.allcomers`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict

from train.window.data import REPO_ROOT, Conditioned, load_conditioned
from train.window.train import TrainConfig, public, run, save_checkpoint, write_json

RUN_DIR = REPO_ROOT / "runs" / "window"

#: the configs compared (fixed a priori: the shipped SE-CNN recipe, only task/source/seed vary)
CONFIGS: dict[str, TrainConfig] = {
    "hyp_all_r100": TrainConfig(task="hyp_all", source="records100"),
    "hyp_all_dev": TrainConfig(task="hyp_all", source="device"),
    "hyp_all_dev_s1": TrainConfig(task="hyp_all", source="device", seed=1),
    "hyp_all_dev_s2": TrainConfig(task="hyp_all", source="device", seed=2),
    "findings6_dev": TrainConfig(task="findings6", source="device"),
    "findings6_dev_s1": TrainConfig(task="findings6", source="device", seed=1),
    "multi_dev": TrainConfig(task="multi", source="device"),
    "multi_dev_s1": TrainConfig(task="multi", source="device", seed=1),
    "multi_dev_s2": TrainConfig(task="multi", source="device", seed=2),
    "hyp_all_dev_w": TrainConfig(task="hyp_all", source="device", balance="weighted"),
}


def config_key(cfg: TrainConfig) -> str:
    """Hash of a config (the run's file name)."""
    return hashlib.sha1(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:12]


def run_named(names: list[str], data_dir: str | None = None) -> dict[str, str]:
    """Train each named config unless cached; returns name -> checkpoint path."""
    conds: dict[str, Conditioned] = {}
    out = {}
    for name in names:
        cfg = CONFIGS[name]
        key = config_key(cfg)
        js, ck = RUN_DIR / f"{key}.json", RUN_DIR / f"{key}.pt"
        out[name] = str(ck)
        if js.is_file() and ck.is_file():
            continue
        if cfg.source not in conds:
            conds[cfg.source] = load_conditioned(data_dir, source=cfg.source)
        model, rep = run(cfg, conds[cfg.source], quiet=True)
        command = f"python -m train.window.allcomers_runs {name}"
        save_checkpoint(model, cfg, rep, ck, command)
        write_json({**public(rep), "run_key": key, "name": name, "command": command}, js)
        print(f"{name}: val macro AUROC {rep['val']['macro_auroc']:.4f} "
              f"({rep['epochs_run']} epochs, {rep['seconds']} s) -> {ck}", flush=True)
    return out


if __name__ == "__main__":
    run_named(sys.argv[1].split(","))
