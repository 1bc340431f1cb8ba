"""32x32 RGB image sets: layouts, value ranges, the spec grammar (@start:stop, +), SVHN through torchvision."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import SHARED_DATA
from vaegan.data import load_rgb32, to_rgb32
from vaegan.errors import DataError


def test_grey_28_is_padded_with_background_and_repeated_to_rgb() -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    t = to_rgb32(x)
    assert t.shape == (3, 3, 32, 32) and t.dtype == torch.float32
    assert (t[:, :, :2] == -1).all() and (t[:, :, :, -2:] == -1).all()  # the 2-pixel border is black
    expected = torch.as_tensor(x).float() / 255 * 2 - 1
    for c in range(3):
        torch.testing.assert_close(t[:, c, 2:30, 2:30], expected)


def test_rgb_layouts_and_value_scales_agree() -> None:
    x = np.random.default_rng(1).integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    hwc = to_rgb32(x)
    torch.testing.assert_close(hwc, to_rgb32(x.transpose(0, 3, 1, 2)))  # (N, 3, H, W) too
    torch.testing.assert_close(hwc, to_rgb32(x.astype(np.float32) / 255))  # floats in [0, 1]
    assert torch.equal(hwc[0, :, 5, 7], torch.as_tensor(x[0, 5, 7]).float() / 255 * 2 - 1)


def test_binary_digits_map_to_plus_minus_one() -> None:
    x = np.random.default_rng(2).integers(0, 2, size=(4, 28, 28), dtype=np.uint8)
    t = to_rgb32(x)
    assert set(t.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(t[:, 0, 2:30, 2:30], torch.as_tensor(x).float() * 2 - 1)


def test_other_sizes_are_resized() -> None:
    t = to_rgb32(np.full((2, 64, 48), 200, dtype=np.uint8))
    assert t.shape == (2, 3, 32, 32)
    torch.testing.assert_close(t, torch.full_like(t, 200 / 255 * 2 - 1))  # a flat image stays flat


@pytest.mark.parametrize("bad", [np.full((2, 28, 28), -1.0), np.zeros((2, 5)), np.zeros((0, 28, 28))])
def test_bad_arrays_are_data_errors(bad: np.ndarray) -> None:
    with pytest.raises(DataError):
        to_rgb32(bad)


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, X=rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8), y=np.arange(10))
    np.savez(b, X=rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8), y=np.arange(6) + 100)
    return a, b


def test_slices_and_concatenation(two_files: tuple[Path, Path]) -> None:
    a, b = two_files
    spec = f"{a}@2:5+{b}+{a}@8:"
    images = load_rgb32(spec)
    assert images.name == spec and images.images.shape == (3 + 6 + 2, 3, 32, 32)
    assert images.labels.tolist() == [2, 3, 4, *range(100, 106), 8, 9]
    torch.testing.assert_close(images.images[0], load_rgb32(str(a)).images[2])
    torch.testing.assert_close(images.images[3:9], load_rgb32(str(b)).images)


def test_labels_are_dropped_when_one_source_has_none(two_files: tuple[Path, Path], tmp_path: Path) -> None:
    np.savez(tmp_path / "nolabels.npz", train=np.zeros((4, 28, 28), dtype=np.uint8))
    images = load_rgb32(f"{two_files[0]}+{tmp_path / 'nolabels.npz'}")
    assert images.labels is None and images.images.shape[0] == 14


@pytest.mark.parametrize("rows", ["@5:5", "@0:11", "@a:b", "@12:"])
def test_bad_row_ranges_are_data_errors(two_files: tuple[Path, Path], rows: str) -> None:
    with pytest.raises(DataError):
        load_rgb32(f"{two_files[0]}{rows}")


@pytest.mark.parametrize("spec", ["no/such/file.npz", "", "cli.py"])
def test_bad_specs_are_data_errors(spec: str) -> None:
    with pytest.raises(DataError):
        load_rgb32(spec)


def test_image_folder(tmp_path: Path) -> None:
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        Image.new("RGB", (40, 40), colour).save(tmp_path / f"{i}.png")
    images = load_rgb32(str(tmp_path))
    assert images.images.shape == (2, 3, 32, 32) and images.labels is None
    torch.testing.assert_close(images.images[0, :, 10, 10], torch.tensor([1.0, -1.0, -1.0]))
    torch.testing.assert_close(images.images[1, :, 10, 10], torch.tensor([-1.0, -1.0, 1.0]))


def _write_svhn_mat(folder: Path, x_nhwc: np.ndarray, y: np.ndarray) -> None:
    """torchvision's layout of train_32x32.mat: X (32, 32, 3, N) uint8, y (N, 1) with 10 for the digit 0."""
    import scipy.io

    folder.mkdir(parents=True, exist_ok=True)
    y_mat = np.where(y == 0, 10, y).reshape(-1, 1).astype(np.uint8)
    scipy.io.savemat(folder / "train_32x32.mat", {"X": np.ascontiguousarray(x_nhwc.transpose(1, 2, 3, 0)), "y": y_mat})


