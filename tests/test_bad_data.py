"""Bad `--data`: every kind of bad pixel array, label array, file and path ends as one DataError line that names
the file, the array and what is wrong - for the VAE's digits and the GAN's RGB sets alike - and the CLI shows it
as `error: ...` with exit code 2. Also the `--binarize` choices for grey data."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from cli import main as cli_main
from tests.conftest import write_amat
from vaegan.data import load_binary_mnist, load_rgb32, to_rgb32, to_unit_float
from vaegan.errors import DataError

rng = np.random.default_rng(0)
GOOD = rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8)


def _with(value: object, dtype: object = np.float32, at: tuple[int, ...] = (7, 3, 4)) -> np.ndarray:
    x = (GOOD / 255.0).astype(dtype)
    x[at] = value
    return x


def _two_bad() -> np.ndarray:
    x = _with(np.nan, at=(5, 0, 0))
    x[2, 1, 1] = -np.inf
    return x


# (array, what the message must say)
BAD_PIXELS = {
    "nan": (_with(np.nan), r"1 NaN pixel values \(first in image 7\)"),
    "inf": (_with(np.inf), r"1 infinite pixel values \(first in image 7\)"),
    "-inf and nan": (_two_bad(), r"1 NaN and 1 infinite pixel values \(first in image 2\)"),
    "negative float": (_with(-0.5), r"1 float pixel values outside \[0, 1\] \(range -0.5\.\.1"),
    "float over 1": (_with(1.5), r"1 float pixel values outside \[0, 1\] \(range 0\.\.1\.5, first in image 7\); "),
    "float 0-255": (GOOD.astype(np.float32), r"[\d,]+ float pixel values outside \[0, 1\].*\(0\.\.255 floats: store"),
    "int over 255": (GOOD.astype(np.int64) + 100, r"[\d,]+ integer pixel values outside 0\.\.255 \(range 100\.\.355"),
    "negative int": (GOOD.astype(np.int16) - 1, r"[\d,]+ integer pixel values outside 0\.\.255 \(range -1\.\."),
    "strings": (np.full((3, 28, 28), "x"), r"dtype <U1 is not pixel data"),
    "complex": (GOOD.astype(np.complex64), r"dtype complex64 is not pixel data"),
    "empty": (np.zeros((0, 28, 28), np.uint8), r"holds no images"),
    "float16 nan": (_with(np.nan, np.float16), r"1 NaN pixel values"),
}


@pytest.mark.parametrize("case", BAD_PIXELS)
@pytest.mark.parametrize("kind", ["vae", "rgb32"])
def test_bad_pixels_in_an_npz_name_the_file_the_array_and_the_problem(kind: str, case: str, tmp_path: Path) -> None:
    x, expected = BAD_PIXELS[case]
    path = tmp_path / "bad.npz"
    np.savez(path, X=x)
    load = load_binary_mnist if kind == "vae" else load_rgb32
    with pytest.raises(DataError, match=rf"^{tmp_path}/bad\.npz, array 'X': {expected}"):
        load(str(path))


@pytest.mark.parametrize("case", ["nan", "float over 1", "int over 255"])
def test_bad_pixels_in_one_split_name_that_split(case: str, tmp_path: Path) -> None:
    path = tmp_path / "splits.npz"
    np.savez(path, train=GOOD, valid=BAD_PIXELS[case][0], test=GOOD)
    with pytest.raises(DataError, match=r"splits\.npz, array 'valid': "):
        load_binary_mnist(str(path))


def test_bad_pixels_in_the_second_part_of_a_join_name_that_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "good.npz", X=GOOD)
    np.savez(tmp_path / "bad.npz", X=_with(np.nan))
    with pytest.raises(DataError, match=r"bad\.npz, array 'X': 1 NaN"):
        load_rgb32(f"{tmp_path}/good.npz+{tmp_path}/bad.npz@0:5")


def test_the_good_value_scales_still_load() -> None:
    for x in (GOOD, GOOD > 128, (GOOD > 128).astype(np.uint8), GOOD / 255.0, (GOOD / 255.0).astype(np.float16)):
        unit = to_unit_float(x)
        assert unit.dtype == torch.float32 and float(unit.min()) >= 0 and float(unit.max()) <= 1
        assert to_rgb32(x).shape == (20, 3, 32, 32)
    binary = (GOOD > 128).astype(np.uint8)
    assert torch.equal(to_unit_float(binary), torch.as_tensor(binary).float().reshape(20, -1))  # 0/1 stays 0/1


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (np.full(20, np.nan), "labels must be whole numbers"),
        (np.arange(20) + 0.5, "labels must be whole numbers"),
        (np.array(["a"] * 20), "labels of dtype <U1 are not whole numbers"),
        (np.arange(19), "20 images but 19 labels"),
    ],
)
def test_bad_labels_name_the_label_array(labels: np.ndarray, expected: str, tmp_path: Path) -> None:
    np.savez(tmp_path / "l.npz", X=GOOD, y=labels)
    with pytest.raises(DataError, match=rf"l\.npz, array 'y': {expected}"):
        load_rgb32(str(tmp_path / "l.npz"))


def test_float_labels_that_are_whole_numbers_are_fine(tmp_path: Path) -> None:
    np.savez(tmp_path / "l.npz", X=GOOD, y=np.arange(20, dtype=np.float64) % 10)
    assert load_rgb32(str(tmp_path / "l.npz")).labels.tolist() == [i % 10 for i in range(20)]


def _npz_claiming(shape: tuple[int, ...]) -> bytes:
    """An .npz whose one array's header claims `shape` (of float64) while holding no data at all."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("X.npy", header.getvalue())  # the header writer writes the magic string too
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"PK\x03\x04 not really a zip", "cannot read .* as .npz"),
        (b"", "cannot read .* as .npz"),
        (None, "a single .npy array, not an .npz archive"),
        (_npz_claiming((10**9, 28, 28)), r"array 'X': claims 6,272,000,000,000 bytes"),
        (_npz_claiming((20, 28, 28)), "cannot read .* as .npz"),  # the header is fine, the data is missing
    ],
    ids=["garbage", "empty", "npy", "absurd-header", "truncated"],
)
def test_broken_npz_files_are_data_errors(content: bytes | None, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, GOOD)
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=expected):
        load_binary_mnist(str(path))


