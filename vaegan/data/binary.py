"""Binary 28x28 digits for the VAE: `load_binary_mnist(spec)` -> `BinarySplits` of (N, 784) float32 tensors.

Grey data (torchvision MNIST, grey `.npz` files, image folders) is binarized *dynamically*: the train split keeps
its grey levels and every epoch draws a fresh Bernoulli sample per batch (`binarize_batch`); valid and test get one
fixed sample, so evaluations are comparable. Data already in {0, 1} is used as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaegan.data.sources import MNIST_PIXELS, MNIST_SIDE, SPLITS, SourceKind, load_joined, load_source
from vaegan.data.spec import parse_spec
from vaegan.errors import DataError

BINARY_KIND = SourceKind(named=("binarized-mnist", "mnist"), side=MNIST_SIDE, mode="L")


@dataclass
class BinarySplits:
    """Train/valid/test images as (N, 784) float32.

    When `dynamic` is True, `train` holds grey levels in [0, 1] and must be binarized per batch
    (`binarize_batch`); valid and test are always fixed binary samples, so evaluations are comparable.
    """

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    dynamic: bool
    name: str

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, name)


def to_unit_float(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 0-255, {0,1} or [0,1] floats -> float32 (N, 784) in [0, 1]."""
    t = torch.as_tensor(np.asarray(x)).reshape(len(x), -1)
    if t.shape[1] != MNIST_PIXELS:
        raise DataError(f"expected 28x28 images (784 pixels), got {t.shape[1]} pixels per image")
    t = t.float()
    if t.numel() and t.max() > 1.0:
        t = t / 255.0
    if t.numel() and (t.min() < 0.0 or t.max() > 1.0):
        raise DataError("pixel values must lie in [0, 1] or 0-255")
    return t


def is_binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


def binarize_batch(x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """One Bernoulli sample per pixel, with the grey level as probability (dynamic binarization)."""
    return torch.bernoulli(x, generator=rng)


def fixed_binarization(x: torch.Tensor, seed: int) -> torch.Tensor:
    """`x` itself when already binary, else one Bernoulli sample of it that is the same for the same seed."""
    return x if is_binary(x) else binarize_batch(x, torch.Generator().manual_seed(seed))


def split_80_10_10(x: torch.Tensor, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random 80/10/10 train/valid/test split of the rows of `x`, the same for the same seed and length."""
    order = torch.as_tensor(np.random.default_rng(seed).permutation(len(x)))
    n_valid = n_test = max(1, len(x) // 10)
    n_train = len(x) - n_valid - n_test
    if n_train < 1:
        raise DataError(f"{len(x)} images are too few to split into train/valid/test")
    bounds = {"train": (0, n_train), "valid": (n_train, n_train + n_valid), "test": (n_train + n_valid, len(x))}
    return {name: x[order[start:stop]] for name, (start, stop) in bounds.items()}


def _binary_splits(parts: dict[str, torch.Tensor], name: str, seed: int) -> BinarySplits:
    return BinarySplits(
        train=parts["train"],
        valid=fixed_binarization(parts["valid"], seed + 1),
        test=fixed_binarization(parts["test"], seed + 2),
        dynamic=not is_binary(parts["train"]),
        name=name,
    )


def load_binary_mnist(
    spec: str, root: Path | None = None, *, download_missing: bool = True, seed: int = 0
) -> BinarySplits:
    """Resolve a dataset spec (grammar: `vaegan.data`) to in-memory binary-MNIST splits.

    A spec that is one source without a row range keeps the source's own train/valid/test splits when it has them
    (binarized-mnist, mnist, an `.npz` with those keys). Any other spec - a source that is one set (an `.npz` with
    X, an `.amat` file, a folder), a row range, a join - is one set of images split 80/10/10 with `seed`.
    """
    parsed = parse_spec(spec)
    if (source := parsed.whole_source) is not None:
        arrays = load_source(source, BINARY_KIND, root, download_missing)
        if arrays.splits is not None:
            return _binary_splits({s: to_unit_float(arrays.splits[s]) for s in SPLITS}, spec, seed)
        x = to_unit_float(arrays.x)
    else:
        x, _ = load_joined(parsed, BINARY_KIND, to_unit_float, root, download_missing)
    return _binary_splits(split_80_10_10(x, seed), spec, seed)


def minibatches(
    x: torch.Tensor, batch_size: int, *, shuffle: bool = True, rng: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Consecutive (shuffled) slices of an in-memory tensor; the last batch may be smaller."""
    n = x.shape[0]
    if shuffle:
        order = torch.randperm(n, generator=rng)
        for start in range(0, n, batch_size):
            yield x[order[start : start + batch_size]]
    else:
        for start in range(0, n, batch_size):
            yield x[start : start + batch_size]
