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
    """torchvision MNIST as uint8 grey: valid = the last sixth of the training images (10k of 60k), test = test."""
    from torchvision.datasets import MNIST

    root = root or default_data_root()
    try:
        train = MNIST(str(root), train=True, download=download_missing).data.numpy()
        test = MNIST(str(root), train=False, download=download_missing).data.numpy()
    except (RuntimeError, OSError) as exc:
        raise DataError(f"could not load torchvision MNIST under {root}: {exc}") from exc
    n_train = len(train) - len(train) // 6
    return {"train": train[:n_train], "valid": train[n_train:], "test": test}


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


# ================================================================================ 32x32 RGB image sets (GANs)
# The GAN side of the project works on (N, 3, 32, 32) float32 images in [-1, 1] (the Tanh range of the generator).
# A spec here is one or more sources joined with "+", each optionally sliced by rows with "@start:stop":
#
#   svhn                          torchvision SVHN, split train (downloaded when online)
#   mnist                         torchvision MNIST train, grey 28x28 padded to 32x32, repeated to 3 channels
#   PATH.npz                      keys X (+ optional y) or train; uint8 0-255 / 0-1 / [0,1] floats; HxW or HxWx3
#   FOLDER                        every image in the folder, as RGB resized to 32x32
#   ../shared/data/mnist_train_5k.npz+../shared/data/mnist_test.npz@0:8000


RGB_SIDE = 32


@dataclass
class ImageSet:
    images: torch.Tensor  # (N, 3, 32, 32) float32 in [-1, 1]
    labels: torch.Tensor | None  # (N,) int64 digit labels when the source has them (SVHN: 10 -> 0), else None
    name: str  # the spec it came from (goes into checkpoint metadata)


