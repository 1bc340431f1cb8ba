"""Hand-drawn digits -> model inputs, prepared the way the training digits were.

MNIST's digits (LeCun et al.) were made by scaling each digit's bounding box to fit a 20x20 box with its aspect
ratio kept (antialiased, hence grey edges) and placing the result in a 28x28 field so that its centre of mass lies
at the centre. A drawing on a canvas gets the same treatment here (`center_digit`); then

* for the VAE, one Bernoulli sample per pixel with the grey level as probability, from a fixed seed
  (`binarize_digit`): how binarized MNIST was made from those grey digits, and what `vaegan.data` does to grey
  test digits (`fixed_binarization`);
* for the WGAN and the classifier, the grey digit itself, padded to 32x32x3 as `vaegan.data.to_rgb32` pads MNIST
  (the shipped WGAN and classifier were trained on grey MNIST).

Ink is light on dark, as in MNIST: a canvas draws white strokes on black (or transparent) pixels.

`render_strokes` draws polylines into such an ink image, so a digit can be made from coordinates (the app's example
digits; tests) without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vaegan.classifier import predict_digits
from vaegan.data import MNIST_SIDE, fixed_binarization, to_rgb32
from vaegan.errors import DataError
from vaegan.latent import perturbation_strip
from vaegan.likelihood import score_digits
from vaegan.runtime import eval_mode
from vaegan.vae import DecodedImages

DIGIT_BOX = 20  # the side of the box MNIST fits each digit into, inside its 28x28 field
INK_THRESHOLD = 0.1  # ink below this is background when finding the digit's bounding box (antialiasing fringes)
BINARIZATION_SEED = 0

# A stroke: points (x, y) in [0, 1]^2, x to the right and y downwards, joined by straight lines.
Stroke = Sequence[tuple[float, float]]

# Example digits for a "show me" button, as strokes in the unit square.
EXAMPLE_DIGITS: dict[str, list[list[tuple[float, float]]]] = {
    "7": [[(0.28, 0.22), (0.72, 0.22), (0.62, 0.42), (0.50, 0.62), (0.44, 0.80)], [(0.40, 0.50), (0.62, 0.50)]],
    "3": [[(0.32, 0.26), (0.45, 0.20), (0.60, 0.22), (0.66, 0.32), (0.60, 0.44), (0.46, 0.49),
           (0.62, 0.54), (0.68, 0.66), (0.60, 0.77), (0.44, 0.80), (0.30, 0.74)]],
    "0": [[(0.50, 0.20), (0.36, 0.26), (0.29, 0.42), (0.30, 0.60), (0.38, 0.75), (0.50, 0.80),
           (0.62, 0.75), (0.70, 0.58), (0.69, 0.40), (0.62, 0.26), (0.50, 0.20)]],
    "2": [[(0.30, 0.32), (0.38, 0.22), (0.52, 0.19), (0.64, 0.25), (0.67, 0.37), (0.58, 0.51),
           (0.44, 0.64), (0.30, 0.79), (0.72, 0.79)]],
    "4": [[(0.58, 0.20), (0.30, 0.60), (0.72, 0.60)], [(0.58, 0.20), (0.58, 0.82)]],
}  # fmt: skip


@dataclass
class DrawnDigit:
    """A drawing as the models see it."""

    grey: torch.Tensor  # (28, 28) in [0, 1]: MNIST's normalisation of the drawing
    binary: torch.Tensor  # (784,) in {0, 1}: one Bernoulli sample of `grey`, the VAE's input

    def rgb32(self) -> torch.Tensor:
        """(1, 3, 32, 32) in [-1, 1]: the grey digit as the WGAN and the classifier read MNIST."""
        return to_rgb32(self.grey[None])

    def binary_rgb32(self) -> torch.Tensor:
        """(1, 3, 32, 32) in [-1, 1]: the binarized digit, padded the same way."""
        return to_rgb32(self.binary.view(1, MNIST_SIDE, MNIST_SIDE))


def ink_from_rgba(image: np.ndarray) -> np.ndarray:
    """A canvas picture (H, W, 4) RGBA or (H, W, 3) RGB uint8 -> ink (H, W) float32 in [0, 1].

    Ink is brightness times opacity: white strokes are 1, and the background is 0 whether the canvas paints it
    black or leaves it transparent.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.shape[0] < 1 or array.shape[1] < 1:
        raise DataError(f"expected an (H, W, 3 or 4) canvas image, got shape {array.shape}")
    rgb = array[..., :3].astype(np.float32) / 255.0
    ink = rgb.mean(axis=2)
    if array.shape[2] == 4:
        ink = ink * (array[..., 3].astype(np.float32) / 255.0)
    return ink


