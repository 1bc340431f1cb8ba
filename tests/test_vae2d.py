"""The 2-D β-VAE of the VAE page (vaegan.vae2d): it learns, its manifold and terms are what they say, β moves the
KL term, the shipped files are what their headers say, and bad settings are one clear error."""

from __future__ import annotations

import math
import shlex
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT, SHARED_DATA
from vaegan.checkpoint import read_info
from vaegan.data import load_test_digits
from vaegan.drawing import EXAMPLE_DIGITS, render_strokes
from vaegan.errors import ConfigError, DataError
from vaegan.limits import MAX_VAE2D_DIGITS
from vaegan.vae import bernoulli_log_prob
from vaegan.vae2d import (
    DIGIT_PASSES,
    VAE2D_BETAS,
    Vae2dConfig,
    Vae2dDigits,
    Vae2dResult,
    decoded_manifold,
    encode_digit,
    epochs_for,
    held_out_terms,
    load_vae2d,
    posterior_means,
    prior_quantile_grid,
    save_vae2d,
    shipped_vae2d_paths,
    split_digits,
    train_vae2d,
)

SYNTHETIC_CLASSES = sorted(EXAMPLE_DIGITS)  # the app's example digits: 0, 2, 3, 4, 7


def synthetic_digits(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n binary 28x28 digits (n, 784) and their labels: the app's example strokes, each moved, scaled and wobbled
    at random, drawn 2.5 pixels wide and binarized (one Bernoulli sample per pixel). Digit-like data for tests that
    must run without ../shared."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SYNTHETIC_CLASSES), n)
    digits = np.empty((n, 784), dtype=np.float32)
    for i, label in enumerate(labels):
        scale, shift = rng.uniform(0.85, 1.15), rng.normal(0.0, 0.04, 2)
        strokes = [[tuple((np.asarray(p) - 0.5) * scale + 0.5 + shift + rng.normal(0.0, 0.015, 2)) for p in stroke]
                   for stroke in EXAMPLE_DIGITS[SYNTHETIC_CLASSES[label]]]  # fmt: skip
        grey = render_strokes(strokes, 28, 2.5)
        digits[i] = (rng.random((28, 28)) < grey).reshape(-1)
    return torch.from_numpy(digits), torch.tensor([int(SYNTHETIC_CLASSES[k]) for k in labels])


@pytest.fixture(scope="module")
def synthetic() -> tuple[torch.Tensor, torch.Tensor]:
    return synthetic_digits(1_400)


SMALL = dict(train_digits=1_000, held_out=300, epochs=20, hidden=64)  # 200 steps: about a second on one thread


@pytest.fixture(scope="module")
def small_runs(synthetic: tuple[torch.Tensor, torch.Tensor]) -> dict[float, tuple[Vae2dResult, Vae2dDigits]]:
    """SMALL runs at β = 1, 0 and 4 on the synthetic digits, trained once for the tests below."""
    digits, labels = synthetic
    runs = {}
    for beta in (1.0, 0.0, 4.0):
        config = Vae2dConfig(beta=beta, **SMALL)
        split = split_digits(digits, config, labels=labels)
        runs[beta] = (train_vae2d(config, split), split)
    return runs


def independent_pixels_nll(train: torch.Tensor, held_out: torch.Tensor) -> float:
    """Held-out -log p(x) of the best model that ignores z: independent Bernoulli pixels at the training
    frequencies (smoothed). Any VAE that learned something must beat it."""
    p = (train.sum(0) + 1) / (train.shape[0] + 2)
    return float(-bernoulli_log_prob(torch.logit(p).expand_as(held_out), held_out).mean())


def test_trains_below_its_bound_on_synthetic_digits(small_runs: dict) -> None:
    result, split = small_runs[1.0]
    config = result.config
    baseline = independent_pixels_nll(split.train, split.held_out)
    # Measured on the 2-core AMD EPYC VM: 181.7 nats after 200 steps (independent pixels: 203.4; the first epoch's
    # mean training loss: 456.5). The bound leaves room for other CPUs' rounding.
    assert result.neg_elbo < 190.0 < baseline - 10.0
    assert result.history[-1] < result.history[0]
    assert result.seconds < 30.0  # 2.3 s on one thread of the 2-core VM under load
    # The terms are an independent computation of the held-out means
    recon, kl = held_out_terms(result.model, split.held_out)
    assert (recon, kl) == (result.reconstruction, result.kl)
    assert result.posterior.shape == (config.held_out, 2)
    assert torch.equal(result.labels, split.labels)


def test_digits_of_a_class_land_together(small_runs: dict) -> None:
    """The aggregate posterior is organised by digit: a held-out digit's nearest other point mostly has its label."""
    result, _ = small_runs[1.0]
    distances = torch.cdist(result.posterior, result.posterior).fill_diagonal_(math.inf)
    same = (result.labels[distances.argmin(1)] == result.labels).float().mean()
    assert same > 0.45  # measured 0.63 after 200 steps; five classes at random would give 0.2


def test_beta_zero_has_a_larger_kl_than_beta_four(small_runs: dict) -> None:
    kl = {beta: small_runs[beta][0].kl for beta in (0.0, 4.0)}
    assert kl[0.0] > 10 * kl[4.0]  # measured: 57.8 against 1.08 nats


def test_a_seed_and_a_thread_count_give_the_same_model(synthetic: tuple[torch.Tensor, torch.Tensor]) -> None:
    digits, _ = synthetic
    config = Vae2dConfig(train_digits=300, held_out=100, epochs=2, hidden=16)
    split = split_digits(digits, config)
    first, again = (train_vae2d(config, split, threads=1) for _ in range(2))
    other = train_vae2d(Vae2dConfig(**{**config.to_dict(), "seed": 1}), split, threads=1)
    state = first.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in again.model.state_dict().items())
    assert not all(torch.equal(state[k], v) for k, v in other.model.state_dict().items())
    assert torch.equal(first.manifold, again.manifold) and torch.equal(first.posterior, again.posterior)


