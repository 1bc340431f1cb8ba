"""Real test digits for showing a VAE at work (the app's VAE page), found without ever needing a download.

Where they come from, in order: a spec the caller was given (the app's ``VAEGAN_APP_DATA``), binarized MNIST in
the download cache, or Larochelle's test file alone - the one split `download_test_digits` fetches (10,000 digits,
SHA-1 checked), so a viewer does not have to download the 50,000 training digits to see reconstructions.

(Not named ``test_digits.py``: tools treat ``test_*.py`` files as tests, e.g. pytest collection, coverage omits.)
"""

from __future__ import annotations

from pathlib import Path

import torch

from vaegan.data.binary import fixed_binarization, load_binary_mnist, to_unit_float
from vaegan.data.sources import download_larochelle, larochelle_amat, larochelle_cache, parse_amat
from vaegan.data.spec import parse_spec

# The seed of the fixed binarization of test digits that are grey: the one load_binary_mnist gives its test split.
_TEST_SEED = 2


def find_test_digits(env_spec: str | None, root: Path | None = None) -> str | None:
    """A spec holding test digits - `env_spec` when given, else what the cache under `root` holds - or None."""
    if env_spec:
        return env_spec
    if larochelle_cache(root).exists():
        return "binarized-mnist"
    if (amat := larochelle_amat("test", root)).exists():
        return str(amat)
    return None


def load_test_digits(source: str, root: Path | None = None) -> torch.Tensor:
    """The test digits of a spec as (N, 784) float32 in {0, 1}; never downloads.

    A spec that is one whole `.amat` file gives all its rows: Larochelle publishes one file per split, and the test
    file is what `download_test_digits` fetches. Any other spec gives the test split `load_binary_mnist` makes.
    """
    whole = parse_spec(source).whole_source
    if whole is not None and whole.endswith(".amat"):
        return fixed_binarization(to_unit_float(parse_amat(Path(whole)), whole), _TEST_SEED)
    return load_binary_mnist(source, root, download_missing=False).test


def download_test_digits(root: Path | None = None) -> Path:
    """Download (or reuse) Larochelle's test split, SHA-1 checked; returns the `.amat` path."""
    return download_larochelle("test", root)
