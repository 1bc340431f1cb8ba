"""The CLI end to end, as a user runs it: a real subprocess, real data, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from vaegan.checkpoint import read_info


def run_cli(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "cli.py"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.fixture
def real_subset(shared_data: Path, tmp_path: Path) -> Path:
    """A small slice of the real binarized MNIST (shuffled: the file's rows are grouped by class)."""
    rng = np.random.default_rng(0)
    with np.load(shared_data / "binarized_mnist.npz") as f:
        sizes = {"train": 2000, "valid": 300, "test": 300}
        subset = {s: f[s][rng.choice(len(f[s]), n, replace=False)] for s, n in sizes.items()}
    path = tmp_path / "subset.npz"
    np.savez(path, **subset)
    return path


@pytest.mark.slow
def test_train_then_eval_json(real_subset: Path, tmp_path: Path) -> None:
    out = tmp_path / "vae.safetensors"
    trained = run_cli(
        "train", "vae", "--data", str(real_subset), "--epochs", "1", "--hidden", "64", "--latent-dim", "8",
        "--lr", "3e-3", "--batch-size", "32",  # 63 steps: the default 256 would take 8 in one epoch of 2,000
        "--out", str(out), "--run-dir", str(tmp_path / "run"), "--device", "cpu",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert "epoch   1" in trained.stderr and out.exists() and (tmp_path / "run" / "state.safetensors").exists()
    info = read_info(out)
    assert info.kind == "vae" and info.config["hidden"] == 64 and info.dataset == str(real_subset)
    assert 100 < info.metrics["valid_neg_elbo"] < 300

    evaluated = run_cli("eval", "vae", "--ckpt", str(out), "--data", str(real_subset), "--k", "20", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    lines = evaluated.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"neg_elbo", "log_px", "k", "n", "split"}
    assert (result["k"], result["n"], result["split"]) == (20, 300, "test")
    assert result["log_px"] >= -result["neg_elbo"] - 1.0  # IS bound is at least as tight as the ELBO


def test_help_is_clear() -> None:
    top = run_cli("--help")
    assert top.returncode == 0 and "train" in top.stdout and "eval" in top.stdout
    sub = run_cli("train", "vae", "--help")
    assert sub.returncode == 0 and "--latent-dim" in sub.stdout and "--resume" in sub.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "vae", "--arch", "transformer"), "'transformer' is not one of"),
        (("train", "vae", "--epochs", "0"), "--epochs"),
        (("eval", "vae", "--k", "0"), "--k"),
        (("eval", "vae", "--ckpt", "/nonexistent/vae.safetensors"), "vaegan train vae"),
        (("train", "vae", "--data", "/nonexistent.npz", "--epochs", "1"), "neither binarized-mnist"),
    ],
)
def test_bad_values_are_rejected_with_a_message(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_checkpoint_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "vae.safetensors"
    bad.write_bytes(b"garbage" * 100)
    result = run_cli("eval", "vae", "--ckpt", str(bad), "--data", "binarized-mnist")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not a valid safetensors file" in result.stderr


def test_arch_conv_starts_from_the_conv_recipe(tmp_path: Path) -> None:
    """`--arch conv` alone trains the conv recipe (not the MLP's width and rate); an explicit flag still wins."""
    from cli import main as cli_main
    from vaegan.train.vae import ARCH_DEFAULTS, VAETrainConfig
    from vaegan.vae import VAEConfig

    rng = np.random.default_rng(0)
    data = tmp_path / "tiny.npz"
    np.savez(data, **{split: (rng.random((n, 28, 28)) < 0.13).astype(np.uint8)
                      for split, n in (("train", 100), ("valid", 20), ("test", 20))})  # fmt: skip
    out = tmp_path / "conv.safetensors"
    args = ["train", "vae", "--arch", "conv", "--data", str(data), "--epochs", "1", "--device", "cpu",
            "--out", str(out), "--run-dir", str(tmp_path / "run")]  # fmt: skip
    assert cli_main([*args, "--hidden", "32"]) == 0
    info = read_info(out)
    model_defaults, train_defaults = ARCH_DEFAULTS["conv"]
    assert info.config == {"arch": "conv", "latent_dim": model_defaults["latent_dim"], "hidden": 32}
    trained_with = info.extra["train_config"]
    assert {key: trained_with[key] for key in train_defaults} == train_defaults
    assert train_defaults["lr"] != VAETrainConfig().lr and model_defaults["hidden"] != VAEConfig().hidden
