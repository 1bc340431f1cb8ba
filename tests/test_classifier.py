"""The digit classifier: shapes and input checks, a safetensors round trip, its file size, and what it says about
images against its own logits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from tests.conftest import smooth_images
from vaegan.checkpoint import load_model, read_info, save_model
from vaegan.classifier import ClassifierConfig, DigitClassifier, label_images, predict_digits
from vaegan.errors import ConfigError, DataError


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


def test_classifier_from_pretrained(tmp_path: Path, tiny_classifier: DigitClassifier) -> None:
    path = save_model(tiny_classifier, tmp_path / "c.safetensors")
    assert DigitClassifier.from_pretrained(path).config == tiny_classifier.config