def center_digit(ink: np.ndarray | torch.Tensor) -> torch.Tensor | None:
    """MNIST's normalisation of an ink image (H, W) in [0, 1] -> (28, 28) in [0, 1], or None for a blank image.

    The bounding box of the ink (pixels above INK_THRESHOLD) is cut out, padded to a square around its centre (a
    "1" keeps its thin shape instead of being stretched), scaled to DIGIT_BOX x DIGIT_BOX with antialiasing and
    placed in a 28x28 field with its centre of mass at the centre, rounded to whole pixels.
    """
    ink_t = torch.as_tensor(np.asarray(ink, dtype=np.float32))
    if ink_t.dim() != 2:
        raise DataError(f"expected an ink image (H, W), got shape {tuple(ink_t.shape)}")
    rows = torch.nonzero((ink_t > INK_THRESHOLD).any(dim=1)).flatten()
    cols = torch.nonzero((ink_t > INK_THRESHOLD).any(dim=0)).flatten()
    if rows.numel() == 0:
        return None
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = ink_t[top:bottom, left:right].clamp(0.0, 1.0)
    side = max(crop.shape)
    pad_y, pad_x = side - crop.shape[0], side - crop.shape[1]
    square = F.pad(crop, (pad_x // 2, pad_x - pad_x // 2, pad_y // 2, pad_y - pad_y // 2))
    box = F.interpolate(square[None, None], size=(DIGIT_BOX, DIGIT_BOX), mode="bilinear", antialias=True,
                        align_corners=False)[0, 0].clamp(0.0, 1.0)  # fmt: skip
    mass = box.sum()
    if float(mass) <= 0.0:
        return None
    # Centre of mass in pixel indices; MNIST puts it on pixel (14, 14) of the 28x28 field (measured on its digits:
    # the mean centre of mass of the test set lies within a fraction of a pixel of index 14, not 13.5).
    index = torch.arange(DIGIT_BOX, dtype=torch.float32)
    centre_y = float((box.sum(dim=1) * index).sum() / mass)
    centre_x = float((box.sum(dim=0) * index).sum() / mass)
    offset_y = round(MNIST_SIDE // 2 - centre_y)  # where the box's top-left corner goes
    offset_x = round(MNIST_SIDE // 2 - centre_x)
    field = torch.zeros(MNIST_SIDE, MNIST_SIDE)
    ys = slice(max(0, offset_y), min(MNIST_SIDE, offset_y + DIGIT_BOX))
    xs = slice(max(0, offset_x), min(MNIST_SIDE, offset_x + DIGIT_BOX))
    field[ys, xs] = box[ys.start - offset_y : ys.stop - offset_y, xs.start - offset_x : xs.stop - offset_x]
    return field


def binarize_digit(grey: torch.Tensor, seed: int = BINARIZATION_SEED) -> torch.Tensor:
    """(28, 28) or (784,) grey levels in [0, 1] -> (784,) in {0, 1}: one Bernoulli sample fixed by `seed`."""
    return fixed_binarization(grey.reshape(1, -1).float(), seed)[0]


def prepare_digit(ink: np.ndarray | torch.Tensor, seed: int = BINARIZATION_SEED) -> DrawnDigit | None:
    """An ink image -> the digit the models see (None for a blank drawing)."""
    grey = center_digit(ink)
    if grey is None:
        return None
    return DrawnDigit(grey=grey, binary=binarize_digit(grey, seed))


def drawing_to_digit(image: np.ndarray, seed: int = BINARIZATION_SEED) -> DrawnDigit | None:
    """A canvas picture (H, W, 3|4) uint8 -> the digit the models see (None for a blank canvas)."""
    return prepare_digit(ink_from_rgba(image), seed)


def render_strokes(strokes: Sequence[Stroke], side: int, width: float) -> np.ndarray:
    """Ink (side, side) float32 in [0, 1] of polylines in unit coordinates, `width` pixels wide with round caps
    and joins (as a canvas brush draws them)."""
    # PIL only when a digit is rendered (start-up stays light)
    from PIL import Image, ImageDraw

    if side < 1 or not width > 0:
        raise DataError("render_strokes needs side >= 1 and width > 0")
    picture = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(picture)
    radius = width / 2.0
    for stroke in strokes:
        points = [(x * side, y * side) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=max(1, round(width)), joint="curve")
        for x, y in points:  # round caps and joins
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(picture, dtype=np.float32) / 255.0


# ------------------------------------------------------------------------------- what the VAE makes of it


@dataclass
class VAEReading:
    """Everything the VAE page shows about one drawn digit."""

    reconstruction: torch.Tensor  # (1, 28, 28) Bernoulli means at z = mu(x), in [0, 1]
    neg_elbo: float  # nats, one posterior sample (fixed seed)
    log_px: float  # nats, importance-sampled with k samples (fixed seed)
    k: int
    z: torch.Tensor  # (D,) the posterior mean mu(x): where the traversals start
    traversals: torch.Tensor | None  # (len(dims), len(eps), 1, 28, 28) in [-1, 1], None without dims
    digit: tuple[int, float] | None  # the classifier's reading of the binarized digit (label, probability)
    reconstruction_digit: tuple[int, float] | None  # ... and of its reconstruction


def read_with_vae(
    vae: torch.nn.Module,
    digit: DrawnDigit,
    *,
    k: int = 100,
    dims: Sequence[int] = (),
    eps: Sequence[float] = (-3.0, -1.5, 0.0, 1.5, 3.0),
    classifier: torch.nn.Module | None = None,
    seed: int = 1234,
) -> VAEReading:
    """Encode the binarized digit: its reconstruction, -ELBO and log p(x) (the same estimators with the same seeds
    as `vaegan.likelihood.score_digits`, so the numbers are comparable with a test set's), latent traversals from
    mu(x) along `dims`, and, with a classifier, the digit it reads in the drawing and in the reconstruction (both
    padded to 32x32x3 as `to_rgb32` pads MNIST)."""

    x = digit.binary.reshape(1, -1)
    with eval_mode(vae):
        mu, _ = vae.encode(x)
        reconstruction = torch.sigmoid(vae.decode(mu)).view(1, MNIST_SIDE, MNIST_SIDE).cpu()
    scores = score_digits(vae, x, k, seed=seed)
    decoder = DecodedImages(vae).train(vae.training)  # a new module is in training mode; eval_mode gives that back
    traversals = perturbation_strip(decoder, mu[0], list(dims), list(eps)) if dims else None
    readings: list[tuple[int, float] | None] = [None, None]
    if classifier is not None:
        labels, probs = predict_digits(classifier, to_rgb32(torch.cat([x.view(1, MNIST_SIDE, MNIST_SIDE),
                                                                       reconstruction])))  # fmt: skip
        readings = [(int(label), float(p)) for label, p in zip(labels, probs, strict=True)]
    return VAEReading(
        reconstruction=reconstruction,
        neg_elbo=float(scores["neg_elbo"][0]),
        log_px=float(scores["log_px"][0]),
        k=k,
        z=mu[0].cpu(),
        traversals=traversals,
        digit=readings[0],
        reconstruction_digit=readings[1],
    )
