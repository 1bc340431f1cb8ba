"""Tensors -> image grids -> PNG bytes/files. The CLI and the app share these, so both show the same pictures.

Images in the library are float tensors in [-1, 1] (the generator's Tanh range); `to_unit` maps them to [0, 1]
and everything after that is torchvision's `make_grid` plus PIL's PNG encoder.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from vaegan.errors import ConfigError
from vaegan.storage import atomic_write_bytes


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (clamped, so small overshoots of a model do not wrap around when quantised)."""
    return ((images.detach().float() + 1.0) / 2.0).clamp(0.0, 1.0)


def unit_to_signed(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] (Bernoulli means, binary digits; any shape with 784 pixels per image) -> (N, 1, 28, 28) in [-1, 1],
    the range every image function here draws."""
    return images.reshape(-1, 1, 28, 28) * 2.0 - 1.0


def make_grid_image(images: torch.Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """(N, C, H, W) in [-1, 1], or (R, K, C, H, W) as R rows of K -> uint8 (height, width, 3) grid.

    A 5-d input is laid out row by row with K images per row, whatever `nrow` says (strips and interpolations
    are tables: rows mean something). Grey (C = 1) is shown as RGB. Padding is white by default.
    """
    from torchvision.utils import make_grid  # lazy: importing torchvision costs seconds, training does not need it

    if images.dim() == 5:
        nrow = images.shape[1]
        images = images.reshape(-1, *images.shape[2:])
    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ConfigError(f"expected images (N, 1|3, H, W) or (R, K, 1|3, H, W), got shape {tuple(images.shape)}")
    grid = make_grid(to_unit(images.cpu()), nrow=max(1, nrow), padding=padding, pad_value=pad_value)
    if grid.shape[0] == 1:
        grid = grid.expand(3, -1, -1)
    return (grid.permute(1, 2, 0) * 255.0).round().to(torch.uint8).numpy()


def png_bytes(images_or_array: torch.Tensor | np.ndarray, nrow: int = 8, padding: int = 2) -> bytes:
    """A PNG of a grid of images (tensor in [-1, 1]) or of a ready uint8 (H, W, 3) array."""
    # PIL only when an image is encoded (start-up stays light)
    from PIL import Image

    if isinstance(images_or_array, torch.Tensor):
        array = make_grid_image(images_or_array, nrow=nrow, padding=padding)
    else:
        array = np.asarray(images_or_array)
        if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
            raise ConfigError(f"expected a uint8 (H, W, 3) array, got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(
    path: str | os.PathLike[str], images_or_array: torch.Tensor | np.ndarray, nrow: int = 8, padding: int = 2
) -> Path:
    """Write `png_bytes(...)` to `path` atomically (a viewer never sees half a file)."""
    path = Path(path)
    atomic_write_bytes(path, png_bytes(images_or_array, nrow=nrow, padding=padding))
    return path


def captioned_grid(images: torch.Tensor, captions: list[str], scale: int = 3, padding: int = 4) -> np.ndarray:
    """(R, K, C, H, W) in [-1, 1] -> uint8 (height, width, 3): an R x K table of images upscaled `scale` times
    (nearest neighbour, so pixels stay square), each with its caption (row-major, R*K of them) underneath.

    Used for strips and interpolations, where the classifier's reading ("7 (0.98)") goes under every image.
    """
    # PIL only when an image is encoded (start-up stays light)
    from PIL import Image, ImageDraw, ImageFont

    if images.dim() != 5 or len(captions) != images.shape[0] * images.shape[1]:
        shape = tuple(images.shape)
        raise ConfigError(f"expected (R, K, C, H, W) images and R*K captions, got {shape} and {len(captions)}")
    rows, cols, _, height, width = images.shape
    font = ImageFont.load_default()
    text_height = 14
    tile_w, tile_h = width * scale, height * scale + text_height
    canvas = Image.new("RGB", (cols * (tile_w + padding) + padding, rows * (tile_h + padding) + padding), "white")
    draw = ImageDraw.Draw(canvas)
    for r in range(rows):
        for c in range(cols):
            tile = Image.fromarray(make_grid_image(images[r, c][None], nrow=1, padding=0))
            x, y = padding + c * (tile_w + padding), padding + r * (tile_h + padding)
            canvas.paste(tile.resize((tile_w, height * scale), Image.NEAREST), (x, y))
            draw.text((x + 1, y + height * scale + 1), captions[r * cols + c], fill="black", font=font)
    return np.asarray(canvas)


def save_table(path: str | os.PathLike[str], table: torch.Tensor, captions: list[str] | None = None) -> Path:
    """Write an (R, K, C, H, W) table as one PNG: captioned (row-major captions) when given, else a plain grid."""
    return save_png(path, table if captions is None else captioned_grid(table, captions))
