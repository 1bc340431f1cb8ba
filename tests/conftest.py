"""Shared fixtures. Real data lives in ../shared/data beside the checkout (see its README); it is never committed,
so tests that need it skip with a clear reason when it is absent."""

from __future__ import annotations

from pathlib import Path

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
