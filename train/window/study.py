"""The whole PTB-XL window-model study, one command: ``ecgedge train window --study all``.

Parts (each writes ``docs/results/window_<part>.json`` with the command inside, and prints a
markdown table):

* ``headline``  HYP vs NORM and the six findings, 3 architectures x seeds; the architecture
  with the best mean *validation* AUROC is chosen per task and its best-validation seed is saved
  as ``models/checkpoints/<task>.pt`` (card inside). Test metrics are reported for all.
* ``imbalance`` HYP, SE-CNN: none / class-weighted / focal / weighted sampler / cost-sensitive
  (FN:FP = 5) / random under-sampling of NORM.
* ``finetune``  pre-train on the 5 superclasses, fine-tune the HYP head frozen / partial / full
  vs from scratch.
* ``augment``   augmentation off vs on, plain CNN vs residual CNN (HYP).
* ``leads``     12 leads vs I+II+V1 vs I+II+V5 vs II only, for HYP and the six findings.
* ``report``    test-fold report of the saved checkpoints: ROC/PR, confusion matrices, training
  curves and Grad-CAM saliency strips under docs/figures/.

Runs are cached by config hash under ``runs/window/`` (gitignored): rerunning a part skips what
is done, so an interrupted study resumes. Budget on 2 CPU cores: about 55 s per small-CNN HYP
run, ~3x that for the ResNet and ~1.5x for the six findings; ``all`` with 3 seeds is ~75 runs,
about 1.5-2 h.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from dataclasses import asdict

import numpy as np
import torch

from train.checkpoint import read_checkpoint
from train.window.data import REPO_ROOT, load_conditioned
from train.window.options import ARCHS
from train.window.train import TrainConfig, public, run, save_checkpoint, write_json

RUN_DIR = REPO_ROOT / "runs" / "window"
RESULTS = REPO_ROOT / "docs" / "results"
CKPT_DIR = REPO_ROOT / "models" / "checkpoints"
# defaults fixed a priori (never chosen on test): SE-CNN for the HYP studies; the lead-subset
# study uses the architectures the headline chose on validation (see chosen_arch)
STUDY_ARCH = {"hyp": "window_se_cnn", "findings6": "window_resnet"}
BALANCE_ROWS = ("none", "weighted", "focal", "sampler", "cost", "undersample")


def _key(cfg: TrainConfig) -> str:
    return hashlib.sha1(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:12]


class Runner:
    """Runs configs once each, caching report JSON + checkpoint by config hash."""

    def __init__(self, data_dir: str | None, command: str) -> None:
        self.cond = load_conditioned(data_dir)
        self.command = command

    def __call__(self, cfg: TrainConfig) -> dict:
        key = _key(cfg)
        js, ck = RUN_DIR / f"{key}.json", RUN_DIR / f"{key}.pt"
        if js.is_file() and ck.is_file():
            return json.loads(js.read_text())
        model, rep = run(cfg, self.cond)
        save_checkpoint(model, cfg, rep, ck, self.command)
        out = {**public(rep), "run_key": key}
        write_json(out, js)
        return out


def _m(rep: dict, cls: str, op: str, key: str) -> float:
    return rep["test"][op]["per_class"][cls][key]["value"]


def _ci(rep: dict, cls: str, op: str, key: str) -> list[float]:
    return rep["test"][op]["per_class"][cls][key].get("ci95", [np.nan, np.nan])


def _fmt(vals: list[float]) -> str:
    v = np.asarray(vals, dtype=float)
    if len(v) == 1:
        return f"{v[0]:.3f}"
    return f"{np.nanmean(v):.3f} ± {np.nanstd(v, ddof=1):.3f}"


def hyp_row(label: str, reps: list[dict], op: str = "balanced") -> dict:
    """Mean ± sd over seeds of HYP test metrics at an operating point, + seed-0 95% CIs."""
    keys = ("auroc", "auprc", "f1", "sensitivity", "specificity", "fnr", "fpr", "accuracy")
    row = {"row": label, "seeds": [r["config"]["seed"] for r in reps], "op": op}
    for k in keys:
        vals = [_m(r, "HYP", op, k) for r in reps]
        row[k] = {"mean": float(np.nanmean(vals)),
                  "sd": float(np.nanstd(vals, ddof=1)) if len(vals) > 1 else None,
                  "values": vals, "ci95_seed0": _ci(reps[0], "HYP", op, k), "text": _fmt(vals)}
    row["val_auroc"] = _fmt([r["val"]["macro_auroc"] for r in reps])
    return row


def hyp_table(rows: list[dict]) -> str:
    keys = ("auroc", "auprc", "f1", "sensitivity", "specificity", "fnr", "fpr", "accuracy")
    head = "| run | val AUROC | " + " | ".join(keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 2)]
    for r in rows:
        cells = []
        for k in keys:
            lo, hi = r[k]["ci95_seed0"]
            cells.append(f"{r[k]['text']} [{lo:.2f}, {hi:.2f}]")
        lines.append(f"| {r['row']} | {r['val_auroc']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def findings_table(label_reps: list[tuple[str, list[dict]]], classes: list[str]) -> str:
    head = "| run | val macro AUROC | test macro AUROC | " + " | ".join(
        f"{c} AUROC" for c in classes) + " |"
    lines = [head, "|" + "---|" * (len(classes) + 3)]
    for label, reps in label_reps:
        cells = [_fmt([_m(r, c, "balanced", "auroc") for r in reps]) for c in classes]
        lines.append(
            f"| {label} | {_fmt([r['val']['macro_auroc'] for r in reps])} | "
            f"{_fmt([r['test']['macro_auroc'] for r in reps])} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def findings_detail(rep: dict, classes: list[str]) -> str:
    """Per-class table of one model at the balanced point (with CIs, small classes flagged)."""
    keys = ("auroc", "f1", "precision", "sensitivity", "specificity")
    lines = ["| class | test positives | " + " | ".join(keys) + " | flag |",
             "|" + "---|" * (len(keys) + 3)]
    for c in classes:
        pc = rep["test"]["balanced"]["per_class"][c]
        cells = []
        for k in keys:
            v = pc[k]["value"]
            ci = pc[k].get("ci95")
            cells.append(f"{v:.3f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""))
        flag = "too few positives (<10)" if pc["too_few_positives"] else ""
        lines.append(f"| {c} | {pc['n_pos']} | " + " | ".join(cells) + f" | {flag} |")
    return "\n".join(lines)


def _save(part: str, payload: dict, command: str) -> None:
    payload = {"part": part, "command": command, **payload}
    write_json(payload, RESULTS / f"window_{part}.json")
    if payload.get("rows"):
        from train.window.plots import forest

        forest(payload["rows"], f"HYP vs NORM, test fold 10 ({part}; balanced operating point)",
               REPO_ROOT / "docs" / "figures" / f"window_{part}.png")
    for k, v in payload.items():
        if k.startswith("table"):
            print(f"\n## {part}: {k}\n{v}\n", flush=True)


def _strip(rep: dict) -> dict:
    return {k: v for k, v in rep.items() if k != "test_predictions"}


# --------------------------------------------------------------------------- parts
def part_headline(R: Runner, seeds: list[int], command: str) -> dict:
    out: dict = {"runs": {}, "chosen": {}}
    import shutil

    for task in ("hyp", "findings6"):
        # the plain-CNN baseline gets every seed for HYP, one seed for the (slower) findings
        per_arch = {a: [R(TrainConfig(task=task, arch=a, seed=s))
                        for s in (seeds[:1] if (task, a) == ("findings6", "window_cnn") else seeds)]
                    for a in ARCHS}
        out["runs"][task] = {a: [_strip(r) for r in reps] for a, reps in per_arch.items()}
        best_arch = max(ARCHS, key=lambda a: np.mean([r["val"]["macro_auroc"] for r in
                                                      per_arch[a]]))
        best = max(per_arch[best_arch], key=lambda r: r["val"]["macro_auroc"])
        CKPT_DIR.mkdir(parents=True, exist_ok=True)
        dest = CKPT_DIR / f"{task}.pt"
        shutil.copyfile(RUN_DIR / f"{best['run_key']}.pt", dest)
        # fix the card's command to the study command that chose it
        ck = read_checkpoint(dest)
        ck["card"]["training"]["selection"] = (
            f"arch with best mean validation AUROC over seeds {seeds}; its best-validation seed")
        torch.save(ck, dest)
        out["chosen"][task] = {"arch": best_arch, "seed": best["config"]["seed"],
                               "run_key": best["run_key"], "checkpoint": str(dest.relative_to(
                                   REPO_ROOT)), "test_predictions": best["test_predictions"]}
        if task == "hyp":
            out["table_hyp"] = hyp_table([hyp_row(a, per_arch[a]) for a in ARCHS])
            out["table_hyp_operating_points"] = hyp_table(
                [hyp_row(f"{best_arch} s{best['config']['seed']} @{op}", [best], op)
                 for op in ("at_0.5", "screening", "balanced")])
            out["operating_points_hyp"] = best["operating_points"]
        else:
            classes = best["classes"]
            out["table_findings6"] = findings_table([(a, per_arch[a]) for a in ARCHS], classes)
            out["table_findings6_chosen"] = findings_detail(best, classes)
            out["operating_points_findings6"] = best["operating_points"]
    return out


def part_imbalance(R: Runner, seeds: list[int], command: str) -> dict:
    arch = STUDY_ARCH["hyp"]
    rows, raw = [], {}
    for b in BALANCE_ROWS:
        reps = [R(TrainConfig(task="hyp", arch=arch, balance=b, seed=s)) for s in seeds]
        raw[b] = [_strip(r) for r in reps]
        rows.append((b, reps))
    bal = [hyp_row(b, reps, "balanced") for b, reps in rows]
    return {
        "runs": raw,
        "rows": bal,
        "table_at_0.5": hyp_table([hyp_row(b, reps, "at_0.5") for b, reps in rows]),
        "table_balanced": hyp_table(bal),
    }


def part_finetune(R: Runner, seeds: list[int], command: str) -> dict:
    arch = STUDY_ARCH["hyp"]
    pre = TrainConfig(task="super5", arch=arch, seed=0, evaluate_test=False)
    pre_rep = R(pre)
    init = str(RUN_DIR / f"{pre_rep['run_key']}.pt")
    rows, raw = [], {"pretrain_super5": _strip(pre_rep)}
    scratch = [R(TrainConfig(task="hyp", arch=arch, seed=s)) for s in seeds]
    rows.append(("scratch", scratch))
    for mode in ("frozen", "partial", "full"):
        lr = 1e-3 if mode != "full" else 3e-4
        reps = [R(TrainConfig(task="hyp", arch=arch, seed=s, init=init, finetune=mode, lr=lr))
                for s in seeds]
        rows.append((f"pretrained super5 -> {mode}", reps))
    for label, reps in rows:
        raw[label] = [_strip(r) for r in reps]
    hr = [hyp_row(lb, reps) for lb, reps in rows]
    return {"runs": raw, "rows": hr, "table": hyp_table(hr)}


def part_augment(R: Runner, seeds: list[int], command: str) -> dict:
    rows, raw = [], {}
    for arch in ("window_cnn", "window_resnet"):
        for aug in (False, True):
            reps = [R(TrainConfig(task="hyp", arch=arch, augment=aug, seed=s)) for s in seeds]
            label = f"{arch} augment={'on' if aug else 'off'}"
            rows.append((label, reps))
            raw[label] = [_strip(r) for r in reps]
    hr = [hyp_row(lb, reps) for lb, reps in rows]
    return {"runs": raw, "rows": hr, "table": hyp_table(hr)}


def chosen_arch(task: str) -> str:
    """The architecture the headline chose on validation (else the a-priori default)."""
    path = RESULTS / "window_headline.json"
    if path.is_file():
        chosen = json.loads(path.read_text()).get("chosen", {})
        if task in chosen:
            return chosen[task]["arch"]
    return STUDY_ARCH[task]


def part_leads(R: Runner, seeds: list[int], command: str) -> dict:
    """The headline's chosen HYP and six-finding architectures on fewer leads."""
    raw: dict = {}
    hyp_rows, f_rows = [], []
    arch_h, arch_f = chosen_arch("hyp"), chosen_arch("findings6")
    for lead_set in ("12", "3", "3v5", "II"):
        h = [R(TrainConfig(task="hyp", arch=arch_h, lead_set=lead_set, seed=s)) for s in seeds]
        f = [R(TrainConfig(task="findings6", arch=arch_f, lead_set=lead_set, seed=s))
             for s in seeds]
        label = {"12": "12 leads", "3": "I, II, V1", "3v5": "I, II, V5", "II": "II only"}[lead_set]
        hyp_rows.append(hyp_row(label, h))
        f_rows.append((label, f))
        raw[label] = {"hyp": [_strip(r) for r in h], "findings6": [_strip(r) for r in f]}
    classes = f_rows[0][1][0]["classes"]
    return {"runs": raw, "rows": hyp_rows, "archs": {"hyp": arch_h, "findings6": arch_f},
            "table_hyp": hyp_table(hyp_rows),
            "table_findings6": findings_table(f_rows, classes)}


