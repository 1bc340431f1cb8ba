"""VAE speed: this implementation vs a plain baseline of the reference loop, measured in the same run.

    python bench/vae.py [--data ../shared/data/binarized_mnist.npz] [--train-images 50000] [--is-images 10000]

Prints one table for the training epoch and one for importance sampling (K=200). Each optimization is added
on top of the previous row, so each row's ratio says what that change gave. Every row starts from the same
initial weights and sees the same batches, so the loss column shows whether results stay equal.

Baseline (what the reference loop does): a torch DataLoader over a TensorDataset (per-sample indexing +
collate), the loss written as log(sigmoid(l)) with an epsilon, torch.distributions for log-densities in IS,
default Adam, batch 64, all K importance samples of a batch at once (un-chunked).
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset

from vaegan.data import load_binary_mnist, minibatches  # noqa: E402
from vaegan.vae import VAE, VAEConfig, log_px_importance, neg_elbo  # noqa: E402

# ------------------------------------------------------------------------------------------- baseline


def baseline_neg_elbo(model: VAE, x: torch.Tensor) -> torch.Tensor:
    mu, logvar = model.encode(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    p = torch.sigmoid(model.decode(z))
    eps = 1e-7  # the reference's guard against log(0); BCE-with-logits needs none
    log_lik = (x * torch.log(p + eps) + (1 - x) * torch.log(1 - p + eps)).sum(-1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    return -log_lik + kl


@torch.no_grad()
def baseline_log_px(model: VAE, x: torch.Tensor, k: int) -> torch.Tensor:
    from torch.distributions import Bernoulli, Normal

    mu, logvar = model.encode(x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = q.rsample((k,))  # (K, B, D) all at once
    log_w = (
        Bernoulli(logits=model.decode(z)).log_prob(x.expand(k, -1, -1)).sum(-1)
        + Normal(0.0, 1.0).log_prob(z).sum(-1)
        - q.log_prob(z).sum(-1)
    )
    return torch.logsumexp(log_w, 0) - math.log(k)


# ------------------------------------------------------------------------------------------- epochs


def run_epoch(
    model: VAE,
    train: torch.Tensor,
    *,
    batch_size: int,
    lr: float,
    loader: str,
    loss_fn: Callable[[VAE, torch.Tensor], torch.Tensor],
    fused: bool,
    seed: int = 0,
) -> tuple[float, float]:
    """One epoch; returns (seconds, mean training loss)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=fused) if fused else torch.optim.Adam(
        model.parameters(), lr=lr
    )
    torch.manual_seed(seed)
    if loader == "dataloader":
        batches = (b for (b,) in DataLoader(TensorDataset(train), batch_size=batch_size, shuffle=True))
    else:
        batches = minibatches(train, batch_size)
    total, n = 0.0, 0
    start = time.perf_counter()
    for batch in batches:
        loss = loss_fn(model, batch).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
        n += len(batch)
    return time.perf_counter() - start, total / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/binarized_mnist.npz")
    parser.add_argument("--train-images", type=int, default=50000)
    parser.add_argument("--is-images", type=int, default=10000)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = load_binary_mnist(args.data)
    train = data.train[: args.train_images]
    test = data.test[torch.randperm(data.test.shape[0], generator=torch.Generator().manual_seed(0))][: args.is_images]
    torch.manual_seed(0)
    initial = VAE(VAEConfig())

    variants = [
        ("baseline: DataLoader, log(sigmoid), Adam, batch 64", dict(loader="dataloader", loss_fn=baseline_neg_elbo,
                                                                    fused=False, batch_size=64, lr=3e-4)),
        ("+ in-memory shuffled slices", dict(loader="tensor", loss_fn=baseline_neg_elbo, fused=False, batch_size=64,
                                             lr=3e-4)),
        ("+ BCE-with-logits loss", dict(loader="tensor", loss_fn=neg_elbo, fused=False, batch_size=64, lr=3e-4)),
        ("+ fused Adam (= `train vae` default)", dict(loader="tensor", loss_fn=neg_elbo, fused=True, batch_size=64,
                                                     lr=3e-4)),
        ("+ batch 256, lr 1e-3 (fewer, larger steps)", dict(loader="tensor", loss_fn=neg_elbo, fused=True,
                                                             batch_size=256, lr=1e-3)),
    ]  # fmt: skip
    print(f"VAE training epoch, {train.shape[0]} images, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'variant':<52} {'s/epoch':>8} {'speed-up':>9} {'loss':>9}")
    base_time = None
    for name, kwargs in variants:
        seconds, loss = run_epoch(copy.deepcopy(initial), train, **kwargs)  # type: ignore[arg-type]
        seconds *= 50000 / train.shape[0]
        base_time = base_time or seconds
        print(f"{name:<52} {seconds:8.2f} {base_time / seconds:8.2f}x {loss:9.2f}")

    model = copy.deepcopy(initial).eval()
    # A trained model makes the IS numbers meaningful; one quick epoch is enough for timing.
    run_epoch(model, train, loader="tensor", loss_fn=neg_elbo, fused=True, batch_size=64, lr=1e-3)
    model.eval()
    print(f"\nImportance sampling, K={args.k}, {test.shape[0]} test images (time scaled to 10k)")
    print(f"{'variant':<52} {'s/10k':>8} {'speed-up':>9} {'log p(x)':>9}")
    rows = [
        ("baseline: torch.distributions, all K at once, B=100",
         lambda x: torch.cat([baseline_log_px(model, b, args.k) for b in minibatches(x, 100, shuffle=False)])),
        ("vaegan log_px_importance, B=100",
         lambda x: torch.cat([log_px_importance(model, b, args.k) for b in minibatches(x, 100, shuffle=False)])),
        ("vaegan log_px_importance, B=500 (chunked K)",
         lambda x: torch.cat([log_px_importance(model, b, args.k) for b in minibatches(x, 500, shuffle=False)])),
    ]  # fmt: skip
    base_time = None
    for name, fn in rows:
        torch.manual_seed(0)
        start = time.perf_counter()
        with torch.inference_mode():
            value = fn(test).mean().item()
        seconds = (time.perf_counter() - start) * 10000 / test.shape[0]
        base_time = base_time or seconds
        print(f"{name:<52} {seconds:8.2f} {base_time / seconds:8.2f}x {value:9.2f}")


if __name__ == "__main__":
    main()
