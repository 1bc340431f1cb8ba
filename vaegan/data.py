"""Dataset specs -> tensors.

A *spec* is what a user types after `--data`:

* ``binarized-mnist`` - Larochelle's statically binarized MNIST (50k/10k/10k), the `.amat` text release,
  downloaded once and verified by SHA-1, then cached as `.npz`.
* ``mnist`` - torchvision's MNIST (downloaded when online), grey levels, *dynamically* binarized: every
  epoch sees a fresh Bernoulli sample of each training image; valid/test get one fixed sample.
* a path to a ``.npz`` file - keys ``train``/``valid``/``test``, or a single ``X`` (optionally ``y``) that is
  split 80/10/10 with a fixed seed. Values in {0,1} are used as they are; grey levels (0-255 or [0,1]) are
  binarized like ``mnist``.
* a path to a folder of images (png/jpg/bmp, any size) - read as grey, resized to 28x28, split like ``X``.

Everything ends up in memory as float32 tensors of shape (N, 784): MNIST-sized data is ~150 MB, and indexing
a tensor is far faster than a per-sample DataLoader for these small models.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaegan.errors import DataError

LAROCHELLE_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
LAROCHELLE_SHA1 = {
    "train": "cf70514ec5f481e54ad3eb0e6c03c83326ff96f8",
    "valid": "13418487742e6ea6d48db7b5187353a20b1b1f8c",
    "test": "ca70bd7775e182596dec148d4dc1bc6bd6c4c5f4",
}
SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def default_data_root() -> Path:
    """Where downloads go: $VAEGAN_DATA, else ~/.cache/vaegan."""
    return Path(os.environ.get("VAEGAN_DATA", Path.home() / ".cache" / "vaegan"))


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


# ------------------------------------------------------------------------------------------ file helpers


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, sha1: str | None = None) -> Path:
    """Download `url` to `dest` (atomically) and verify its SHA-1. An existing verified file is reused."""
    if dest.exists() and (sha1 is None or sha1_of(dest) == sha1):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        urllib.request.urlretrieve(url, tmp)  # noqa: S310 - fixed https/http dataset URLs only
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"could not download {url} ({exc}); offline? pass --data PATH.npz instead") from exc
    if sha1 is not None and (got := sha1_of(tmp)) != sha1:
        tmp.unlink(missing_ok=True)
        raise DataError(f"checksum mismatch for {url}: expected sha1 {sha1}, got {got}")
    os.replace(tmp, dest)
    return dest


def parse_amat(path: Path) -> np.ndarray:
    """Larochelle's `.amat`: one image per line, 784 space-separated 0/1 values -> uint8 (N, 784)."""
    values = np.array(path.read_bytes().split(), dtype=np.uint8)
    if values.size % 784 != 0:
        raise DataError(f"{path}: {values.size} values is not a whole number of 28x28 images")
    return values.reshape(-1, 784)


def load_larochelle(root: Path | None = None, download_missing: bool = True) -> dict[str, np.ndarray]:
    """The three splits of Larochelle's binarized MNIST as uint8 (N, 784), cached as an `.npz` beside the text."""
    folder = (root or default_data_root()) / "binarized_mnist"
    cache = folder / "binarized_mnist.npz"
    if cache.exists():
        with np.load(cache) as f:
            return {s: f[s] for s in SPLITS}
    arrays = {}
    for split in SPLITS:
        path = folder / f"binarized_mnist_{split}.amat"
        if download_missing:
            download(LAROCHELLE_URL.format(split=split), path, LAROCHELLE_SHA1[split])
        elif not path.exists():
            raise DataError(f"{path} is missing and downloads are off")
        arrays[split] = parse_amat(path)
    np.savez_compressed(cache, **arrays)
    return arrays


