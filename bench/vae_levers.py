"""Speed levers of the conv VAE's training step on a CPU, each against the plain NCHW step in the same run.

    python -m bench.vae_levers [--steps 40] [--rounds 3] [--threads 2]

One step = encode, reparameterize, decode, -ELBO, backward, Adam, on a batch of 100 digits (the conv recipe's).
Variants run in interleaved rounds (A, B, C, A, B, C, ...) so that a machine that speeds up or slows down over the
run does not favour one of them; the table shows each variant's median ms per step and its ratio to the baseline.

- NCHW: the default memory layout (the baseline);
- channels-last: NHWC weights and activations (what `VAE` now uses for the conv net);
- channels-last + torch.compile: the loss compiled by inductor; its compile time is reported separately, since
  a time budget pays for it once;
- two workers: two processes of one thread, each on half the batch, at the same time (what torchrun with two
  ranks computes, minus the gradient all-reduce: an upper bound on that lever's gain).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from vaegan.runtime import cpu_model
from vaegan.vae import VAE, VAEConfig, neg_elbo

CONV = VAEConfig(arch="conv", hidden=64, latent_dim=32)
BATCH = 100


def step_times(layout: str, compiled: bool, batch: int, steps: int, threads: int) -> tuple[float, float]:
    """(median ms per step, seconds spent before the first timed step: warm-up and any compile)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = (torch.rand(steps + 3, batch, 784) < 0.13).float()
    model = VAE(CONV)
    if layout == "nchw":
        model = model.to(memory_format=torch.contiguous_format)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def loss_of(batch_x: torch.Tensor) -> torch.Tensor:
        return neg_elbo(model, batch_x).mean()

    loss_fn = torch.compile(loss_of) if compiled else loss_of
    started = time.perf_counter()
    times = []
    for i in range(steps + 3):
        tick = time.perf_counter()
        loss = loss_fn(x[i])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i == 2:
            warm = time.perf_counter() - started
        if i >= 3:
            times.append(time.perf_counter() - tick)
    return 1000 * statistics.median(times), warm


def two_workers(steps: int) -> float:
    """Median ms per step of two one-thread processes on half batches, started together (the slower one counts)."""
    code = ("import sys; from bench.vae_levers import step_times; "
            f"print(step_times('nhwc', False, {BATCH // 2}, {steps}, 1)[0])")  # fmt: skip
    workers = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    return max(float(worker.communicate()[0]) for worker in workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    # a cold compile, as a user's first run pays it (inductor otherwise reuses kernels cached by earlier runs)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="vae_levers_inductor_")

    variants = {
        "NCHW (baseline)": lambda: step_times("nchw", False, BATCH, args.steps, args.threads),
        "channels-last": lambda: step_times("nhwc", False, BATCH, args.steps, args.threads),
        "channels-last + torch.compile": lambda: step_times("nhwc", True, BATCH, args.steps, args.threads),
        "two workers (1 thread, half batch each)": lambda: (two_workers(args.steps), 0.0),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            results[name].append(run())
    base = statistics.median(ms for ms, _ in results["NCHW (baseline)"])
    print(f"conv VAE training step, batch {BATCH}, {args.threads} threads, {cpu_model()}, torch {torch.__version__}")
    print(f"median of {args.rounds} interleaved rounds of {args.steps} steps\n")
    print("| variant | ms / step (each round) | median | speed-up | warm-up s (first round) |")
    print("|---|---|---:|---:|---:|")
    for name, rows in results.items():
        median = statistics.median(ms for ms, _ in rows)
        each = " / ".join(f"{ms:.0f}" for ms, _ in rows)
        print(f"| {name} | {each} | {median:.1f} | {base / median:.2f}x | {rows[0][1]:.1f} |")


if __name__ == "__main__":
    main()
