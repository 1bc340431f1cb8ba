"""Hand-drawn digits -> model inputs: ink, MNIST's normalisation (20x20 box, centre of mass), binarization,
padding for the classifier, and what the VAE reads in a drawing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vaegan.classifier import predict_digits
from vaegan.data import MNIST_SIDE, to_rgb32
from vaegan.drawing import (
    DIGIT_BOX,
    EXAMPLE_DIGITS,
    binarize_digit,
    center_digit,
    drawing_to_digit,
    ink_from_rgba,
    prepare_digit,
    read_with_vae,
    render_strokes,
)
from vaegan.errors import DataError
from vaegan.likelihood import score_digits
from vaegan.vae import VAE, VAEConfig


def canvas(strokes: list[list[tuple[float, float]]], side: int = 280, width: float = 24.0) -> np.ndarray:
    """What the app's canvas returns: white strokes on a transparent background, RGBA uint8."""
    ink = (render_strokes(strokes, side, width) * 255).round().astype(np.uint8)
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = ink
    return rgba


def ink_box(image: torch.Tensor, threshold: float = 0.1) -> tuple[int, int, int, int]:
    rows = torch.nonzero((image > threshold).any(dim=1)).flatten()
    cols = torch.nonzero((image > threshold).any(dim=0)).flatten()
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def centre_of_mass(image: torch.Tensor) -> tuple[float, float]:
    index = torch.arange(image.shape[0], dtype=torch.float32)
    mass = image.sum()
    return float((image.sum(1) * index).sum() / mass), float((image.sum(0) * index).sum() / mass)


# --------------------------------------------------------------------------------------------------- ink


def test_ink_is_brightness_times_opacity() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (255, 255, 255, 255)  # a white stroke pixel
    rgba[0, 1] = (255, 255, 255, 0)  # white but transparent: background
    rgba[0, 2] = (255, 255, 255, 128)  # an antialiased edge
    rgba[1, :] = (0, 0, 0, 255)  # a painted black background
    ink = ink_from_rgba(rgba)
    assert ink.dtype == np.float32 and ink.shape == (4, 4)
    assert ink[0, 0] == 1.0 and ink[0, 1] == 0.0 and ink[0, 2] == pytest.approx(128 / 255)
    assert (ink[1] == 0).all()
    assert ink_from_rgba(rgba[..., :3])[0, 1] == 1.0  # RGB without alpha: brightness alone
    with pytest.raises(DataError):
        ink_from_rgba(np.zeros((4, 4)))


# ---------------------------------------------------------------------------------------- normalisation


def test_a_blank_canvas_is_no_digit() -> None:
    assert center_digit(np.zeros((280, 280), np.float32)) is None
    assert drawing_to_digit(np.zeros((280, 280, 4), np.uint8)) is None
    assert prepare_digit(np.full((50, 50), 0.05, np.float32)) is None  # below the ink threshold everywhere


