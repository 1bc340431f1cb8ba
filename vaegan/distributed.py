"""Data-parallel training across the processes torchrun starts: the process group, sharding, reductions, resume.

    torchrun --nproc-per-node 4 cli.py train wgan ...          # one machine, 4 GPUs (or 4 CPU processes)

Without torchrun every function here is a no-op that returns its input unchanged, so a plain `python cli.py train
...` computes exactly the numbers it always did.

The rule that keeps a DDP run equal to one process on the same global batch: every rank holds the same RNG state
(same seed, same draws), draws the noise of the *whole* global batch (`draw_shard`) and keeps its own rows, and
takes its rows of every global batch of data (`shard`). Gradients are averaged over ranks by
DistributedDataParallel, so a loss that is a mean over a shard of 1/W of the batch gives the mean over the batch;
`weight_shard` corrects the uneven last batch of an epoch. Because the RNG state is the same everywhere, rank 0's
state file resumes every rank.

Only rank 0 prints, writes samples and state files (`is_main`). A resumed group loads the newest state any rank
can see (`load_newest_state`), so several machines without a shared filesystem resume from rank 0's file too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from vaegan.checkpoint import load_state, save_result
from vaegan.errors import ConfigError
from vaegan.storage import atomic_write_bytes

# What torchrun puts in every worker's environment (torch.distributed.elastic's LocalElasticAgent).
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


# ----------------------------------------------------------------------------------- the process group


def launched() -> bool:
    """Whether this process was started by torchrun (or anything that sets the same environment)."""
    return all(name in os.environ for name in TORCHRUN_ENV)


def init(device: torch.device) -> torch.device:
    """Join the process group torchrun describes and return the device this rank trains on.

    CUDA: NCCL, one GPU per process (cuda:LOCAL_RANK). CPU: gloo. Without torchrun: `device`, nothing else.
    """
    if not launched():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise ConfigError(f"torchrun trains on CUDA GPUs (NCCL) or CPUs (gloo), not {device.type}; "
                          "pass --device cuda or --device cpu")  # fmt: skip
    if not active():
        # env:// reads MASTER_ADDR/PORT, RANK and WORLD_SIZE; device_id binds NCCL to this rank's GPU at once.
        dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
    return device


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, or the only process: the one that prints and writes files."""
    return rank() == 0


def launched_rank() -> int:
    """This process's rank from torchrun's environment (usable before `init` and after `teardown`)."""
    return int(os.environ.get("RANK", "0")) if launched() else 0


def restarted() -> bool:
    """Whether torchrun restarted this worker group after a failure (its --max-restarts)."""
    return launched() and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0


def barrier() -> None:
    if active():
        dist.barrier()


def teardown() -> None:
    """Leave the process group (a no-op when there is none)."""
    if active():
        dist.destroy_process_group()


def describe() -> dict[str, Any]:
    """What a model file records about how it was trained: the world size and backend (empty without torchrun)."""
    if not active():
        return {}
    return {"world_size": world_size(), "backend": dist.get_backend()}


def export_on_main(result: Any, out: str | os.PathLike[str], **extra: Any) -> None:
    """Write a training result's model file from rank 0 only (the only process without torchrun), recording the
    world size and backend when torchrun trained it: every rank holds the same weights, one file is enough."""
    if is_main():
        save_result(result, out, **extra, **describe())


def _comm_device() -> torch.device:
    # NCCL reduces CUDA tensors only; gloo reduces CPU tensors.
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


# ---------------------------------------------------------------------------------------- sharding


def local_batch(batch_size: int) -> int:
    """This rank's share of a global batch of `batch_size` rows; the global batch must split evenly."""
    world = world_size()
    if batch_size % world:
        raise ConfigError(f"--batch-size {batch_size} does not split over {world} processes; "
                          f"use a multiple of {world}")  # fmt: skip
    return batch_size // world


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's rows of a global batch (near-equal consecutive pieces; all of it in one process)."""
    if world_size() == 1:
        return batch
    return torch.tensor_split(batch, world_size())[rank()]


def draw_shard(sampler: Callable[..., torch.Tensor], rows: int, *shape: int, **kwargs: Any) -> torch.Tensor:
    """`sampler(rows, *shape, **kwargs)` in one process; under DDP this rank's `rows` rows of one draw for the
    whole global batch (rows x world). Every rank draws the same numbers, so the ranks' RNGs stay equal and the
    noise equals the noise one process would draw for the global batch."""
    world = world_size()
    if world == 1:
        return sampler(rows, *shape, **kwargs)
    return sampler(rows * world, *shape, **kwargs)[rank() * rows : (rank() + 1) * rows]


def draw_shard_of(sampler: Callable[..., torch.Tensor], batch_rows: int, *shape: int, **kwargs: Any) -> torch.Tensor:
    """This rank's rows (as `shard` cuts them) of `sampler(batch_rows, *shape)`: noise for an uneven last batch."""
    return shard(sampler(batch_rows, *shape, **kwargs))


