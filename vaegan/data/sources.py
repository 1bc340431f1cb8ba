"""Data sources: every named dataset and every kind of path is read here, once, into plain numpy arrays.

A source is the SOURCE of a spec part (grammar in `spec.py`):

* ``binarized-mnist`` - Larochelle's statically binarized MNIST (50k/10k/10k), the `.amat` text release,
  downloaded once and verified by SHA-1, then cached as `.npz` beside the text files.
* ``mnist`` - torchvision's MNIST (downloaded when online), grey levels; its splits are train = the first 50k
  training images, valid = the last 10k, test = the 10k test images.
* ``svhn`` - torchvision's SVHN, split train (a `train_32x32.mat` already on disk is read as it is).
* ``PATH.npz`` - keys ``train``/``valid``/``test`` (optionally ``train_y`` ...), and/or ``X`` (optionally ``y``).
* ``PATH.amat`` - one file in Larochelle's text format (784 values 0/1 per line).
* ``FOLDER`` - every image in it (png/jpg/bmp/gif/webp), resized to the side of the kind of data set asking.

`load_source` is the one dispatch. Every loader returns a `SourceArrays`: the source as *one set* ``x`` (with
labels ``y`` when it has them) and, when the source defines them, its train/valid/test ``splits``. Images keep the
layout and value scale of the source; binary.py (VAE) and rgb32.py (GAN) convert them, and both check the values
with `pixels.unit_pixels` (uint8 0-255, {0, 1} or finite floats in [0, 1]; anything else is a DataError naming the
file and the array). `SourceArrays.where` names an array for those messages. `load_joined` turns a whole spec
into one set: each part's rows of its source's set, joined.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaegan.data.files import default_data_root, download, read_image_folder, read_npz
from vaegan.data.pixels import check_labels
from vaegan.data.spec import Spec
from vaegan.errors import DataError
from vaegan.storage import atomic_write_bytes
from vaegan.vocabulary import SPLITS  # torch-free list (vaegan.vocabulary), re-exported here

LAROCHELLE_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"
LAROCHELLE_SHA1 = {
    "train": "cf70514ec5f481e54ad3eb0e6c03c83326ff96f8",
    "valid": "13418487742e6ea6d48db7b5187353a20b1b1f8c",
    "test": "ca70bd7775e182596dec148d4dc1bc6bd6c4c5f4",
}
MNIST_SIDE = 28
MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE


@dataclass(frozen=True)
class SourceArrays:
    """What one source holds, as it is stored (no rescaling, no binarization)."""

    x: np.ndarray  # the source as one set: (N, H, W), (N, H, W, 3), (N, 3, H, W) or flat (N, H*W)
    y: np.ndarray | None  # (N,) int64 labels of x, when the source has them
    splits: Mapping[str, np.ndarray] | None = None  # images of train/valid/test, when the source defines them
    origin: str = "the data"  # the file, folder or named source, for messages
    x_name: str | None = None  # the array x was read from (an .npz key), for messages

    def where(self, array: str | None = None) -> str:
        """Where an array came from, for messages: "data/x.npz, array 'X'" (array: a split name; None: x)."""
        name = array if array is not None else self.x_name
        return self.origin if name is None else f"{self.origin}, array {name!r}"


@dataclass(frozen=True)
class SourceKind:
    """What a kind of data set (binary 28x28 digits, 32x32 RGB) reads: the names it accepts, how folders are read."""

    named: tuple[str, ...]  # the source names this kind accepts, in the order error messages list them
    side: int  # images of a folder are resized to side x side
    mode: str  # ... and converted to this PIL mode ("L" grey, "RGB")


# ------------------------------------------------------------------------------------- Larochelle's .amat


def parse_amat(path: Path) -> np.ndarray:
    """Larochelle's `.amat`: one image per line, 784 space-separated 0/1 values -> uint8 (N, 784)."""
    try:
        values = np.array(path.read_bytes().split(), dtype=np.uint8)
    except (OSError, ValueError, OverflowError) as exc:  # OverflowError: a value outside 0..255
        raise DataError(f"cannot read {path} as .amat (784 numbers 0/1 per line): {exc}") from exc
    if values.size % MNIST_PIXELS != 0:
        raise DataError(f"{path}: {values.size} values is not a whole number of 28x28 images")
    return values.reshape(-1, MNIST_PIXELS)


