"""The VAE's maths, each checked against an independent computation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from vaegan.vae import (
    VAE,
    VAEConfig,
    bernoulli_log_prob,
    gaussian_kl_to_standard_normal,
    log_px_importance,
    neg_elbo,
)


def test_analytic_kl_matches_monte_carlo_and_torch_distributions() -> None:
    mu = torch.randn(4, 3)
    logvar = torch.randn(4, 3) * 0.5
    analytic = gaussian_kl_to_standard_normal(mu, logvar)

    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    z = q.sample((400_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(analytic, monte_carlo, atol=0.02, rtol=0.01)
    torch.testing.assert_close(analytic, kl_divergence(q, p).sum(-1))


def test_bernoulli_log_prob_matches_torch_distributions_including_extreme_logits() -> None:
    logits = torch.randn(5, 784) * 4
    logits[0, :10] = torch.tensor([-200.0, 200.0, -90.0, 90.0, 0.0, -30.0, 30.0, -1e4, 1e4, 5.0])
    x = torch.bernoulli(torch.full((5, 784), 0.3))
    x[0, :10] = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    ours = bernoulli_log_prob(logits, x)
    reference = Bernoulli(logits=logits.double()).log_prob(x.double()).sum(-1).float()
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-3)
    assert torch.isfinite(ours).all()
    # The naive log(sigmoid) form, which the reference used, breaks on the same inputs.
    naive = (x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))).sum(-1)
    assert not torch.isfinite(naive[0])


def test_bernoulli_log_prob_broadcasts_over_importance_samples() -> None:
    logits = torch.randn(7, 3, 784)
    x = torch.bernoulli(torch.full((3, 784), 0.5))
    assert bernoulli_log_prob(logits, x).shape == (7, 3)
    torch.testing.assert_close(bernoulli_log_prob(logits, x)[2], bernoulli_log_prob(logits[2], x))


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_shapes_and_finite_loss(arch: str) -> None:
    model = VAE(VAEConfig(arch=arch, latent_dim=8, hidden=32))
    x = torch.bernoulli(torch.full((6, 784), 0.2))
    loss = neg_elbo(model, x)
    assert loss.shape == (6,) and torch.isfinite(loss).all() and (loss > 0).all()
    loss.mean().backward()
    assert model.sample(3).shape == (3, 1, 28, 28)
    assert model.reconstruct(x).shape == (6, 1, 28, 28)
    assert model.decode(torch.randn(2, 5, 8)).shape == (2, 5, 784)


def _smooth_tiny_vae(latent_dim: int = 1) -> VAE:
    """A VAE whose likelihood varies slowly with z, so importance sampling converges at moderate K."""
    model = VAE(VAEConfig(latent_dim=latent_dim, hidden=16))
    with torch.no_grad():
        for layer in model.decoder:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.mul_(0.3)
    return model.eval()


def test_importance_sampling_matches_exact_log_px_by_quadrature() -> None:
    """With a 1-D latent, log p(x) = log ∫ p(x|z) N(z; 0, 1) dz is computed exactly by a fine Riemann sum."""
    model = _smooth_tiny_vae(latent_dim=1)
    x = torch.bernoulli(torch.full((3, 784), 0.15))
    grid = torch.linspace(-10, 10, 40_001)
    dz = float(grid[1] - grid[0])
    with torch.no_grad():
        logits = model.decode(grid[:, None, None]).expand(-1, x.shape[0], -1)  # (G, 3, 784)
        log_lik = bernoulli_log_prob(logits, x)  # (G, 3)
        log_prior = Normal(0.0, 1.0).log_prob(grid)[:, None]
        exact = torch.logsumexp(log_lik.double() + log_prior.double(), dim=0) + math.log(dz)
    rng = torch.Generator().manual_seed(0)
    # max_decodes forces many small chunks: the chunked running logsumexp must still be exact.
    estimate = log_px_importance(model, x, k=20_000, max_decodes=3 * 512, rng=rng)
    torch.testing.assert_close(estimate.double(), exact, atol=0.02, rtol=0)


def test_importance_estimate_bounds_elbo_and_grows_with_k() -> None:
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent_dim=4, hidden=32)).eval()
    x = torch.bernoulli(torch.full((200, 784), 0.13))
    rng = torch.Generator().manual_seed(1)
    with torch.no_grad():
        elbo = -neg_elbo(model, x, rng=rng).mean()
        by_k = [log_px_importance(model, x, k=k, rng=rng).mean() for k in (1, 10, 100, 1000)]
    # K=1 is an unbiased estimate of the ELBO; larger K is a tighter bound, increasing in expectation.
    assert abs(by_k[0] - elbo) < 0.05 * abs(elbo)
    assert all(later >= earlier for earlier, later in zip(by_k, by_k[1:], strict=False))
    assert by_k[-1] > elbo


def test_importance_sampling_rejects_bad_k() -> None:
    from vaegan.errors import ConfigError

    with pytest.raises(ConfigError):
        log_px_importance(VAE(VAEConfig(latent_dim=2, hidden=8)), torch.zeros(1, 784), k=0)


def test_unknown_arch_is_a_config_error() -> None:
    from vaegan.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown VAE arch"):
        VAEConfig(arch="transformer")


def test_importance_estimate_does_not_depend_on_the_chunk_size() -> None:
    # batch x latent_dim = 16: every chunk's noise is a whole number of the CPU sampler's 16-value blocks, so the
    # chunked draws are the single draw's numbers (see log_px_importance)
    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="conv", latent_dim=4, hidden=32)).eval()
    x = torch.bernoulli(torch.full((4, 784), 0.2))
    one_at_a_time = log_px_importance(model, x, k=37, max_decodes=1, rng=torch.Generator().manual_seed(3))
    all_at_once = log_px_importance(model, x, k=37, max_decodes=10_000, rng=torch.Generator().manual_seed(3))
    torch.testing.assert_close(one_at_a_time, all_at_once, atol=0, rtol=1e-6)  # float32 rounding only


def test_conv_vae_runs_channels_last_and_round_trips(tmp_path: Path) -> None:
    """The conv net keeps NHWC weights (its speed lever) through a save and a load, and computes what the same
    weights compute in the default layout."""
    from vaegan.checkpoint import save_model

    torch.manual_seed(0)
    model = VAE(VAEConfig(arch="conv", latent_dim=4, hidden=32)).eval()
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    save_model(model, tmp_path / "conv.safetensors")
    loaded = VAE.from_pretrained(tmp_path / "conv.safetensors").eval()
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in loaded.parameters() if w.dim() == 4)
    nchw = VAE(VAEConfig(arch="conv", latent_dim=4, hidden=32)).to(memory_format=torch.contiguous_format).eval()
    nchw.load_state_dict(model.state_dict())
    x = (torch.rand(8, 784) < 0.3).float()
    with torch.no_grad():
        z = torch.randn(8, 4)
        assert torch.allclose(loaded.decode(z), nchw.decode(z), atol=1e-4)
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(loaded.encode(x), nchw.encode(x), strict=True))