def test_progress_counts_every_step(synthetic: tuple[torch.Tensor, torch.Tensor]) -> None:
    digits, _ = synthetic
    config = Vae2dConfig(train_digits=250, held_out=50, epochs=3, hidden=8, batch_size=100)
    reports: list[tuple[int, int]] = []
    train_vae2d(config, split_digits(digits, config), progress=lambda done, total, _: reports.append((done, total)))
    assert reports == [(i, 9) for i in range(1, 10)]  # 3 batches (100, 100, 50) x 3 epochs


def test_the_manifold_is_the_decoder_on_the_prior_quantile_grid() -> None:
    torch.manual_seed(0)
    from vaegan.vae import VAE

    model = VAE(Vae2dConfig(hidden=8).model_config).eval()
    side = 15
    grid = prior_quantile_grid(side)
    expected = [statistics.NormalDist().inv_cdf((i + 0.5) / side) for i in range(side)]
    assert grid.tolist() == pytest.approx(expected, abs=1e-6)
    manifold = decoded_manifold(model, side)
    assert manifold.shape == (side, side, 28, 28)
    assert float(manifold.min()) >= 0.0 and float(manifold.max()) <= 1.0
    with torch.no_grad():  # row r, column c is z = (grid[c], grid[side - 1 - r]): z2 grows upwards
        for r, c in ((0, 0), (0, side - 1), (side - 1, 0), (3, 7)):
            z = torch.tensor([[float(grid[c]), float(grid[side - 1 - r])]])
            assert torch.allclose(manifold[r, c], torch.sigmoid(model.decode(z)).view(28, 28), atol=1e-6)


def test_a_saved_run_loads_as_the_same_model_and_numbers(
    synthetic: tuple[torch.Tensor, torch.Tensor], tmp_path: Path
) -> None:
    digits, labels = synthetic
    config = Vae2dConfig(train_digits=300, held_out=100, epochs=2, hidden=16, grid_side=7)
    split = split_digits(digits, config, labels=labels)
    result = train_vae2d(config, split)
    path = save_vae2d(result, tmp_path / "v.safetensors", command="python cli.py train vae2d")
    loaded = load_vae2d(path)
    assert loaded.config == config and torch.equal(loaded.labels, split.labels)
    # fp16 on disk, and the run's weights were rounded through fp16: the very same model
    state = result.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in loaded.model.state_dict().items())
    assert held_out_terms(loaded.model, split.held_out) == (loaded.reconstruction, loaded.kl)
    assert torch.allclose(posterior_means(loaded.model, split.held_out), loaded.posterior, atol=6e-4)
    assert torch.equal(loaded.manifold, result.manifold) and loaded.manifold.shape == (7, 7, 28, 28)
    assert loaded.provenance["command"] == "python cli.py train vae2d"


def test_a_drawn_digit_lands_where_its_posterior_mean_is(synthetic: tuple[torch.Tensor, torch.Tensor]) -> None:
    digits, _ = synthetic
    config = Vae2dConfig(train_digits=300, held_out=100, epochs=1, hidden=16)
    result = train_vae2d(config, split_digits(digits, config))
    mean, std = encode_digit(result.model, digits[0])
    assert mean == pytest.approx(posterior_means(result.model, digits[:1])[0].tolist(), abs=1e-6)
    assert all(s > 0 for s in std)


# --------------------------------------------------------------------------------------------- the shipped files


SHIPPED = shipped_vae2d_paths(REPO_ROOT / "checkpoints")


def test_every_shipped_beta_has_a_small_file() -> None:
    assert sorted(SHIPPED) == sorted(VAE2D_BETAS)
    assert sum(path.stat().st_size for path in SHIPPED.values()) < 2_000_000