def larochelle_folder(root: Path | None = None) -> Path:
    """Where the binarized-MNIST files live: the three `.amat` texts and their `.npz` cache."""
    return (root or default_data_root()) / "binarized_mnist"


def larochelle_amat(split: str, root: Path | None = None) -> Path:
    return larochelle_folder(root) / f"binarized_mnist_{split}.amat"


def larochelle_cache(root: Path | None = None) -> Path:
    return larochelle_folder(root) / "binarized_mnist.npz"


def download_larochelle(split: str, root: Path | None = None) -> Path:
    """One split's `.amat` from Larochelle's site, SHA-1 checked (an already verified file is reused)."""
    return download(LAROCHELLE_URL.format(split=split), larochelle_amat(split, root), LAROCHELLE_SHA1[split])


def larochelle_source(root: Path | None, download_missing: bool) -> SourceArrays:
    """binarized-mnist: the three splits as uint8 (N, 784); the set is the train split."""
    cache = larochelle_cache(root)
    splits = _read_cache(cache)
    if splits is None:
        splits = {}
        for split in SPLITS:
            path = larochelle_amat(split, root)
            if download_missing:
                download_larochelle(split, root)
            elif not path.exists():
                raise DataError(f"{path} is missing and downloads are off")
            splits[split] = parse_amat(path)
        # Parsing 50k lines of text is slow; the .npz is what every later run reads. Written atomically: a run
        # killed mid-write must not leave a truncated cache that every later run would trip over.

        buffer = io.BytesIO()
        np.savez_compressed(buffer, **splits)
        atomic_write_bytes(cache, buffer.getvalue())
    return SourceArrays(x=splits["train"], y=None, splits=splits, origin=f"binarized-mnist ({cache})", x_name="train")


