"""The VAE page's 2-D VAE: training a new one (target: at most 15 s on the 2-core VM) against loading a shipped β
(the baseline: what the page does for a shipped β), measured in the same run.

    python bench/vae2d.py [--data ../shared/data/binarized_mnist.npz] [--beta 1] [--repeats 1]

Prints one table: per row the wall time (the best of --repeats runs), its ratio to the baseline and the held-out
terms. Training runs the page's default setting (`Vae2dConfig.for_digits(5000)`: 1,500 Adam steps of 100 digits)
at 1 and at 2 intra-op threads. The load average is printed too: on a shared machine the times say "under load".
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch

from vaegan.data import load_test_digits
from vaegan.runtime import describe_machine
from vaegan.vae2d import Vae2dConfig, Vae2dResult, load_vae2d, split_digits, train_vae2d, vae2d_checkpoint


def best_of(repeats: int, run: Callable[[], Vae2dResult]) -> tuple[float, Vae2dResult]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    assert result is not None
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/binarized_mnist.npz", help="binary test digits (a spec)")
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    print(describe_machine())
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (2 cores: above 2 = under load)")
    config = Vae2dConfig.for_digits(5_000, beta=args.beta)
    digits = split_digits(load_test_digits(args.data), config, source=args.data)
    shipped = vae2d_checkpoint(args.beta)
    load_vae2d(shipped)  # the first load imports and warms up; the page's cache would hold it after that
    rows = [("load the shipped file (baseline)", *best_of(args.repeats, lambda: load_vae2d(shipped)))]
    for threads in (1, 2):
        rows.append((f"train a new 2-D VAE, {threads} thread(s)",
                     *best_of(args.repeats, lambda t=threads: train_vae2d(config, digits, threads=t))))  # fmt: skip
    baseline = rows[0][1]
    print(f"\nβ = {args.beta:g}, {config.train_digits:,} training digits, {config.epochs} epochs, "
          f"{config.held_out:,} held out; best of {args.repeats}\n")  # fmt: skip
    print("| what | wall s | × baseline | held-out recon | KL | −ELBO |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, result in rows:
        print(f"| {name} | {seconds:.3f} | {seconds / baseline:.0f} | {result.reconstruction:.2f} | {result.kl:.2f} "
              f"| {result.neg_elbo:.2f} |")  # fmt: skip
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; torch {torch.__version__}")


if __name__ == "__main__":
    main()
