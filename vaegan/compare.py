"""The VAE and the WGAN scored the same way on the same held-out digits: what `python cli.py eval compare` prints
and the app's "VAE vs GAN" page shows.

Both models' samples go through the digit classifier as 32x32x3 images in [-1, 1]. The WGAN draws those directly;
the VAE's samples are its decoder's Bernoulli means (28x28 grey levels, not one binary sample of them), padded to
32x32 and repeated to three channels exactly as `vaegan.data.to_rgb32` pads MNIST (`vae_sample_images`). Then
both get `vaegan.metrics.score_images` against the same reference half of the held-out digits, at the same n,
k and seed, beside the real-vs-real floor: the WGAN's numbers are the ones `python cli.py eval wgan` prints with
the same data, n, k and seed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vaegan.data import MNIST_SIDE, to_rgb32
from vaegan.fidelity import fidelity_of_images
from vaegan.latent import generate, interpolate_latent, sample_latents
from vaegan.metrics import generated_images, score_images, split_halves
from vaegan.runtime import device_of, eval_mode


def vae_latents(vae: nn.Module, n: int, seed: int) -> torch.Tensor:
    """The n latents (n, D) `vae.sample(n, rng)` decodes for rng = a fresh generator seeded by `seed`."""
    return torch.randn(n, vae.latent_dim, generator=torch.Generator().manual_seed(seed))


def vae_decode_rgb32(vae: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The decoder's Bernoulli means of z (N, D), padded to (N, 3, 32, 32) in [-1, 1] by `to_rgb32`."""
    with eval_mode(vae):
        means = torch.sigmoid(vae.decode(z.to(device_of(vae)))).float().cpu()
    return to_rgb32(means.view(-1, MNIST_SIDE, MNIST_SIDE))


def vae_sample_images(vae: nn.Module, n: int, seed: int) -> torch.Tensor:
    """n VAE samples as the classifier reads images: z ~ N(0, I) from `seed` (the z of `vae.sample`), the
    decoder's Bernoulli means, padded to (n, 3, 32, 32) in [-1, 1] by `to_rgb32`."""
    return vae_decode_rgb32(vae, vae_latents(vae, n, seed))


def side_by_side_interpolation(
    vae: nn.Module, generator: nn.Module, *, vae_seed: int, gan_seed: int, count: int, a: int, b: int,
    steps: int = 9, mode: str = "slerp",
) -> tuple[torch.Tensor, torch.Tensor]:
    """(vae_row, gan_row), each (steps, 3, 32, 32): the walk from sample a to sample b of each model's grid of
    `count` samples (VAE grid: `vae_sample_images(vae, count, vae_seed)`; WGAN grid: the generator's images of
    `sample_latents(count, D, gan_seed)`, as the Samples page draws them), through each model's own latent space."""

    vae_z = vae_latents(vae, count, vae_seed)
    gan_z = sample_latents(count, generator.latent_dim, gan_seed)
    vae_row = vae_decode_rgb32(vae, interpolate_latent(vae_z[a], vae_z[b], steps, mode))
    gan_row = generate(generator, interpolate_latent(gan_z[a], gan_z[b], steps, mode))
    return vae_row, gan_row


def compare_models(
    vae: nn.Module,
    generator: nn.Module,
    classifier: nn.Module,
    real: torch.Tensor,
    *,
    n: int = 1000,
    seed: int = 0,
    k: int = 3,
    bootstrap: int = 0,
    kid: bool = False,
    fd_infinity: bool = False,
) -> dict[str, Any]:
    """Fréchet distance, precision, recall and the classifier's digit histogram of n samples of each model against
    the same n held-out digits `real` (N >= 2n images (N, 3, 32, 32) in [-1, 1]), and of n other held-out digits
    (the floor). One dict: {"n", "k", "seed", "floor": {...}, "vae": {...}, "wgan": {...}}; `bootstrap`
    (resamples, 0 = none), `kid` and `fd_infinity` add "fidelity": `vaegan.fidelity.fidelity_report` of the sets
    "floor", "vae" and "wgan"."""
    sets = comparison_images(vae, generator, real, n=n, seed=seed)
    reference = sets.pop("reference")
    scores = {name: score_images(classifier, reference, images, k) for name, images in sets.items()}
    result = {
        "n": n,
        "k": k,
        "seed": seed,
        "floor": scores["floor"],
        "vae": {**scores["vae"], "arch": vae.config.arch, "latent_dim": vae.latent_dim},
        "wgan": {**scores["wgan"], "latent_dim": generator.latent_dim},
    }
    if bootstrap or kid or fd_infinity:
        result["fidelity"] = fidelity_of_images(classifier, reference, sets, resamples=bootstrap, k=k, seed=seed,
                                                kid=kid, curve=fd_infinity)  # fmt: skip
    return result


def comparison_images(vae: nn.Module, generator: nn.Module, real: torch.Tensor, *, n: int, seed: int
                      ) -> dict[str, torch.Tensor]:  # fmt: skip
    """The n-image sets `compare_models` scores, each (n, 3, 32, 32) in [-1, 1]: "reference" and "floor" (the two
    halves of `split_halves(real, n, seed)`), "vae" and "wgan" (each model's samples for `seed`)."""
    reference, floor = split_halves(real, n, seed)
    return {"reference": reference, "floor": floor, "vae": vae_sample_images(vae, n, seed),
            "wgan": generated_images(generator, generator.latent_dim, n, seed)}  # fmt: skip


METRIC_NAMES = {"fid": "Fréchet distance ↓", "precision": "precision ↑", "recall": "recall ↑"}
