"""How much an FD you can trust costs: bootstrap intervals, KID and FD∞ on cached features, beside a plain FD.

    python -m bench.fd_trust [--n 1000] [--resamples 200] [--repeats 3] [--threads 1]

Features: the shipped digit classifier's, of n real MNIST test digits (../shared/data/mnist_test.npz, shuffled) and
n samples of the shipped WGAN; without the data file, n rows of N(0, I) and N(0.25, 1.44 I) in the classifier's 128
dims (said in the output). They are computed once, before any timing: every row times work on cached features.

Rows (median wall time of --repeats runs, torch on --threads threads):
* baseline: one FD with scipy's sqrtm (the pytorch-fid / clean-fid formula), and `vaegan.fidelity`'s one FD;
* the naive bootstrap: B FDs, each resample's covariances and scipy sqrtm one after another;
* `bootstrap_scores` with FD only (the ≤ 2 s target), then with precision/recall too;
* KID (torchmetrics, `KID_SUBSETS` subsets), the FD-vs-n curve with its FD∞ fit, and the whole `fidelity_report`.
The machine's load average is printed before and after: on a shared machine the times are "under load".
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from vaegan.fidelity import (
    KID_SUBSETS,
    bootstrap_scores,
    fidelity_report,
    frechet_curve,
    frechet_from_features,
    kernel_inception_distance,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data" / "mnist_test.npz"
TARGET_SECONDS = 2.0  # FD with 200 bootstrap resamples on cached features


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The classic formula: numpy covariances and scipy's general sqrtm of their product."""
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def naive_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int) -> list[float]:
    rng = np.random.default_rng(0)
    n, m = len(a), len(b)
    return [scipy_frechet(a[rng.integers(0, n, n)], b[rng.integers(0, m, m)]) for _ in range(resamples)]


def cached_features(n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(real, generated) features (n, d) and what they are."""
    if DATA.exists():
        from vaegan.classifier import DigitClassifier, classifier_features
        from vaegan.data import to_rgb32
        from vaegan.metrics import generated_images
        from vaegan.wgan import Generator

        classifier = DigitClassifier.from_pretrained(str(REPO_ROOT / "checkpoints" / "classifier.safetensors"))
        generator = Generator.from_pretrained(str(REPO_ROOT / "checkpoints" / "wgan.safetensors"))
        with np.load(DATA) as f:
            digits = f["X"][np.random.default_rng(0).permutation(len(f["X"]))[:n]]
        real = classifier_features(classifier, to_rgb32(digits))
        fake = classifier_features(classifier, generated_images(generator, generator.latent_dim, n, seed=0))
        return real, fake, f"shipped classifier features of {n} MNIST test digits and {n} shipped-WGAN samples"
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(n, 128, generator=g), torch.randn(n, 128, generator=g) * 1.2 + 0.25
    return real, fake, f"synthetic Gaussian features, n = {n}, d = 128 ({DATA} not found)"


def timed(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="rows per feature set")
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples B")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row (the median is printed)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    real, fake, described = cached_features(args.n)
    a, b = real.double().numpy(), fake.double().numpy()
    resamples = args.resamples

    def bootstrap(precision_recall: bool) -> object:
        return bootstrap_scores(real, {"x": fake}, resamples=resamples, precision_recall=precision_recall)

    rows: list[tuple[str, Callable[[], object], int]] = [
        ("baseline: one FD, scipy sqrtm", lambda: scipy_frechet(a, b), args.repeats),
        ("one FD, vaegan.fidelity (eigvalsh)", lambda: frechet_from_features(real, fake), args.repeats),
        (f"naive bootstrap: {resamples} x (resample + scipy FD)", lambda: naive_bootstrap(a, b, resamples), 1),
        (f"bootstrap FD, B = {resamples} (batched)", lambda: bootstrap(False), args.repeats),
        (f"bootstrap FD + precision + recall, B = {resamples}", lambda: bootstrap(True), args.repeats),
        (f"KID, torchmetrics, {KID_SUBSETS} subsets", lambda: kernel_inception_distance(real, fake), args.repeats),
        ("FD against n + FD∞ fit", lambda: frechet_curve(real, {"x": fake}), args.repeats),
        ("fidelity_report (all of the above, 1 set)", lambda: fidelity_report(real, {"x": fake}, resamples=resamples),
         args.repeats),
    ]  # fmt: skip
    kernel_inception_distance(real[:8], fake[:8], subsets=1)  # imports torchmetrics' image metrics: not timed
    print(f"features: {described}; torch threads {args.threads}; {torch.__version__}")
    print(f"FD {frechet_from_features(real, fake):.6f} (vaegan.fidelity) vs {scipy_frechet(a, b):.6f} (scipy)")
    print("\n| what | median s | × one scipy FD | target |\n|---|---|---|---|")
    baseline = None
    for name, function, repeats in rows:
        seconds = timed(function, repeats)
        baseline = baseline or seconds
        target = f"≤ {TARGET_SECONDS:g} s: {'met' if seconds <= TARGET_SECONDS else 'MISSED'}" if (
            name.startswith("bootstrap FD, B")) else ""  # fmt: skip
        print(f"| {name} | {seconds:.3f} | {seconds / baseline:.1f} | {target} |")
    load_after = os.getloadavg()
    cores = os.cpu_count() or 1
    busy = max(load_before[0], load_after[0]) > 0.5 * cores
    print(f"\nload average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} on {cores} cores"
          + (": UNDER LOAD, other jobs shared the CPU" if busy else ""))  # fmt: skip


if __name__ == "__main__":
    main()
