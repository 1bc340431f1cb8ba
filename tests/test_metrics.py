"""Digit classifier and sample-quality metrics: Fréchet distance against an independent scipy computation,
improved precision/recall against hand-worked cases, the semantic ranking against a brute-force loop, and the
`eval wgan` command end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own convention
from torch import nn

from tests.conftest import REPO_ROOT, SHARED_DATA
from vaegan.checkpoint import load_model, read_info, save_model
from vaegan.errors import ConfigError, DataError
from vaegan.metrics import (
    ClassifierConfig,
    ClassifierTrainConfig,
    DigitClassifier,
    classifier_accuracy,
    classifier_features,
    evaluate_generator,
    frechet_distance,
    label_images,
    precision_recall,
    precision_recall_from_features,
    predict_digits,
    random_shift,
    semantic_rank,
    split_halves,
    train_classifier,
)

SHIPPED_CLASSIFIER = REPO_ROOT / "checkpoints" / "classifier.safetensors"
HELD_OUT = f"{SHARED_DATA / 'mnist_test.npz'}@8000:10000"


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


def test_precision_recall_refuses_bad_k() -> None:
    x = torch.randn(5, 2)
    with pytest.raises(ConfigError, match="k must lie in 1..4"):
        precision_recall_from_features(x, x, k=5)


# ------------------------------------------------------------------------------------------ the classifier


def test_classifier_shapes_and_input_check() -> None:
    model = DigitClassifier(ClassifierConfig(width=4, feature_dim=24)).eval()
    x = smooth_images(7, seed=0)
    assert model.features(x).shape == (7, 24)
    assert model(x).shape == (7, 10)
    with pytest.raises(DataError, match=r"got \(7, 3, 28, 28\)"):
        model(torch.zeros(7, 3, 28, 28))
    with pytest.raises(DataError, match="float"):
        model(torch.zeros(7, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ConfigError):
        ClassifierConfig(dropout=1.0)


def test_classifier_round_trips_through_safetensors(tmp_path: Path, tiny_classifier: DigitClassifier) -> None:
    path = save_model(tiny_classifier, tmp_path / "c.safetensors", dataset="blobs", metrics={"holdout_accuracy": 0.5})
    loaded = load_model(path, kind="digit-classifier")
    assert isinstance(loaded, DigitClassifier) and loaded.config == tiny_classifier.config
    x = smooth_images(10, seed=3)
    torch.testing.assert_close(loaded(x), tiny_classifier(x), rtol=0, atol=0)
    assert read_info(path).metrics == {"holdout_accuracy": 0.5}


def test_default_classifier_file_is_under_two_megabytes(tmp_path: Path) -> None:
    path = save_model(DigitClassifier(), tmp_path / "c.safetensors")
    assert path.stat().st_size < 2 * 1024 * 1024


def test_predictions_and_labels_agree_with_the_logits(tiny_classifier: DigitClassifier) -> None:
    x = smooth_images(20, seed=0)
    labels, probs = predict_digits(tiny_classifier, x)
    with torch.no_grad():
        p = torch.softmax(tiny_classifier(x), dim=1)
    assert torch.equal(labels, p.argmax(1))
    torch.testing.assert_close(probs, p.max(1).values)
    captions = label_images(tiny_classifier, x)
    assert len(captions) == 20 and all(re.fullmatch(r"\d \([01]\.\d\d\)", c) for c in captions)
    assert captions[0] == f"{int(labels[0])} ({float(probs[0]):.2f})"


def test_random_shift_moves_each_image_by_an_integer_offset() -> None:
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)  # every pixel distinct
    shifted = random_shift(x, 1, torch.Generator().manual_seed(0))
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    for i in range(2):
        crops = [padded[i, :, dy : dy + 32, dx : dx + 32] for dy in range(3) for dx in range(3)]
        assert sum(torch.equal(shifted[i], crop) for crop in crops) == 1
    assert torch.equal(random_shift(x, 0), x)


def test_training_is_seeded() -> None:
    x, y = smooth_images(64, seed=0), torch.arange(64) % 10
    config, train = ClassifierConfig(width=4, feature_dim=8), ClassifierTrainConfig(epochs=1, batch_size=16, seed=5)
    a, history = train_classifier(x, y, config, train)
    b, _ = train_classifier(x, y, config, train)
    assert len(history) == 1 and not a.training
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_training_refuses_bad_labels() -> None:
    with pytest.raises(DataError, match="0..9"):
        train_classifier(smooth_images(4, 0), torch.tensor([0, 1, 2, 10]))
    with pytest.raises(DataError, match="one integer label per image"):
        train_classifier(smooth_images(4, 0), torch.tensor([0, 1]))


@pytest.mark.slow
def test_classifier_learns_real_digits() -> None:
    if not (SHARED_DATA / "mnist_train_5k.npz").exists():
        pytest.skip(f"real MNIST not found at {SHARED_DATA} (see the project README: Data)")
    from vaegan.data import load_rgb32

    train = load_rgb32(str(SHARED_DATA / "mnist_train_5k.npz"))
    held_out = load_rgb32(f"{SHARED_DATA / 'mnist_test.npz'}@9000:10000")
    pick = torch.randperm(train.images.shape[0], generator=torch.Generator().manual_seed(0))[:1000]  # all classes
    model, _ = train_classifier(
        train.images[pick],
        train.labels[pick],
        ClassifierConfig(width=8, feature_dim=32, dropout=0.0),
        ClassifierTrainConfig(epochs=3, batch_size=32, lr=5e-3, augment=False),
    )  # 94 steps; measured 0.939 held-out accuracy at this seed
    assert classifier_accuracy(model, held_out.images, held_out.labels) > 0.9


def test_shipped_classifier_reaches_its_card_accuracy() -> None:
    if not SHIPPED_CLASSIFIER.exists():
        pytest.skip(f"{SHIPPED_CLASSIFIER} not trained yet (python cli.py train classifier)")
    if not (SHARED_DATA / "mnist_test.npz").exists():
        pytest.skip(f"real MNIST not found at {SHARED_DATA} (see the project README: Data)")
    from vaegan.data import load_rgb32

    held_out = load_rgb32(HELD_OUT)
    model = load_model(SHIPPED_CLASSIFIER, kind="digit-classifier")
    accuracy = classifier_accuracy(model, held_out.images, held_out.labels)
    assert accuracy == pytest.approx(read_info(SHIPPED_CLASSIFIER).metrics["holdout_accuracy"], abs=1e-9)
    assert accuracy > 0.98


# ------------------------------------------------------------------------------------------ semantic ranking


class BrightnessDigit(nn.Module):
    """A stand-in classifier whose 'digit' is the mean brightness rounded onto 0..9: logits c*m - c^2/2 peak at
    the integer c nearest to m = 4.5 * (mean + 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes = nn.Parameter(torch.arange(10.0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = 4.5 * (x.mean(dim=(1, 2, 3)) + 1.0)
        return m[:, None] * self.classes - self.classes**2 / 2


def brightness_generator(z: torch.Tensor) -> torch.Tensor:
    """Dim 0 sets the brightness, dim 2 nudges it slightly, the other dims do nothing."""
    level = torch.tanh(0.5 * z[:, 0] + 0.02 * z[:, 2])
    return level[:, None, None, None].expand(-1, 3, 32, 32)


def test_semantic_rank_matches_a_brute_force_count() -> None:
    z = torch.randn(24, 5, generator=torch.Generator().manual_seed(0))
    eps_values = (-2.0, -0.5, 0.5, 2.0)
    classifier = BrightnessDigit()
    ranking = semantic_rank(brightness_generator, classifier, z, eps_values)

    def digit(zi: torch.Tensor) -> int:
        return int(classifier(brightness_generator(zi[None])).argmax())

    expected = {}
    for d in range(5):
        changed = 0
        for eps in eps_values:
            for zi in z:
                moved = zi.clone()
                moved[d] += eps
                changed += digit(moved) != digit(zi)
        expected[d] = changed / (len(eps_values) * len(z))
    assert dict(ranking) == pytest.approx(expected)
    assert [d for d, _ in ranking][:2] == [0, 2] and ranking[0][1] > 0.5
    assert ranking[2:] == [(1, 0.0), (3, 0.0), (4, 0.0)]  # ties keep the lower dim first


# ------------------------------------------------------------------------------------------ whole evaluation


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
    assert "no checkpoint" in err and "python cli.py train wgan" in err
