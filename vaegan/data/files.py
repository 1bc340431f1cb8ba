"""File helpers with no dataset knowledge: where downloads go, a verified download, `.npz` and image-folder readers.

Every failure is a one-line `DataError`, so the CLI and the app can show it as it is.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz`, loaded without pickle (object arrays are refused)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} as .npz: {exc}") from exc


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
