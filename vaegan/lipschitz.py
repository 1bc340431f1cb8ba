"""The Lipschitz machinery shared by the WGAN-GP and the divergence lab's W1 critics: points between paired
samples, and the gradient norm of a critic at each of them, one norm per sample.

The penalties themselves live beside their users (`vaegan.wgan.gradient_penalty`, `vaegan.divergences.bounds`);
both call `per_sample_grad_norm`, so the code the tests check is the code training runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def interpolate(a: Tensor, b: Tensor, alpha: Tensor) -> Tensor:
    """alpha * a + (1 - alpha) * b on the segments between paired samples (alpha broadcasts, one per pair)."""
    return alpha * a + (1.0 - alpha) * b


def per_sample_grad_norm(outputs: Tensor, inputs: Tensor, event_dims: int = 1) -> Tensor:
    """||d outputs[i] / d inputs[i]||_2 over the last `event_dims` dims of `inputs`, one number per sample,
    differentiable (create_graph, so a penalty on it can be trained through).

    Summing the outputs before differentiating is exact because each output depends only on its own input sample
    (critics here have no batch norm), so d(sum)/d inputs[i] = d outputs[i] / d inputs[i]. The norm is taken in
    float32 whatever the autocast dtype of the critic.
    """
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.float().flatten(start_dim=grad.dim() - event_dims).norm(2, dim=-1)


def gradient_norms(critic: Callable[[Tensor], Tensor], points: Tensor, event_dims: int = 1) -> Tensor:
    """||grad_x V(x)||_2 at every point: `points` (..., *event) -> norms (...)."""
    points = points.detach().requires_grad_(True)
    return per_sample_grad_norm(critic(points), points, event_dims)