def part_report(R: Runner, seeds: list[int], command: str) -> dict:
    """Evaluate the saved checkpoints: plots, saliency strips, eval JSON per task."""
    from train.window.evaluate import evaluate_checkpoint

    out = {}
    for task in ("hyp", "findings6"):
        ck = CKPT_DIR / f"{task}.pt"
        if not ck.is_file():
            continue
        rep = evaluate_checkpoint(ck, "test", None, REPO_ROOT / "docs" / "figures",
                                  n_saliency=2 if task == "hyp" else 1)
        rep["checkpoint"] = str(ck.relative_to(REPO_ROOT))
        write_json({**rep, "command": command}, RESULTS / f"window_eval_{task}.json")
        out[task] = {"figures": rep.get("figures"), "macro_auroc": rep["macro_auroc"]}
    return {"evaluated": out}


PART_FUNCS = {
    "headline": part_headline,
    "imbalance": part_imbalance,
    "finetune": part_finetune,
    "augment": part_augment,
    "leads": part_leads,
    "report": part_report,
}


def run_study(parts: list[str], seeds: list[int], data_dir: str | None,
              argv: list[str] | None = None) -> None:
    """Run the named parts in order (``all`` = every part)."""
    command = "ecgedge train window " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    R = Runner(data_dir, command)
    for part in parts:
        payload = PART_FUNCS[part](R, seeds, command)
        _save(part, {**payload, "seeds": seeds}, command)