def read_image_folder(folder: Path, side: int = 28, mode: str = "L") -> np.ndarray:
    """Every image in `folder` (sorted by name), converted to `mode` and resized to side x side -> uint8."""
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    images = []
    for p in files:
        try:
            with Image.open(p) as im:
                images.append(np.asarray(im.convert(mode).resize((side, side), Image.BILINEAR)))
        except OSError as exc:
            raise DataError(f"cannot read image {p}: {exc}") from exc
    return np.stack(images)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz`, loaded without pickle (object arrays are refused)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as .npz: {exc}") from exc


def split_80_10_10(x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(x))
    n_valid = n_test = max(1, len(x) // 10)
    n_train = len(x) - n_valid - n_test
    if n_train < 1:
        raise DataError(f"{len(x)} images are too few to split into train/valid/test")
    idx = {"train": order[:n_train], "valid": order[n_train : n_train + n_valid], "test": order[n_train + n_valid :]}
    return {k: x[v] for k, v in idx.items()}


# ------------------------------------------------------------------------------------------ binarization


def to_unit_float(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 0-255, {0,1} or [0,1] floats -> float32 (N, 784) in [0, 1]."""
    t = torch.as_tensor(np.asarray(x)).reshape(len(x), -1)
    if t.shape[1] != 784:
        raise DataError(f"expected 28x28 images (784 pixels), got {t.shape[1]} pixels per image")
    t = t.float()
    if t.numel() and t.max() > 1.0:
        t = t / 255.0
    if t.numel() and (t.min() < 0.0 or t.max() > 1.0):
        raise DataError("pixel values must lie in [0, 1] or 0-255")
    return t


def is_binary(t: torch.Tensor) -> bool:
    return bool(((t == 0) | (t == 1)).all())


def binarize_batch(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One Bernoulli sample per pixel, with the grey level as probability (dynamic binarization)."""
    return torch.bernoulli(x, generator=generator)


def _fixed_binarization(x: torch.Tensor, seed: int) -> torch.Tensor:
    return x if is_binary(x) else binarize_batch(x, torch.Generator().manual_seed(seed))


def _from_arrays(arrays: dict[str, np.ndarray], name: str, seed: int) -> BinarySplits:
    if set(SPLITS) <= set(arrays):
        parts = {s: arrays[s] for s in SPLITS}
    elif "X" in arrays:
        parts = split_80_10_10(arrays["X"], seed)
    else:
        raise DataError(f"{name}: expected arrays train/valid/test or X, found {', '.join(arrays) or 'none'}")
    tensors = {s: to_unit_float(v) for s, v in parts.items()}
    dynamic = not is_binary(tensors["train"])
    return BinarySplits(
        train=tensors["train"],
        valid=_fixed_binarization(tensors["valid"], seed + 1),
        test=_fixed_binarization(tensors["test"], seed + 2),
        dynamic=dynamic,
        name=name,
    )


def load_torchvision_mnist(root: Path | None = None, download_missing: bool = True) -> dict[str, np.ndarray]:
    """torchvision MNIST as uint8 grey: train = first 50k, valid = last 10k of the 60k, test = the 10k."""
    from torchvision.datasets import MNIST

    root = root or default_data_root()
    try:
        train = MNIST(str(root), train=True, download=download_missing).data.numpy()
        test = MNIST(str(root), train=False, download=download_missing).data.numpy()
    except (RuntimeError, OSError) as exc:
        raise DataError(f"could not load torchvision MNIST under {root}: {exc}") from exc
    return {"train": train[:50000], "valid": train[50000:], "test": test}


def load_binary_mnist(
    spec: str, root: Path | None = None, *, download_missing: bool = True, seed: int = 0
) -> BinarySplits:
    """Resolve a dataset spec (see module docstring) to in-memory binary-MNIST splits."""
    if spec == "binarized-mnist":
        return _from_arrays(load_larochelle(root, download_missing), spec, seed)
    if spec == "mnist":
        return _from_arrays(load_torchvision_mnist(root, download_missing), spec, seed)
    path = Path(spec)
    if not path.exists():
        raise DataError(f"--data {spec!r} is neither binarized-mnist, mnist nor an existing .npz file or folder")
    if path.is_dir():
        return _from_arrays({"X": read_image_folder(path)}, str(path), seed)
    if path.suffix != ".npz":
        raise DataError(f"{path}: expected a .npz file or a folder of images")
    return _from_arrays(read_npz(path), str(path), seed)


def minibatches(
    x: torch.Tensor, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None
) -> Iterator[torch.Tensor]:
    """Consecutive (shuffled) slices of an in-memory tensor; the last batch may be smaller."""
    n = x.shape[0]
    if shuffle:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            yield x[order[start : start + batch_size]]
    else:
        for start in range(0, n, batch_size):
            yield x[start : start + batch_size]
