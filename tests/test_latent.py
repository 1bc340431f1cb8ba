"""Latent tools against closed forms (a linear generator), and every sample/explore command end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from vaegan.checkpoint import save_model
from vaegan.errors import ConfigError
from vaegan.latent import (
    direction_strip,
    generate,
    interpolate_latent,
    interpolation_rows,
    output_change,
    parse_eps,
    perturbation_strip,
    principal_directions,
    rank_latent_dims,
    sample_latents,
    semantic_rank,
)
from vaegan.wgan import Generator, WGANConfig

D = 6
PIXELS = 3 * 32 * 32


class LinearGenerator(nn.Module):
    """G(z) = A z (reshaped to an image): every derivative is known in closed form. features(z) = B z."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor | None = None) -> None:
        super().__init__()
        self.a = nn.Parameter(a)
        self.b = b

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.a.T).view(-1, 3, 32, 32)

    def features(self, z: torch.Tensor, layer: int) -> torch.Tensor:
        return z @ self.b.T


@pytest.fixture
def linear() -> LinearGenerator:
    scales = torch.tensor([3.0, 0.2, 1.0, 2.0, 0.5, 1.5])  # very different column norms: a clear ranking
    a = torch.randn(PIXELS, D, generator=torch.Generator().manual_seed(0)) * scales
    return LinearGenerator(a)


def test_sample_latents_is_deterministic_and_standard_normal() -> None:
    z = sample_latents(4000, 50, seed=7)
    assert torch.equal(z, sample_latents(4000, 50, seed=7)) and not torch.equal(z, sample_latents(4000, 50, seed=8))
    assert abs(z.mean().item()) < 0.01 and abs(z.std().item() - 1) < 0.01


def test_generate_batches_and_restores_the_mode() -> None:
    generator = Generator(WGANConfig(latent_dim=8, width=4)).train()
    z = sample_latents(9, 8, 0)
    images = generate(generator, z, batch_size=4)
    assert generator.training  # put back in train mode
    assert images.shape == (9, 3, 32, 32) and images.min() >= -1 and images.max() <= 1
    torch.testing.assert_close(images, generate(generator, z, batch_size=100))  # eval mode: batch-independent


def test_parse_eps() -> None:
    assert parse_eps("-5:4:10") == pytest.approx(list(range(-5, 5)))
    assert parse_eps("-1,0.5") == [-1.0, 0.5]
    with pytest.raises(ConfigError):
        parse_eps("1:2")


def test_perturbation_strip_moves_along_one_column_of_a(linear: LinearGenerator) -> None:
    z = sample_latents(1, D, 0)[0]
    eps = [-2.0, 0.0, 3.0]
    strip = perturbation_strip(linear, z, [4, 1], eps)
    assert strip.shape == (2, 3, 3, 32, 32)
    for row, d in enumerate([4, 1]):
        for col, e in enumerate(eps):
            expected = linear(z.view(1, -1)).detach()[0] + e * linear.a[:, d].detach().view(3, 32, 32)
            torch.testing.assert_close(strip[row, col], expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError):
        perturbation_strip(linear, z, [D], eps)


