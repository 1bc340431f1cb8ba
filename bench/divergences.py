"""Divergence sweep speed and accuracy: the default batched sweep vs a plain baseline of the reference procedure.

    python bench/divergences.py [--baseline-thetas 0,0.1,0.2,0.5,1,2] [--threads 1] [--batched-reference]

Both rows estimate squared Hellinger and W1 between the parallel lines P = (0, U[0,1]) and Q_θ = (θ, U[0,1]) for
the 21 θ in [0, 2], and both report the bound of the final critic on the same kind of fresh sample (16384 points
per distribution), so their accuracies compare directly.

Baseline (the reference procedure, written plainly): for each θ and each divergence, a fresh nn.Sequential
2-256-256-256-1 ReLU critic, plain SGD lr 1e-3, 600 steps of 512 + 512 samples, λ = 50 one-sided Lipschitz
penalty on interpolates for W1. Each θ is independent identical work, so the baseline trains only the θ of
`--baseline-thetas` (default 0, 0.1, 0.2, 0.5, 1, 2: small θ are where under-training shows) and its time is scaled
by 21/N (the table says so); `--baseline-thetas 0:2:21` measures all of them.

Ours: `run_sweep(SweepConfig())`: per divergence one ensemble of 21 critics (2-16-16-1 ReLU), Adam lr 2e-2
(betas 0.5, 0.9) with cosine decay, 150 batched steps, snapshots included. `--batched-reference` adds
`run_sweep(REFERENCE_SETTING)`: the reference procedure through the batched ensemble (the same procedure with other
random draws), which shows what batching alone buys.

Columns: wall seconds, and CPU seconds of this process (all threads). On a machine shared with other work the wall
time depends on the load; with one thread (the default) the CPU time is close to what the run takes on an idle
core. Both rows use the same thread count (--threads).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

from vaegan.divergences import REFERENCE_SETTING, SweepConfig, exact_divergence, parse_thetas, run_sweep  # noqa: E402

THETAS = [round(0.1 * i, 10) for i in range(21)]
EVAL_SIZE = 16384
T = TypeVar("T")


# ------------------------------------------------------------------------------------------- baseline


def sample_line(theta: float, n: int) -> torch.Tensor:
    return torch.stack((torch.full((n,), theta), torch.rand(n)), dim=1)


def baseline_estimate(name: str, theta: float, iters: int = 600, batch: int = 512, lam: float = 50.0) -> float:
    """The reference procedure for one θ: train a fresh critic with SGD, return its bound on a fresh sample."""
    critic = nn.Sequential(
        nn.Linear(2, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1)
    )
    optimizer = torch.optim.SGD(critic.parameters(), lr=1e-3)

    def bound(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        v_x, v_y = critic(x), critic(y)
        if name == "wasserstein":
            return v_x.mean() - v_y.mean()
        return (1 - torch.exp(-v_x)).mean() - (torch.exp(v_y) - 1).mean()  # t/(1-t) at t = 1 - e^-v

    for _ in range(iters):
        x, y = sample_line(0.0, batch), sample_line(theta, batch)
        loss = -bound(x, y)
        if name == "wasserstein":
            alpha = torch.rand(batch, 1)
            z = (alpha * x + (1 - alpha) * y).requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(z).sum(), z, create_graph=True)
            loss = loss + lam * torch.relu(grad.norm(dim=1) - 1).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float(bound(sample_line(0.0, EVAL_SIZE), sample_line(theta, EVAL_SIZE)))


# ------------------------------------------------------------------------------------------- reporting


def accuracy(thetas: list[float], hellinger: list[float], wasserstein: list[float]) -> tuple[float, float, float]:
    """(W1 max |est - θ|, H² max |est - truth| over θ >= 0.1, |H²| at θ = 0) on the θ given."""
    w1 = max(abs(w - exact_divergence("lines", "wasserstein", t)) for t, w in zip(thetas, wasserstein, strict=True))
    moved = [abs(h - 2.0) for t, h in zip(thetas, hellinger, strict=True) if t >= 0.1 - 1e-9]
    still = [abs(h) for t, h in zip(thetas, hellinger, strict=True) if t == 0.0]
    return w1, max(moved, default=float("nan")), max(still, default=float("nan"))


def row(label: str, n: str, seconds: tuple[float, float], acc: tuple[float, float, float], speedup: str) -> None:
    wall, cpu = seconds
    print(f"{label:46s}{n:>8s}{wall:10.2f}{cpu:10.2f}{acc[0]:10.4f}{acc[1]:12.4f}{acc[2]:10.4f}{speedup:>12s}")


def timed(work: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    """work's result and the (wall, CPU) seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, (time.perf_counter() - wall, time.process_time() - cpu)


