"""Sample-quality metrics on the features of a small digit classifier trained on the same data.

Inception features describe ImageNet photos, not 32x32 digits; the reference course scored SVHN samples with an
SVHN classifier instead, and so do we. Read top to bottom:

1. `DigitClassifier`: a small CNN on (N, 3, 32, 32) images in [-1, 1]; `features(x)` is its penultimate layer,
   `forward(x)` the logits. `train_classifier` is a plain seeded loop.
2. What the classifier says about images: `predict_digits`, `label_images` ("8 (0.97)"), `classifier_accuracy`.
3. Set-to-set metrics on its features:
   * `frechet_distance` - torchmetrics' `FrechetInceptionDistance` with the classifier as custom feature extractor:
     ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) of Gaussians fitted to the two feature sets.
   * `precision_recall` - improved precision/recall (Kynkaenniemi et al., 2019). torchmetrics 1.9 has no such
     metric, so it is written here: each set is a union of balls, one per sample, whose radius is the distance
     to that sample's k-th nearest neighbour in its own set. Precision = share of fake samples inside the real
     union (fidelity); recall = share of real samples inside the fake union (diversity).
4. `semantic_rank`: how often a step along one latent dim changes the predicted digit, per dim.
5. `evaluate_generator`: the numbers of `python cli.py eval wgan`, with a real-vs-real floor measured the same way.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own convention
from torch import nn

from vaegan.errors import ConfigError, DataError, TrainingError
from vaegan.inference import device_of, eval_mode

IMAGE_CHANNELS = 3
IMAGE_SIDE = 32
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
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class ClassifierTrainConfig:
    epochs: int = 8
    batch_size: int = 128
    lr: float = 1e-3  # peak; decays to 0 along a cosine over all steps
    seed: int = 0
    augment: bool = True  # random shifts of up to `max_shift` pixels: generated digits are not always centred
    max_shift: int = 2

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.max_shift < 0:
            raise ConfigError("epochs and batch_size must be >= 1, lr > 0 and max_shift >= 0")


# ------------------------------------------------------------------------------------------ the model


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """conv 3x3 -> batch norm -> ReLU -> 2x2 max-pool: halves the side."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
    )