def test_svhn_reads_a_mat_through_torchvision(tmp_path: Path) -> None:
    x = np.random.default_rng(4).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    y = np.array([0, 1, 9, 0, 5])
    _write_svhn_mat(tmp_path / "svhn", x, y)
    images = load_rgb32("svhn", root=tmp_path, download_missing=False)
    assert images.labels.tolist() == [0, 1, 9, 0, 5]
    torch.testing.assert_close(images.images, to_rgb32(x))
    # pixel (row 4, column 6, green) of image 2: torchvision's axis order (N, C, H, W) keeps rows and columns apart
    torch.testing.assert_close(images.images[2, 1, 4, 6], torch.tensor(x[2, 4, 6, 1] / 255 * 2 - 1).float())


def test_svhn_real_bytes(tmp_path: Path) -> None:
    """The 13 real SVHN digits in ../shared/data, written as torchvision's .mat and read back through SVHN."""
    if not (SHARED_DATA / "svhn_13.npz").exists():
        pytest.skip(f"real SVHN digits not found at {SHARED_DATA / 'svhn_13.npz'}")
    with np.load(SHARED_DATA / "svhn_13.npz") as f:
        x, y = f["X"], f["y"]
    _write_svhn_mat(tmp_path / "svhn", x, y)
    images = load_rgb32("svhn@0:13", root=tmp_path, download_missing=False)
    assert images.images.shape == (13, 3, 32, 32)
    assert images.labels.tolist() == y.tolist() and min(y) >= 0 and max(y) <= 9
    expected = torch.as_tensor(x).permute(0, 3, 1, 2).float() / 255 * 2 - 1
    assert torch.equal(images.images, expected)


def test_svhn_missing_offline_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="downloads are off"):
        load_rgb32("svhn", root=tmp_path, download_missing=False)


def test_torchvision_mnist_on_real_idx_bytes(tmp_path: Path) -> None:
    """`mnist` through torchvision's reader, fed the real t10k IDX files under the train names it looks for."""
    raw = SHARED_DATA / "mnist_raw"
    if not (raw / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST IDX files not found at {raw}")
    folder = tmp_path / "MNIST" / "raw"
    folder.mkdir(parents=True)
    for kind in ("images-idx3", "labels-idx1"):
        data = gzip.decompress((raw / f"t10k-{kind}-ubyte.gz").read_bytes())
        for split in ("train", "t10k"):  # torchvision wants all four files present
            (folder / f"{split}-{kind}-ubyte").write_bytes(data)
    images = load_rgb32("mnist@0:500", root=tmp_path, download_missing=False)
    with np.load(SHARED_DATA / "mnist_test.npz") as f:
        x, y = f["X"][:500], f["y"][:500]
    assert images.labels.tolist() == y.tolist()
    assert torch.equal(images.images, to_rgb32(x))
    assert torch.equal(images.images[:, 0], images.images[:, 2])  # grey repeated to three channels
