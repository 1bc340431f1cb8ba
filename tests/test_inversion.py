"""GAN inversion: from another starting z, Adam on z finds an image close to G(z*) for known latents z*."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import REPO_ROOT
from vaegan.errors import ConfigError, DataError
from vaegan.inversion import invert, pixel_rmse
from vaegan.latent import generate, sample_latents
from vaegan.wgan import Generator, WGANConfig

# The promise tested below: the inverted image lies within this RMS pixel error (images in [-1, 1]) of the target.
# The generator's images start about 0.5 away from each other (checked), so this is ten times closer.
PIXEL_RMSE = 0.05
SHIPPED = REPO_ROOT / "checkpoints" / "wgan.safetensors"


def lively_generator() -> Generator:
    """A tiny random DCGAN generator whose images vary (tests/test_app.py explains the scaling)."""
    torch.manual_seed(0)
    generator = Generator(WGANConfig(latent_dim=16, width=8))
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, torch.nn.ConvTranspose2d):
                module.weight.mul_(4.0)
    return generator.eval()


@pytest.mark.parametrize("target_seed", [11, 12, 13])
def test_inversion_finds_the_image_of_a_known_latent(target_seed: int) -> None:
    generator = lively_generator()
    z_star = sample_latents(1, 16, target_seed)
    target = generate(generator, z_star)[0]
    start = sample_latents(4, 16, 0)  # the starts invert draws with seed 0: other latents than z*
    assert (start - z_star).norm(dim=1).min() > 3.0
    assert min(pixel_rmse(image, target) for image in generate(generator, start)) > 0.3
    result = invert(generator, target, steps=300, seed=0)
    assert result.pixel_rmse <= PIXEL_RMSE
    assert pixel_rmse(generate(generator, result.z[None])[0], target) == pytest.approx(result.pixel_rmse, abs=1e-6)
    assert torch.allclose(result.image, generate(generator, result.z[None])[0], atol=1e-6)
    assert len(result.losses) == 300 and result.losses[-1] < result.losses[0]


def test_inversion_is_deterministic_and_follows_its_seed() -> None:
    generator = lively_generator()
    target = generate(generator, sample_latents(1, 16, 5))[0]
    a = invert(generator, target, steps=20, seed=1)
    b = invert(generator, target, steps=20, seed=1)
    c = invert(generator, target, steps=20, seed=2)
    assert torch.equal(a.z, b.z) and a.losses == b.losses
    assert not torch.equal(a.z, c.z)
    starts = torch.randn(4, 16, generator=torch.Generator().manual_seed(1))
    explicit = invert(generator, target, steps=20, z_init=starts)
    assert torch.equal(explicit.z, a.z)


def test_inversion_works_inside_no_grad_and_leaves_the_model_as_it_was() -> None:
    generator = lively_generator().train()
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    target = generate(generator, sample_latents(1, 16, 7))[0]
    reports: list[tuple[int, int, float]] = []
    with torch.no_grad():  # as in the app's pages
        result = invert(generator, target, steps=15, on_progress=lambda *report: reports.append(report))
    assert [r[:2] for r in reports] == [(i, 15) for i in range(1, 16)]
    assert reports[-1][2] <= reports[0][2]
    assert generator.training  # its mode is given back
    assert all(p.grad is None for p in generator.parameters())  # no weight gradient was computed
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())  # BatchNorm stats untouched
    assert result.z.shape == (16,)


def test_the_prior_term_keeps_the_latent_short() -> None:
    generator = lively_generator()
    target = torch.zeros(3, 32, 32)  # an image the generator cannot draw: only the prior decides how far z goes
    free = invert(generator, target, steps=100, prior_weight=0.0)
    held = invert(generator, target, steps=100, prior_weight=0.05)
    assert held.z.norm() < free.z.norm()


def test_bad_settings_and_wrong_shapes_are_errors() -> None:
    generator = lively_generator()
    with pytest.raises(ConfigError):
        invert(generator, torch.zeros(3, 32, 32), steps=0)
    with pytest.raises(DataError):
        invert(generator, torch.zeros(1, 28, 28), steps=2)


@pytest.mark.skipif(not SHIPPED.exists(), reason="the shipped generator is not there")
def test_inversion_of_the_shipped_generator() -> None:
    from vaegan.checkpoint import load_model

    generator = load_model(SHIPPED, kind="wgan-generator")
    for seed in (100, 101):
        target = generate(generator, sample_latents(1, generator.latent_dim, seed))[0]
        assert invert(generator, target, seed=0).pixel_rmse <= PIXEL_RMSE
