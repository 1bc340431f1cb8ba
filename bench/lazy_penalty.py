"""The sweep's W1 critics with the Lipschitz penalty on every k-th step only (k times as heavy): time and accuracy.

    python bench/lazy_penalty.py                # docs/results.md#lazy-penalty (about 2 minutes on the 2-core machine)
    python bench/lazy_penalty.py --quick        # a check that it runs

For each family and seed, the default sweep's W1 critics (21 θ, one ensemble, one torch thread) are trained with
`penalty_every` = 1 (the baseline: every step), 2 (the default) and 4, and scored by max |estimate − θ| over the θ
(W1 = |θ| exactly for every family here). Seconds are the W1 ensemble's training time, the median over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

import torch

from vaegan.divergences import SweepConfig, run_sweep  # noqa: E402

FAMILIES = ("lines", "gaussian", "8gaussians", "swissroll")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few steps, one seed, two families")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--every", default="1,2,4", help="penalty_every values, the first is the baseline")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = range(1 if args.quick else args.seeds)
    families = FAMILIES[:2] if args.quick else FAMILIES
    every = [int(k) for k in args.every.split(",")]
    base = dataclasses.replace(SweepConfig(), divergences=("wasserstein",), heatmap_thetas=())
    if args.quick:
        base = dataclasses.replace(base, iters=20, eval_size=1024)
    run_sweep(dataclasses.replace(base, iters=3), workers=1)  # warm-up
    print(f"torch {torch.__version__}, 1 thread; W1 critics of the default sweep, seeds {list(seeds)}\n")
    header = "".join(f"{f'every {k}: err':>22s}{'s':>7s}" for k in every)
    print(f"{'family':<12s}{header}")
    for family in families:
        cells = []
        for k in every:
            errors, seconds = [], []
            for seed in seeds:
                config = dataclasses.replace(base, family=family, seed=seed, penalty_every=k)
                result = run_sweep(config, workers=1)
                errors.append(max(result.errors("wasserstein")))
                seconds.append(result.seconds["wasserstein"])
            shown = "/".join(f"{e:.3f}" for e in errors)
            cells.append(f"{shown:>22s}{statistics.median(seconds):7.2f}")
        print(f"{family:<12s}{''.join(cells)}")
    print("\nerr: max |W1 estimate − θ| over the 21 θ, one value per seed; s: training seconds (median over seeds)")


if __name__ == "__main__":
    main()
