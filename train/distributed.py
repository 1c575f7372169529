"""Scale-out training under ``torchrun``: one process group, data-parallel, rank-0 writes.

Why a separate module: the training loops stay single-process code with a handful of hooks,
and everything that only exists because there are several processes lives here. Without
``torchrun`` (no ``WORLD_SIZE`` in the environment, or ``WORLD_SIZE=1``) :func:`setup` returns
a single-process :class:`DistContext` whose every hook is the identity, so a plain
``ecgedge train window`` computes exactly what it computed before this module existed (checked
bit for bit on the CPU build; the one difference is on a machine with CUDA, where a single
process trains on the GPU too).

Semantics under ``torchrun`` (documented for users in docs/training_at_scale.md):

* **Backend and device**: NCCL with one CUDA device per process (``cuda:LOCAL_RANK``) when
  CUDA is available, gloo on CPU otherwise. The module is wrapped in
  :class:`~torch.nn.parallel.DistributedDataParallel`; checkpoints are always written from
  the *unwrapped* module, so their keys carry no ``module.`` prefix and the weights-only
  loader (:mod:`train.checkpoint`) and the exporter read them unchanged.
* **Batch and learning rate**: ``batch_size`` stays the *global* batch. Every rank draws the
  same epoch order from the run's seed and takes an interleaved, disjoint part of each global
  batch (:meth:`DistContext.shard`); DDP averages the gradients, so one optimiser step sees
  the same records and (up to per-process BatchNorm statistics) the same gradient as a
  single process with that batch. The learning rate therefore means the same thing at any
  world size; scaling the batch up for throughput (and the lr with it) is the user's
  explicit choice (``--batch-size``, ``--lr``).
* **Randomness**: the epoch order is shared (it defines the global batches); augmentation
  and dropout draw from per-rank streams seeded ``seed + RANK_SEED_STRIDE * rank``, distinct
  across ranks and reproducible; rank 0 keeps exactly the single-process streams.
* **Evaluation happens once**: BatchNorm buffers are broadcast from rank 0 before every
  validation pass (so all ranks hold identical weights and buffers), rank 0 validates and
  broadcasts the scores, so every rank takes the same early-stopping and lr-schedule
  decisions; after training only rank 0 chooses operating points, touches the test fold
  and writes the checkpoint, JSON and progress bar. Nothing is averaged twice.
* **Files**: :meth:`DistContext.main_first` lets rank 0 build shared caches (the conditioned
  waveform ``.npz``) before the other ranks read them, so no rank reads a half-written file.
* **Teardown**: :func:`session` destroys the process group on normal exit and on error; a
  rank that fails makes ``torchrun`` stop the others.

``ECGEDGE_DDP_TRACE=DIR`` (a test/diagnostic switch) makes every rank write
``DIR/rank<r>.json`` with the training-split positions it was given per step, which is how
the tests show that the ranks' shards are disjoint and cover the training set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge_runtime.errors import EcgEdgeError

#: Offset between ranks' augmentation/dropout seeds (a large prime: no overlap with the
#: small consecutive seeds of a seed study).
RANK_SEED_STRIDE = 1_000_003
#: Environment variable naming a folder for per-rank shard traces (tests, diagnostics).
TRACE_ENV = "ECGEDGE_DDP_TRACE"


@dataclass
class DistContext:
    """Where this process stands in the job, and the hooks a training loop calls.

    ``backend is None`` means a single process without a process group: every hook returns
    its input (or does nothing), so single-process training is unchanged.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _trace: list[list[int]] = field(default_factory=list, repr=False)

    # ----------------------------------------------------------------------- identity
    @property
    def active(self) -> bool:
        """True when a process group is up (more than one process)."""
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that evaluates, prints and writes files."""
        return self.rank == 0

    def describe(self, global_batch: int | None = None) -> dict:
        """What a report records about the job (world size, backend, batch split)."""
        out: dict = {"world_size": self.world_size, "backend": self.backend or "none",
                     "device": str(self.device)}
        if global_batch is not None:
            out["global_batch"] = int(global_batch)
            out["per_process_batch"] = -(-int(global_batch) // self.world_size)
        return out

    # ----------------------------------------------------------------------- model
    def wrap(self, model: nn.Module, find_unused: bool = False) -> nn.Module:
        """``model`` on this rank's device, in DDP when distributed (else ``model`` itself).

        Callers keep their reference to the unwrapped module for evaluation and saving: the
        wrapper only drives the training forward/backward (gradient all-reduce).
        ``find_unused=True`` is for models where some trainable parameters get no gradient
        in a step (e.g. a task head left out of the loss); DDP otherwise waits for them.
        """
        model.to(self.device)
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, output_device=ids and ids[0],
                                       find_unused_parameters=find_unused)

    def sync_buffers(self, model: nn.Module) -> None:
        """Broadcast rank 0's buffers (BatchNorm running statistics) to every rank.

        DDP broadcasts buffers at the *start* of each training forward, so after an epoch
        each rank's running statistics include its own last batch; without this the ranks
        would validate (and keep as "best") slightly different models.
        """
        if not self.active:
            return
        import torch.distributed as dist

        with torch.no_grad():
            for buf in model.buffers():
                dist.broadcast(buf.data, src=0)

    # ----------------------------------------------------------------------- data
    def check_batch(self, global_batch: int) -> None:
        """Refuse a global batch that leaves a rank fewer than 2 records (BatchNorm)."""
        if global_batch < 2 * self.world_size:
            raise EcgEdgeError(f"batch size {global_batch} is too small for {self.world_size} "
                               f"processes: need at least {2 * self.world_size} (2 per process)")

    def keep_batch(self, n: int) -> bool:
        """Whether a global batch of ``n`` records is trained on: every rank needs >= 2
        (BatchNorm), and the decision is the same on every rank (DDP needs equal steps).
        With one process this is the loop's old ``len(batch) >= 2`` rule."""
        return n >= 2 * self.world_size

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This rank's part of a global batch: every ``world_size``-th index from ``rank``.

        Interleaving keeps the parts within one record of each other in size, disjoint, and
        their union is the global batch.
        """
        part = batch[self.rank :: self.world_size] if self.active else batch
        if TRACE_ENV in os.environ:
            self._trace.append([int(i) for i in part])
        return part

    def rank_seed(self, seed: int) -> int:
        """Seed of this rank's own random streams (rank 0: ``seed`` itself)."""
        return int(seed) + RANK_SEED_STRIDE * self.rank

    def seed_rank_streams(self, seed: int) -> None:
        """Give ranks > 0 their own torch stream (dropout); rank 0's stays as it was."""
        if self.rank > 0:
            torch.manual_seed(self.rank_seed(seed))

    def to_device(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The tensors on this rank's device (no copy on CPU)."""
        return tuple(t.to(self.device, non_blocking=True) for t in tensors)

    # ----------------------------------------------------------------------- reductions
    def mean_loss(self, total: float, n_batches: int) -> float:
        """Mean training loss over every rank's batches (sum of sums / sum of counts)."""
        if not self.active:
            return total / max(n_batches, 1)
        import torch.distributed as dist

        t = torch.tensor([total, float(n_batches)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return float(t[0]) / max(float(t[1]), 1.0)

    def from_main(self, fn: Callable[[], Sequence[float]]) -> tuple[float, ...]:
        """Run ``fn`` on rank 0 only and give every rank its floats (one evaluation, one
        decision: early stopping and the lr schedule cannot diverge between ranks)."""
        if not self.active:
            return tuple(float(v) for v in fn())
        import torch.distributed as dist

        box: list = [tuple(float(v) for v in fn())] if self.is_main else [None]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return tuple(box[0])

    def barrier(self) -> None:
        """Wait for every rank (no-op for one process)."""
        if self.active:
            import torch.distributed as dist

            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """Run the block (one that builds or reads a file cache) in three waves: global
        rank 0, then the first rank of every other node, then everyone else.

        Rank 0 builds the cache; on a filesystem shared between nodes the other nodes then
        only read it, and on node-local disks each node's first rank builds its own copy
        before its neighbours read it, so no process reads a half-written file and no two
        processes write the same one. One process: the block just runs.
        """
        wave = 0 if self.is_main else (1 if self.local_rank == 0 else 2)
        for w in range(3):
            if w == wave:
                yield
            self.barrier()

    # ----------------------------------------------------------------------- teardown
    def write_trace(self) -> None:
        """Write this rank's shard trace when ``ECGEDGE_DDP_TRACE`` names a folder."""
        folder = os.environ.get(TRACE_ENV)
        if not folder:
            return
        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        (d / f"rank{self.rank}.json").write_text(json.dumps(
            {"rank": self.rank, "world_size": self.world_size, "batches": self._trace}))

    def close(self) -> None:
        """Destroy the process group (idempotent)."""
        import torch.distributed as dist

        if self.active and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


_CURRENT = DistContext()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise EcgEdgeError(f"${name} must be an integer, not {raw!r}") from None


def setup(timeout_s: float = 1800.0) -> DistContext:
    """The job's context from the ``torchrun`` environment; joins the process group.

    ``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT``; without them (or with ``WORLD_SIZE=1``) this is one process and nothing
    is initialised. NCCL is used when CUDA is available, else gloo.
    """
    global _CURRENT
    world = _env_int("WORLD_SIZE", 1)
    local = _env_int("LOCAL_RANK", 0)
    cuda = torch.cuda.is_available()
    if world <= 1:
        dev = torch.device("cuda", local) if cuda else torch.device("cpu")
        _CURRENT = DistContext(device=dev)
        return _CURRENT
    import torch.distributed as dist

    if not dist.is_available():
        raise EcgEdgeError("this torch build has no torch.distributed: cannot run under torchrun")
    backend = "nccl" if cuda else "gloo"
    if backend == "gloo" and not dist.is_gloo_available():
        raise EcgEdgeError("torch.distributed has no gloo backend: cannot train on CPU under "
                           "torchrun")
    if cuda:
        if local >= torch.cuda.device_count():
            raise EcgEdgeError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} "
                               f"CUDA devices: set --nproc-per-node to the GPU count")
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if not dist.is_initialized():
        kw = {"device_id": dev} if cuda else {}
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s), **kw)
    _CURRENT = DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(),
                           local_rank=local, backend=backend, device=dev)
    return _CURRENT


def current() -> DistContext:
    """The context :func:`setup` made (a single-process one if it was never called)."""
    return _CURRENT


@contextmanager
def session() -> Iterator[DistContext]:
    """``setup()`` for the block; writes the shard trace and leaves the group on exit,
    error included (the context reverts to single-process afterwards)."""
    global _CURRENT
    ctx = setup()
    try:
        yield ctx
        ctx.write_trace()
    finally:
        ctx.close()
        _CURRENT = DistContext()


__all__ = ["DistContext", "RANK_SEED_STRIDE", "TRACE_ENV", "current", "session", "setup"]
