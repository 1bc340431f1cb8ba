"""One loader per source (vaegan/data/sources.py), tested offline on small files written in the real formats."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import write_amat
from vaegan import data
from vaegan.data import sources
from vaegan.errors import DataError


@pytest.fixture
def larochelle_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, np.ndarray]]:
    """Three tiny .amat files in Larochelle's format, with the checksums patched to theirs."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    arrays, sums = {}, {}
    for split, n in (("train", 12), ("valid", 4), ("test", 5)):
        arrays[split] = (rng.random((n, 784)) < 0.13).astype(np.uint8)
        path = folder / f"binarized_mnist_{split}.amat"
        write_amat(path, arrays[split])
        sums[split] = hashlib.sha1(path.read_bytes()).hexdigest()
    monkeypatch.setattr(sources, "LAROCHELLE_SHA1", sums)
    return tmp_path, arrays


def test_larochelle_amat_files_parse_and_cache(larochelle_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, arrays = larochelle_root
    splits = data.load_binary_mnist("binarized-mnist", root)
    assert not splits.dynamic
    for name in data.SPLITS:
        np.testing.assert_array_equal(splits.split(name).numpy(), arrays[name].astype(np.float32))
    assert (root / "binarized_mnist" / "binarized_mnist.npz").exists()
    # The cache is used the second time, even with the text files gone.
    for p in (root / "binarized_mnist").glob("*.amat"):
        p.unlink()
    again = data.load_binary_mnist("binarized-mnist", root)
    assert torch.equal(again.test, splits.test)


def test_larochelle_download_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_download(url: str, dest: str) -> None:
        Path(dest).write_text("0 1\n")  # not the file whose checksum we expect

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_download)
    with pytest.raises(DataError, match="checksum mismatch"):
        data.load_binary_mnist("binarized-mnist", tmp_path)
    assert not list((tmp_path / "binarized_mnist").glob("*.amat"))  # nothing half-verified is kept


def test_download_failure_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, dest: str) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(DataError, match="offline"):
        data.load_binary_mnist("binarized-mnist", tmp_path)


def test_a_sliced_named_source_is_rows_of_its_train_split(larochelle_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, arrays = larochelle_root
    splits = data.load_binary_mnist("binarized-mnist@0:10", root)
    assert (splits.train.shape[0], splits.valid.shape[0], splits.test.shape[0]) == (8, 1, 1)
    chosen = torch.cat([splits.train, splits.valid, splits.test]).numpy()
    expected = arrays["train"][:10].astype(np.float32)
    assert sorted(map(bytes, chosen.astype(np.uint8))) == sorted(map(bytes, expected.astype(np.uint8)))


def test_an_amat_path_is_one_set_for_both_kinds(tmp_path: Path) -> None:
    images = (np.random.default_rng(5).random((20, 784)) < 0.2).astype(np.uint8)
    write_amat(tmp_path / "digits.amat", images)
    loaded = sources.load_source(str(tmp_path / "digits.amat"), data.BINARY_KIND)
    assert loaded.splits is None and loaded.y is None
    np.testing.assert_array_equal(loaded.x.reshape(20, -1), images)
    splits = data.load_binary_mnist(str(tmp_path / "digits.amat"))
    assert splits.train.shape == (16, 784) and not splits.dynamic
    rgb = data.load_rgb32(f"{tmp_path / 'digits.amat'}@0:3")
    assert rgb.images.shape == (3, 3, 32, 32) and set(rgb.images.unique().tolist()) == {-1.0, 1.0}


def test_bad_amat_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "short.amat").write_text("0 1 1\n")
    with pytest.raises(DataError, match="whole number of 28x28"):
        data.load_binary_mnist(str(tmp_path / "short.amat"))
    (tmp_path / "text.amat").write_text("not numbers\n")
    with pytest.raises(DataError, match="cannot read"):
        data.load_binary_mnist(str(tmp_path / "text.amat"))


def test_each_kind_accepts_only_its_names_and_says_which(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_downloads(url: str, dest: str) -> None:
        raise AssertionError(f"nothing may be downloaded for a name the kind refuses ({url})")

    monkeypatch.setattr(urllib.request, "urlretrieve", no_downloads)
    monkeypatch.chdir(tmp_path)  # no file called "svhn" or "binarized-mnist" in the working folder
    with pytest.raises(DataError, match="neither binarized-mnist, mnist nor"):
        data.load_binary_mnist("svhn", tmp_path)
    with pytest.raises(DataError, match="neither svhn, mnist nor"):
        data.load_rgb32("binarized-mnist", tmp_path)


def test_npz_labels_must_match_the_images(tmp_path: Path) -> None:
    np.savez(tmp_path / "x.npz", X=np.zeros((4, 28, 28), dtype=np.uint8), y=np.arange(3))
    with pytest.raises(DataError, match="4 images but 3 labels"):
        sources.npz_source(tmp_path / "x.npz")
    np.savez(tmp_path / "t.npz", train=np.zeros((4, 28, 28), dtype=np.uint8), train_y=np.arange(4))
    loaded = sources.npz_source(tmp_path / "t.npz")
    assert loaded.splits is None and loaded.y.tolist() == [0, 1, 2, 3] and loaded.y.dtype == np.int64


def test_a_source_named_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    np.savez(tmp_path / "a.npz", X=np.zeros((6, 28, 28), dtype=np.uint8))
    reads = []
    real = sources.read_npz
    monkeypatch.setattr(sources, "read_npz", lambda path: reads.append(path) or real(path))
    images = data.load_rgb32(f"{tmp_path / 'a.npz'}@0:2+{tmp_path / 'a.npz'}@4:")
    assert images.images.shape[0] == 4 and len(reads) == 1
