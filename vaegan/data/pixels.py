"""The one check of raw pixel arrays, for every kind of data set: what a file may hold and how it is scaled.

Accepted, for the VAE's digits and the GAN's RGB sets alike:

* integers (any integer dtype, uint8 in practice) in 0..255 - grey levels, divided by 255; an integer array whose
  values are all 0 or 1 is binary and kept as 0/1 (binarized digits stored as uint8);
* booleans - binary;
* floats (float16/32/64) in [0, 1], every value finite.

Anything else - NaN or infinite values, integers outside 0..255, floats outside [0, 1] (a float array in 0..255 is
refused rather than guessed at: store it as uint8), strings, complex numbers, empty arrays - is a one-line
`DataError` that names where the array came from (file and array) and what is wrong with it, so bad data stops at
load instead of reaching the model and ending in a PyTorch traceback.
"""

from __future__ import annotations

import numpy as np
import torch

from vaegan.errors import DataError

ACCEPTED = "uint8 0-255, {0, 1}, or floats in [0, 1]"


def _first_bad(mask: np.ndarray) -> int:
    """The index of the first image (row) with a bad value."""
    return int(np.argmax(mask.reshape(mask.shape[0], -1).any(axis=1))) if mask.ndim else 0


def unit_pixels(x: np.ndarray | torch.Tensor, where: str = "the data") -> torch.Tensor:
    """Validated pixels of `x` as float32 in [0, 1], same shape (see the module docstring for what is accepted).

    `where` names the array in messages, e.g. "data/x.npz, array 'X'".
    """
    array = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if array.ndim == 0 or array.shape[0] == 0 or array.size == 0:
        raise DataError(f"{where}: holds no images (shape {array.shape})")
    kind = array.dtype.kind
    if kind == "b":
        return torch.from_numpy(array.astype(np.float32))
    if kind in "ui":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            bad = (array < 0) | (array > 255)
            raise DataError(
                f"{where}: {int(bad.sum()):,} integer pixel values outside 0..255 (range {low}..{high}, first in "
                f"image {_first_bad(bad)}); pixels must be {ACCEPTED}"
            )
        scale = 255.0 if high > 1 else 1.0  # integers {0, 1} are binary digits, not two dark grey levels
        return torch.from_numpy(array.astype(np.float32) / np.float32(scale))
    if kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            nan = int(np.isnan(array).sum())
            inf = int((~finite).sum()) - nan
            what = " and ".join(p for p in (f"{nan:,} NaN" if nan else "", f"{inf:,} infinite" if inf else "") if p)
            raise DataError(f"{where}: {what} pixel values (first in image {_first_bad(~finite)}); pixels must be "
                            f"{ACCEPTED}")  # fmt: skip
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            bad = (array < 0.0) | (array > 1.0)
            whole = high <= 255.0 and low >= 0.0 and bool((array == np.round(array)).all())
            hint = " (0..255 floats: store them as uint8)" if whole else ""
            raise DataError(
                f"{where}: {int(bad.sum()):,} float pixel values outside [0, 1] (range {low:g}..{high:g}, first in "
                f"image {_first_bad(bad)}){hint}; pixels must be {ACCEPTED}"
            )
        return torch.from_numpy(array.astype(np.float32, copy=False).copy())
    raise DataError(f"{where}: dtype {array.dtype} is not pixel data; pixels must be {ACCEPTED}")


def check_labels(y: np.ndarray, n: int, where: str) -> np.ndarray:
    """Labels as int64 (n,): whole numbers (integer dtype, or floats that are whole and finite), one per image."""
    labels = np.asarray(y)
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all() or not (labels == np.round(labels)).all():
            raise DataError(f"{where}: labels must be whole numbers (found NaN, infinite or fractional values)")
    elif labels.dtype.kind not in "uib":
        raise DataError(f"{where}: labels of dtype {labels.dtype} are not whole numbers")
    labels = labels.reshape(-1)
    if labels.shape[0] != n:
        raise DataError(f"{where}: {n} images but {labels.shape[0]} labels")
    if labels.size and (labels.min() < -(2**62) or labels.max() > 2**62):
        raise DataError(f"{where}: labels out of range ({labels.min()}..{labels.max()})")
    return labels.astype(np.int64)
