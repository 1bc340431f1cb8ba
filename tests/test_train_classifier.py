"""Training the digit classifier: the shift augmentation, seeding, label checks, learning real digits, and the
shipped file reaching the accuracy its card states."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own convention

from tests.conftest import REPO_ROOT, SHARED_DATA, smooth_images
from vaegan.checkpoint import load_model, read_info
from vaegan.classifier import ClassifierConfig, classifier_accuracy
from vaegan.data import ImageSet
from vaegan.errors import DataError
from vaegan.train.classifier import ClassifierTrainConfig, random_shift, train_classifier

SHIPPED_CLASSIFIER = REPO_ROOT / "checkpoints" / "classifier.safetensors"
HELD_OUT = f"{SHARED_DATA / 'mnist_test.npz'}@8000:10000"


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
    data = ImageSet(x, y, "blobs")
    a = train_classifier(data, config, train)
    b = train_classifier(data, config, train)
    assert len(a.history) == 1 and not a.model.training
    assert a.steps == 4 and a.step_unit == "optimizer steps" and a.dataset == "blobs"
    for (name, pa), pb in zip(a.model.state_dict().items(), b.model.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


def test_training_refuses_bad_labels() -> None:
    with pytest.raises(DataError, match="0..9"):
        train_classifier(ImageSet(smooth_images(4, 0), torch.tensor([0, 1, 2, 10]), "x"))
    with pytest.raises(DataError, match="one integer label per image"):
        train_classifier(ImageSet(smooth_images(4, 0), torch.tensor([0, 1]), "x"))
    with pytest.raises(DataError, match="no labels"):
        train_classifier(ImageSet(smooth_images(4, 0), None, "x"))


@pytest.mark.slow
def test_classifier_learns_real_digits() -> None:
    if not (SHARED_DATA / "mnist_train_5k.npz").exists():
        pytest.skip(f"real MNIST not found at {SHARED_DATA} (see docs/data.md)")
    from vaegan.data import load_rgb32

    train = load_rgb32(str(SHARED_DATA / "mnist_train_5k.npz"))
    held_out = load_rgb32(f"{SHARED_DATA / 'mnist_test.npz'}@9000:10000")
    pick = torch.randperm(train.images.shape[0], generator=torch.Generator().manual_seed(0))[:1000]  # all classes
    result = train_classifier(
        ImageSet(train.images[pick], train.labels[pick], "mnist 1000"),
        ClassifierConfig(width=8, feature_dim=32, dropout=0.0),
        ClassifierTrainConfig(epochs=3, batch_size=32, lr=5e-3, augment=False),
        holdout=held_out,
    )  # 96 steps
    assert classifier_accuracy(result.model, held_out.images, held_out.labels) > 0.9
    assert result.metrics["holdout_accuracy"] == classifier_accuracy(result.model, held_out.images, held_out.labels)


def test_shipped_classifier_reaches_its_card_accuracy() -> None:
    if not SHIPPED_CLASSIFIER.exists():
        pytest.skip(f"{SHIPPED_CLASSIFIER} not trained yet (python cli.py train classifier)")
    if not (SHARED_DATA / "mnist_test.npz").exists():
        pytest.skip(f"real MNIST not found at {SHARED_DATA} (see docs/data.md)")
    from vaegan.data import load_rgb32

    held_out = load_rgb32(HELD_OUT)
    model = load_model(SHIPPED_CLASSIFIER, kind="digit-classifier")
    accuracy = classifier_accuracy(model, held_out.images, held_out.labels)
    assert accuracy == pytest.approx(read_info(SHIPPED_CLASSIFIER).metrics["holdout_accuracy"], abs=1e-9)
    assert accuracy > 0.98
