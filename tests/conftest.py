"""Shared fixtures. Real data lives in ../shared/data beside the checkout (see its README); it is never committed,
so tests that need it skip with a clear reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _deterministic_torch() -> None:
    torch.manual_seed(0)


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "binarized_mnist.npz").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (see the project README: Data)")
    return SHARED_DATA


def write_amat(path: Path, images: np.ndarray) -> None:
    """Images in Larochelle's text format: one image per line, its pixels as space-separated integers."""
    path.write_text("\n".join(" ".join(str(int(v)) for v in row) for row in images.reshape(len(images), -1)) + "\n")
