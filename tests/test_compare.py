"""The VAE and the WGAN scored side by side: the same reference digits, the WGAN's numbers are `eval wgan`'s, the
VAE's samples padded as MNIST is; the CLI twin `eval compare --json` and `timeline from-grids`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT, make_tiny_classifier, smooth_images
from vaegan.checkpoint import save_model
from vaegan.compare import compare_models, vae_sample_images
from vaegan.data import to_rgb32
from vaegan.metrics import evaluate_generator
from vaegan.timeline import Timeline
from vaegan.vae import VAE, VAEConfig
from vaegan.wgan import Generator, WGANConfig


def models() -> tuple[VAE, Generator]:
    torch.manual_seed(0)
    return VAE(VAEConfig(latent_dim=6, hidden=32)).eval(), Generator(WGANConfig(latent_dim=8, width=4)).eval()


def test_vae_samples_are_bernoulli_means_padded_as_mnist() -> None:
    vae, _ = models()
    images = vae_sample_images(vae, 5, seed=2)
    means = vae.sample(5, torch.Generator().manual_seed(2))
    assert images.shape == (5, 3, 32, 32)
    assert torch.equal(images, to_rgb32(means[:, 0]))
    assert torch.equal(images[:, :, 2:30, 2:30], (means * 2 - 1).expand(-1, 3, -1, -1))
    assert (images[:, :, :2] == -1).all() and (images[:, :, 30:] == -1).all()


def test_both_models_are_scored_on_the_same_digits_and_the_wgan_as_eval_wgan_scores_it() -> None:
    vae, generator = models()
    classifier = make_tiny_classifier()
    real = smooth_images(60, seed=5)
    result = compare_models(vae, generator, classifier, real, n=25, seed=3, k=3)
    assert set(result) == {"n", "k", "seed", "floor", "vae", "wgan"}
    evaluated = evaluate_generator(generator, classifier, real, latent_dim=8, n=25, seed=3, k=3)
    for name in ("fid", "precision", "recall"):
        assert result["wgan"][name] == pytest.approx(evaluated[name])
        assert result["floor"][name] == pytest.approx(evaluated[f"real_vs_real_{name}"])
        assert 0.0 <= result["vae"]["precision"] <= 1.0 and result["vae"]["fid"] > 0.0
    assert result["wgan"]["predicted_digit_counts"] == evaluated["predicted_digit_counts"]
    assert sum(result["vae"]["predicted_digit_counts"]) == 25 and result["vae"]["arch"] == "mlp"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(REPO_ROOT / "cli.py"), *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=env, timeout=300)  # fmt: skip


def test_eval_compare_json_is_the_library_dict(tmp_path: Path) -> None:
    vae, generator = models()
    classifier = make_tiny_classifier()
    for model, name in ((vae, "vae"), (generator, "wgan"), (classifier, "classifier")):
        save_model(model, tmp_path / f"{name}.safetensors")
    digits = np.random.default_rng(0).integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "held_out.npz", X=digits)
    done = run_cli("eval", "compare", "--vae", str(tmp_path / "vae.safetensors"), "--wgan",
                   str(tmp_path / "wgan.safetensors"), "--classifier", str(tmp_path / "classifier.safetensors"),
                   "--data", f"{tmp_path / 'held_out.npz'}@0:50", "--n", "20", "--seed", "1", "--json",
                   "--device", "cpu")  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    result = json.loads(line)
    expected = compare_models(vae, generator, classifier, to_rgb32(digits), n=20, seed=1)
    for model in ("floor", "vae", "wgan"):
        assert result[model]["fid"] == pytest.approx(expected[model]["fid"], rel=1e-5)
        assert result[model]["predicted_digit_counts"] == expected[model]["predicted_digit_counts"]
    assert result["data"].endswith("held_out.npz@0:50") and result["n"] == 20

    table = run_cli("eval", "compare", "--vae", str(tmp_path / "vae.safetensors"), "--wgan",
                    str(tmp_path / "wgan.safetensors"), "--classifier", str(tmp_path / "classifier.safetensors"),
                    "--data", str(tmp_path / "held_out.npz"), "--n", "30", "--device", "cpu")  # fmt: skip
    assert table.returncode == 2 and "needs 60" in table.stderr  # 2n held-out digits, said in one line


def test_train_wgan_records_a_timeline_with_metrics_and_exports_the_sidecar(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8))
    save_model(make_tiny_classifier(), tmp_path / "classifier.safetensors")
    out = tmp_path / "out" / "wgan.safetensors"
    common = ["train", "wgan", "--data", str(tmp_path / "d.npz"), "--width", "4", "--latent-dim", "8",
              "--batch-size", "8", "--n-critic", "1", "--iters", "4", "--device", "cpu", "--threads", "1",
              "--run-dir", str(tmp_path / "run"), "--out", str(out)]  # fmt: skip
    refused = run_cli(*common, "--classifier", str(tmp_path / "classifier.safetensors"))
    assert refused.returncode == 2 and "--holdout" in refused.stderr
    done = run_cli(*common, "--timeline-every", "2", "--classifier", str(tmp_path / "classifier.safetensors"),
                   "--holdout", str(tmp_path / "d.npz"), "--timeline-n", "10", "--sample-every", "2")  # fmt: skip
    assert done.returncode == 0, done.stderr
    sidecar = Timeline.load(tmp_path / "out" / "wgan_timeline.safetensors")
    assert sidecar.iterations == [0, 2, 4] and sorted(sidecar.metrics) == ["fid", "precision", "recall"]
    assert sidecar.info["n"] == 10 and "wgan_timeline.safetensors" in done.stderr
    shown = run_cli("timeline", "show", str(tmp_path / "out" / "wgan_timeline.safetensors"), "--json")
    assert shown.returncode == 0, shown.stderr
    scores = json.loads(shown.stdout)["scores"]
    assert [row["iteration"] for row in scores] == sidecar.metric_iterations
    for name, values in sidecar.metrics.items():
        assert [row[name] for row in scores] == pytest.approx(values)
    table = run_cli("timeline", "show", str(tmp_path / "out" / "wgan_timeline.safetensors"))
    assert table.stdout.splitlines()[0].split() == ["iteration", "fid", "precision", "recall"]
    assert len(table.stdout.splitlines()) == 1 + len(scores) and "floor (real vs real)" in table.stderr

    rebuilt = run_cli("timeline", "from-grids", str(tmp_path / "run"), "--out", str(tmp_path / "grids.safetensors"),
                      "--seed", "0", "--latent-dim", "8")  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    from_grids = Timeline.load(tmp_path / "grids.safetensors")
    assert from_grids.iterations == [2, 4] and torch.equal(from_grids.images, sidecar.images[1:])
    assert torch.equal(from_grids.latents, sidecar.latents) and from_grids.metrics == {}
    unscored = run_cli("timeline", "show", str(tmp_path / "grids.safetensors"))
    assert unscored.returncode == 0 and unscored.stdout == "" and "no scores" in unscored.stderr
