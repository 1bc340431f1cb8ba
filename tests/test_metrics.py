"""Sample-quality metrics: Fréchet distance against an independent scipy computation, improved precision/recall
against hand-worked cases, the whole evaluation, and the `eval wgan` command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from tests.conftest import smooth_images
from vaegan.checkpoint import save_model
from vaegan.classifier import DigitClassifier, classifier_features, predict_digits
from vaegan.errors import ConfigError, DataError
from vaegan.metrics import (
    evaluate_generator,
    frechet_distance,
    precision_by_confidence,
    precision_recall,
    precision_recall_from_features,
    split_halves,
)


def scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance of Gaussians fitted to two feature sets, written out with numpy and scipy's sqrtm."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


# ------------------------------------------------------------------------------------------ Fréchet distance


def test_frechet_distance_of_a_set_with_itself_is_zero(tiny_classifier: DigitClassifier) -> None:
    x = smooth_images(300, seed=0)
    scale = float(classifier_features(tiny_classifier, x).var(0).sum())  # Tr(S): the size of a typical FD
    assert scale > 1e-3
    assert abs(frechet_distance(tiny_classifier, x, x)) < 1e-6 * scale


def test_frechet_distance_grows_with_a_shift_of_the_fake_set(tiny_classifier: DigitClassifier) -> None:
    real, other = smooth_images(300, seed=0) * 0.5, smooth_images(300, seed=1) * 0.5
    distances = [frechet_distance(tiny_classifier, real, other + shift) for shift in (0.0, 0.15, 0.3, 0.5)]
    assert distances == sorted(distances) and distances[0] < distances[-1] / 10, distances


def test_frechet_distance_matches_scipy_on_the_same_features(tiny_classifier: DigitClassifier) -> None:
    real, fake = smooth_images(300, seed=0), smooth_images(250, seed=1) * 0.8 + 0.1
    expected = scipy_frechet(
        classifier_features(tiny_classifier, real).double().numpy(),
        classifier_features(tiny_classifier, fake).double().numpy(),
    )
    assert expected > 1e-3
    assert frechet_distance(tiny_classifier, real, fake) == pytest.approx(expected, rel=1e-4)


def test_frechet_distance_leaves_the_classifier_mode_alone(tiny_classifier: DigitClassifier) -> None:
    x = smooth_images(50, seed=0)
    tiny_classifier.train()
    in_train_mode = frechet_distance(tiny_classifier, x, x * 0.5)
    assert tiny_classifier.training
    assert in_train_mode == pytest.approx(frechet_distance(tiny_classifier.eval(), x, x * 0.5))


def test_frechet_distance_refuses_bad_inputs(tiny_classifier: DigitClassifier) -> None:
    with pytest.raises(DataError, match="needs >= 2"):
        frechet_distance(tiny_classifier, smooth_images(1, 0), smooth_images(5, 1))
    with pytest.raises(DataError, match=r"\(N, 3, 32, 32\)"):
        frechet_distance(tiny_classifier, torch.zeros(5, 1, 28, 28), smooth_images(5, 1))


# ------------------------------------------------------------------------------------------ precision / recall


def test_precision_recall_hand_worked_example() -> None:
    # k=1 radii: real 0,1,2,3 -> 1 each, real 20 -> 17; fake 0.5 -> 3.4, 10 -> 6.1, 3.9 -> 3.4.
    # Every fake lies in some real ball (10 in 20's wide one): precision 1. Real 20 is 10 > 6.1 from fake 10 and
    # farther from the others: recall 4/5.
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0], [20.0]])
    fake = torch.tensor([[0.5], [10.0], [3.9]])
    assert precision_recall_from_features(real, fake, k=1) == pytest.approx((1.0, 0.8))
    # k=2 on the fakes: radii 9.5, 9.5, 6.1 -> real 20 is 10 from fake 10, still outside; precision unchanged.
    assert precision_recall_from_features(real, fake, k=2) == pytest.approx((1.0, 0.8))


def test_precision_recall_is_one_for_identical_sets(tiny_classifier: DigitClassifier) -> None:
    x = smooth_images(200, seed=0)
    assert precision_recall(tiny_classifier, x, x, k=3) == (1.0, 1.0)


def test_precision_recall_drop_for_disjoint_sets(tiny_classifier: DigitClassifier) -> None:
    g = torch.Generator().manual_seed(0)
    cloud = torch.randn(200, 8, generator=g)
    assert precision_recall_from_features(cloud, cloud + 100.0, k=3) == (0.0, 0.0)
    # On images: two samples of the same blob distribution overlap; moving one set far up in brightness separates
    # them for the classifier's features too.
    real, other = smooth_images(200, seed=0) * 0.5, smooth_images(200, seed=1) * 0.5
    assert min(precision_recall(tiny_classifier, real, other, k=3)) > 0.6
    assert max(precision_recall(tiny_classifier, real, other + 1.0, k=3)) < 0.1


def test_precision_recall_sees_mode_collapse() -> None:
    # A "generator" that covers one of ten real clusters: its samples are all realistic (precision 1) but it
    # misses nine tenths of the data (recall ~0.1).
    g = torch.Generator().manual_seed(0)
    angles = torch.arange(10) * 2 * torch.pi / 10
    centres = torch.stack([angles.cos(), angles.sin()], dim=1) * 30  # ten unit-variance clusters, far apart
    real = (centres[:, None] + torch.randn(10, 50, 2, generator=g)).reshape(500, 2)
    fake = centres[3] + torch.randn(500, 2, generator=g)
    precision, recall = precision_recall_from_features(real, fake, k=3)
    assert precision > 0.95 and 0.05 < recall < 0.15


def test_precision_by_confidence_splits_precision_by_the_classifier_s_confidence(
    tiny_classifier: DigitClassifier,
) -> None:
    real, other = smooth_images(200, seed=0) * 0.5, smooth_images(120, seed=1) * 0.5
    _, confidence = predict_digits(tiny_classifier, other)
    threshold = float(confidence.median())  # the random classifier is unsure of everything: split it in half
    split = precision_by_confidence(tiny_classifier, real, other, threshold=threshold)
    precision, _ = precision_recall(tiny_classifier, real, other, k=3)
    assert split["precision"] == precision
    # independently: the classifier's own probabilities pick the ambiguous rows
    share = float((confidence < threshold).float().mean())
    assert split["ambiguous_share"] == pytest.approx(share) and 0.4 < share < 0.6
    mixed = share * split["precision_ambiguous"] + (1 - share) * split["precision_confident"]
    assert mixed == pytest.approx(precision)
    # a threshold of 0 calls nothing ambiguous, one above every probability calls everything ambiguous
    none = precision_by_confidence(tiny_classifier, real, other, threshold=0.0)
    assert none["ambiguous_share"] == 0.0 and none["precision_ambiguous"] is None
    assert none["precision_confident"] == precision
    every = precision_by_confidence(tiny_classifier, real, other, threshold=1.0)
    assert every["ambiguous_share"] == 1.0 and every["precision_ambiguous"] == precision
    with pytest.raises(ConfigError, match="threshold"):
        precision_by_confidence(tiny_classifier, real, other, threshold=1.5)
    with pytest.raises(ConfigError, match="k must lie in 1..199"):  # the reference set bounds k, as for precision
        precision_by_confidence(tiny_classifier, real, other, k=200)


def test_precision_recall_refuses_bad_k() -> None:
    x = torch.randn(5, 2)
    with pytest.raises(ConfigError, match="k must lie in 1..4"):
        precision_recall_from_features(x, x, k=5)


# ------------------------------------------------------------------------------------------ the classifier


class Replay(nn.Module):
    """A 'generator' that ignores z and returns fixed images: lets a test know exactly what was generated."""

    def __init__(self, images: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("images", images)
        self.anchor = nn.Parameter(torch.zeros(1), requires_grad=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.images[: z.shape[0]]


def test_evaluate_generator_compares_with_the_reference_half(tiny_classifier: DigitClassifier) -> None:
    real = smooth_images(120, seed=0)
    reference, floor = split_halves(real, 60, seed=4)
    assert not set(map(tuple, reference.flatten(1)[:, :4].tolist())) & set(map(tuple, floor.flatten(1)[:, :4].tolist()))
    result = evaluate_generator(Replay(reference), tiny_classifier, real, latent_dim=3, n=60, seed=4, k=3)
    assert abs(result["fid"]) < 1e-6 and result["precision"] == 1.0 and result["recall"] == 1.0
    assert result["real_vs_real_fid"] == pytest.approx(frechet_distance(tiny_classifier, reference, floor))
    assert result["real_vs_real_fid"] > 1e-4
    assert sum(result["predicted_digit_counts"]) == 60


def test_split_halves_needs_twice_n() -> None:
    with pytest.raises(DataError, match="pass --n 5"):
        split_halves(smooth_images(11, 0), 6, seed=0)


def test_eval_wgan_json_parses(tmp_path: Path, tiny_classifier: DigitClassifier, capsys: pytest.CaptureFixture) -> None:
    import cli
    from vaegan.wgan import Generator, WGANConfig

    generator_path = save_model(Generator(WGANConfig(latent_dim=8, width=4)), tmp_path / "g.safetensors")
    classifier_path = save_model(tiny_classifier, tmp_path / "c.safetensors")
    digits = (np.random.default_rng(0).random((40, 28, 28)) * 255).astype(np.uint8)
    np.savez(tmp_path / "real.npz", X=digits, y=np.arange(40) % 10)
    argv = ["eval", "wgan", "--ckpt", str(generator_path), "--classifier", str(classifier_path)]
    argv += ["--data", str(tmp_path / "real.npz"), "--n", "20", "--device", "cpu", "--json"]
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"fid", "precision", "recall", "n", "real_vs_real_fid"} <= set(result)
    assert result["n"] == 20 and result["fid"] > 0 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1


def test_eval_wgan_missing_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import cli

    assert cli.main(["eval", "wgan", "--ckpt", str(tmp_path / "none.safetensors"), "--json"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "vaegan train wgan" in err
