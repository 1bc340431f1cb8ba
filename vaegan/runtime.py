"""Where and how a model runs: the device, the thread count, and an eval-mode context for inference.

Every command, loop and page asks these helpers rather than torch directly, so the rules ("auto" picks CUDA, then
MPS, then the CPU; inference never builds autograd graphs and gives the caller its train/eval mode back) are
written once.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from vaegan.errors import ConfigError
from vaegan.limits import MAX_THREADS, check_count


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu; anything else is passed to torch.device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available")
    return device


def set_threads(threads: int) -> int:
    """Use `threads` intra-op CPU threads (0 keeps torch's default); returns the count now in force."""
    if threads < 0:
        raise ConfigError(f"threads must be >= 0 (0 = torch's default), got {threads}")
    check_count("threads", threads, MAX_THREADS, minimum=0)
    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


@contextmanager
def intra_op_threads(threads: int | None) -> Iterator[None]:
    """Run the block at `threads` intra-op CPU threads *in the calling thread* (None: as they are), then give that
    thread its count back.

    Why per thread: `torch.set_num_threads` sets OpenMP's and MKL's counts for the thread that calls it. A thread
    that never called it runs torch's own parallel loops at torch's last count, but MKL's matrix products at MKL's
    process default (one per core). On Intel CPUs MKL splits a product's reduction differently at 2 threads than
    at 1, so an ensemble trained in a fresh worker thread would round differently from the same ensemble trained in
    the caller. Every thread that trains calls this first, so the kernels, and so the floats, do not depend on which
    thread runs the work (docs/reproducibility.md).
    """
    if threads is None:
        yield
        return
    check_count("threads", threads, MAX_THREADS)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode (batch-norm running stats, no dropout) without autograd, then give the caller its mode back.

    Only submodules that are in training mode are switched (and switched back, each to its own mode): a model that
    is already in eval mode is never written to, so one model can serve many threads at once (the app shares its
    cached models across sessions) without one thread's call flipping another's mode mid-forward.
    """
    training = [m for m in module.modules() if m.training]
    for m in training:
        m.training = False
    try:
        with torch.no_grad():
            yield
    finally:
        for m in training:
            m.training = True


def device_of(module: nn.Module) -> torch.device:
    """Where the module's parameters live (CPU for a module without any)."""
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")


def usable_cpus() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one, else all of them): what "one
    worker per core" means everywhere (a container or `taskset` may allow fewer cores than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name ("AMD EPYC 7B13", "Intel(R) Xeon(R) …") where the OS says it, else the architecture.

    Timings and the last bits of some floats depend on it (docs/reproducibility.md), so benches, checkpoints and CI
    record it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine() -> str:
    """One line: CPU model, torch's CPU kernel level (AVX2, AVX512, …), torch version and intra-op threads."""
    kernels = torch.backends.cpu.get_cpu_capability()
    return f"{cpu_model()}, torch {torch.__version__} ({kernels} kernels), {torch.get_num_threads()} intra-op threads"


def run_in_processes(target: Callable[..., None], argument_sets: Sequence[tuple], sequential: bool = False) -> None:
    """`target(*arguments)` in one child process per argument set, all at once (or one after the other), for runs
    that must not share a Python process (each sets its own threads); a child that fails stops the caller."""
    jobs = [mp.Process(target=target, args=arguments) for arguments in argument_sets]
    for job in jobs:
        job.start()
        if sequential:
            job.join()
    for job in jobs:
        job.join()
    failed = [job.exitcode for job in jobs if job.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(jobs)} processes failed (exit codes {failed})")
