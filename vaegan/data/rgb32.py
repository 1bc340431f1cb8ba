"""32x32 RGB image sets for the GAN side: `load_rgb32(spec)` -> `ImageSet` of (N, 3, 32, 32) float32 in [-1, 1].

[-1, 1] is the Tanh range of the generator. The set a spec names is each part's rows of its source's set (SVHN's
and MNIST's train split, an `.npz`'s X or train, every image of a folder or `.amat` file), joined in spec order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaegan.data.pixels import unit_pixels
from vaegan.data.sources import MNIST_SIDE, SourceKind, load_joined
from vaegan.data.spec import parse_spec
from vaegan.errors import DataError

RGB_SIDE = 32
# Images of other sizes are resized to 32x32 in one batch; larger sources than this are refused rather than resized
# (a 1e5 x 1e5 "image" would allocate before the resize could shrink it).
MAX_SOURCE_SIDE = 1024
MAX_SOURCE_PIXELS = MAX_SOURCE_SIDE**2
RGB_KIND = SourceKind(named=("svhn", "mnist"), side=RGB_SIDE, mode="RGB")


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, 3, 32, 32) float32 in [-1, 1]
    labels: torch.Tensor | None  # (N,) int64 digit labels when every source has them (SVHN: 10 -> 0), else None
    name: str  # the spec it came from (goes into checkpoint metadata)


def to_rgb32(x: np.ndarray | torch.Tensor, where: str = "the data") -> torch.Tensor:
    """Images of any of the accepted layouts -> float32 (N, 3, 32, 32) in [-1, 1]; `where` names the array in errors.

    Accepted: (N, H, W) grey, (N, H, W, 3) RGB or (N, 3, H, W) RGB; values uint8 0-255, {0, 1} or finite floats in
    [0, 1] (checked by `pixels.unit_pixels`: anything else is a DataError). Grey is repeated to three channels.
    28x28 is padded by 2 pixels of background (the MNIST convention keeps the digit's scale); any other size but
    32 is resized with antialiasing.
    """
    shape = tuple(np.shape(x))
    if len(shape) == 3:
        shape = (shape[0], 1, *shape[1:])
    elif len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):
        shape = (shape[0], shape[3], shape[1], shape[2])
    if len(shape) != 4 or shape[1] not in (1, 3) or min(shape[2:]) < 1:
        raise DataError(
            f"{where}: expected images as (N, H, W), (N, H, W, 3) or (N, 3, H, W), got shape {tuple(np.shape(x))}"
        )
    if shape[0] == 0:
        raise DataError(f"{where}: holds no images (shape {tuple(np.shape(x))})")
    if shape[2] * shape[3] > MAX_SOURCE_PIXELS:
        raise DataError(f"{where}: images of {shape[2]}x{shape[3]} pixels are larger than {MAX_SOURCE_SIDE}^2")
    t = unit_pixels(x, where)
    if t.dim() == 3:
        t = t.unsqueeze(1)
    elif t.shape[1] not in (1, 3):
        t = t.permute(0, 3, 1, 2)
    if t.shape[-2:] == (MNIST_SIDE, MNIST_SIDE):
        pad = (RGB_SIDE - MNIST_SIDE) // 2
        t = torch.nn.functional.pad(t, (pad, pad, pad, pad), value=0.0)
    elif t.shape[-2:] != (RGB_SIDE, RGB_SIDE):
        t = torch.nn.functional.interpolate(t, size=(RGB_SIDE, RGB_SIDE), mode="bilinear", antialias=True)
        t = t.clamp(0.0, 1.0)
    if t.shape[1] == 1:
        t = t.expand(-1, 3, -1, -1)
    return (t * 2.0 - 1.0).contiguous()


def load_rgb32(spec: str, root: Path | None = None, *, download_missing: bool = True) -> ImageSet:
    """Resolve a spec (grammar: `vaegan.data`) to one in-memory ImageSet."""
    images, labels = load_joined(parse_spec(spec), RGB_KIND, to_rgb32, root, download_missing)
    return ImageSet(images=images, labels=labels, name=spec)
