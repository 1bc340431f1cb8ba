"""GAN inversion: find a latent z whose image G(z) looks like a given target image.

The generator has no encoder, so z is found by optimisation: Adam on z (the generator's weights stay fixed) for

    loss(z) = mean over pixels of (G(z) - target)^2  +  prior_weight * ||z||^2 / 2

The second term is -log N(z; 0, I) up to a constant: it keeps z where the prior puts its mass, so the z that is
found behaves like a sample under latent edits (epsilon sliders, interpolation) instead of drifting to a huge norm
where the generator was never trained. Its default weight is small: on targets the generator can draw, the z
found keeps a typical norm (about sqrt(D), where prior samples lie) instead of being pulled towards 0, the prior's
mode, which no sample is near in high dimension. Several starting points are optimised at once as one batch (a
batch costs little more than one image on a CPU) and the one with the lowest loss wins: a single start can stall
in a poor local minimum.

Deterministic: the starting points come from a private RNG seeded by `seed`, and nothing else is random.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from vaegan.errors import ConfigError, DataError
from vaegan.runtime import device_of, eval_mode

# (step done, steps in total, best loss so far): called after every step.
InversionCallback = Callable[[int, int, float], None]


@dataclass
class InversionResult:
    z: torch.Tensor  # (D,) the latent found, float32 on the CPU
    image: torch.Tensor  # (C, H, W) G(z) in [-1, 1], on the CPU
    pixel_rmse: float  # RMS of G(z) - target over pixels, in [-1, 1] units (0: exact; 2: every pixel flipped)
    losses: list[float]  # the winning start's loss after each step
    steps: int


def invert(
    generator: nn.Module,
    target: torch.Tensor,
    *,
    steps: int = 300,
    lr: float = 0.1,
    prior_weight: float = 1e-5,
    restarts: int = 4,
    seed: int = 0,
    z_init: torch.Tensor | None = None,
    on_progress: InversionCallback | None = None,
) -> InversionResult:
    """The z that minimises the loss of the module docstring for `target` (C, H, W) or (1, C, H, W) in [-1, 1].

    `restarts` starting points z ~ N(0, I) from `seed`, or the rows of `z_init` (R, D) when given. The generator is
    run in eval mode (BatchNorm on its running statistics, so each start's image depends on its own z only) and
    gets its mode back afterwards.
    """
    if steps < 1 or restarts < 1 or not lr > 0 or prior_weight < 0:
        raise ConfigError("inversion needs steps >= 1, restarts >= 1, lr > 0 and prior_weight >= 0")
    target = target.reshape(1, *target.shape[-3:]).float()
    latent_dim = generator.latent_dim
    if z_init is None:
        z_init = torch.randn(restarts, latent_dim, generator=torch.Generator().manual_seed(seed))
    z_init = z_init.reshape(-1, latent_dim).float()
    device = device_of(generator)
    target = target.to(device)
    z = z_init.clone().to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    history: list[torch.Tensor] = []
    # eval_mode turns autograd off, and so does the app for its pages (demo.common.inference_only): the
    # optimisation turns it back on inside. torch.autograd.grad asks for z's gradient alone: no weight gradient
    # is computed or stored, and the model (shared between the app's sessions) is not modified.
    with eval_mode(generator), torch.enable_grad():
        for step in range(steps):
            images = generator(z)
            if step == 0 and tuple(images.shape[1:]) != tuple(target.shape[1:]):
                raise DataError(
                    f"the target is {tuple(target.shape[1:])} but the generator draws {tuple(images.shape[1:])}"
                )
            per_start = (images - target).pow(2).flatten(1).mean(1) + prior_weight * 0.5 * z.pow(2).sum(1)
            (z.grad,) = torch.autograd.grad(per_start.sum(), z)
            optimizer.step()
            history.append(per_start.detach())
            if on_progress is not None:
                on_progress(step + 1, steps, float(per_start.detach().min()))
    with eval_mode(generator):
        final_images = generator(z)
        final = (final_images - target).pow(2).flatten(1).mean(1) + prior_weight * 0.5 * z.pow(2).sum(1)
        best = int(final.argmin())
        rmse = float((final_images[best] - target[0]).pow(2).mean().sqrt())
    return InversionResult(
        z=z[best].detach().float().cpu(),
        image=final_images[best].float().cpu(),
        pixel_rmse=rmse,
        losses=[float(losses[best]) for losses in history],
        steps=steps,
    )


def pixel_rmse(a: torch.Tensor, b: torch.Tensor) -> float:
    """RMS difference of two images (any equal shapes), in their own units."""
    return float((a.float() - b.float()).pow(2).mean().sqrt())
