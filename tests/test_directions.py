"""Principal directions of a generator (the Latent page's): orthonormal, ranked by the variance they explain, and on
a generator whose first layer is known, the direction put there; and the digit-change share against a hand count."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import make_tiny_classifier
from vaegan.classifier import predict_digits
from vaegan.errors import ConfigError
from vaegan.latent import (
    digit_change_share,
    direction_lesson,
    generate,
    jacobian_gram,
    lesson_directions,
    principal_directions,
    sample_latents,
)
from vaegan.wgan import Generator, WGANConfig

D, HIDDEN, PIXELS = 8, 24, 3 * 32 * 32


def random_generator() -> Generator:
    torch.manual_seed(0)
    generator = Generator(WGANConfig(latent_dim=D, width=4))
    with torch.no_grad():  # a fresh DCGAN is almost flat grey; larger weights give images that vary (as test_app)
        for module in generator.modules():
            if isinstance(module, nn.ConvTranspose2d):
                module.weight.mul_(4.0)
    return generator.eval()


class KnownFirstLayer(nn.Module):
    """G(z) = A leaky_relu(B z): the first layer B = U diag(s) Vᵀ has a known top right singular vector v_1 (s_1 far
    above the rest), and A has orthonormal columns, so A changes no length. features(z) = leaky_relu(B z)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        u, _ = torch.linalg.qr(torch.randn(HIDDEN, D, generator=g))
        v, _ = torch.linalg.qr(torch.randn(D, D, generator=g))
        self.top = v[:, 0].clone()
        self.b = u @ torch.diag(torch.tensor([6.0, 1.5, 1.2, 1.0, 0.8, 0.6, 0.4, 0.2])) @ v.T
        self.a, _ = torch.linalg.qr(torch.randn(PIXELS, HIDDEN, generator=g))
        self.latent_dim = D

    def features(self, z: torch.Tensor, layer: int) -> torch.Tensor:
        return nn.functional.leaky_relu(z @ self.b.T, 0.2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.features(z, 0) @ self.a.T).view(-1, 3, 32, 32)


def test_the_directions_are_orthonormal_and_explain_decreasing_variance() -> None:
    generator = random_generator()
    z = sample_latents(6, D, 1)
    pcs = principal_directions(generator, z, k=D, method="jacobian")
    torch.testing.assert_close(pcs.directions @ pcs.directions.T, torch.eye(D), atol=1e-5, rtol=0)
    assert (pcs.variance[:-1] >= pcs.variance[1:]).all() and (pcs.variance >= -1e-7).all()
    # each variance is v^T M v for the Gram matrix M, and together they are all of M's trace (nothing is lost)
    gram = jacobian_gram(generator, z).double()
    for v, variance in zip(pcs.directions.double(), pcs.variance, strict=True):
        assert float(v @ gram @ v) == pytest.approx(float(variance), rel=1e-4, abs=1e-8)
    assert float(pcs.variance.sum()) == pytest.approx(float(torch.trace(gram)), rel=1e-4)


def test_the_jacobian_gram_matches_autograd() -> None:
    """An independent Jacobian: torch.autograd of the same generator, per latent (the finite differences are O(h²))."""
    generator = random_generator()
    z = sample_latents(3, D, 2)
    expected = torch.zeros(D, D, dtype=torch.float64)
    for zi in z:
        with torch.enable_grad():
            jac = torch.autograd.functional.jacobian(lambda v: generator(v[None]).reshape(-1), zi).double()
        expected += jac.T @ jac / jac.shape[0]
    error = (jacobian_gram(generator, z).double() - expected / 3).norm() / (expected / 3).norm()
    assert float(error) < 2e-2  # a ReLU kink inside a step of ±h costs a little; everything else is O(h²)


@pytest.mark.parametrize("method", ["jacobian", "features"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_top_direction_is_the_one_put_into_the_first_layer(method: str, seed: int) -> None:
    generator = KnownFirstLayer(seed)
    z = sample_latents(400 if method == "features" else 32, D, seed)
    pcs = principal_directions(generator, z, k=3, method=method)
    cosine = float(torch.dot(pcs.directions[0], generator.top))
    assert abs(cosine) > 0.97, cosine  # up to sign
    if method == "jacobian":  # feature-PCA directions regressed back to z need not be orthogonal to each other
        assert float((pcs.directions[1:] @ generator.top).abs().max()) < 0.1


def test_digit_change_share_is_the_hand_count() -> None:
    generator, classifier = random_generator(), make_tiny_classifier()
    z = sample_latents(5, D, 3)
    directions = torch.eye(D)[:3]
    eps = (-2.0, 2.0)
    share = digit_change_share(generator, classifier, z, directions, eps)
    base, _ = predict_digits(classifier, generate(generator, z))
    for r, v in enumerate(directions):
        changed = 0
        for i in range(z.shape[0]):
            digits, _ = predict_digits(classifier, generate(generator, torch.stack([z[i] + e * v for e in eps])))
            changed += bool((digits != base[i]).any())
        assert float(share[r]) == pytest.approx(changed / z.shape[0])
    with pytest.raises(ConfigError):
        digit_change_share(generator, classifier, z, directions, [])


def test_the_lesson_uses_the_same_latents_for_directions_and_axes() -> None:
    generator, classifier = random_generator(), make_tiny_classifier()
    lesson = direction_lesson(generator, classifier, k=3, n=4, seed=5)
    z, pcs = lesson_directions(generator, k=3, n=4, seed=5)
    torch.testing.assert_close(lesson.directions.directions, pcs.directions)
    torch.testing.assert_close(lesson.axis_share, digit_change_share(generator, classifier, z, torch.eye(D)))
    assert lesson.direction_share.shape == (3,) and lesson.axis_share.shape == (D,) and lesson.n == 4
    assert ((lesson.axis_share >= 0) & (lesson.axis_share <= 1)).all()
    with pytest.raises(ConfigError, match="over the limit"):
        direction_lesson(generator, classifier, n=10**6)
