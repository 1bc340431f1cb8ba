"""Binary digits for the VAE (vaegan/data/binary.py): every source, dynamic binarization, the spec grammar.

The download paths are tested offline (tests/test_data_sources.py) on small files written in the real formats."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from vaegan import data
from vaegan.errors import DataError


def _write_idx_images(path: Path, images: np.ndarray) -> None:
    path.write_bytes(struct.pack(">IIII", 0x803, *images.shape) + images.astype(np.uint8).tobytes())


def _write_idx_labels(path: Path, labels: np.ndarray) -> None:
    path.write_bytes(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def test_torchvision_mnist_path_with_dynamic_binarization(tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    _write_idx_images(raw / "train-images-idx3-ubyte", train)
    _write_idx_labels(raw / "train-labels-idx1-ubyte", rng.integers(0, 10, 60))
    _write_idx_images(raw / "t10k-images-idx3-ubyte", test)
    _write_idx_labels(raw / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 10))

    splits = data.load_binary_mnist("mnist", tmp_path, download_missing=False)
    assert splits.dynamic
    assert splits.train.shape == (50, 784) and splits.valid.shape == (10, 784) and splits.test.shape == (10, 784)
    np.testing.assert_allclose(splits.train.numpy(), train[:50].reshape(50, -1) / 255.0, rtol=1e-6)
    assert data.is_binary(splits.valid) and data.is_binary(splits.test)
    # Each call of binarize_batch is a fresh sample with the grey level as probability.
    a, b = data.binarize_batch(splits.train), data.binarize_batch(splits.train)
    assert data.is_binary(a) and not torch.equal(a, b)


def test_torchvision_mnist_reads_real_idx_bytes(shared_data: Path, tmp_path: Path) -> None:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        real = gzip.decompress((shared_data / "mnist_raw" / f"t10k-{kind}-ubyte.gz").read_bytes())
        (raw / f"t10k-{kind}-ubyte").write_bytes(real)
        (raw / f"train-{kind}-ubyte").write_bytes(real)  # the real test digits stand in for the train file
    splits = data.load_binary_mnist("mnist", tmp_path, download_missing=False)
    expected = np.load(shared_data / "mnist_test.npz")["X"]
    np.testing.assert_allclose(splits.train[:5].numpy(), expected[:5].reshape(5, -1) / 255.0, rtol=1e-6)


def test_npz_with_named_splits_and_with_x_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    binary = {s: (rng.random((n, 28, 28)) < 0.2).astype(np.uint8) for s, n in (("train", 8), ("valid", 3), ("test", 2))}
    np.savez(tmp_path / "splits.npz", **binary)
    splits = data.load_binary_mnist(str(tmp_path / "splits.npz"))
    assert not splits.dynamic and splits.train.shape == (8, 784)

    np.savez(tmp_path / "grey.npz", X=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8))
    grey = data.load_binary_mnist(str(tmp_path / "grey.npz"), seed=3)
    assert grey.dynamic and grey.train.shape == (40, 784) and grey.valid.shape == (5, 784)
    assert data.is_binary(grey.test)
    again = data.load_binary_mnist(str(tmp_path / "grey.npz"), seed=3)
    assert torch.equal(grey.valid, again.valid)  # evaluation splits are fixed for a seed


def test_image_folder(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(3)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).save(tmp_path / f"{i:02d}.png")
    splits = data.load_binary_mnist(str(tmp_path))
    assert splits.train.shape == (16, 784) and splits.dynamic


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: str(d / "missing.npz"), "neither binarized-mnist"),
        (lambda d: (d / "x.txt").write_text("hi") and str(d / "x.txt"), "expected a .npz"),
        (lambda d: (np.savez(d / "k.npz", images=np.zeros((4, 28, 28))), str(d / "k.npz"))[1], "expected arrays"),
        (lambda d: (np.savez(d / "s.npz", X=np.zeros((30, 32, 32))), str(d / "s.npz"))[1], "784 pixels"),
        (lambda d: (d / "c.npz").write_bytes(b"junk") and str(d / "c.npz"), "cannot read"),
    ],
)
def test_bad_specs_are_one_line_errors(tmp_path: Path, make, message: str) -> None:  # noqa: ANN001
    with pytest.raises(DataError, match=message):
        data.load_binary_mnist(make(tmp_path))


def test_real_binarized_mnist_file(shared_data: Path) -> None:
    splits = data.load_binary_mnist(str(shared_data / "binarized_mnist.npz"))
    assert (splits.train.shape, splits.valid.shape, splits.test.shape) == ((50000, 784), (10000, 784), (10000, 784))
    assert not splits.dynamic
    assert abs(splits.train.mean().item() - 0.131) < 0.002


def test_minibatches_cover_every_row_once() -> None:
    x = torch.arange(10).float()[:, None]
    seen = torch.cat(list(data.minibatches(x, 3, rng=torch.Generator().manual_seed(0))))
    assert sorted(seen.squeeze(1).tolist()) == list(range(10))
    assert [len(b) for b in data.minibatches(x, 4, shuffle=False)] == [4, 4, 2]


# ------------------------------------------------------------------ the spec grammar on the VAE side (@a:b, +)


def _coded(ids: range | list[int]) -> np.ndarray:
    """Binary 28x28 images whose first 16 pixels spell an id in bits, so a test can tell which row went where."""
    ids = np.asarray(list(ids))
    flat = np.zeros((len(ids), 784), dtype=np.uint8)
    for bit in range(16):
        flat[:, bit] = (ids >> bit) & 1
    return flat.reshape(-1, 28, 28)


def _ids(x: torch.Tensor) -> list[int]:
    return (x[:, :16].round().long() * (2 ** torch.arange(16))).sum(1).tolist()


def test_a_sliced_and_joined_spec_is_one_set_split_80_10_10(tmp_path: Path) -> None:
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, X=_coded(range(10)))
    np.savez(b, train=_coded(range(100, 106)), valid=_coded(range(200, 203)), test=_coded(range(300, 302)))
    spec = f"{a}@2:5+{b}+{a}@8:"
    splits = data.load_binary_mnist(spec, seed=4)
    rows = [2, 3, 4, *range(100, 106), 8, 9]  # b's set is its train split
    order = np.random.default_rng(4).permutation(len(rows))
    assert splits.name == spec and not splits.dynamic
    assert _ids(splits.train) == [rows[i] for i in order[:9]]
    assert _ids(splits.valid) == [rows[order[9]]] and _ids(splits.test) == [rows[order[10]]]
    assert torch.equal(data.load_binary_mnist(spec, seed=4).valid, splits.valid)  # fixed for a seed

    whole = data.load_binary_mnist(str(b))  # one source without rows keeps its own splits
    assert (_ids(whole.train), _ids(whole.valid), _ids(whole.test)) == (
        list(range(100, 106)),
        list(range(200, 203)),
        list(range(300, 302)),
    )
    every_row = data.load_binary_mnist(f"{b}@0:")  # any row range makes one set, even all the rows
    assert sorted(_ids(torch.cat([every_row.train, every_row.valid, every_row.test]))) == list(range(100, 106))


def test_grey_joined_with_binary_is_binarized_dynamically(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "grey.npz", X=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8))
    np.savez(tmp_path / "binary.npz", X=_coded(range(20)))
    splits = data.load_binary_mnist(f"{tmp_path / 'grey.npz'}@0:20+{tmp_path / 'binary.npz'}")
    assert splits.dynamic and splits.train.shape == (32, 784)
    assert data.is_binary(splits.valid) and data.is_binary(splits.test)


@pytest.mark.parametrize(
    ("rows", "message"), [("@0:11", "outside 0:10"), ("@-2:3", "is empty"), ("@x:", "whole numbers")]
)
def test_bad_rows_of_a_vae_spec(tmp_path: Path, rows: str, message: str) -> None:
    np.savez(tmp_path / "a.npz", X=_coded(range(10)))
    with pytest.raises(DataError, match=message):
        data.load_binary_mnist(f"{tmp_path / 'a.npz'}{rows}")


def test_real_grey_digits_sliced_and_joined(shared_data: Path) -> None:
    spec = f"{shared_data / 'mnist_test.npz'}@0:1000+{shared_data / 'mnist_train_5k.npz'}@-1000:"
    splits = data.load_binary_mnist(spec)
    assert (splits.train.shape, splits.valid.shape, splits.test.shape) == ((1600, 784), (200, 784), (200, 784))
    assert splits.dynamic and data.is_binary(splits.valid) and data.is_binary(splits.test)
    with np.load(shared_data / "mnist_test.npz") as f, np.load(shared_data / "mnist_train_5k.npz") as g:
        rows = np.concatenate([f["X"][:1000], g["X"][-1000:]]).reshape(2000, 784) / 255.0
    order = np.random.default_rng(0).permutation(2000)
    np.testing.assert_allclose(splits.train.numpy(), rows[order[:1600]], rtol=1e-6)
