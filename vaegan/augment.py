"""Differentiable augmentation of the critic's inputs (DiffAugment: Zhao et al., 2020, "Differentiable
Augmentation for Data-Efficient GAN Training").

With few training images a critic starts to remember them: it scores the training digits above held-out ones,
and that part of its signal tells the generator nothing about digits in general. DiffAugment shows the critic only
randomly translated (and cut-out) images, real and fake alike, in the critic step and in the generator step; the
transforms are differentiable, so the generator is trained through them. Because the same transforms hit both
sides, the generator still matches the un-augmented distribution (translation and cutout do not leak into it,
as the paper measures).

Randomness comes from the global RNG through `draw_shard`, like the noise z: a resumed run draws the same
transforms, and under torchrun each rank transforms its rows of the global batch as one process would.
"""

from __future__ import annotations

import torch

from vaegan.distributed import draw_shard
from vaegan.errors import ConfigError
from vaegan.vocabulary import AUGMENTATIONS

TRANSLATION_FRACTION = 1 / 8  # the largest shift, as a fraction of the side (DiffAugment's default)
CUTOUT_FRACTION = 1 / 2  # the side of the cut-out square, as a fraction of the image side (DiffAugment's)


def check_augmentation(policy: str) -> str:
    if policy not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {policy!r}; choose one of {', '.join(AUGMENTATIONS)}")
    return policy


def translate(images: torch.Tensor, background: float = -1.0) -> torch.Tensor:
    """Each image shifted by its own whole number of pixels in each direction, up to side / 8, with the background
    value moving in at the edges. Returns channels-last memory (what the indexing yields, and what the fast
    recipe's convolutions want)."""
    batch, _, height, width = images.shape
    reach = max(1, round(height * TRANSLATION_FRACTION))
    # shifts uniform on {-reach, ..., reach}, drawn as floats so draw_shard can share one draw across ranks
    shifts = (draw_shard(torch.rand, batch, 2, device=images.device) * (2 * reach + 1)).floor().long() - reach
    padded = torch.nn.functional.pad(images, (reach, reach, reach, reach), value=background)
    rows = torch.arange(height, device=images.device)[None, :] + reach - shifts[:, :1]  # (B, H)
    cols = torch.arange(width, device=images.device)[None, :] + reach - shifts[:, 1:]  # (B, W)
    batch_index = torch.arange(batch, device=images.device)[:, None, None]
    # advanced indices around a slice put the indexed dimensions first: (B, H, W, C), i.e. NHWC
    return padded[batch_index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def cutout(images: torch.Tensor) -> torch.Tensor:
    """Each image with one square of side / 2 set to 0 (mid-grey), centred anywhere in the image (DiffAugment's)."""
    batch, _, height, width = images.shape
    size_y, size_x = round(height * CUTOUT_FRACTION), round(width * CUTOUT_FRACTION)
    corner = draw_shard(torch.rand, batch, 2, device=images.device)
    top = (corner[:, :1] * (height + 1 - size_y % 2)).floor().long() - size_y // 2  # (B, 1)
    left = (corner[:, 1:] * (width + 1 - size_x % 2)).floor().long() - size_x // 2
    rows = torch.arange(height, device=images.device)[None, :]
    cols = torch.arange(width, device=images.device)[None, :]
    inside_rows = (rows >= top) & (rows < top + size_y)  # (B, H)
    inside_cols = (cols >= left) & (cols < left + size_x)  # (B, W)
    keep = ~(inside_rows[:, :, None] & inside_cols[:, None, :])  # (B, H, W)
    return images * keep[:, None].to(images.dtype)


def augment(images: torch.Tensor, policy: str) -> torch.Tensor:
    """The images under `policy` (one of AUGMENTATIONS; "none" returns them unchanged, drawing nothing)."""
    check_augmentation(policy)
    if policy == "none":
        return images
    for name in policy.split(","):
        images = translate(images) if name == "translation" else cutout(images)
    return images
