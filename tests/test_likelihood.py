"""Dataset-level VAE evaluation: fixed seeds give fixed numbers, the model's mode is given back, the subset is
seeded and random, and the numbers match the per-example functions they average."""

from __future__ import annotations

import torch

from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo, evaluate_vae
from vaegan.vae import VAE, VAEConfig, log_px_importance, neg_elbo


def _model_and_digits() -> tuple[VAE, torch.Tensor]:
    torch.manual_seed(0)
    model = VAE(VAEConfig(latent_dim=3, hidden=16))
    x = torch.bernoulli(torch.full((40, 784), 0.2), generator=torch.Generator().manual_seed(1))
    return model, x


def test_evaluators_are_deterministic_and_give_the_mode_back() -> None:
    model, x = _model_and_digits()
    model.train()
    a, b = evaluate_neg_elbo(model, x), evaluate_neg_elbo(model, x)
    assert a == b and model.training
    assert evaluate_log_px(model, x, 5) == evaluate_log_px(model, x, 5) and model.training


def test_evaluators_average_the_per_example_functions() -> None:
    model, x = _model_and_digits()
    model.eval()
    rng = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        expected = neg_elbo(model, x, rng=rng).mean().item()
    assert abs(evaluate_neg_elbo(model, x, batch_size=1000) - expected) < 1e-4
    rng = torch.Generator().manual_seed(1234)
    expected = log_px_importance(model, x, 7, rng=rng).mean().item()
    assert abs(evaluate_log_px(model, x, 7, batch_size=1000) - expected) < 1e-4


def test_evaluate_vae_takes_a_seeded_random_subset() -> None:
    model, x = _model_and_digits()
    x[:20] = 0.0  # a file sorted by class: the first rows are all alike
    full = evaluate_vae(model, x, 3)
    sub = evaluate_vae(model, x, 3, limit=10, seed=2)
    assert full["n"] == 40 and sub["n"] == 10 and sub == evaluate_vae(model, x, 3, limit=10, seed=2)
    first = evaluate_vae(model, x[:10], 3)
    assert sub["neg_elbo"] != first["neg_elbo"]  # not simply the first 10 rows
