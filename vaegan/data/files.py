"""File helpers with no dataset knowledge: where downloads go, a verified download, `.npz` and image-folder readers.

Every failure is a one-line `DataError`, so the CLI and the app can show it as it is.
"""

from __future__ import annotations

import hashlib
import math
import os
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from vaegan.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def default_data_root() -> Path:
    """Where downloads go: $VAEGAN_DATA, else ~/.cache/vaegan (read at every call, so tests can point it away)."""
    return Path(os.environ.get("VAEGAN_DATA", Path.home() / ".cache" / "vaegan"))


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
    # Download beside the destination and rename only once verified: an interrupted or corrupt download never
    # leaves a file under the final name that a later run would trust.
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


# The most one array of a data file may claim to hold (its header states the shape before anything is read), so a
# corrupt or hostile header cannot make the loader allocate without bound: 16 GB, or half the machine's memory.
MAX_ARRAY_BYTES = 2**34


def _memory_bound() -> int:
    try:
        return min(MAX_ARRAY_BYTES, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2)
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
        return MAX_ARRAY_BYTES


def _check_npz_headers(path: Path) -> None:
    """Read every member's .npy header (shape, dtype) and refuse arrays larger than `_memory_bound()`."""
    bound = _memory_bound()
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f)
            claimed = math.prod(shape) * dtype.itemsize
            if claimed > bound:
                raise DataError(f"{path}, array {member[:-4]!r}: claims {claimed:,} bytes (shape {shape}), more than "
                                f"the {bound:,} bytes one array may hold here")  # fmt: skip


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz`, loaded without pickle (object arrays are refused), sizes checked before loading."""
    try:
        with open(path, "rb") as f:
            if f.read(6) == b"\x93NUMPY":
                raise DataError(f"{path} is a single .npy array, not an .npz archive of named arrays")
        _check_npz_headers(path)
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise DataError(f"{path} is a single .npy array, not an .npz archive of named arrays")
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise DataError(f"cannot read {path} as .npz: {str(exc)[:200]}") from exc


def read_image_folder(folder: Path, side: int, mode: str) -> np.ndarray:
    """Every image in `folder` (sorted by name), converted to PIL `mode` and resized to side x side -> uint8."""
    from PIL import Image  # imported here: only folder specs need Pillow

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