class DigitClassifier(nn.Module):
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
            nn.Linear(4 * w * (IMAGE_SIDE // 8) ** 2, self.config.feature_dim),
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

    @classmethod
    def from_pretrained(cls, path: str, device: str | torch.device = "cpu") -> DigitClassifier:
        from vaegan.checkpoint import load_model

        return load_model(path, kind="digit-classifier", device=device)  # type: ignore[return-value]


def check_images(x: torch.Tensor) -> None:
    """Refuse anything that is not a float batch (N, 3, 32, 32): a wrong shape would fail deep inside a conv."""
    expected = (IMAGE_CHANNELS, IMAGE_SIDE, IMAGE_SIDE)
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise DataError(f"the digit classifier expects images of shape (N, 3, 32, 32) in [-1, 1], got {shape}")
    if not x.is_floating_point():
        raise DataError(f"the digit classifier expects float images in [-1, 1], got dtype {x.dtype}")


def _chunks(x: torch.Tensor, size: int = EVAL_BATCH) -> Iterator[torch.Tensor]:
    for start in range(0, x.shape[0], size):
        yield x[start : start + size]


@torch.no_grad()
def classifier_features(classifier: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    """Features (N, feature_dim) on the CPU, computed in batches on the classifier's device."""
    check_images(images)
    device = device_of(classifier)
    with eval_mode(classifier):
        parts = [classifier.features(batch.to(device)).cpu() for batch in _chunks(images)]
    return torch.cat(parts) if parts else torch.empty(0, classifier.config.feature_dim)


# ------------------------------------------------------------------------------------------ training


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate every image by its own integer offset in [-max_shift, max_shift]^2, edges replicated."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(x.device)
    rows = offsets[0][:, None] + torch.arange(h, device=x.device)  # (n, h): source row of each output row
    cols = offsets[1][:, None] + torch.arange(w, device=x.device)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # advanced indexing with the channel slice in the middle puts the channel dim last: (n, h, w, c)
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()


@dataclass
class ClassifierEpoch:
    epoch: int
    train_loss: float  # mean over the epoch's batches, as trained: shifted images, dropout on
    train_accuracy: float  # likewise, so it sits below the accuracy of the finished model on the same images
    seconds: float


# Called after every optimizer step with (epoch, step_in_epoch, steps_per_epoch, loss).
StepCallback = Callable[[int, int, int, float], None]


def _check_labelled(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    check_images(images)
    if labels is None or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise DataError("training the classifier needs one integer label per image")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"labels must lie in 0..{num_classes - 1}, got {int(labels.min())}..{int(labels.max())}")


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    config: ClassifierConfig | None = None,
    train_config: ClassifierTrainConfig | None = None,
    *,
    device: torch.device | str = "cpu",
    on_step: StepCallback | None = None,
) -> tuple[DigitClassifier, list[ClassifierEpoch]]:
    """Cross-entropy + Adam over shuffled minibatches. Returns the classifier (eval mode) and one report per epoch.

    Seeded: the same seed, data and device give the same weights.
    """
    config = config or ClassifierConfig()
    train_config = train_config or ClassifierTrainConfig()
    _check_labelled(images, labels, config.num_classes)
    device = torch.device(device)
    torch.manual_seed(train_config.seed)  # weight init and dropout
    shuffle = torch.Generator().manual_seed(train_config.seed)  # batch order and shifts, independent of the device
    model = DigitClassifier(config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.lr)
    x_all, y_all = images.to(device), labels.to(device=device, dtype=torch.long)
    n = x_all.shape[0]
    steps_per_epoch = math.ceil(n / train_config.batch_size)
    # Cosine decay: large steps early, small ones at the end settle the weights (and the batch-norm statistics).
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=train_config.epochs * steps_per_epoch)
    history: list[ClassifierEpoch] = []
    model.train()
    for epoch in range(train_config.epochs):
        started = time.perf_counter()
        order = torch.randperm(n, generator=shuffle).to(device)
        loss_sum, correct = 0.0, 0
        for step, start in enumerate(range(0, n, train_config.batch_size)):
            idx = order[start : start + train_config.batch_size]
            x, y = x_all[idx], y_all[idx]
            if train_config.augment:
                x = random_shift(x, train_config.max_shift, shuffle)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingError(f"classifier loss became {value} at epoch {epoch + 1}; try a lower --lr")
            loss_sum += value * y.shape[0]
            correct += int((logits.argmax(1) == y).sum())
            if on_step is not None:
                on_step(epoch, step, steps_per_epoch, value)
        history.append(ClassifierEpoch(epoch + 1, loss_sum / n, correct / n, time.perf_counter() - started))
    return model.eval(), history


# ------------------------------------------------------------------------------------------ what it says


@torch.no_grad()
def predict_digits(classifier: DigitClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted class (N,) int64 and its softmax probability (N,) float32, both on the CPU."""
    check_images(images)
    device = device_of(classifier)
    labels, probs = [], []
    with eval_mode(classifier):
        for batch in _chunks(images):
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


def classifier_accuracy(classifier: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of images whose predicted digit equals the label."""
    _check_labelled(images, labels, classifier.config.num_classes)
    predicted, _ = predict_digits(classifier, images)
    return float((predicted == labels.cpu().long()).float().mean()) if len(labels) else float("nan")


# ------------------------------------------------------------------------------------------ set metrics


class ClassifierFeatureExtractor(nn.Module):
    """The classifier's `features` as torchmetrics wants a custom extractor: a module mapping images to (N, d).

    `num_features` tells torchmetrics the size d, so it does not probe the module with a dummy 299x299 image.
    Features come back on the CPU, so the metric's float64 state can stay there whatever the classifier's device
    (MPS has no float64).
    """

    def __init__(self, classifier: DigitClassifier) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.config.feature_dim

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(images.to(device_of(self.classifier))).cpu()


def frechet_distance(classifier: DigitClassifier, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to the classifier features of `real` and `fake`.

    Computed by torchmetrics' `FrechetInceptionDistance` (float64 sums of x and x x^T, then the closed form).
    Both sets need at least 2 images. The estimate is biased upwards for finite sets, strongly so with fewer images
    than feature dims (singular covariances): compare numbers only at equal set sizes, as `evaluate_generator` does
    with its real-vs-real floor.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance

    check_images(real)
    check_images(fake)
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise DataError(
            f"the Fréchet distance needs >= 2 images per set, got {real.shape[0]} real and {fake.shape[0]} fake"
        )
    metric = FrechetInceptionDistance(feature=ClassifierFeatureExtractor(classifier))
    with eval_mode(classifier):
        for batch in _chunks(real):
            metric.update(batch, real=True)
        for batch in _chunks(fake):
            metric.update(batch, real=False)
        return float(metric.compute())


def _kth_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the row itself, at distance 0, is skipped)."""
    radii = [torch.cdist(chunk, features).topk(k + 1, dim=1, largest=False).values[:, k] for chunk in _chunks(features)]
    return torch.cat(radii)


def _share_inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of `points` that lie in at least one ball (centre_j, radius_j)."""
    inside = [(torch.cdist(chunk, centres) <= radii[None, :]).any(dim=1) for chunk in _chunks(points)]
    return float(torch.cat(inside).float().mean())


def precision_recall_from_features(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaenniemi et al., 2019) of two feature sets (N, d) and (M, d)."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise DataError(f"feature sets must be (N, d) and (M, d), got {tuple(real.shape)} and {tuple(fake.shape)}")
    if k < 1 or k >= min(real.shape[0], fake.shape[0]):
        raise ConfigError(f"k must lie in 1..{min(real.shape[0], fake.shape[0]) - 1} for these set sizes, got {k}")
    real, fake = real.double(), fake.double()  # distances of near-duplicates should not flip on float32 rounding
    precision = _share_inside(fake, real, _kth_neighbour_radii(real, k))
    recall = _share_inside(real, fake, _kth_neighbour_radii(fake, k))
    return precision, recall


def precision_recall(
    classifier: DigitClassifier, real: torch.Tensor, fake: torch.Tensor, k: int = 3
) -> tuple[float, float]:
    """Improved precision (fidelity) and recall (diversity) of `fake` against `real`, on classifier features."""
    real_features = classifier_features(classifier, real)
    return precision_recall_from_features(real_features, classifier_features(classifier, fake), k)


# ------------------------------------------------------------------------------------------ latent semantics


ImageGenerator = Callable[[torch.Tensor], torch.Tensor]  # z (N, D) -> images (N, 3, 32, 32) in [-1, 1]


@torch.no_grad()
def semantic_rank(
    generator: ImageGenerator,
    classifier: DigitClassifier,
    z: torch.Tensor,
    eps_values: Sequence[float] = (-3.0, -1.5, 1.5, 3.0),
) -> list[tuple[int, float]]:
    """For every latent dim d: the share of (sample, eps) pairs for which G(z + eps e_d) gets another predicted
    digit than G(z). Sorted from the dim that changes the digit most often to the least (ties: lower dim first).

    `generator` is anything that maps z (N, D) to images (N, 3, 32, 32), e.g. a WGAN `Generator`; it is run in
    eval mode when it is an nn.Module. Cost: D * len(eps_values) * N generated images.
    """
    if z.dim() != 2 or z.shape[0] < 1:
        raise DataError(f"z must be a (N, D) batch of latent vectors, got shape {tuple(z.shape)}")
    eps = torch.as_tensor(list(eps_values), dtype=z.dtype, device=z.device)
    if eps.numel() == 0:
        raise ConfigError("semantic_rank needs at least one eps value")
    n, dims = z.shape
    repeats = eps.numel() * n  # moved images per dim
    mode = eval_mode(generator) if isinstance(generator, nn.Module) else contextlib.nullcontext()
    changed = []
    with mode:
        base, _ = predict_digits(classifier, generator(z))
        base = base.to(z.device)
        # All dims * len(eps) * N moved latents, generated a few hundred at a time (big batches are far faster than
        # one small batch per dim). Row r moves sample r % N by eps[(r // N) % len(eps)] along dim r // repeats.
        for start in range(0, dims * repeats, EVAL_BATCH):
            rows = torch.arange(start, min(start + EVAL_BATCH, dims * repeats), device=z.device)
            sample, step, dim = rows % n, (rows // n) % eps.numel(), rows // repeats
            moved = z[sample].clone()
            moved[torch.arange(rows.numel(), device=z.device), dim] += eps[step]
            digits, _ = predict_digits(classifier, generator(moved))
            changed.append(digits.to(z.device) != base[sample])
    rate = torch.cat(changed).view(dims, repeats).float().mean(dim=1)
    rates = [(d, float(rate[d])) for d in range(dims)]
    return sorted(rates, key=lambda pair: (-pair[1], pair[0]))


# ------------------------------------------------------------------------------------------ a whole evaluation


def split_halves(images: torch.Tensor, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint random subsets of n images each (seeded), for a reference set and a real-vs-real floor."""
    if n < 2 or 2 * n > images.shape[0]:
        raise DataError(
            f"the evaluation needs 2 x n real images (a reference half and a floor half): n={n} needs "
            f"{2 * n}, the data has {images.shape[0]}; pass --n {max(2, images.shape[0] // 2)} or more data"
        )
    order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))
    return images[order[:n]], images[order[n : 2 * n]]


def evaluate_generator(
    generator: nn.Module,
    classifier: DigitClassifier,
    real: torch.Tensor,
    *,
    latent_dim: int,
    n: int = 1000,
    seed: int = 0,
    k: int = 3,
) -> dict[str, Any]:
    """Fréchet distance and precision/recall of n generated images against n held-out real ones, plus the same
    numbers for another n held-out real images (the floor: what a perfect generator would score at this n).

    Both comparisons use the same reference half and the same set size, because the Fréchet distance of a
    finite sample is biased upwards by about Tr(S)/n-type terms: a floor at another n would not be comparable.
    """
    reference, floor = split_halves(real, n, seed)
    device = device_of(generator)
    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with eval_mode(generator):
        fake = torch.cat([generator(chunk).float().cpu() for chunk in _chunks(z)])
    check_images(fake)
    precision, recall = precision_recall(classifier, reference, fake, k)
    floor_precision, floor_recall = precision_recall(classifier, reference, floor, k)
    predicted, _ = predict_digits(classifier, fake)
    return {
        "fid": frechet_distance(classifier, reference, fake),
        "precision": precision,
        "recall": recall,
        "n": n,
        "k": k,
        "seed": seed,
        "real_vs_real_fid": frechet_distance(classifier, reference, floor),
        "real_vs_real_precision": floor_precision,
        "real_vs_real_recall": floor_recall,
        # how the generated digits spread over classes: a mode-collapsed generator piles onto a few
        "predicted_digit_counts": torch.bincount(predicted, minlength=classifier.config.num_classes).tolist(),
    }