@pytest.mark.parametrize("name", sorted(EXAMPLE_DIGITS))
def test_the_digit_fills_a_20_pixel_box_with_its_centre_of_mass_in_the_middle(name: str) -> None:
    grey = drawing_to_digit(canvas(EXAMPLE_DIGITS[name])).grey
    assert grey.shape == (MNIST_SIDE, MNIST_SIDE) and float(grey.min()) >= 0.0 and float(grey.max()) <= 1.0
    top, bottom, left, right = ink_box(grey)
    assert max(bottom - top, right - left) in (DIGIT_BOX - 1, DIGIT_BOX)  # the antialiased fringe may fall below
    cy, cx = centre_of_mass(grey)
    assert abs(cy - MNIST_SIDE // 2) <= 0.5 and abs(cx - MNIST_SIDE // 2) <= 0.5


def test_where_the_digit_is_drawn_does_not_matter_and_its_size_hardly() -> None:
    strokes = EXAMPLE_DIGITS["3"]
    reference = drawing_to_digit(canvas(strokes)).grey
    ink = render_strokes(strokes, 280, 24.0)
    assert torch.equal(center_digit(np.roll(ink, (28, -42), axis=(0, 1))), center_digit(ink))
    # Half the size with half the stroke width: the same digit after scaling, up to antialiasing and the rounding of
    # the centre of mass to a whole pixel.
    small = center_digit(render_strokes([[(0.25 + x / 2, 0.25 + y / 2) for x, y in s] for s in strokes], 280, 12.0))
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert min(float((small.roll(shift, (0, 1)) - reference).abs().mean()) for shift in shifts) < 0.03


def test_a_one_keeps_its_thin_shape() -> None:
    grey = center_digit(render_strokes([[(0.5, 0.15), (0.5, 0.85)]], 280, 20.0))
    top, bottom, left, right = ink_box(grey)
    assert bottom - top >= DIGIT_BOX - 1 and right - left <= 5


def test_mnist_digits_come_back_as_they_are(shared_data: Path) -> None:
    """MNIST's digits already are normalised: drawn 10x larger on a canvas, each must come back in the same place
    and size (to blur from the up- and downscaling)."""
    with np.load(shared_data / "mnist_test.npz") as f:
        digits = torch.from_numpy(f["X"][:200]).float() / 255.0
    same_box, near_box, errors = 0, 0, []
    for digit in digits:
        large = F.interpolate(digit[None, None], scale_factor=10, mode="bilinear", align_corners=False)[0, 0]
        back = center_digit(large)
        edges = np.abs(np.subtract(ink_box(back), ink_box(digit)))
        same_box += int(edges.max() == 0)
        near_box += int(edges.max() <= 1)  # the blur moves a faint edge pixel across the ink threshold
        errors.append(float((back - digit).abs().mean()))
    assert same_box >= 0.6 * len(digits) and near_box >= 0.97 * len(digits)
    # A one-pixel shift of the digits themselves differs from them by about twice as much.
    shifted = float((digits.roll(1, dims=2) - digits).abs().mean())
    assert np.mean(errors) < 0.6 * shifted


# --------------------------------------------------------------------------------------------- binarization


def test_binarization_is_one_bernoulli_sample_per_pixel_fixed_by_the_seed() -> None:
    grey = torch.linspace(0, 1, MNIST_SIDE * MNIST_SIDE).view(MNIST_SIDE, MNIST_SIDE)
    binary = binarize_digit(grey, seed=3)
    assert binary.shape == (MNIST_SIDE * MNIST_SIDE,) and set(binary.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(binary, binarize_digit(grey, seed=3))
    assert not torch.equal(binary, binarize_digit(grey, seed=4))
    assert binary[0] == 0.0 and binary[-1] == 1.0  # probability 0 and 1
    # Over many seeds every pixel is 1 about as often as its grey level says.
    mean = torch.stack([binarize_digit(grey, seed=s) for s in range(400)]).mean(0)
    assert (mean - grey.flatten()).abs().max() < 0.1


def test_the_classifier_input_is_the_digit_padded_as_mnist_is() -> None:
    digit = drawing_to_digit(canvas(EXAMPLE_DIGITS["7"]))
    rgb = digit.rgb32()
    assert rgb.shape == (1, 3, 32, 32)
    assert torch.equal(rgb, to_rgb32(digit.grey[None]))
    assert torch.equal(rgb[0, :, 2:30, 2:30], (digit.grey * 2 - 1).expand(3, -1, -1))
    assert (rgb[0, :, :2] == -1).all() and (rgb[0, :, :, 30:] == -1).all()
    assert torch.equal(digit.binary_rgb32()[0, 0, 2:30, 2:30], digit.binary.view(28, 28) * 2 - 1)


# --------------------------------------------------------------------------------------- the VAE's reading


def test_the_vae_reading_is_the_library_numbers(tiny_classifier) -> None:  # noqa: ANN001 - fixture
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=6, hidden=32)).eval()
    digit = drawing_to_digit(canvas(EXAMPLE_DIGITS["2"]))
    reading = read_with_vae(vae, digit, k=20, dims=[1, 4], eps=[-1.0, 0.0, 2.0], classifier=tiny_classifier)
    scores = score_digits(vae, digit.binary[None], 20)
    assert reading.neg_elbo == pytest.approx(float(scores["neg_elbo"][0]))
    assert reading.log_px == pytest.approx(float(scores["log_px"][0]))
    assert torch.allclose(reading.reconstruction, vae.reconstruct(digit.binary[None])[0])
    assert reading.traversals.shape == (2, 3, 1, 28, 28)
    # The middle column (eps = 0) is the reconstruction itself, for every dim.
    assert torch.allclose(reading.traversals[:, 1], (reading.reconstruction * 2 - 1).expand(2, 1, 28, 28), atol=1e-6)
    labels, probs = predict_digits(tiny_classifier, to_rgb32(digit.binary.view(1, 28, 28)))
    assert reading.digit == (int(labels[0]), pytest.approx(float(probs[0])))
    assert reading.reconstruction_digit is not None
    assert read_with_vae(vae, digit, k=5).traversals is None and read_with_vae(vae, digit, k=5).digit is None
    assert vae.training is False  # given back as it was