def ratio(base: tuple[float, float], ours: tuple[float, float]) -> str:
    """Speed-up in wall time and in CPU time."""
    return f"{base[0] / ours[0]:.0f}×/{base[1] / ours[1]:.0f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-thetas", default="0,0.1,0.2,0.5,1,2", help="θ the plain baseline trains")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both rows")
    parser.add_argument("--batched-reference", action="store_true", help="also time REFERENCE_SETTING via run_sweep")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base_thetas = [t for t in parse_thetas(args.baseline_thetas) if t in THETAS]
    if not base_thetas:
        parser.error(f"--baseline-thetas must name some of the sweep's θ: {THETAS}")
    n_base = len(base_thetas)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )

    run_sweep(dataclasses.replace(SweepConfig(), thetas=(0.0, 1.0), iters=5))  # warm-up: imports, allocator
    ours, ours_seconds = timed(lambda: run_sweep(SweepConfig(), threads=None))  # None: the threads set above
    ours_acc = accuracy(ours.thetas, ours.estimates["hellinger"], ours.estimates["wasserstein"])

    torch.manual_seed(0)
    (base_h, base_w), measured = timed(
        lambda: ([baseline_estimate("hellinger", t) for t in base_thetas],
                 [baseline_estimate("wasserstein", t) for t in base_thetas])
    )
    base_seconds = (measured[0] * len(THETAS) / n_base, measured[1] * len(THETAS) / n_base)
    base_acc = accuracy(base_thetas, base_h, base_w)

    print(f"{'':46s}{'θ':>8s}{'wall s':>10s}{'cpu s':>10s}{'W1 err':>10s}{'H² err≥0.1':>12s}{'|H²(0)|':>10s}"
          f"{'wall/cpu ×':>12s}")
    scaled = f"{n_base}→21" if n_base < len(THETAS) else "21"
    row("reference: plain, one θ at a time (SGD, 600)", scaled, base_seconds, base_acc, "1×/1×")
    if args.batched_reference:
        ref, ref_seconds = timed(lambda: run_sweep(REFERENCE_SETTING, threads=None))
        ref_acc = accuracy(ref.thetas, ref.estimates["hellinger"], ref.estimates["wasserstein"])
        row("reference procedure, batched ensemble", "21", ref_seconds, ref_acc, ratio(base_seconds, ref_seconds))
    row("default sweep: batched, Adam, 2-16-16-1, 150", "21", ours_seconds, ours_acc, ratio(base_seconds, ours_seconds))
    same = [THETAS.index(t) for t in base_thetas]
    ours_same = accuracy(
        base_thetas, [ours.estimates["hellinger"][i] for i in same], [ours.estimates["wasserstein"][i] for i in same]
    )
    print(f"ours on the baseline's θ {base_thetas}: W1 err {ours_same[0]:.4f}, H² err≥0.1 {ours_same[1]:.4f}, "
          f"|H²(0)| {ours_same[2]:.4f}")
    print("baseline estimates  H²:", " ".join(f"{v:.3f}" for v in base_h), " W1:", " ".join(f"{v:.3f}" for v in base_w))
    if n_base < len(THETAS):
        print(f"(the baseline trained {n_base} of the 21 θ; its time is scaled by 21/{n_base}: each θ is equal work)")


if __name__ == "__main__":
    main()
