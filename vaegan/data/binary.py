"""Binary 28x28 digits for the VAE: `load_binary_mnist(spec)` -> `BinarySplits` of (N, 784) float32 tensors.

Pixels are checked at load (`pixels.unit_pixels`: uint8 0-255, {0, 1} or finite floats in [0, 1]; anything else is
a DataError naming the file and the array). Grey data (torchvision MNIST, grey `.npz` files, image folders) is then
binarized as `binarize` says (`BINARIZE_MODES`):

* ``auto`` (the default): data already in {0, 1} is used as it is, grey data is binarized ``dynamic``-ally.
* ``dynamic``: the train split keeps its grey levels and every batch draws a fresh Bernoulli sample
  (`binarize_batch`); valid and test get one fixed sample (seeded), so evaluations are comparable.
* ``threshold``: every split is fixed at pixel >= 0.5 -> 1 (deterministic, no seed).
* ``none``: grey levels are kept in every split and used as Bernoulli targets. The loss is then a cross-entropy
  against soft targets, not the log-likelihood of binary digits: its numbers are not comparable with binary runs.

On data that is already binary every mode gives the same splits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaegan.data.pixels import unit_pixels
from vaegan.data.sources import MNIST_PIXELS, MNIST_SIDE, SPLITS, SourceKind, load_joined, load_source
from vaegan.data.spec import parse_spec
from vaegan.errors import DataError
from vaegan.limits import check_seed
from vaegan.vocabulary import BINARIZE_MODES  # torch-free list (vaegan.vocabulary), re-exported here

BINARY_KIND = SourceKind(named=("binarized-mnist", "mnist"), side=MNIST_SIDE, mode="L")


@dataclass
class BinarySplits:
    """Train/valid/test images as (N, 784) float32.

    When `dynamic` is True, `train` holds grey levels in [0, 1] and must be binarized per batch
    (`binarize_batch`); valid and test are then fixed binary samples, so evaluations are comparable. `binarize` is
    the mode that made the splits from grey data ("dynamic", "threshold" or "none"), or "binary" for data that was
    binary already.
    """

    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    dynamic: bool
    name: str
    binarize: str = "binary"

    def split(self, name: str) -> torch.Tensor:
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return getattr(self, name)


def to_unit_float(x: np.ndarray | torch.Tensor, where: str = "the data") -> torch.Tensor:
    """uint8 0-255, {0,1} or finite [0,1] floats -> float32 (N, 784) in [0, 1]; `where` names the array in errors."""
    t = unit_pixels(x, where)
    if t[0].numel() != MNIST_PIXELS:
        raise DataError(f"{where}: expected 28x28 images (784 pixels), got shape {tuple(t.shape)}")
    return t.reshape(t.shape[0], MNIST_PIXELS)


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


def check_binarize(mode: str) -> str:
    if mode not in BINARIZE_MODES:
        raise DataError(f"unknown binarize mode {mode!r}; choose one of {', '.join(BINARIZE_MODES)}")
    return mode


def _binary_splits(parts: dict[str, torch.Tensor], name: str, seed: int, binarize: str) -> BinarySplits:
    if all(is_binary(parts[s]) for s in SPLITS):
        return BinarySplits(parts["train"], parts["valid"], parts["test"], dynamic=False, name=name)
    if binarize == "threshold":
        fixed = {s: (parts[s] >= 0.5).float() for s in SPLITS}
        return BinarySplits(fixed["train"], fixed["valid"], fixed["test"], False, name, "threshold")
    if binarize == "none":
        return BinarySplits(parts["train"], parts["valid"], parts["test"], False, name, "none")
    return BinarySplits(
        train=parts["train"],
        valid=fixed_binarization(parts["valid"], seed + 1),
        test=fixed_binarization(parts["test"], seed + 2),
        dynamic=not is_binary(parts["train"]),
        name=name,
        binarize="dynamic",
    )


def load_binary_mnist(
    spec: str, root: Path | None = None, *, download_missing: bool = True, seed: int = 0, binarize: str = "auto"
) -> BinarySplits:
    """Resolve a dataset spec (grammar: `vaegan.data`) to in-memory binary-MNIST splits.

    A spec that is one source without a row range keeps the source's own train/valid/test splits when it has them
    (binarized-mnist, mnist, an `.npz` with those keys). Any other spec - a source that is one set (an `.npz` with
    X, an `.amat` file, a folder), a row range, a join - is one set of images split 80/10/10 with `seed`.
    Grey data is binarized as `binarize` says (module docstring).
    """
    check_binarize(binarize)
    check_seed(seed)
    parsed = parse_spec(spec)
    if (source := parsed.whole_source) is not None:
        arrays = load_source(source, BINARY_KIND, root, download_missing)
        if arrays.splits is not None:
            parts = {s: to_unit_float(arrays.splits[s], arrays.where(s)) for s in SPLITS}
            return _binary_splits(parts, spec, seed, binarize)
        x = to_unit_float(arrays.x, arrays.where())
    else:
        x, _ = load_joined(parsed, BINARY_KIND, to_unit_float, root, download_missing)
    return _binary_splits(split_80_10_10(x, seed), spec, seed, binarize)


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
