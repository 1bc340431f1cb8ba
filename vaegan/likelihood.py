"""How good a VAE is on a dataset: mean -ELBO and importance-sampled log p(x), in nats, with fixed noise seeds.

Both run in eval mode without autograd and give the model its mode back (`vaegan.runtime.eval_mode`), and both
walk the data in batches so memory does not grow with the number of images.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaegan.data import minibatches
from vaegan.limits import check_importance_samples, check_seed
from vaegan.runtime import device_of, eval_mode
from vaegan.vae import VAE, log_px_importance, neg_elbo


def evaluate_neg_elbo(model: VAE, x: torch.Tensor, batch_size: int = 2000, seed: int = 1234) -> float:
    """Mean -ELBO over `x` with a fixed noise seed, so the same model always gets the same number."""
    rng = torch.Generator(device=x.device).manual_seed(seed)
    total = 0.0
    with eval_mode(model):
        for batch in minibatches(x, batch_size, shuffle=False):
            total += neg_elbo(model, batch, rng=rng).sum().item()
    return total / x.shape[0]


def evaluate_log_px(
    model: VAE,
    x: torch.Tensor,
    k: int = 200,
    batch_size: int = 500,
    seed: int = 1234,
    on_batch: Callable[[int, int], None] | None = None,
) -> float:
    """Mean importance-sampled log p(x) over `x` (K samples per image); `on_batch(images done, total)` after each
    batch, for a progress bar (K = 5000 on 10k images is tens of millions of decoder evaluations)."""
    rng = torch.Generator(device=x.device).manual_seed(seed)
    total, done = 0.0, 0
    with eval_mode(model):
        for batch in minibatches(x, batch_size, shuffle=False):
            total += log_px_importance(model, batch, k, rng=rng).sum().item()
            done += batch.shape[0]
            if on_batch is not None:
                on_batch(done, x.shape[0])
    return total / x.shape[0]


def evaluate_vae(
    model: VAE,
    x: torch.Tensor,
    k: int = 200,
    *,
    limit: int = 0,
    seed: int = 0,
    on_batch: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """-ELBO and log p(x) of `model` on `x`, or on a random subset of `limit` rows fixed by `seed` (not the first
    rows: some files, binarized_mnist.npz among them, are sorted by class). What `python cli.py eval vae` prints."""
    check_seed(seed)
    check_importance_samples(k)  # before any work, not at batch 1
    if limit:
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:limit]]
    x = x.to(device_of(model))
    log_px = evaluate_log_px(model, x, k, on_batch=on_batch)
    return {"neg_elbo": evaluate_neg_elbo(model, x), "log_px": log_px, "k": k, "n": x.shape[0]}


# ------------------------------------------------------------------------------------ one number per image


def score_digits(model: VAE, x: torch.Tensor, k: int = 100, seed: int = 1234, batch_size: int = 500) -> dict:
    """-ELBO and importance-sampled log p(x) of every row of `x` (N, 784) in {0, 1}: {"neg_elbo": (N,),
    "log_px": (N,)} float32 tensors on the CPU, nats. Fixed noise seeds, as the dataset means above."""
    elbo_rng = torch.Generator(device=x.device).manual_seed(seed)
    px_rng = torch.Generator(device=x.device).manual_seed(seed)
    neg_elbos, log_pxs = [], []
    with eval_mode(model):
        for batch in minibatches(x.reshape(x.shape[0], -1), batch_size, shuffle=False):
            neg_elbos.append(neg_elbo(model, batch, rng=elbo_rng).float().cpu())
            log_pxs.append(log_px_importance(model, batch, k, rng=px_rng).float().cpu())
    return {"neg_elbo": torch.cat(neg_elbos), "log_px": torch.cat(log_pxs)}


def sample_binary_digits(model: VAE, n: int, seed: int = 0) -> torch.Tensor:
    """n digits (n, 784) in {0, 1} drawn from the model: z ~ N(0, I), then one Bernoulli sample of the decoder's
    means. What a test set of the model's own making looks like, when no real test digits are at hand."""
    rng = torch.Generator().manual_seed(seed)
    with eval_mode(model):
        means = model.sample(n, rng).reshape(n, -1).cpu()
    return torch.bernoulli(means, generator=rng)


def share_below(value: float, reference: torch.Tensor) -> float:
    """The share of `reference` values strictly below `value` (0: lowest of all; 1: highest of all)."""
    if reference.numel() == 0:
        return float("nan")
    return float((reference < value).float().mean())
