"""The digit classifier whose features score generated images, and what it says about images.

`DigitClassifier` is a small CNN on (N, 3, 32, 32) images in [-1, 1]: `features(x)` is its penultimate layer (what
`vaegan.metrics` compares), `forward(x)` the logits. Inception features describe ImageNet photos, not 32x32 digits;
the reference course scored SVHN samples with an SVHN classifier instead, and so do we. Its training loop is in
`vaegan.train.classifier`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vaegan.checkpoint import FromPretrained, load_model
from vaegan.data import RGB_SIDE
from vaegan.errors import ConfigError, DataError
from vaegan.hub import is_hub_spec
from vaegan.limits import MAX_CHANNELS, check_count
from vaegan.runtime import device_of, eval_mode

IMAGE_CHANNELS = 3
EVAL_BATCH = 500  # images per forward pass when only evaluating: bounded memory for any set size


@dataclass(frozen=True)
class ClassifierConfig:
    width: int = 16  # channels of the first conv block; the next two have 2x and 4x as many
    feature_dim: int = 128  # size of the penultimate layer, the features the metrics are computed on
    num_classes: int = 10
    dropout: float = 0.25  # on the features, during training only

    def __post_init__(self) -> None:
        if self.width < 1 or self.feature_dim < 1 or self.num_classes < 2:
            raise ConfigError("width and feature_dim must be >= 1 and num_classes >= 2")
        for name in ("width", "feature_dim", "num_classes"):
            check_count(name, getattr(self, name), MAX_CHANNELS)
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")


# ------------------------------------------------------------------------------------------ the model


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """conv 3x3 -> batch norm -> ReLU -> 2x2 max-pool: halves the side."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
    )


class DigitClassifier(FromPretrained, nn.Module):
    """32x32x3 -> three conv blocks (32 -> 16 -> 8 -> 4) -> `feature_dim` features -> `num_classes` logits."""

    config_class = ClassifierConfig

    def __init__(self, config: ClassifierConfig | None = None) -> None:
        super().__init__()
        self.config = config or ClassifierConfig()
        w = self.config.width
        self.body = nn.Sequential(
            _conv_block(IMAGE_CHANNELS, w),
            _conv_block(w, 2 * w),
            _conv_block(2 * w, 4 * w),
            nn.Flatten(),
            nn.Linear(4 * w * (RGB_SIDE // 8) ** 2, self.config.feature_dim),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(self.config.dropout)
        self.head = nn.Linear(self.config.feature_dim, self.config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, feature_dim) of images (N, 3, 32, 32) in [-1, 1]."""
        check_images(x)
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes)."""
        return self.head(self.dropout(self.features(x)))


def check_images(x: torch.Tensor) -> None:
    """Refuse anything that is not a float batch (N, 3, 32, 32): a wrong shape would fail deep inside a conv."""
    expected = (IMAGE_CHANNELS, RGB_SIDE, RGB_SIDE)
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataError(f"the digit classifier expects images of shape (N, 3, 32, 32) in [-1, 1], got {shape}")
    if not x.is_floating_point():
        raise DataError(f"the digit classifier expects float images in [-1, 1], got dtype {x.dtype}")


def chunks(x: torch.Tensor, size: int = EVAL_BATCH) -> Iterator[torch.Tensor]:
    for start in range(0, x.shape[0], size):
        yield x[start : start + size]


@torch.no_grad()
def classifier_features(classifier: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    """Features (N, feature_dim) on the CPU, computed in batches on the classifier's device."""
    check_images(images)
    device = device_of(classifier)
    with eval_mode(classifier):
        parts = [classifier.features(batch.to(device)).cpu() for batch in chunks(images)]
    return torch.cat(parts) if parts else torch.empty(0, classifier.config.feature_dim)


# ------------------------------------------------------------------------------------------ what it says


@torch.no_grad()
def predict_digits(classifier: DigitClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class (N,) int64 and its softmax probability (N,) float32, both on the CPU."""
    check_images(images)
    device = device_of(classifier)
    labels, probs = [], []
    with eval_mode(classifier):
        for batch in chunks(images):
            p = torch.softmax(classifier(batch.to(device)).float(), dim=1)
            best, label = p.max(dim=1)
            labels.append(label.cpu())
            probs.append(best.cpu())
    if not labels:
        return torch.empty(0, dtype=torch.long), torch.empty(0)
    return torch.cat(labels), torch.cat(probs)


def label_images(classifier: DigitClassifier, images: torch.Tensor) -> list[str]:
    """One caption per image, e.g. "8 (0.97)": the predicted digit and the classifier's probability for it."""
    labels, probs = predict_digits(classifier, images)
    return [f"{int(label)} ({float(p):.2f})" for label, p in zip(labels, probs, strict=True)]


def check_labelled(images: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> None:
    check_images(images)
    if labels is None or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise DataError("training the classifier needs one integer label per image")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"labels must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}")


def classifier_accuracy(classifier: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose predicted digit equals the label."""
    check_labelled(images, labels, classifier.config.num_classes)
    predicted, _ = predict_digits(classifier, images)
    return float((predicted == labels.cpu().long()).float().mean()) if len(labels) else float("nan")


def load_optional_classifier(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> DigitClassifier | None:
    """The classifier at `path` (local or hf://), or None when there is no file there: labelling and scoring by
    digit are extras, so a missing classifier means "not labelled", not an error. A file that is there but broken
    is still a CheckpointError."""
    if not (is_hub_spec(path) or Path(path).exists()):
        return None
    return load_model(path, kind="digit-classifier", device=device)