def _read_cache(cache: Path) -> dict[str, np.ndarray] | None:
    """The cached splits, or None when there is no usable cache (missing, or damaged by an older version that did
    not write it atomically: then it is rebuilt from the `.amat` files)."""
    if not cache.exists():
        return None
    try:
        with np.load(cache, allow_pickle=False) as f:
            return {s: f[s] for s in SPLITS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def amat_source(path: Path) -> SourceArrays:
    """A single `.amat` file: its rows as one set of 28x28 images."""
    return SourceArrays(x=parse_amat(path).reshape(-1, MNIST_SIDE, MNIST_SIDE), y=None, origin=str(path))


# ------------------------------------------------------------------------------------------ torchvision


def mnist_source(root: Path | None, download_missing: bool) -> SourceArrays:
    """torchvision MNIST as uint8 (N, 28, 28): the set is all 60k training images (with labels)."""
    from torchvision.datasets import MNIST  # imported here: torchvision is slow to import and only some specs need it

    folder = root or default_data_root()
    try:
        train = MNIST(str(folder), train=True, download=download_missing)
        test = MNIST(str(folder), train=False, download=download_missing)
    except (RuntimeError, OSError) as exc:
        raise DataError(f"could not load torchvision MNIST under {folder}: {exc}") from exc
    x = train.data.numpy()
    # valid = the last sixth of the training images (10k of 60k): the split of the VAE literature.
    n_train = len(x) - len(x) // 6
    splits = {"train": x[:n_train], "valid": x[n_train:], "test": test.data.numpy()}
    return SourceArrays(x=x, y=train.targets.numpy().astype(np.int64), splits=splits,
                        origin=f"torchvision MNIST under {folder}")


def _local_svhn_class():  # noqa: ANN202 - a torchvision Dataset subclass, built lazily (torchvision import is slow)
    # torchvision's datasets only for the download path (start-up stays light)
    from torchvision.datasets import SVHN

    class LocalSVHN(SVHN):
        """torchvision's SVHN reader for a `.mat` that is already on disk.

        torchvision checks the MD5 of the official file; a local file the user put there (or a test fixture in the
        same layout) is read as it is. Downloads still go through torchvision, which verifies the MD5.
        """

        def _check_integrity(self) -> bool:
            return os.path.isfile(os.path.join(self.root, self.filename))

    return LocalSVHN


def svhn_source(root: Path | None, download_missing: bool) -> SourceArrays:
    """SVHN split train through torchvision: uint8 (N, 3, 32, 32) and int64 labels with 10 -> 0."""
    # torchvision's datasets only for the download path (start-up stays light)
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
    return SourceArrays(x=np.asarray(dataset.data), y=np.asarray(dataset.labels, dtype=np.int64) % 10,
                        origin=f"SVHN under {folder}")


# ------------------------------------------------------------------------------------------------ paths


def _labels(where: str, y: np.ndarray | None, n: int) -> np.ndarray | None:
    return None if y is None else check_labels(y, n, where)


def npz_source(path: Path) -> SourceArrays:
    """An `.npz`: splits when it has all of train/valid/test; the set is X (labels y), else train (labels train_y)."""
    arrays = read_npz(path)
    splits = {s: arrays[s] for s in SPLITS} if all(s in arrays for s in SPLITS) else None
    if "X" in arrays:
        x_name, y_name = "X", "y"
    elif "train" in arrays:
        x_name, y_name = "train", "train_y"
    else:
        found = ", ".join(arrays) or "none"
        raise DataError(f"{path}: expected arrays train/valid/test, X (optionally y) or train, found {found}")
    x = arrays[x_name]
    if x.ndim == 0:
        raise DataError(f"{path}, array {x_name!r}: a single number, not images")
    y = _labels(f"{path}, array {y_name!r}", arrays.get(y_name), len(x))
    return SourceArrays(x=x, y=y, splits=splits, origin=str(path), x_name=x_name)


def folder_source(folder: Path, kind: SourceKind) -> SourceArrays:
    return SourceArrays(x=read_image_folder(folder, side=kind.side, mode=kind.mode), y=None, origin=str(folder))


NAMED_SOURCES: dict[str, Callable[[Path | None, bool], SourceArrays]] = {
    "binarized-mnist": larochelle_source,
    "mnist": mnist_source,
    "svhn": svhn_source,
}


def load_source(source: str, kind: SourceKind, root: Path | None = None, download_missing: bool = True) -> SourceArrays:
    """The one dispatch from a source (a name `kind` accepts, or a path) to its arrays."""
    if source in kind.named:
        return NAMED_SOURCES[source](root, download_missing)
    path = Path(source)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
        raise DataError(f"--data {source[:200]!r} cannot be a file name: {exc}") from exc
    if not exists:
        names = ", ".join(kind.named)
        raise DataError(f"--data {source!r} is neither {names} nor an existing .npz or .amat file or folder")
    if is_dir:
        return folder_source(path, kind)
    if path.suffix == ".npz":
        return npz_source(path)
    if path.suffix == ".amat":
        return amat_source(path)
    raise DataError(f"{path}: expected a .npz or .amat file or a folder of images")


def load_joined(
    spec: Spec,
    kind: SourceKind,
    convert: Callable[[np.ndarray, str], torch.Tensor],
    root: Path | None = None,
    download_missing: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A spec as one set: each part's rows of its source's set, joined in spec order; labels when every part has them.

    Each source set is converted by `convert(array, where)` as a whole *before* its rows are taken, so whether values
    are 0-255 or 0-1 is judged on the whole source, never on a slice that happens to be dark. A source named twice is
    read once.
    """
    converted: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
    images, labels = [], []
    for part in spec.parts:
        if part.source not in converted:
            arrays = load_source(part.source, kind, root, download_missing)
            converted[part.source] = (convert(arrays.x, arrays.where()),
                                      None if arrays.y is None else torch.as_tensor(arrays.y))
        x, y = converted[part.source]
        if part.rows is not None:
            rows = part.rows.select(x.shape[0], part.text)
            x, y = x[rows], (None if y is None else y[rows])
        images.append(x)
        labels.append(y)
    joined_labels = torch.cat(labels) if all(y is not None for y in labels) else None
    return torch.cat(images), joined_labels
