"""The test digits the app shows (vaegan/data/digits.py): found, loaded and downloaded without Streamlit."""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import write_amat
from vaegan import data
from vaegan.data import download_test_digits, find_test_digits, load_test_digits, sources
from vaegan.errors import DataError


def _binary(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 784)) < 0.2).astype(np.uint8)


def test_nothing_on_this_machine_is_none(tmp_path: Path) -> None:
    assert find_test_digits(None, tmp_path) is None
    assert find_test_digits("", tmp_path) is None  # an empty VAEGAN_APP_DATA is no spec


def test_a_given_spec_comes_first(tmp_path: Path) -> None:
    amat = sources.larochelle_amat("test", tmp_path)
    amat.parent.mkdir(parents=True)
    write_amat(amat, _binary(3))
    np.savez_compressed(sources.larochelle_cache(tmp_path), train=_binary(2), valid=_binary(2), test=_binary(2))
    assert find_test_digits("some.npz@0:10", tmp_path) == "some.npz@0:10"


def test_the_cache_comes_before_the_test_file(tmp_path: Path) -> None:
    amat = sources.larochelle_amat("test", tmp_path)
    amat.parent.mkdir(parents=True)
    write_amat(amat, _binary(7))
    assert find_test_digits(None, tmp_path) == str(amat)
    np.savez_compressed(sources.larochelle_cache(tmp_path), train=_binary(4), valid=_binary(2), test=_binary(3, 1))
    assert find_test_digits(None, tmp_path) == "binarized-mnist"
    # binarized-mnist from the cache: its test split, read without any download.
    digits = load_test_digits("binarized-mnist", tmp_path)
    np.testing.assert_array_equal(digits.numpy(), _binary(3, 1).astype(np.float32))


def test_the_default_root_is_read_at_every_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAEGAN_DATA", str(tmp_path))
    assert find_test_digits(None) is None
    amat = sources.larochelle_amat("test")
    amat.parent.mkdir(parents=True)
    write_amat(amat, _binary(2))
    assert find_test_digits(None) == str(tmp_path / "binarized_mnist" / "binarized_mnist_test.amat")


def test_a_lone_amat_is_taken_whole_and_other_specs_give_their_test_split(tmp_path: Path) -> None:
    write_amat(tmp_path / "t.amat", _binary(30))
    whole = load_test_digits(str(tmp_path / "t.amat"))
    assert whole.shape == (30, 784) and whole.dtype == torch.float32
    np.testing.assert_array_equal(whole.numpy(), _binary(30).astype(np.float32))
    # Sliced, the .amat is a spec like any other: its test split of the 80/10/10 split.
    assert load_test_digits(f"{tmp_path / 't.amat'}@0:20").shape == (2, 784)
    np.savez(tmp_path / "grey.npz", X=np.random.default_rng(2).integers(0, 256, (50, 28, 28), dtype=np.uint8))
    grey = load_test_digits(str(tmp_path / "grey.npz"))
    assert torch.equal(grey, data.load_binary_mnist(str(tmp_path / "grey.npz")).test) and data.is_binary(grey)


def test_grey_amat_values_are_binarized(tmp_path: Path) -> None:
    write_amat(tmp_path / "grey.amat", np.random.default_rng(3).integers(0, 256, (5, 784)))
    digits = load_test_digits(str(tmp_path / "grey.amat"))
    assert data.is_binary(digits) and torch.equal(digits, load_test_digits(str(tmp_path / "grey.amat")))


def test_loading_never_downloads(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="downloads are off"):
        load_test_digits("binarized-mnist", tmp_path)


def test_download_fetches_only_the_verified_test_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "0 1 " * 392 + "\n"
    fetched = []

    def fake_download(url: str, dest: str) -> None:
        fetched.append(url)
        Path(dest).write_text(text)

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_download)
    monkeypatch.setitem(sources.LAROCHELLE_SHA1, "test", hashlib.sha1(text.encode()).hexdigest())
    path = download_test_digits(tmp_path)
    assert fetched == [data.LAROCHELLE_URL.format(split="test")]
    assert path == sources.larochelle_amat("test", tmp_path) and find_test_digits(None, tmp_path) == str(path)
    assert load_test_digits(str(path)).shape == (1, 784)
    download_test_digits(tmp_path)  # a verified file is reused
    assert len(fetched) == 1
