"""Scale-out training (issue 18, item 4): ``ecgedge train window`` under torchrun.

The end-to-end test launches ``torchrun --standalone --nproc-per-node 2`` (gloo, CPU) on the
real CLI entry (``edge_runtime.cli.main``) with a tiny synthetic PTB-XL directory (80 WFDB
records in the PTB-XL layout), for one epoch, and checks what a user relies on: exit 0,
exactly one checkpoint and one JSON, the checkpoint loads through the weights-only loader,
the two ranks trained on disjoint shards that together are the training set, and the
metrics are finite. The synthetic data keep it fast and independent of ../shared/data; the
1-vs-2-process *metric* comparison on real PTB-XL is ``bench/ddp_check.py``.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from train.distributed import RANK_SEED_STRIDE, TRACE_ENV, DistContext, current

REPO = Path(__file__).resolve().parent.parent
LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _torchrun_missing() -> str | None:
    """Why the torchrun test cannot run here, or None."""
    import torch.distributed as dist

    if not dist.is_available():
        return "this torch build has no torch.distributed"
    if not dist.is_gloo_available():
        return "torch.distributed has no gloo backend"
    if importlib.util.find_spec("torch.distributed.run") is None:
        return "torch.distributed.run (torchrun) is not importable"
    return None


# --------------------------------------------------------------------------- unit
def test_single_process_context_is_identity() -> None:
    ctx = current()
    assert not ctx.active and ctx.is_main and ctx.world_size == 1
    batch = np.array([5, 3, 9, 1])
    assert ctx.shard(batch) is batch
    assert ctx.rank_seed(7) == 7
    assert ctx.keep_batch(2) and not ctx.keep_batch(1)
    assert ctx.mean_loss(3.0, 2) == 1.5 and ctx.from_main(lambda: (1, 2.5)) == (1.0, 2.5)
    m = torch.nn.BatchNorm1d(3)
    assert ctx.wrap(m) is m


def test_shards_partition_a_global_batch() -> None:
    batch = np.random.default_rng(0).permutation(50)[:17]
    parts = [DistContext(rank=r, world_size=3, backend="gloo").shard(batch) for r in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == sorted(batch.tolist())
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    ctx = DistContext(rank=2, world_size=3, backend="gloo")
    assert ctx.rank_seed(1) == 1 + 2 * RANK_SEED_STRIDE
    assert not ctx.keep_batch(5) and ctx.keep_batch(6)  # every rank needs >= 2 (BatchNorm)
    with pytest.raises(Exception, match="too small for 3 processes"):
        ctx.check_batch(4)


# --------------------------------------------------------------------------- torchrun
def _fake_ptbxl(root: Path, per_fold: int = 8) -> None:
    """A PTB-XL directory (metadata CSVs + 100 Hz WFDB records) with NORM and HYP records."""
    import wfdb

    d = root / "ptb-xl"
    rec_dir = d / "records100" / "00000"
    rec_dir.mkdir(parents=True)
    with open(d / "scp_statements.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["", "description", "diagnostic", "form", "rhythm", "diagnostic_class",
                    "diagnostic_subclass"])
        w.writerow(["NORM", "normal ECG", "1.0", "", "", "NORM", "NORM"])
        w.writerow(["LVH", "left ventricular hypertrophy", "1.0", "", "", "HYP", "LVH"])
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10 * per_fold):
        ecg_id, fold, hyp = i + 1, i // per_fold + 1, i % 2 == 1
        name = f"records100/00000/{ecg_id:05d}_lr"
        x = 0.05 * rng.standard_normal((1000, 12))
        x[::80] += 3.0 if hyp else 1.0  # HYP: larger QRS-like spikes
        wfdb.wrsamp(f"{ecg_id:05d}_lr", fs=100, units=["mV"] * 12, sig_name=list(LEADS),
                    p_signal=x, fmt=["16"] * 12, write_dir=str(rec_dir))
        scp = {"LVH": 100.0} if hyp else {"NORM": 100.0}
        rows.append([ecg_id, 10_000 + ecg_id, 50.0, i % 2, str(scp), fold, name,
                     name.replace("records100", "records500").replace("_lr", "_hr")])
    with open(d / "ptbxl_database.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ecg_id", "patient_id", "age", "sex", "scp_codes", "strat_fold",
                    "filename_lr", "filename_hr"])
        w.writerows(rows)


@pytest.mark.skipif(_torchrun_missing() is not None, reason=str(_torchrun_missing()))
def test_torchrun_two_gloo_processes_train_window(tmp_path: Path) -> None:
    data, out, trace = tmp_path / "data", tmp_path / "out", tmp_path / "trace"
    _fake_ptbxl(data)
    # the CLI entry itself, with the conditioned-waveform cache redirected out of the repo
    entry = tmp_path / "entry.py"
    entry.write_text(textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import train.window.data as window_data
        window_data.CACHE_DIR = Path({str(tmp_path / "cache")!r})
        from edge_runtime.cli import main
        sys.exit(main(sys.argv[1:]))
    """))
    argv = ["train", "window", "--task", "hyp", "--arch", "window_cnn", "--epochs", "1",
            "--batch-size", "16", "--no-augment", "--data-dir", str(data),
            "--out", str(out / "hyp.pt")]
    env = dict(os.environ, OMP_NUM_THREADS="1", **{TRACE_ENV: str(trace)},
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc-per-node", "2", str(entry), *argv],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]

    # rank 0 alone wrote: one checkpoint, one JSON, one summary line
    assert sorted(p.name for p in out.iterdir()) == ["hyp.json", "hyp.pt"]
    assert res.stdout.count("val macro AUROC") == 1
    from train.checkpoint import load_checkpoint, read_checkpoint

    ck = load_checkpoint(out / "hyp.pt", task="hyp")  # weights-only, strict, card checked
    assert not any(k.startswith("module.") for k in read_checkpoint(out / "hyp.pt")["state_dict"])
    with torch.no_grad():
        assert ck.model(torch.zeros(2, 12, 1000)).shape == (2, 1)

    rep = json.loads((out / "hyp.json").read_text())
    assert rep["distributed"] == {"world_size": 2, "backend": "gloo", "device": "cpu",
                                  "global_batch": 16, "per_process_batch": 8}
    # the ranks' shards: disjoint, and together every training record once (1 epoch)
    n_train = rep["data"]["counts"]["train"]["n"]
    seen = {}
    for r in (0, 1):
        t = json.loads((trace / f"rank{r}.json").read_text())
        assert t["rank"] == r and t["world_size"] == 2
        assert all(len(b) == 8 for b in t["batches"])  # 64 records, 4 global batches of 16
        seen[r] = [i for b in t["batches"] for i in b]
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(n_train)) and n_train == 64

    # metrics: finite and in range, evaluated once (rank 0)
    assert len(rep["curves"]["train_loss"]) == 1 and rep["epochs_run"] == 1
    assert all(math.isfinite(v) and v > 0 for v in rep["curves"]["train_loss"])
    for v in (rep["val"]["macro_auroc"], rep["test"]["macro_auroc"]):
        assert math.isfinite(v) and 0.0 <= v <= 1.0
    assert len(rep["test_predictions"]["ecg_id"]) == rep["data"]["counts"]["test"]["n"] == 8
    assert ck.card["training"]["config"]["batch_size"] == 16