def test_npz_without_image_arrays_or_with_a_scalar(tmp_path: Path) -> None:
    np.savez(tmp_path / "none.npz", labels=np.arange(3))
    with pytest.raises(DataError, match="expected arrays train/valid/test, X"):
        load_binary_mnist(str(tmp_path / "none.npz"))
    np.savez(tmp_path / "scalar.npz", X=np.float32(3.0))
    with pytest.raises(DataError, match="array 'X': a single number, not images"):
        load_rgb32(str(tmp_path / "scalar.npz"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0 1 300\n", "cannot read .* as .amat"), ("0 0.5 1\n", "cannot read .* as .amat"),
     ("0 1 1\n", "not a whole number of 28x28 images")],
)  # fmt: skip
def test_bad_amat_files(text: str, expected: str, tmp_path: Path) -> None:
    (tmp_path / "x.amat").write_text(text)
    with pytest.raises(DataError, match=expected):
        load_binary_mnist(str(tmp_path / "x.amat"))


def test_grey_amat_values_are_validated_too(tmp_path: Path) -> None:
    write_amat(tmp_path / "grey.amat", GOOD)  # 0..255 integers: grey levels, fine
    assert load_binary_mnist(str(tmp_path / "grey.amat")).dynamic


def test_a_folder_with_a_broken_image(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(GOOD[0]).save(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match=r"cannot read image .*b\.png"):
        load_rgb32(str(tmp_path))


@pytest.mark.parametrize("spec", ["a" * 5000 + ".npz", "x\0y.npz", "", "a.npz++b.npz", "x.npz@1:2:3", "x.npz@5:5",
                                  "@0:10", "x.npz@" + "9" * 5000 + ":"])  # fmt: skip
def test_bad_specs_and_paths_are_data_errors(spec: str) -> None:
    with pytest.raises(DataError):
        load_binary_mnist(spec, download_missing=False)


def test_the_cli_shows_bad_data_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "nan.npz", X=_with(np.nan))
    code = cli_main(["train", "vae", "--data", str(tmp_path / "nan.npz"), "--epochs", "1", "--device", "cpu",
                     "--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "vae.safetensors")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == f"error: {tmp_path}/nan.npz, array 'X': 1 NaN pixel values (first in image 7); pixels must be " \
                  "uint8 0-255, {0, 1}, or floats in [0, 1]"  # fmt: skip
    assert not (tmp_path / "vae.safetensors").exists()


# ---------------------------------------------------------------------------------------------- --binarize


@pytest.fixture
def grey(tmp_path: Path) -> str:
    path = tmp_path / "grey.npz"
    np.savez(path, train=GOOD, valid=GOOD[:10], test=GOOD[10:])
    return str(path)


def test_binarize_auto_is_dynamic_for_grey_data(grey: str) -> None:
    auto, dynamic = load_binary_mnist(grey), load_binary_mnist(grey, binarize="dynamic")
    assert auto.dynamic and auto.binarize == "dynamic"
    for split in ("train", "valid", "test"):
        assert torch.equal(auto.split(split), dynamic.split(split))
    assert not torch.equal(auto.train, (auto.train > 0.5).float())  # train keeps its grey levels


def test_binarize_threshold_and_none(grey: str) -> None:
    threshold = load_binary_mnist(grey, binarize="threshold")
    assert not threshold.dynamic and threshold.binarize == "threshold"
    assert torch.equal(threshold.valid, torch.as_tensor(GOOD[:10] / 255.0 >= 0.5).float().reshape(10, -1))
    none = load_binary_mnist(grey, binarize="none")
    assert not none.dynamic and none.binarize == "none"
    torch.testing.assert_close(none.test, torch.as_tensor(GOOD[10:] / 255.0).float().reshape(10, -1))


def test_binary_data_is_the_same_under_every_mode(tmp_path: Path) -> None:
    path = tmp_path / "binary.npz"
    np.savez(path, X=(GOOD > 128).astype(np.uint8))
    splits = [load_binary_mnist(str(path), binarize=mode) for mode in ("auto", "dynamic", "threshold", "none")]
    assert all(s.binarize == "binary" and not s.dynamic for s in splits)
    assert all(torch.equal(s.train, splits[0].train) and torch.equal(s.test, splits[0].test) for s in splits)


def test_an_unknown_binarize_mode(grey: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DataError, match="unknown binarize mode 'sometimes'; choose one of auto, dynamic"):
        load_binary_mnist(grey, binarize="sometimes")
    assert cli_main(["eval", "vae", "--data", grey, "--binarize", "sometimes"]) == 2
    assert "'sometimes' is not one of" in capsys.readouterr().err
