"""VAE time to quality: wall time until the validation -ELBO reaches what the reference loop reaches in 20 epochs.

In one run, on the same data and seed: (a) the reference loop (torch DataLoader, batch 64, Adam 3e-4, the loss as
log(sigmoid) with an epsilon) for `--epochs` epochs, which sets the target, its own validation -ELBO after the
last epoch; (b) this project's `train vae` default, and any `--candidate` settings, each stopped once it passes
the target (or after `--epochs`). Prints time, epochs and final -ELBO per row and the speed-up to the target.
Then importance sampling: memory (peak RSS of a subprocess) and speed of `eval vae` against a plain
torch.distributions implementation at equal K on the same model.

    python bench/vae_quality.py                                   # docs/results.md#vae-time-to-quality
    python bench/vae_quality.py --epochs 2 --train-images 5000    # a quick check that it runs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from vaegan.allocator import keep_freed_memory  # noqa: E402
from vaegan.data import BinarySplits, load_binary_mnist  # noqa: E402
from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo  # noqa: E402
from vaegan.train.common import Progress  # noqa: E402
from vaegan.train.vae import VAETrainConfig, train_vae  # noqa: E402
from vaegan.vae import VAE, VAEConfig  # noqa: E402


def reference_loop(data: BinarySplits, epochs: int, seed: int) -> list[tuple[float, float]]:
    """The reference recipe, written plainly: (elapsed seconds, valid -ELBO) after every epoch."""
    torch.manual_seed(seed)
    model = VAE(VAEConfig())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    loader = DataLoader(TensorDataset(data.train), batch_size=64, shuffle=True)
    curve, train_seconds = [], 0.0
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        for (x,) in loader:
            mu, logvar = model.encode(x)
            p = torch.sigmoid(model.decode(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)))
            log_lik = (x * torch.log(p + 1e-7) + (1 - x) * torch.log(1 - p + 1e-7)).sum(-1)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
            loss = (kl - log_lik).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        train_seconds += time.perf_counter() - started  # validation is not training time
        curve.append((train_seconds, evaluate_neg_elbo(model, data.valid)))
    return curve


class Reached(Exception):  # noqa: N818 - a signal, not an error
    pass


def project_run(
    data: BinarySplits, config: VAETrainConfig, target: float, to_the_end: bool
) -> list[tuple[float, float]]:
    """(training seconds, valid -ELBO) after every epoch; stops at the target unless `to_the_end`."""
    curve: list[tuple[float, float]] = []

    def on_progress(report: Progress) -> None:
        if report.event == "epoch":
            # the loop's clock includes its validation pass; the per-epoch seconds are training only
            curve.append(((curve[-1][0] if curve else 0.0) + report.values["seconds"], report.values["valid_neg_elbo"]))
            if curve[-1][1] <= target and not to_the_end:
                raise Reached

    with contextlib.suppress(Reached):
        train_vae(VAEConfig(), data, config, on_progress=on_progress)
    return curve


def rss_of_eval(ckpt: str, data: str, k: int, limit: int) -> tuple[float, float, float]:
    """Peak RSS (MB), seconds and log p(x) of `python cli.py eval vae` in a subprocess."""
    code = (
        "import json, resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        f"out = subprocess.run([sys.executable, 'cli.py', 'eval', 'vae', '--ckpt', {ckpt!r}, '--data', {data!r},"
        f" '--k', '{k}', '--limit', '{limit}', '--json'], capture_output=True, text=True, check=True).stdout;"
        "print(json.dumps({'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,"
        " 'seconds': time.perf_counter() - t, 'log_px': json.loads(out)['log_px']}))"
    )
    result = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    return result["rss"], result["seconds"], result["log_px"]


@torch.no_grad()
def distributions_log_px(model: VAE, x: torch.Tensor, k: int, batch: int = 100) -> float:
    """An independent plain implementation: torch.distributions, all K of a batch at once."""
    from torch.distributions import Bernoulli, Normal

    total = 0.0
    for start in range(0, x.shape[0], batch):
        xb = x[start : start + batch]
        mu, logvar = model.encode(xb)
        q = Normal(mu, torch.exp(0.5 * logvar))
        z = q.sample((k,))
        log_w = (Bernoulli(logits=model.decode(z)).log_prob(xb.expand(k, -1, -1)).sum(-1)
                 + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1))  # fmt: skip
        total += (torch.logsumexp(log_w, 0) - math.log(k)).sum().item()
    return total / x.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="../shared/data/binarized_mnist.npz")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--train-images", type=int, default=50000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidate", action="append", default=[],
                        help='extra VAETrainConfig settings as JSON, e.g. {"batch_size": 256, "lr": 2e-3}')
    parser.add_argument("--ckpt", default="checkpoints/vae.safetensors", help="the model for the IS rows")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--is-images", type=int, default=1000)
    parser.add_argument("--stop-at-target", action="store_true",
                        help="stop each run once it passes the target (faster; no final -ELBO to compare)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as `python cli.py` does; the reference loop runs in this process too, so both gain alike

    full = load_binary_mnist(args.data, seed=args.seed)
    data = BinarySplits(full.train[: args.train_images], full.valid, full.test, full.dynamic, full.name)
    print(f"VAE time to quality on {args.data} ({data.train.shape[0]} training images), "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")  # fmt: skip
    reference = reference_loop(data, args.epochs, args.seed)
    target = reference[-1][1]
    rows = [("reference loop (DataLoader, batch 64, Adam 3e-4)", reference)]
    configs = [("train vae default", VAETrainConfig(epochs=args.epochs, seed=args.seed))]
    for text in args.candidate:
        settings = json.loads(text)
        configs.append((f"train vae {settings}", VAETrainConfig(epochs=args.epochs, seed=args.seed, **settings)))
    for name, config in configs:
        rows.append((name, project_run(data, config, target, to_the_end=not args.stop_at_target)))
    print(f"target: the reference's validation -ELBO after {args.epochs} epochs = {target:.2f} nats\n")
    print(f"{'run':<64} {'to target':>10} {'epochs':>7} {'speed-up':>9} {'final -ELBO':>12} {'total s':>8}")
    base = next((t for t, v in reference if v <= target), reference[-1][0])
    for name, curve in rows:
        hit = next(((i, t) for i, (t, v) in enumerate(curve) if v <= target), None)
        final = f"{curve[-1][1]:8.2f} ({len(curve)})"
        if hit is None:
            print(f"{name:<64} {'never':>10} {'-':>7} {'-':>9} {final:>12} {curve[-1][0]:8.1f}")
        else:
            i, t = hit
            print(f"{name:<64} {t:9.1f}s {i + 1:7d} {base / t:8.2f}x {final:>12} {curve[-1][0]:8.1f}")
    print("to target: training seconds (validation passes not counted) until the validation -ELBO <= the target; "
          "final -ELBO (epochs): after the last epoch run")

    print(f"\nImportance sampling with {args.ckpt}, K={args.k}, {args.is_images} test images")
    model = VAE.from_pretrained(args.ckpt).eval()
    x = full.test[torch.randperm(full.test.shape[0], generator=torch.Generator().manual_seed(args.seed))]
    x = x[: args.is_images]
    torch.manual_seed(0)
    started = time.perf_counter()
    plain = distributions_log_px(model, x, args.k)
    plain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    chunked = evaluate_log_px(model, x, args.k)
    chunked_seconds = time.perf_counter() - started
    rss, seconds, ours = rss_of_eval(args.ckpt, args.data, args.k, args.is_images)
    print(f"{'torch.distributions, all K of a batch of 100 at once':<56} {plain_seconds:8.1f} s  log p(x) {plain:.2f}")
    print(f"{'vaegan.likelihood.evaluate_log_px (chunked K)':<56} {chunked_seconds:8.1f} s  log p(x) {chunked:.2f}"
          f"  ({plain_seconds / chunked_seconds:.2f}x)")  # fmt: skip
    print(f"{'python cli.py eval vae (chunked, incl. start-up)':<56} {seconds:8.1f} s  log p(x) {ours:.2f}  "
          f"peak RSS {rss:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