def weight_shard(loss: torch.Tensor, shard_rows: int, batch_rows: int) -> torch.Tensor:
    """A mean over this rank's shard, weighted so that DDP's average over ranks is the mean over the global batch.

    DDP divides the summed gradients by the world size W, which is right when every shard has batch/W rows; the
    last batch of an epoch may not split evenly, and its shards then count by their size.
    """
    world = world_size()
    if world == 1 or shard_rows * world == batch_rows:
        return loss
    return loss * (shard_rows * world / batch_rows)


# -------------------------------------------------------------------------------------- reductions


def mean_over_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """The mean of each value over the ranks (one all-reduce): what the global batch gave, when every rank
    reports the mean over an equal shard. Every rank gets the same numbers, so every rank makes the same decision
    on them (a NaN stops all ranks, not one)."""
    if world_size() == 1:
        return dict(values)
    names = list(values)
    packed = torch.tensor([float(values[n]) for n in names], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(packed)
    return {name: value / world_size() for name, value in zip(names, packed.tolist(), strict=True)}


def sum_over_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """The sum of each value over the ranks (one all-reduce), e.g. counts of correct predictions."""
    if world_size() == 1:
        return dict(values)
    names = list(values)
    packed = torch.tensor([float(values[n]) for n in names], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(packed)
    return dict(zip(names, packed.tolist(), strict=True))


def from_main(value: int) -> int:
    """Rank 0's value on every rank: for decisions that timing could make differently per rank (a time budget's
    iteration count); every rank must stop at the same step or the others wait for it forever."""
    if world_size() == 1:
        return value
    packed = torch.tensor([value], dtype=torch.int64, device=_comm_device())
    dist.broadcast(packed, src=0)
    return int(packed.item())


# ------------------------------------------------------------------------------------------ models


def wrap(module: nn.Module, *, sync_bn: bool = False) -> nn.Module:
    """`module` inside DistributedDataParallel under torchrun (the module itself in one process).

    sync_bn: BatchNorm layers become SyncBatchNorm, whose statistics are those of the global batch. torch runs
    SyncBatchNorm on GPUs only (CUDA/NCCL here); on CPUs (gloo) it is refused with a ConfigError. The layers are
    converted in place, so `module`'s own forward syncs too; parameters and buffers stay the same tensors.
    """
    if not active():
        return module
    device = next(module.parameters()).device
    if sync_bn:
        if device.type != "cuda":
            raise ConfigError("--sync-bn needs CUDA GPUs (NCCL): torch's SyncBatchNorm does not run on CPUs (gloo); "
                              "drop --sync-bn for per-process batch statistics")  # fmt: skip
        nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return nn.parallel.DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def unwrap(module: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (the module itself otherwise)."""
    return module.module if isinstance(module, nn.parallel.DistributedDataParallel) else module


# -------------------------------------------------------------------------------------------- resume


def resume_wanted(resume: bool, state_path: str | Path) -> bool:
    """Whether this run resumes from `state_path`: when asked (--resume), or always after torchrun restarted the
    group (the state is then the one this run wrote before a worker died).

    A fresh run under torchrun removes an older run's state first, on every machine: otherwise a failure before
    this run's first checkpoint would restart the group from that older run.
    """
    if resume or restarted():
        return True
    if launched():
        Path(state_path).unlink(missing_ok=True)
        barrier()
    return False


def load_newest_state(state_path: str | Path, step_key: str) -> dict[str, Any] | None:
    """The training state to resume from, the same on every rank; None when no rank has one.

    One process: `load_state(state_path)` if the file exists. Under torchrun every rank looks at its own
    `state_path`, the ranks agree on the newest one (largest `step_key`) and its owner sends the file to the
    others, which store it in place (so with a shared filesystem nothing is copied, and without one every
    machine ends with rank 0's last checkpoint even if rank 0 now runs elsewhere).
    """
    path = Path(state_path)
    if not active():
        return load_state(path) if path.exists() else None
    state = load_state(path) if path.exists() else None
    steps = torch.tensor([int(state[step_key]) if state is not None else -1], dtype=torch.int64, device=_comm_device())
    everyone = [torch.zeros_like(steps) for _ in range(world_size())]
    dist.all_gather(everyone, steps)
    newest = [int(t.item()) for t in everyone]
    best = max(newest)
    if best < 0:
        return None
    owner = newest.index(best)
    if all(step == best for step in newest):
        return state
    # The owner's file travels as bytes: a size first, then the contents (gloo and NCCL broadcast tensors only).
    data = path.read_bytes() if rank() == owner else b""
    size = torch.tensor([len(data)], dtype=torch.int64, device=_comm_device())
    dist.broadcast(size, src=owner)
    buffer = torch.empty(int(size.item()), dtype=torch.uint8, device=_comm_device())
    if rank() == owner:
        buffer.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    dist.broadcast(buffer, src=owner)
    if newest[rank()] != best:
        atomic_write_bytes(path, buffer.cpu().numpy().tobytes())
        state = load_state(path)
    return state