def to_rgb32(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Images of any of the accepted layouts -> float32 (N, 3, 32, 32) in [-1, 1].

    Accepted: (N, H, W) grey, (N, H, W, 3) RGB or (N, 3, H, W) RGB; values uint8 0-255, {0, 1} or floats in
    [0, 1]. Grey is repeated to three channels. 28x28 is padded by 2 pixels of background (the MNIST convention
    keeps the digit's scale); any other size but 32 is resized with antialiasing.
    """
    t = torch.as_tensor(np.asarray(x))
    if t.dim() == 3:
        t = t.unsqueeze(1)
    elif t.dim() == 4 and t.shape[-1] in (1, 3) and t.shape[1] not in (1, 3):
        t = t.permute(0, 3, 1, 2)
    if t.dim() != 4 or t.shape[1] not in (1, 3):
        raise DataError(f"expected images as (N, H, W), (N, H, W, 3) or (N, 3, H, W), got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise DataError("the image set is empty")
    scale_255 = bool(t.max() > 1.0)  # uint8 {0, 1} (binarized digits) stays 0/1, like floats in [0, 1]
    t = t.float()
    if scale_255:
        t = t / 255.0
    if t.min() < 0.0 or t.max() > 1.0:
        raise DataError("pixel values must lie in [0, 1] or 0-255")
    if t.shape[-2:] == (28, 28):
        t = torch.nn.functional.pad(t, (2, 2, 2, 2), value=0.0)
    elif t.shape[-2:] != (RGB_SIDE, RGB_SIDE):
        t = torch.nn.functional.interpolate(t, size=(RGB_SIDE, RGB_SIDE), mode="bilinear", antialias=True)
        t = t.clamp(0.0, 1.0)
    if t.shape[1] == 1:
        t = t.expand(-1, 3, -1, -1)
    return (t * 2.0 - 1.0).contiguous()


def _local_svhn_class():  # noqa: ANN202 - a torchvision Dataset subclass, built lazily (torchvision import is slow)
    from torchvision.datasets import SVHN

    class LocalSVHN(SVHN):
        """torchvision's SVHN reader for a `.mat` that is already on disk.

        torchvision checks the MD5 of the official file; a local file the user put there (or a test fixture in the
        same layout) is read as it is. Downloads still go through torchvision, which verifies the MD5.
        """

        def _check_integrity(self) -> bool:
            return os.path.isfile(os.path.join(self.root, self.filename))

    return LocalSVHN


def load_svhn_train(root: Path | None = None, download_missing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """SVHN split train through torchvision: uint8 (N, 3, 32, 32) and int64 labels with 10 -> 0."""
    from torchvision.datasets import SVHN

    folder = (root or default_data_root()) / "svhn"
    try:
        if (folder / "train_32x32.mat").exists():
            dataset = _local_svhn_class()(str(folder), split="train")
        elif download_missing:
            dataset = SVHN(str(folder), split="train", download=True)
        else:
            raise DataError(f"{folder / 'train_32x32.mat'} is missing and downloads are off")
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise DataError(f"could not load SVHN under {folder}: {exc}; offline? pass --data PATH.npz instead") from exc
    return np.asarray(dataset.data), np.asarray(dataset.labels, dtype=np.int64) % 10


def _load_one_rgb32(spec: str, root: Path | None, download_missing: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    if spec == "svhn":
        x, y = load_svhn_train(root, download_missing)
        return to_rgb32(x), torch.as_tensor(y)
    if spec == "mnist":
        from torchvision.datasets import MNIST

        folder = root or default_data_root()
        try:
            dataset = MNIST(str(folder), train=True, download=download_missing)
        except (RuntimeError, OSError) as exc:
            raise DataError(f"could not load torchvision MNIST under {folder}: {exc}") from exc
        return to_rgb32(dataset.data.numpy()), dataset.targets.to(torch.int64)
    path = Path(spec)
    if not path.exists():
        raise DataError(f"--data {spec!r} is neither svhn, mnist nor an existing .npz file or folder")
    if path.is_dir():
        return to_rgb32(read_image_folder(path, side=RGB_SIDE, mode="RGB")), None
    if path.suffix != ".npz":
        raise DataError(f"{path}: expected a .npz file or a folder of images")
    arrays = read_npz(path)
    if "X" in arrays:
        x, y = arrays["X"], arrays.get("y")
    elif "train" in arrays:
        x, y = arrays["train"], arrays.get("train_y")
    else:
        raise DataError(f"{path}: expected an array X (optionally y) or train, found {', '.join(arrays) or 'none'}")
    labels = None
    if y is not None:
        labels = torch.as_tensor(np.asarray(y)).reshape(-1).to(torch.int64)
        if labels.shape[0] != len(x):
            raise DataError(f"{path}: {len(x)} images but {labels.shape[0]} labels")
    return to_rgb32(x), labels


def _split_slice(part: str) -> tuple[str, slice | None]:
    """'path@10:20' -> ('path', slice(10, 20)); a part without a trailing @start:stop is returned whole."""
    source, at, rows = part.rpartition("@")
    if not at or ":" not in rows:
        return part, None
    start_text, _, stop_text = rows.partition(":")
    try:
        start = int(start_text) if start_text else None
        stop = int(stop_text) if stop_text else None
    except ValueError as exc:
        raise DataError(f"{part!r}: rows must be @start:stop with whole numbers, e.g. @0:8000") from exc
    return source, slice(start, stop)


def load_rgb32(spec: str, root: Path | None = None, *, download_missing: bool = True) -> ImageSet:
    """Resolve a spec (see the comment above ImageSet) to one in-memory ImageSet."""
    if not spec.strip():
        raise DataError("empty data spec")
    images, labels = [], []
    for part in spec.split("+"):
        source, rows = _split_slice(part.strip())
        x, y = _load_one_rgb32(source, root, download_missing)
        if rows is not None:
            n = x.shape[0]
            start, stop, _ = rows.indices(n)
            if not (rows.start is None or -n <= rows.start < n) or not (rows.stop is None or -n <= rows.stop <= n):
                raise DataError(f"{part!r}: rows {rows.start}:{rows.stop} are outside 0:{n}")
            if start >= stop:
                raise DataError(f"{part!r}: the row range {rows.start}:{rows.stop} is empty")
            x, y = x[start:stop], (y[start:stop] if y is not None else None)
        images.append(x)
        labels.append(y)
    all_labels = torch.cat(labels) if all(y is not None for y in labels) else None
    return ImageSet(images=torch.cat(images), labels=all_labels, name=spec)