@pytest.mark.parametrize("beta", VAE2D_BETAS)
def test_a_shipped_file_matches_its_metadata(beta: float) -> None:
    path = SHIPPED[beta]
    result = load_vae2d(path)
    info = read_info(path)
    assert result.config == Vae2dConfig.for_digits(5_000, beta=beta)  # what the page and the CLI train
    assert info.extra["vae2d_config"] == result.config.to_dict()
    assert result.neg_elbo == pytest.approx(info.metrics["held_out_neg_elbo"], abs=1e-4)
    assert result.labels is not None and result.labels.shape == (1_000,)
    assert set(result.labels.tolist()) == set(range(10))
    assert result.manifold.shape == (15, 15, 28, 28)
    # Provenance: the command that makes it (repo-relative paths, this β, this file), the CPU and the wall time
    command = shlex.split(info.extra["command"])
    assert command[:4] == ["python", "cli.py", "train", "vae2d"]
    assert float(command[command.index("--beta") + 1]) == beta
    assert command[command.index("--out") + 1] == f"checkpoints/{path.name}"
    assert not any(part.startswith("/") for part in command)
    assert info.extra["cpu"] and 0 < info.extra["train_seconds_total"] < 300
    assert info.dataset == command[command.index("--data") + 1]


@pytest.fixture(scope="module")
def real_digits() -> torch.Tensor:
    """The digits the shipped files were trained on: the test split of ../shared/data/binarized_mnist.npz."""
    if not (SHARED_DATA / "binarized_mnist.npz").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (see docs/data.md)")
    return load_test_digits(str(SHARED_DATA / "binarized_mnist.npz"))


@pytest.mark.parametrize("beta", VAE2D_BETAS)
def test_a_shipped_file_reproduces_its_numbers_on_its_digits(beta: float, real_digits: torch.Tensor) -> None:
    """Its terms and posterior are those of its model on the held-out digits its command names."""
    result = load_vae2d(SHIPPED[beta])
    split = split_digits(real_digits, result.config)
    assert held_out_terms(result.model, split.held_out) == pytest.approx((result.reconstruction, result.kl),
                                                                          abs=1e-3)  # fmt: skip
    assert torch.allclose(posterior_means(result.model, split.held_out), result.posterior, atol=6e-4)


def test_the_shipped_kl_falls_as_beta_grows() -> None:
    kl = [load_vae2d(SHIPPED[beta]).kl for beta in sorted(VAE2D_BETAS)]
    assert kl == sorted(kl, reverse=True)


def test_real_digits_train_below_the_bound_within_the_time(real_digits: torch.Tensor) -> None:
    """The page's default run on real digits: held-out -ELBO under 165 nats (the shipped β = 1 file: 157.7) in at
    most 15 s on the 2-core VM when it has a core to itself (6 s measured); 60 s is the ceiling asserted, because
    the test machine is shared."""
    config = Vae2dConfig.for_digits(5_000, beta=1.0)
    result = train_vae2d(config, split_digits(real_digits, config))
    assert result.neg_elbo < 165.0
    assert result.seconds < 60.0
    shipped = load_vae2d(SHIPPED[1.0])  # trained by the same function and data: the same model
    assert result.neg_elbo == pytest.approx(shipped.neg_elbo, abs=1e-3)


# --------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"train_digits": 0}, "train_digits must be >= 1"),
        ({"train_digits": MAX_VAE2D_DIGITS + 1}, "over the limit"),
        ({"held_out": -3}, "held_out must be >= 1"),
        ({"train_digits": 2.5}, "whole number"),
        ({"beta": -1.0}, "beta must lie in"),
        ({"beta": float("nan")}, "beta must be a number"),
        ({"beta": 1e9}, "beta must lie in"),
        ({"grid_side": 1}, "grid_side must be >= 2"),
        ({"lr": 0.0}, "lr must be > 0"),
    ],
)
def test_bad_settings_are_one_config_error(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Vae2dConfig(**settings)


def test_too_few_or_wrong_digits_are_one_data_error(synthetic: tuple[torch.Tensor, torch.Tensor]) -> None:
    digits, labels = synthetic
    with pytest.raises(DataError, match="need 10,000 digits; the data has 1,400"):
        split_digits(digits, Vae2dConfig(train_digits=9_000, held_out=1_000))
    with pytest.raises(DataError, match="binary"):
        split_digits(digits * 0.5, Vae2dConfig(train_digits=100, held_out=100))
    with pytest.raises(DataError, match="one label per digit"):
        split_digits(digits, Vae2dConfig(train_digits=100, held_out=100), labels=labels[:5])
    with pytest.raises(DataError, match="expected binary digits"):
        split_digits(digits[:, :100], Vae2dConfig(train_digits=100, held_out=100))


def test_epochs_keep_the_training_length_whatever_the_count() -> None:
    for count in (500, 1_000, 5_000, 9_000):
        assert epochs_for(count) * count == pytest.approx(DIGIT_PASSES, rel=0.1)
    assert epochs_for(1) == 300 and epochs_for(MAX_VAE2D_DIGITS) == 2


def test_the_cli_refuses_a_bad_count_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from vaegan.cli.entry import main  # the CLI's entry point: its error handling is what is tested

    code = main(["train", "vae2d", "--train-digits", "99999999", "--out", str(tmp_path / "x.safetensors")])
    error = capsys.readouterr().err
    assert code == 2
    assert "train_digits = 99,999,999 is over the limit of 70,000" in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "x.safetensors").exists()
