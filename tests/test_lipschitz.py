"""The shared Lipschitz machinery: interpolation and per-sample gradient norms against closed forms."""

from __future__ import annotations

import torch

from vaegan.lipschitz import gradient_norms, interpolate, per_sample_grad_norm


def test_interpolate_is_the_convex_combination() -> None:
    a, b, alpha = torch.randn(4, 2), torch.randn(4, 2), torch.rand(4, 1)
    torch.testing.assert_close(interpolate(a, b, alpha), alpha * a + (1 - alpha) * b)
    torch.testing.assert_close(interpolate(a, b, torch.ones(4, 1)), a)


def test_gradient_norms_of_a_linear_critic_are_its_weight_norm() -> None:
    w = torch.tensor([3.0, 4.0])
    norms = gradient_norms(lambda x: x @ w, torch.randn(5, 2))
    torch.testing.assert_close(norms, torch.full((5,), 5.0))


def test_per_sample_norm_over_images_matches_a_loop() -> None:
    critic = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.LazyLinear(1))
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    critic(x)  # materialise the lazy layer
    norms = per_sample_grad_norm(critic(x).squeeze(1), x, event_dims=3)
    for i in range(4):
        xi = x[i : i + 1].detach().requires_grad_(True)
        (g,) = torch.autograd.grad(critic(xi).sum(), xi)
        torch.testing.assert_close(norms[i], g.norm(), rtol=1e-5, atol=1e-6)
    assert norms.requires_grad  # create_graph: a penalty on it trains
