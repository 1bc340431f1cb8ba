"""Image helpers: [-1, 1] -> [0, 1], grid geometry, PNG round trip, atomic files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaegan.errors import ConfigError
from vaegan.images import make_grid_image, png_bytes, save_png, to_unit


def test_to_unit_is_the_affine_map_and_clamps() -> None:
    x = torch.tensor([-1.0, -0.5, 0.0, 1.0, 1.5, -3.0])
    assert torch.equal(to_unit(x), torch.tensor([0.0, 0.25, 0.5, 1.0, 1.0, 0.0]))


def test_grid_geometry_and_pixel_values() -> None:
    images = torch.full((10, 3, 32, 32), -1.0)
    images[3] = 1.0  # the 4th image is white, the rest black
    grid = make_grid_image(images, nrow=4, padding=2)
    # 4 columns, ceil(10/4) = 3 rows, 2 px of padding around and between the images
    assert grid.shape == (3 * 34 + 2, 4 * 34 + 2, 3) and grid.dtype == np.uint8
    assert (grid[2:34, 2:34] == 0).all()  # image 0: black
    assert (grid[2:34, 3 * 34 + 2 : 3 * 34 + 34] == 255).all()  # image 3: white
    assert (grid[0, :] == 255).all()  # white padding


def test_five_d_input_is_a_table_of_rows() -> None:
    strip = torch.zeros(2, 5, 3, 32, 32)
    strip[1] = 1.0
    grid = make_grid_image(strip, nrow=99)  # nrow is ignored for tables: rows mean something
    assert grid.shape == (2 * 34 + 2, 5 * 34 + 2, 3)
    assert (grid[2:34, 2:34] == 128).all() and (grid[36:68, 2:34] == 255).all()


def test_grey_images_become_rgb() -> None:
    assert make_grid_image(torch.zeros(2, 1, 28, 28)).shape[2] == 3


@pytest.mark.parametrize("shape", [(3, 32, 32), (0, 3, 32, 32), (2, 2, 32, 32)])
def test_bad_shapes_are_config_errors(shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError):
        make_grid_image(torch.zeros(shape))


def test_png_round_trip_and_atomic_save(tmp_path: Path) -> None:
    images = torch.rand(6, 3, 32, 32) * 2 - 1
    array = make_grid_image(images, nrow=3)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(images, nrow=3))))
    assert np.array_equal(decoded, array)
    path = save_png(tmp_path / "sub" / "grid.png", array)
    assert np.array_equal(np.asarray(Image.open(path)), array)
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temporary file left behind
    with pytest.raises(ConfigError):
        png_bytes(np.zeros((4, 4), dtype=np.uint8))
