"""Variational autoencoder for binarized MNIST: Bernoulli decoder, Gaussian encoder, N(0, I) prior.

Read top to bottom: config -> encoders/decoders -> the model -> the two quantities we care about,
the negative ELBO (training loss, analytic KL) and an importance-sampled estimate of log p(x).

All log-likelihoods are in nats and summed over the 784 pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vaegan.checkpoint import FromPretrained
from vaegan.errors import ConfigError
from vaegan.limits import MAX_HIDDEN, MAX_LATENT_DIM, check_count, check_importance_samples
from vaegan.runtime import device_of

MNIST_SIDE = 28
IMAGE_PIXELS = MNIST_SIDE * MNIST_SIDE
LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class VAEConfig:
    arch: str = "mlp"  # "mlp": the reference 784-300-300-(2x100); "conv": a small convolutional VAE
    latent_dim: int = 100
    hidden: int = 300  # MLP width / number of channels of the conv net's widest layer

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(f"unknown VAE arch {self.arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        if self.latent_dim < 1 or self.hidden < 1:
            raise ConfigError("latent_dim and hidden must be positive")
        check_count("latent_dim", self.latent_dim, MAX_LATENT_DIM)
        check_count("hidden", self.hidden, MAX_HIDDEN)


# ------------------------------------------------------------------------------------------ networks
# Every encoder maps (B, 784) in [0, 1] to (B, 2*latent): mean and log-variance.
# Every decoder maps (..., latent) to (..., 784) Bernoulli *logits* (never probabilities: see bernoulli_log_prob).


def _mlp_encoder(cfg: VAEConfig) -> nn.Module:
    return nn.Sequential(
        nn.Linear(IMAGE_PIXELS, cfg.hidden),
        nn.ELU(),
        nn.Linear(cfg.hidden, cfg.hidden),
        nn.ELU(),
        nn.Linear(cfg.hidden, 2 * cfg.latent_dim),
    )


def _mlp_decoder(cfg: VAEConfig) -> nn.Module:
    return nn.Sequential(
        nn.Linear(cfg.latent_dim, cfg.hidden),
        nn.ELU(),
        nn.Linear(cfg.hidden, cfg.hidden),
        nn.ELU(),
        nn.Linear(cfg.hidden, IMAGE_PIXELS),
    )


class _ConvEncoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c = max(cfg.hidden // 4, 8)
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1), nn.ELU(),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ELU(),  # 14x14
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ELU(),
            nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), nn.ELU(),  # 7x7
            nn.Flatten(),
            nn.Linear(4 * c * 7 * 7, cfg.hidden), nn.ELU(),
            nn.Linear(cfg.hidden, 2 * cfg.latent_dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.view(-1, 1, MNIST_SIDE, MNIST_SIDE))


class _ConvDecoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c = max(cfg.hidden // 4, 8)
        self.c = c
        self.fc = nn.Sequential(
            nn.Linear(cfg.latent_dim, cfg.hidden), nn.ELU(), nn.Linear(cfg.hidden, 4 * c * 7 * 7), nn.ELU()
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1), nn.ELU(),  # 14x14
            nn.Conv2d(2 * c, 2 * c, 3, padding=1), nn.ELU(),
            nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), nn.ELU(),  # 28x28
            nn.Conv2d(c, 1, 3, padding=1),
        )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        lead = z.shape[:-1]
        h = self.fc(z.reshape(-1, z.shape[-1])).view(-1, 4 * self.c, 7, 7)
        return self.net(h).reshape(*lead, IMAGE_PIXELS)


ARCHITECTURES = {
    "mlp": (_mlp_encoder, _mlp_decoder),
    "conv": (_ConvEncoder, _ConvDecoder),
}


# ------------------------------------------------------------------------------------------ the model


class VAE(FromPretrained, nn.Module):
    config_class = VAEConfig

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        make_encoder, make_decoder = ARCHITECTURES[self.config.arch]
        self.encoder = make_encoder(self.config)
        self.decoder = make_decoder(self.config)
        if self.config.arch == "conv":
            # oneDNN's CPU convolutions run faster on NHWC tensors (docs/results.md#budget-levers). load_state_dict
            # copies into these tensors, so a loaded model keeps the layout; files are written contiguous.
            self.to(memory_format=torch.channels_last)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) = N(mu, diag(exp(logvar)))."""
        mu, logvar = self.encoder(x.reshape(-1, IMAGE_PIXELS)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits of p(x|z), shape (..., 784)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-example negative ELBO (so `model(x).mean()` is the training loss)."""
        return neg_elbo(self, x)

    @torch.no_grad()
    def sample(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """n images as Bernoulli means, shape (n, 1, 28, 28), values in [0, 1]. `rng` lives on the CPU."""
        z = torch.randn(n, self.latent_dim, generator=rng).to(device_of(self))
        return torch.sigmoid(self.decode(z)).view(n, 1, MNIST_SIDE, MNIST_SIDE)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean: (n, 1, 28, 28) in [0, 1]."""
        mu, _ = self.encode(x)
        return torch.sigmoid(self.decode(mu)).view(-1, 1, MNIST_SIDE, MNIST_SIDE)

    @torch.no_grad()
    def kl_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        """Mean KL(q(z_d|x) || N(0, 1)) over the rows of x, one value per latent dim d (nats).

        A dim whose mean KL is ~0 carries no information about x (a collapsed unit)."""
        mu, logvar = self.encode(x.reshape(x.shape[0], -1))
        # the closed form summed over a trailing axis of size 1 = one KL per dim
        return gaussian_kl_to_standard_normal(mu[..., None], logvar[..., None]).mean(0)


class DecodedImages(nn.Module):
    """A VAE's decoder as a `vaegan.latent` generator: z (N, D) -> Bernoulli means as (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, model: VAE) -> None:
        super().__init__()
        self.model = model
        # A new module starts in training mode; the wrapper takes the VAE's mode instead, so that `eval_mode` on the
        # wrapper of a shared eval-mode VAE (the app's cached model) has nothing to switch and leaves the VAE alone.
        self.training = model.training

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.decode(z)).view(-1, 1, MNIST_SIDE, MNIST_SIDE) * 2.0 - 1.0


# ------------------------------------------------------------------------------------------ the maths


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) summed over the last dim.

    Written as -BCE-with-logits, which is log-sum-exp stable: log(sigmoid(l)) underflows to -inf once
    sigmoid(l) rounds to 0 in float32 (l < -88), and then one pixel turns the whole loss into inf/NaN.
    """
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)


