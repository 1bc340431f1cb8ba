"""Resource bounds: every count a user gives is refused up front, with the limit in the message, when it would make
the library allocate without bound (`vaegan.limits`); counts whose work is chunked run in bounded memory.

Each refusal is checked to happen *before* the allocation: the tests patch the allocating call (torch.randn, the
model constructor) and require that it was never reached, so an absurd value costs nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import vaegan.latent as latent
from cli import main as cli_main
from cli import parse_duration
from vaegan.checkpoint import save_model
from vaegan.classifier import ClassifierConfig
from vaegan.divergences import DynamicsConfig, SweepConfig, Toy2dConfig, parse_thetas, theta_range
from vaegan.divergences.critic import CriticConfig
from vaegan.errors import ConfigError
from vaegan.latent import (
    interpolate_latent,
    output_change,
    parse_dims,
    parse_eps,
    perturbation_strip,
    rank_report,
    sample_images,
)
from vaegan.likelihood import evaluate_vae
from vaegan.limits import (
    MAX_GRID_IMAGES,
    MAX_IMPORTANCE_SAMPLES,
    MAX_TABLE_IMAGES,
    MAX_TABLE_SIDE,
    MAX_THETAS,
    check_count,
    check_seed,
)
from vaegan.runtime import set_threads
from vaegan.train.classifier import ClassifierTrainConfig
from vaegan.train.vae import VAETrainConfig
from vaegan.train.wgan import WGANTrainConfig
from vaegan.vae import VAE, VAEConfig, log_px_importance
from vaegan.wgan import Generator, WGANConfig

TINY = WGANConfig(latent_dim=4, width=2)


@pytest.fixture
def generator() -> Generator:
    torch.manual_seed(0)
    return Generator(TINY).eval()


def test_check_count_states_the_limit() -> None:
    assert check_count("n", 5, 10) == 5
    with pytest.raises(ConfigError, match=r"^n = 100,000,000 is over the limit of 10 \(vaegan.limits\)$"):
        check_count("n", 100_000_000, 10)
    with pytest.raises(ConfigError, match="must be >= 1, got 0"):
        check_count("n", 0, 10)
    with pytest.raises(ConfigError, match="must be a whole number"):
        check_count("n", 2.5, 10)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="seed = 4,294,967,296 is over the limit"):
        check_seed(2**32)
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        check_seed(-1)


def test_sample_wgan_refuses_a_huge_grid_before_drawing_anything(
    generator: Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[object] = []
    monkeypatch.setattr(latent.torch, "randn", lambda *a, **k: drawn.append(a))
    with pytest.raises(ConfigError, match=rf"--n\) = 100,000,000 is over the limit of {MAX_GRID_IMAGES:,}"):
        sample_images(generator, 100_000_000, 0)
    assert not drawn


def test_the_cli_refuses_the_issue_s_40_gb_grid_in_one_line(
    generator: Generator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "wgan.safetensors"
    save_model(generator, ckpt)
    code = cli_main(["sample", "wgan", "--ckpt", str(ckpt), "--n", "100000000", "--out", str(tmp_path / "s.png"),
                     "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: the number of images in a grid (--n) = 100,000,000 is over the limit")
    assert "\n" not in err and not (tmp_path / "s.png").exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: parse_eps("-5:4:1000000000"), "the eps count = 1,000,000,000 is over the limit of 256"),
        (lambda: parse_eps("0:1:-3"), "the eps count must be >= 1"),
        (lambda: parse_eps(",".join(["1"] * 300)), "the number of eps values = 300 is over"),
        (lambda: parse_eps("nan,1"), "every value must be a finite number"),
        (lambda: parse_eps("1e999:0:3"), "every value must be a finite number"),
        (lambda: parse_dims(",".join(["1"] * 300)), "the number of --dims = 300 is over"),
        (lambda: parse_thetas("0:2:1000000000"), f"θ values = 1,000,000,000 is over the limit of {MAX_THETAS:,}"),
        (lambda: parse_thetas("0:inf:3"), "a θ range needs finite ends"),
        (lambda: parse_thetas("nan"), "θ values must be finite"),
        (lambda: theta_range(-1e308, 1e308, 3), "a θ range needs finite ends"),
        (lambda: parse_duration("9" * 400 + "h"), "longer than the limit of 30 days"),
        (lambda: parse_duration("31d"), "expected a duration"),
        (lambda: set_threads(10**6), "threads = 1,000,000 is over the limit"),
    ],
)
def test_parsed_counts_are_refused_above_their_limits(call: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()  # type: ignore[operator]


def test_tables_are_refused_above_their_limits(generator: Generator, monkeypatch: pytest.MonkeyPatch) -> None:
    z = torch.zeros(TINY.latent_dim)
    columns = f"the columns of an image table = 1,000 is over the limit of {MAX_TABLE_SIDE}"
    with pytest.raises(ConfigError, match=columns):
        perturbation_strip(generator, z, [0], [0.0] * 1000)
    with pytest.raises(ConfigError, match=f"rows x columns\\) = 65,536 is over the limit of {MAX_TABLE_IMAGES:,}"):
        perturbation_strip(generator, z, [0] * 256, [0.0] * 256)
    with pytest.raises(ConfigError, match="the interpolation steps = 100,000,000 is over"):
        interpolate_latent(z, z, 100_000_000)
    with pytest.raises(ConfigError, match="the number of latents \\(--n\\) = 1,000,000 is over"):
        rank_report(generator, n=1_000_000)


def test_output_change_runs_in_chunks_with_the_same_result(
    generator: Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    z = latent.sample_latents(5, TINY.latent_dim, 1)
    directions = torch.eye(TINY.latent_dim)
    whole = output_change(generator, z, directions)
    sizes: list[int] = []
    real_generate = latent.generate
    monkeypatch.setattr(latent, "CHANGE_BATCH", 5)  # one direction (5 moved images) per chunk
    monkeypatch.setattr(latent, "generate", lambda g, zz, **k: sizes.append(len(zz)) or real_generate(g, zz, **k))
    torch.testing.assert_close(output_change(generator, z, directions), whole)
    assert max(sizes) == 5 and len(sizes) == 1 + TINY.latent_dim


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: VAEConfig(latent_dim=10**9), "latent_dim = 1,000,000,000 is over the limit"),
        (lambda: VAEConfig(hidden=10**7), "hidden = 10,000,000 is over"),
        (lambda: WGANConfig(width=10**5), "width = 100,000 is over"),
        (lambda: WGANConfig(latent_dim=10**8), "latent_dim = 100,000,000 is over"),
        (lambda: ClassifierConfig(feature_dim=10**6), "feature_dim = 1,000,000 is over"),
        (lambda: CriticConfig(members=1000, width=4096, depth=8), "over the limit of 67,108,864"),
        (lambda: VAETrainConfig(epochs=10**9), "epochs = 1,000,000,000 is over"),
        (lambda: VAETrainConfig(batch_size=10**9), "batch_size = 1,000,000,000 is over"),
        (lambda: VAETrainConfig(seed=2**70), "seed = .* is over the limit"),
        (lambda: VAETrainConfig(eval_k=10**12), "eval_k = 1,000,000,000,000 is over the limit"),
        (lambda: WGANTrainConfig(iters=10**10), "iters = 10,000,000,000 is over"),
        (lambda: WGANTrainConfig(n_critic=10**6), "n_critic = 1,000,000 is over"),
        (lambda: WGANTrainConfig(time_budget=1e12), "time_budget .* is over the limit"),
        (lambda: ClassifierTrainConfig(max_shift=10**6), "max_shift = 1,000,000 is over the limit of 16"),
        (lambda: SweepConfig(thetas=tuple(range(5000))), "θ values = 5,000 is over"),
        (lambda: SweepConfig(batch_size=10**8), "batch_size = 100,000,000 is over"),
        (lambda: SweepConfig(iters=10**9), "iters = 1,000,000,000 is over"),
        (lambda: SweepConfig(iters=10**6, snapshot_every=1), "would record .* numbers"),
        (lambda: SweepConfig(batch_size=60_000, width=4096, depth=1), "activations, over the limit"),
        (lambda: DynamicsConfig(steps=10**6, heatmap_every=1), "would record"),
        (lambda: DynamicsConfig(batch_size=60_000, width=2000), "activations, over the limit"),
        (lambda: Toy2dConfig(frame_samples=10**5, frame_arrows=0), "frame_samples = 100,000 is over the limit"),
        (lambda: Toy2dConfig(steps=10**6, frame_every=1), "would record"),
    ],
)
def test_configs_refuse_sizes_over_the_limits(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_a_vae_over_the_limits_is_refused_before_its_weights_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    allocated: list[object] = []
    monkeypatch.setattr(torch.nn.Linear, "__init__", lambda self, *a, **k: allocated.append(a))
    with pytest.raises(ConfigError):
        VAE(VAEConfig(hidden=10**7))
    assert not allocated


def test_importance_samples_are_refused_above_their_limit_before_any_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """K grows only the run time (chunked decodes), but K = 10^12 would run for years: refused before any work."""
    model = VAE(VAEConfig(latent_dim=2, hidden=8)).eval()
    x = torch.zeros(3, 784)
    decoded: list[object] = []
    monkeypatch.setattr(model, "decode", lambda z: decoded.append(z))
    message = "k \\(importance samples per image\\) = 1,000,000,000,000 is over the limit of "
    message += f"{MAX_IMPORTANCE_SAMPLES:,}"
    with pytest.raises(ConfigError, match=message):
        evaluate_vae(model, x, 10**12, limit=1)
    with pytest.raises(ConfigError, match=message):
        log_px_importance(model, x, 10**12)
    assert not decoded


def test_the_cli_refuses_the_issue_s_endless_log_px_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`eval vae --limit 1 --k 1000000000000` ran until killed, silently; now one line that names the limit."""
    torch.manual_seed(0)
    ckpt = tmp_path / "vae.safetensors"
    save_model(VAE(VAEConfig(latent_dim=2, hidden=8)), ckpt)
    digits = (np.random.default_rng(0).random((4, 28, 28)) < 0.2).astype(np.uint8)
    np.savez(tmp_path / "digits.npz", train=digits, valid=digits, test=digits)
    code = cli_main(["eval", "vae", "--ckpt", str(ckpt), "--data", str(tmp_path / "digits.npz"), "--limit", "1",
                     "--k", "1000000000000", "--device", "cpu"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    limit = f"{MAX_IMPORTANCE_SAMPLES:,} (vaegan.limits)"
    assert err == f"error: k (importance samples per image) = 1,000,000,000,000 is over the limit of {limit}"
