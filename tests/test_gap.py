"""The gap panel's numbers (vaegan.gap) against closed forms: a linear Gaussian model, whose log p(x), posterior and
KL(q ‖ p(z|x)) are known exactly, runs through the same importance-sampling code as a VAE; a 2-latent VAE is
checked against log p(x) by quadrature on a grid."""

from __future__ import annotations

import math

import pytest
import torch

from vaegan.errors import ConfigError
from vaegan.gap import effective_sample_size, gap_report, importance_log_weights, vae_gap_report
from vaegan.vae import VAE, VAEConfig, bernoulli_log_prob, standard_normal_log_prob


class LinearGaussian:
    """p(z) = N(0, I_D), p(x|z) = N(W z + b, σ² I_P): log p(x) = log N(x; b, W Wᵀ + σ² I) and the posterior is
    N(μ, Σ) with Σ = (I + WᵀW / σ²)⁻¹, μ = Σ Wᵀ (x − b) / σ² (all in float64)."""

    def __init__(self, w: torch.Tensor, b: torch.Tensor, sigma: float) -> None:
        self.w, self.b, self.sigma = w.double(), b.double(), sigma

    def log_joint(self, x: torch.Tensor) -> object:
        def f(z: torch.Tensor) -> torch.Tensor:
            z = z.double()
            residual = x - z @ self.w.T - self.b
            variance = self.sigma**2
            log_lik = -0.5 * (residual.pow(2).sum(-1) / variance + x.numel() * math.log(2 * math.pi * variance))
            return log_lik + standard_normal_log_prob(z)

        return f

    def log_px(self, x: torch.Tensor) -> float:
        covariance = self.w @ self.w.T + self.sigma**2 * torch.eye(x.numel(), dtype=torch.float64)
        return float(torch.distributions.MultivariateNormal(self.b, covariance).log_prob(x))

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        precision = torch.eye(self.w.shape[1], dtype=torch.float64) + self.w.T @ self.w / self.sigma**2
        covariance = torch.linalg.inv(precision)
        return covariance @ self.w.T @ (x - self.b) / self.sigma**2, covariance

    def kl_to_posterior(self, x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> float:
        """KL(N(mean, diag(exp(logvar))) ‖ p(z|x)), the closed form for two Gaussians."""
        mu, covariance = self.posterior(x)
        precision = torch.linalg.inv(covariance)
        s, diff = torch.diag(logvar.double().exp()), mu - mean.double()
        return 0.5 * float(torch.trace(precision @ s) + diff @ precision @ diff - mu.numel()
                           + torch.logdet(covariance) - logvar.double().sum())  # fmt: skip


def model_and_x(seed: int, orthogonal: bool = False) -> tuple[LinearGaussian, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, 3, generator=g, dtype=torch.float64)
    if orthogonal:  # WᵀW diagonal: the posterior is a diagonal Gaussian, so q can be exactly it
        w = torch.linalg.qr(w).Q * torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    model = LinearGaussian(w, torch.randn(6, generator=g, dtype=torch.float64), sigma=0.7)
    z = torch.randn(3, generator=g, dtype=torch.float64)
    x = z @ model.w.T + model.b + 0.7 * torch.randn(6, generator=g, dtype=torch.float64)
    return model, x


def mean_field(model: LinearGaussian, x: torch.Tensor, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean-field proposal: the posterior mean (moved by `shift`), variances 1 / diag(precision)."""
    mu, covariance = model.posterior(x)
    precision = torch.linalg.inv(covariance)
    return mu + shift, -torch.log(torch.diag(precision))


def test_when_q_is_the_posterior_every_weight_is_p_x() -> None:
    model, x = model_and_x(0, orthogonal=True)
    mu, covariance = model.posterior(x)
    assert torch.allclose(covariance, torch.diag(torch.diag(covariance)), atol=1e-12)
    report = gap_report(model.log_joint(x), mu, torch.log(torch.diag(covariance)), k=50, repeats=3)
    assert report.log_px == pytest.approx([model.log_px(x)] * len(report.k_values), abs=1e-9)  # K = 1 is exact
    assert report.elbo == pytest.approx(model.log_px(x), abs=1e-9) and abs(report.gap) < 1e-9
    assert report.ess == pytest.approx(50.0, rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_estimate_the_elbo_and_the_gap_match_the_closed_forms(seed: int) -> None:
    model, x = model_and_x(seed)
    mean, logvar = mean_field(model, x)
    report = gap_report(model.log_joint(x), mean, logvar, k=4000, repeats=8, seed=seed)
    log_px, kl = model.log_px(x), model.kl_to_posterior(x, mean, logvar)
    assert kl > 0.05  # the mean-field q really misses the correlated posterior: there is a gap to find
    assert report.log_px_at_k == pytest.approx(log_px, abs=4 * report.log_px_se_at_k + 1e-3)
    assert report.elbo == pytest.approx(log_px - kl, abs=4 * report.elbo_se)
    assert report.gap == pytest.approx(kl, abs=4 * report.gap_se + 0.01)
    assert report.gap >= -2 * report.gap_se


def test_the_estimate_rises_with_k_in_expectation_towards_log_px() -> None:
    """E[log p̂_K] is non-decreasing in K and never above log p(x) (Jensen); means over 40 seeds of 8 repeats each,
    with a proposal whose mean is off, so the rise is large."""
    model, x = model_and_x(4)
    mean, logvar = mean_field(model, x, shift=0.8)
    ks = [1, 10, 100, 1000]
    estimates = []
    for s in range(40):
        report = gap_report(model.log_joint(x), mean, logvar, k=1000, repeats=8, seed=s)
        estimates.append([report.log_px[report.k_values.index(k)] for k in ks])
    table = torch.tensor(estimates, dtype=torch.float64)  # (seeds, K)
    means, errors = table.mean(0), table.std(0) / math.sqrt(table.shape[0])
    for i in range(len(ks) - 1):
        assert means[i + 1] >= means[i] - 2 * math.hypot(errors[i], errors[i + 1]), (ks, means.tolist())
    assert means[-1] - means[0] > 10 * errors[0]  # a clear rise, not noise
    assert float(means[-1]) <= model.log_px(x) + 2 * float(errors[-1])


def test_the_effective_sample_size() -> None:
    assert effective_sample_size(torch.zeros(10, dtype=torch.float64)) == pytest.approx(10.0)
    assert effective_sample_size(torch.tensor([0.0, -800.0, -800.0], dtype=torch.float64)) == pytest.approx(1.0)
    two = torch.log(torch.tensor([3.0, 1.0], dtype=torch.float64))
    assert effective_sample_size(two) == pytest.approx(16 / 10)


def test_the_weights_do_not_depend_on_the_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    model, x = model_and_x(5)
    mean, logvar = mean_field(model, x)
    whole = importance_log_weights(model.log_joint(x), mean, logvar, 300, torch.Generator().manual_seed(0))
    monkeypatch.setattr("vaegan.gap.MAX_DECODES", 64)
    chunked = importance_log_weights(model.log_joint(x), mean, logvar, 300, torch.Generator().manual_seed(0))
    torch.testing.assert_close(whole, chunked)


def test_a_two_latent_vae_matches_log_px_by_quadrature() -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=2, hidden=16)).eval()
    x = (torch.rand(784, generator=torch.Generator().manual_seed(1)) < 0.2).float()
    # log ∫ p(x|z) p(z) dz on a 401 x 401 grid over [-7, 7]², an independent route to the same number
    axis = torch.linspace(-7.0, 7.0, 401)
    grid = torch.cartesian_prod(axis, axis)
    with torch.no_grad():
        log_joint = bernoulli_log_prob(vae.decode(grid), x[None]) + standard_normal_log_prob(grid)
    cell = float(axis[1] - axis[0]) ** 2
    exact = float(torch.logsumexp(log_joint.double(), 0)) + math.log(cell)
    report = vae_gap_report(vae, x, k=2000, repeats=4, seed=0)
    assert report.log_px_at_k == pytest.approx(exact, abs=4 * report.log_px_se_at_k + 0.02)
    assert report.gap >= -2 * report.gap_se and report.elbo < exact
    assert vae.training is False


def test_bad_inputs_are_one_line_errors() -> None:
    vae = VAE(VAEConfig(latent_dim=2, hidden=8))
    with pytest.raises(ConfigError, match="784 pixels"):
        vae_gap_report(vae, torch.zeros(10))
    with pytest.raises(ConfigError, match="repeats"):
        vae_gap_report(vae, torch.zeros(784), repeats=1)
    with pytest.raises(ConfigError, match="over the limit"):
        vae_gap_report(vae, torch.zeros(784), k=10**9)