def test_lerp_and_slerp() -> None:
    z0, z1 = torch.tensor([2.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    lerp = interpolate_latent(z0, z1, 5, "lerp")
    torch.testing.assert_close(lerp[[0, 2, 4]], torch.stack([z0, (z0 + z1) / 2, z1]))
    slerp = interpolate_latent(z0, z1, 5, "slerp")
    torch.testing.assert_close(slerp.norm(dim=1), torch.full((5,), 2.0))  # stays on the circle
    angles = torch.atan2(slerp[:, 1], slerp[:, 0])
    torch.testing.assert_close(angles, torch.linspace(0, math.pi / 2, 5))  # at constant angular speed
    torch.testing.assert_close(interpolate_latent(z0, 3 * z0, 3, "slerp"), interpolate_latent(z0, 3 * z0, 3, "lerp"))
    with pytest.raises(ConfigError):
        interpolate_latent(z0, z1, 5, "cubic")


def test_interpolation_rows_latent_path_and_pixel_fade(linear: LinearGenerator) -> None:
    z0, z1 = sample_latents(2, D, 3)
    latent_row, fade_row = interpolation_rows(linear, z0, z1, 5, "slerp")
    assert latent_row.shape == fade_row.shape == (5, 3, 32, 32)
    torch.testing.assert_close(fade_row[[0, 4]], latent_row[[0, 4]])
    torch.testing.assert_close(fade_row[2], (latent_row[0] + latent_row[4]) / 2)
    torch.testing.assert_close(latent_row, generate(linear, interpolate_latent(z0, z1, 5, "slerp")))


def test_rank_latent_dims_is_the_column_norm_of_a(linear: LinearGenerator) -> None:
    ranking = rank_latent_dims(linear, sample_latents(3, D, 0), eps=0.5)
    expected = 0.5 * linear.a.detach().norm(dim=0) / math.sqrt(PIXELS)
    assert [d for d, _ in ranking] == torch.argsort(expected, descending=True).tolist() == [0, 3, 5, 2, 4, 1]
    for d, score in ranking:
        assert score == pytest.approx(expected[d].item(), rel=1e-4)


def test_jacobian_directions_are_the_right_singular_vectors_of_a(linear: LinearGenerator) -> None:
    result = principal_directions(linear, sample_latents(2, D, 0), k=3, method="jacobian", eps=2.0)
    _, s, vh = torch.linalg.svd(linear.a.detach().double(), full_matrices=False)
    assert result.directions.shape == (3, D)
    for i in range(3):
        assert abs(torch.dot(result.directions[i].double(), vh[i]).item()) == pytest.approx(1.0, abs=1e-4)
    torch.testing.assert_close(result.variance.double(), s[:3] ** 2 / PIXELS, rtol=1e-3, atol=0)
    torch.testing.assert_close(result.scores.double(), 2.0 * s[:3] / math.sqrt(PIXELS), rtol=1e-4, atol=0)
    assert (result.scores[:-1] >= result.scores[1:]).all()
    # the best direction changes the image at least as much as the best single latent dim
    assert result.scores[0] >= rank_latent_dims(linear, sample_latents(2, D, 0), eps=2.0)[0][1] - 1e-6


def test_feature_pca_directions_recover_the_top_singular_vectors_of_the_feature_map() -> None:
    u, _ = torch.linalg.qr(torch.randn(40, D, generator=torch.Generator().manual_seed(1)))
    v, _ = torch.linalg.qr(torch.randn(D, D, generator=torch.Generator().manual_seed(2)))
    b = u @ torch.diag(torch.tensor([8.0, 4.0, 2.0, 1.0, 0.5, 0.25])) @ v.T  # features = B z, known SVD
    generator = LinearGenerator(torch.randn(PIXELS, D), b)
    result = principal_directions(generator, sample_latents(4000, D, 5), k=2, method="features")
    for i in range(2):
        assert abs(torch.dot(result.directions[i], v[:, i]).item()) > 0.99
    assert result.variance[0] == pytest.approx(64.0, rel=0.1)  # Var of the top component of B z = 8^2


def test_direction_strip_and_output_change_shapes(linear: LinearGenerator) -> None:
    directions = torch.eye(D)[:2]
    assert direction_strip(linear, torch.zeros(D), directions, [0.0, 1.0, 2.0]).shape == (2, 3, 3, 32, 32)
    assert output_change(linear, sample_latents(4, D, 0), directions).shape == (2,)


# ------------------------------------------------------------------------------------- CLI, end to end


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    generator = Generator(WGANConfig(latent_dim=12, width=4))
    generator.train()
    generator(torch.randn(64, 12))  # give BatchNorm non-trivial running statistics so images are not flat
    return save_model(generator.eval(), tmp_path / "g.safetensors", dataset="test")


def _run(*args: str) -> int:
    import cli

    return cli.main(list(args))


def _png(path: Path) -> np.ndarray:
    array = np.asarray(Image.open(path))
    assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
    return array


def _cells(array: np.ndarray, rows: int, cols: int) -> None:
    """The grid has rows x cols 32-pixel cells with 2 pixels of padding, and the images are not blank."""
    assert array.shape[:2] == (rows * 34 + 2, cols * 34 + 2)
    cell = array[2:34, 2:34]
    assert cell.min() < cell.max()


def test_sample_command(ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    assert _run("sample", "wgan", "--ckpt", str(ckpt), "--n", "10", "--nrow", "5", "--out", str(out)) == 0
    _cells(_png(out), 2, 5)


def test_perturb_command(ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.png"
    no_classifier = ("--classifier", str(tmp_path / "none.safetensors"))
    args = ("explore", "perturb", "--ckpt", str(ckpt), "--dims", "1,2,3", "--eps=-2:2:4", "--out", str(out))
    assert _run(*args, *no_classifier) == 0
    _cells(_png(out), 3, 4)
    assert _run("explore", "perturb", "--ckpt", str(ckpt), "--dims", "12", "--out", str(out)) == 2
    assert _run("explore", "perturb", "--ckpt", str(ckpt), "--dims", "x", "--out", str(out)) == 2


def test_interpolate_command(ckpt: Path, tmp_path: Path) -> None:
    out = tmp_path / "i.png"
    args = ("explore", "interpolate", "--ckpt", str(ckpt), "--steps", "6", "--mode", "slerp", "--out", str(out))
    assert _run(*args, "--classifier", str(tmp_path / "none.safetensors")) == 0
    _cells(_png(out), 2, 6)
    assert _run("explore", "interpolate", "--ckpt", str(ckpt), "--mode", "cubic", "--out", str(out)) == 2


def test_rank_command_json(ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.png"
    assert _run("explore", "rank", "--ckpt", str(ckpt), "--top", "3", "--n", "4", "--json", "--out", str(out)) == 0
    result = json.loads(capsys.readouterr().out)
    changes = [row["change"] for row in result["dims"]]
    assert len(changes) == 3 and changes == sorted(changes, reverse=True) and changes[0] > 0
    assert len(result["directions"]) == 3
    _cells(_png(out), 3, 7)


@pytest.fixture
def classifier_file(tmp_path: Path) -> Path:
    from vaegan.checkpoint import save_model
    from vaegan.classifier import ClassifierConfig, DigitClassifier

    torch.manual_seed(0)
    return save_model(DigitClassifier(ClassifierConfig(width=4, feature_dim=8)), tmp_path / "classifier.safetensors")


def test_strips_are_labelled_with_the_classifiers_digits(
    ckpt: Path, classifier_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vaegan.checkpoint import load_model
    from vaegan.classifier import label_images
    from vaegan.latent import perturbation_strip, sample_latents

    out = tmp_path / "p.png"
    args = ("explore", "perturb", "--ckpt", str(ckpt), "--dims", "1,2", "--eps=-2:2:3", "--seed", "0")
    args = (*args, "--out", str(out))
    assert _run(*args, "--classifier", str(classifier_file)) == 0
    # 3 columns x 2 rows of 32x32 images upscaled 3x, a 14-pixel caption band under each, 4-pixel gaps.
    assert _png(out).shape == (2 * (96 + 14 + 4) + 4, 3 * (96 + 4) + 4, 3)
    generator = load_model(ckpt)
    strip = perturbation_strip(generator, sample_latents(1, generator.config.latent_dim, 0)[0], [1, 2], [-2, 0, 2])
    expected = label_images(load_model(classifier_file), strip.reshape(-1, 3, 32, 32))
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split()[:2] == ["dim", "1"] and " ".join(printed[1].split()[2:]) == " ".join(expected[:3])

    rank_args = ("explore", "rank", "--ckpt", str(ckpt), "--top", "3", "--n", "4", "--json", "--out", str(out))
    assert _run(*rank_args, "--classifier", str(classifier_file)) == 0
    semantic = json.loads(capsys.readouterr().out)["semantic_dims"]
    rates = [row["digit_change_rate"] for row in semantic]
    assert len(rates) == 3 and rates == sorted(rates, reverse=True) and all(0 <= r <= 1 for r in rates)


def test_missing_checkpoint_is_one_line_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("sample", "wgan", "--ckpt", str(tmp_path / "none.safetensors")) == 2
    assert "vaegan train wgan" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ semantic ranking


class BrightnessDigit(nn.Module):
    """A stand-in classifier whose 'digit' is the mean brightness rounded onto 0..9: logits c*m - c^2/2 peak at
    the integer c nearest to m = 4.5 * (mean + 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes = nn.Parameter(torch.arange(10.0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = 4.5 * (x.mean(dim=(1, 2, 3)) + 1.0)
        return m[:, None] * self.classes - self.classes**2 / 2


def brightness_generator(z: torch.Tensor) -> torch.Tensor:
    """Dim 0 sets the brightness, dim 2 nudges it slightly, the other dims do nothing."""
    level = torch.tanh(0.5 * z[:, 0] + 0.02 * z[:, 2])
    return level[:, None, None, None].expand(-1, 3, 32, 32)


def test_semantic_rank_matches_a_brute_force_count() -> None:
    z = torch.randn(24, 5, generator=torch.Generator().manual_seed(0))
    eps_values = (-2.0, -0.5, 0.5, 2.0)
    classifier = BrightnessDigit()
    ranking = semantic_rank(brightness_generator, classifier, z, eps_values)

    def digit(zi: torch.Tensor) -> int:
        return int(classifier(brightness_generator(zi[None])).argmax())

    expected = {}
    for d in range(5):
        changed = 0
        for eps in eps_values:
            for zi in z:
                moved = zi.clone()
                moved[d] += eps
                changed += digit(moved) != digit(zi)
        expected[d] = changed / (len(eps_values) * len(z))
    assert dict(ranking) == pytest.approx(expected)
    assert [d for d, _ in ranking][:2] == [0, 2] and ranking[0][1] > 0.5
    assert ranking[2:] == [(1, 0.0), (3, 0.0), (4, 0.0)]  # ties keep the lower dim first


# ------------------------------------------------------------------------------------------ whole evaluation