def gaussian_kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ), summed over the last dim (closed form)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def diagonal_gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dim."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def neg_elbo(
    model: VAE, x: torch.Tensor, rng: torch.Generator | None = None, eps: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-example -ELBO = -E_q[log p(x|z)] + KL(q(z|x) || p(z)), one reparameterized sample, analytic KL.

    `rng` (on x's device) makes the sample reproducible without touching the global RNG (used for evaluation).
    `eps` (n, latent_dim) is the standard-normal noise itself, drawn by the caller (data-parallel training draws
    it for the whole batch and gives each process its rows).
    """
    x = x.reshape(-1, IMAGE_PIXELS)
    mu, logvar = model.encode(x)
    if eps is None:
        eps = torch.randn(mu.shape, generator=rng, device=mu.device, dtype=mu.dtype)
    z = mu + eps * torch.exp(0.5 * logvar)
    return -bernoulli_log_prob(model.decode(z), x) + gaussian_kl_to_standard_normal(mu, logvar)


@torch.no_grad()
def log_px_importance(
    model: VAE,
    x: torch.Tensor,
    k: int = 200,
    *,
    max_decodes: int = 4096,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-sampled log p(x) with the encoder as proposal, per example.

    log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K,   z_k ~ q(z|x).

    The K samples are decoded in chunks of at most `max_decodes` latents (chunk x batch) per decoder call, so memory
    is bounded by that many decoder evaluations' activations, whatever K, the batch or the architecture. Chunks are
    combined with a running logsumexp, and the noise is drawn chunk by chunk in the order a single draw would use.
    On the CPU that gives the single draw's very numbers whenever batch x latent_dim is a multiple of 16 (torch's
    normal sampler fills blocks of 16), so the estimate does not depend on the chunk size; otherwise it is the
    same estimator with other noise.
    """
    check_importance_samples(k)
    if max_decodes < 1:
        raise ConfigError("max_decodes must be >= 1")
    x = x.reshape(-1, IMAGE_PIXELS)
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    batch = x.shape[0]
    chunk = max(1, min(k, max_decodes // max(1, batch)))
    running = torch.full((batch,), -math.inf, device=x.device)
    done = 0
    while done < k:
        n = min(chunk, k - done)
        eps = torch.randn((n, batch, mu.shape[-1]), device=x.device, generator=rng)
        z = mu + eps * std  # (n, B, D)
        # log q(z|x) written with eps = (z - mu) / std directly: same value, one fewer pass over z.
        log_q = -0.5 * (LOG_2PI + logvar + eps.pow(2)).sum(-1)
        log_w = bernoulli_log_prob(model.decode(z), x) + standard_normal_log_prob(z) - log_q
        running = torch.logaddexp(running, torch.logsumexp(log_w, dim=0))
        done += n
    return running - math.log(k)
