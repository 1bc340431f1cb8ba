"""Why the ELBO is only a bound: the importance weights behind log p(x), the estimate as K grows, and the gap.

For one x and a Gaussian proposal q(z|x), the log-weights log w = log p(x, z) - log q(z|x), z ~ q, give

    ELBO      = E_q[log w]                                  (the mean log-weight)
    log p̂_K  = log (1/K) sum_k w_k                          (importance-sampled; E[log p̂_K] rises with K to log p(x))
    log p(x) - ELBO = KL(q(z|x) || p(z|x))                  (the gap: how far the encoder is from the true posterior)

The code path takes any log-joint and any diagonal-Gaussian proposal (`importance_log_weights`, `gap_report`), so the
same functions that read a VAE are checked on a linear Gaussian model whose log p(x) and posterior are known in
closed form (tests/test_gap.py). Standard errors come from `repeats` independent sets of K samples (the spread of the
repeated estimates), not from the delta method: with few effective samples the weights are heavy-tailed and the
delta method's variance of the mean weight is itself unreliable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vaegan.errors import ConfigError
from vaegan.limits import MAX_GAP_REPEATS, check_count, check_importance_samples, check_seed
from vaegan.runtime import device_of, eval_mode
from vaegan.vae import IMAGE_PIXELS, LOG_2PI, VAE, bernoulli_log_prob, standard_normal_log_prob

# The K at which the curve log p̂_K is drawn (those up to the K asked for, then that K itself).
K_GRID = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)
DEFAULT_REPEATS = 8  # independent sets of K samples: the standard errors' spread comes from these
# Latents per log-joint call: memory stays bounded whatever K and the repeats. Small, because the conv decoder's
# activations for thousands of latents outgrow the CPU's caches: on one thread it decoded 4,096 latents in 5.3 s in
# chunks of 256-512 and in 8.9 s in one chunk (bench/latent_lessons.py's machine, under load).
MAX_DECODES = 512


LogJoint = Callable[[torch.Tensor], torch.Tensor]  # z (n, D) -> log p(x, z) (n,)


def importance_log_weights(
    log_joint: LogJoint, mean: torch.Tensor, logvar: torch.Tensor, n: int, rng: torch.Generator
) -> torch.Tensor:
    """n log-weights log p(x, z) - log q(z) with z ~ q = N(mean, diag(exp(logvar))) (D,), as float64 (n,).

    The noise is drawn on the CPU from `rng` (so the numbers do not depend on the device) in chunks of
    MAX_DECODES, in the order one single draw would use.
    """
    if mean.dim() != 1 or mean.shape != logvar.shape:
        raise ConfigError(f"the proposal needs a mean and log-variance of shape (D,), got {tuple(mean.shape)}")
    std = torch.exp(0.5 * logvar)
    parts = []
    for start in range(0, n, MAX_DECODES):
        eps = torch.randn(min(MAX_DECODES, n - start), mean.numel(), generator=rng).to(mean.device, mean.dtype)
        z = mean + eps * std
        # log q(z) written with eps = (z - mean) / std directly, as vaegan.vae.log_px_importance does
        log_q = -0.5 * (LOG_2PI + logvar + eps.pow(2)).sum(-1)
        parts.append((log_joint(z) - log_q).double().cpu())
    return torch.cat(parts)


def effective_sample_size(log_weights: torch.Tensor) -> float:
    """(sum w)^2 / sum w^2 of the weights exp(log_weights): 1 when one weight dominates, K when all are equal."""
    normalised = log_weights - torch.logsumexp(log_weights, dim=0)
    return float(torch.exp(-torch.logsumexp(2.0 * normalised, dim=0)))


@dataclass
class GapReport:
    """log p(x), the ELBO and their gap for one x, with standard errors over `repeats` independent sets of K."""

    k_values: list[int]  # the curve's K, ending at k
    log_px: list[float]  # mean over the repeats of log p̂_K at each K
    log_px_se: list[float]  # its standard error (standard deviation over the repeats / sqrt(repeats))
    elbo: float  # mean log-weight over all repeats x k samples
    elbo_se: float
    gap: float  # mean over the repeats of log p̂_k - that repeat's mean log-weight: >= 0 by Jensen
    gap_se: float
    normalised_log_weights: torch.Tensor  # (k,) of the first repeat: log(w_i / sum w), for the histogram
    ess: float  # effective sample size of those k weights
    k: int
    repeats: int

    @property
    def log_px_at_k(self) -> float:
        return self.log_px[-1]

    @property
    def log_px_se_at_k(self) -> float:
        return self.log_px_se[-1]


def _standard_error(values: torch.Tensor) -> float:
    return float(values.std(unbiased=True) / math.sqrt(values.numel())) if values.numel() > 1 else float("nan")


def gap_report(
    log_joint: LogJoint, mean: torch.Tensor, logvar: torch.Tensor, *, k: int = 1000,
    repeats: int = DEFAULT_REPEATS, seed: int = 0,
) -> GapReport:  # fmt: skip
    """The weights, the curve log p̂_K for K = 1 .. k, the ELBO and the gap for one x with proposal q (see the
    module docstring). `repeats` independent sets of k samples; log p̂_K of one set uses its first K samples."""
    check_importance_samples(k)
    check_count("the repeats of the log p(x) estimate", repeats, MAX_GAP_REPEATS, minimum=2)
    check_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    log_w = importance_log_weights(log_joint, mean, logvar, repeats * k, rng).view(repeats, k)
    k_values = [value for value in K_GRID if value < k] + [k]
    curves = [torch.logsumexp(log_w[:, :value], dim=1) - math.log(value) for value in k_values]  # each (repeats,)
    per_repeat_gap = curves[-1] - log_w.mean(dim=1)
    return GapReport(
        k_values=k_values,
        log_px=[float(c.mean()) for c in curves],
        log_px_se=[_standard_error(c) for c in curves],
        elbo=float(log_w.mean()),
        elbo_se=_standard_error(log_w.reshape(-1)),
        gap=float(per_repeat_gap.mean()),
        gap_se=_standard_error(per_repeat_gap),
        normalised_log_weights=(log_w[0] - torch.logsumexp(log_w[0], dim=0)).float(),
        ess=effective_sample_size(log_w[0]),
        k=k,
        repeats=repeats,
    )


@torch.no_grad()
def vae_gap_report(model: VAE, x: torch.Tensor, *, k: int = 1000, repeats: int = DEFAULT_REPEATS,
                   seed: int = 0) -> GapReport:  # fmt: skip
    """`gap_report` for one binary digit x (784 values in {0, 1}) under a VAE: log p(x, z) = log p(x|z) + log p(z),
    the proposal is the encoder's q(z|x). The model runs in eval mode and gets its mode back."""
    if x.numel() != IMAGE_PIXELS:
        raise ConfigError(f"expected one digit of {IMAGE_PIXELS} pixels, got {x.numel()} values")
    x = x.reshape(1, IMAGE_PIXELS).float().to(device_of(model))
    with eval_mode(model):
        mean, logvar = model.encode(x)

        def log_joint(z: torch.Tensor) -> torch.Tensor:
            return bernoulli_log_prob(model.decode(z), x) + standard_normal_log_prob(z)

        return gap_report(log_joint, mean[0], logvar[0], k=k, repeats=repeats, seed=seed)
