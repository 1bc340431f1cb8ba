"""Shared fixtures. Real data lives in ../shared/data beside the checkout (see its README); it is never committed,
so tests that need it skip with a clear reason when it is absent."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own convention

from vaegan.classifier import ClassifierConfig, DigitClassifier
from vaegan.runtime import describe_machine

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def pytest_report_header() -> str:
    """Which machine ran the suite: the last bits of some floats depend on the CPU (docs/reproducibility.md)."""
    return f"machine: {describe_machine()}"


def mkl_threads() -> int | None:
    """MKL's own thread count for matrix products in the calling thread, or None where torch has no MKL.

    torch has no Python call for it; its CPU library exports MKL's C API, so ask MKL itself. What a worker thread's
    MKL count is matters: on Intel CPUs a product split over 2 threads rounds differently than over 1."""
    try:
        library = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        return int(library.mkl_get_max_threads())
    except (OSError, AttributeError):
        return None


@pytest.fixture(autouse=True)
def _deterministic_torch() -> None:
    torch.manual_seed(0)


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "binarized_mnist.npz").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (see docs/data.md)")
    return SHARED_DATA


def smooth_images(n: int, seed: int) -> torch.Tensor:
    """Random blurry blobs in [-1, 1]: image-like enough that a random CNN's features vary across the set."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 8, 8, generator=g) * 2 - 1
    return F.interpolate(low, size=32, mode="bilinear", align_corners=False).clamp(-1, 1)


def make_tiny_classifier() -> DigitClassifier:
    """Random weights are enough for the set metrics: they only need some fixed map from images to features."""
    torch.manual_seed(0)
    model = DigitClassifier(ClassifierConfig(width=4, feature_dim=16))
    with torch.no_grad():
        model.train()(smooth_images(64, seed=99))  # non-trivial batch-norm statistics
        # Scale up the feature layer and shift it off ReLU's flat part: at init some features are always 0 and the
        # rest vary by ~1e-2, which makes the feature covariance singular (a poor test of the Fréchet formula).
        model.body[-2].weight.mul_(30.0)
        model.body[-2].bias.fill_(5.0)
    return model.eval()


@pytest.fixture
def tiny_classifier() -> DigitClassifier:
    return make_tiny_classifier()


def write_amat(path: Path, images: np.ndarray) -> None:
    """Images in Larochelle's text format: one image per line, its pixels as space-separated integers."""
    path.write_text("\n".join(" ".join(str(int(v)) for v in row) for row in images.reshape(len(images), -1)) + "\n")


# Hypothesis (tests/test_fuzz.py): short runs by default, so the suite stays quick on a busy 2-core machine and in CI;
# VAEGAN_HYPOTHESIS=thorough for a long local run. No deadline: a loaded machine makes single examples slow.
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # only test_fuzz.py needs it (requirements-dev.txt installs it)
    pass
else:
    _QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
    settings.register_profile("ci", max_examples=30, deadline=None, suppress_health_check=_QUIET, print_blob=True)
    settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=_QUIET)
    settings.load_profile(os.environ.get("VAEGAN_HYPOTHESIS", "ci"))
