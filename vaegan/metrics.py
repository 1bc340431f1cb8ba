"""Sample-quality metrics on the features of the digit classifier (`vaegan.classifier`).

* `frechet_distance` - torchmetrics' `FrechetInceptionDistance` with the classifier as custom feature extractor:
  ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) of Gaussians fitted to the two feature sets.
* `precision_recall` - improved precision/recall (Kynkaenniemi et al., 2019). torchmetrics has no such metric, so
  it is written here: each set is a union of balls, one per sample, whose radius is the distance to that sample's
  k-th nearest neighbour in its own set. Precision = share of fake samples inside the real union (fidelity);
  recall = share of real samples inside the fake union (diversity). `precision_by_confidence` splits precision
  between the images the classifier is sure of and the ambiguous ones (hybrids of two digits).
* `evaluate_generator`: the numbers of `python cli.py eval wgan`, with a real-vs-real floor measured the same way;
  its parts `generated_images` and `score_images` also score the VAE (`vaegan.compare`) and a training timeline
  (`vaegan.timeline`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vaegan.classifier import DigitClassifier, check_images, chunks, classifier_features, predict_digits
from vaegan.errors import ConfigError, DataError
from vaegan.fidelity import fidelity_of_images
from vaegan.limits import check_seed
from vaegan.runtime import device_of, eval_mode

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
    # torchmetrics' Inception FID only when asked for: it is heavy and needs weights from the network
    from torchmetrics.image.fid import FrechetInceptionDistance

    check_images(real)
    check_images(fake)
    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise DataError(
            f"the Fréchet distance needs >= 2 images per set, got {real.shape[0]} real and {fake.shape[0]} fake"
        )
    metric = FrechetInceptionDistance(feature=ClassifierFeatureExtractor(classifier))
    with eval_mode(classifier):
        for batch in chunks(real):
            metric.update(batch, real=True)
        for batch in chunks(fake):
            metric.update(batch, real=False)
        return float(metric.compute())


def _kth_neighbour_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the row itself, at distance 0, is skipped)."""
    radii = [torch.cdist(chunk, features).topk(k + 1, dim=1, largest=False).values[:, k] for chunk in chunks(features)]
    return torch.cat(radii)


def _check_k(k: int, smallest_set: int) -> None:
    """k-th neighbour radii need k other points in every set they are taken over."""
    if k < 1 or k >= smallest_set:
        raise ConfigError(f"k must lie in 1..{smallest_set - 1} for a set of {smallest_set} points, got {k}")


def _inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """(M,) bool: which `points` lie in at least one ball (centre_j, radius_j)."""
    return torch.cat([(torch.cdist(chunk, centres) <= radii[None, :]).any(dim=1) for chunk in chunks(points)])


def _share_inside(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor) -> float:
    """Share of `points` that lie in at least one ball (centre_j, radius_j)."""
    return float(_inside(points, centres, radii).float().mean())


def precision_recall_from_features(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaenniemi et al., 2019) of two feature sets (N, d) and (M, d)."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise DataError(f"feature sets must be (N, d) and (M, d), got {tuple(real.shape)} and {tuple(fake.shape)}")
    _check_k(k, min(real.shape[0], fake.shape[0]))
    real, fake = real.double(), fake.double()  # distances of near-duplicates should not flip on float32 rounding
    precision = _share_inside(fake, real, _kth_neighbour_radii(real, k))
    recall = _share_inside(real, fake, _kth_neighbour_radii(fake, k))
    return precision, recall


def precision_by_confidence(
    classifier: DigitClassifier, reference: torch.Tensor, images: torch.Tensor, *, threshold: float = 0.9, k: int = 3
) -> dict[str, float | None]:
    """Improved precision of `images` against `reference`, split by the classifier's confidence in its digit.

    Images whose top softmax probability is below `threshold` are *ambiguous*: mostly hybrids between two digit
    classes, which a generator fed one connected Gaussian must draw somewhere on its way from one class to the
    next. The keys: `precision` (all images, as `precision_recall`), `ambiguous_share`, and `precision_confident`
    / `precision_ambiguous` (None for an empty group); precision is their mix weighted by the shares.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"the confidence threshold is a probability in [0, 1], got {threshold}")
    _check_k(k, reference.shape[0])
    reference_features = classifier_features(classifier, reference).double()
    features = classifier_features(classifier, images).double()
    inside = _inside(features, reference_features, _kth_neighbour_radii(reference_features, k)).float()
    _, confidence = predict_digits(classifier, images)
    ambiguous = confidence < threshold

    def mean_or_none(values: torch.Tensor) -> float | None:
        return float(values.mean()) if values.numel() else None

    return {
        "precision": float(inside.mean()),
        "ambiguous_share": float(ambiguous.float().mean()),
        "precision_confident": mean_or_none(inside[~ambiguous]),
        "precision_ambiguous": mean_or_none(inside[ambiguous]),
    }


def precision_recall(
    classifier: DigitClassifier, real: torch.Tensor, fake: torch.Tensor, k: int = 3
) -> tuple[float, float]:
    """Improved precision (fidelity) and recall (diversity) of `fake` against `real`, on classifier features."""
    real_features = classifier_features(classifier, real)
    return precision_recall_from_features(real_features, classifier_features(classifier, fake), k)


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


@torch.no_grad()
def generated_images(generator: nn.Module, latent_dim: int, n: int, seed: int) -> torch.Tensor:
    """The n images `evaluate_generator` scores: G(z) for z ~ N(0, I) from a private RNG seeded by `seed`, in eval
    mode, as float32 on the CPU."""
    device = device_of(generator)
    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with eval_mode(generator):
        fake = torch.cat([generator(chunk).float().cpu() for chunk in chunks(z)])
    check_images(fake)
    return fake


def score_images(classifier: DigitClassifier, reference: torch.Tensor, images: torch.Tensor, k: int = 3) -> dict:
    """Fréchet distance, precision and recall of `images` against `reference` (same n), and how the images spread
    over the classifier's digits: the numbers every model gets, whatever drew the images."""
    precision, recall = precision_recall(classifier, reference, images, k)
    predicted, _ = predict_digits(classifier, images)
    return {
        "fid": frechet_distance(classifier, reference, images),
        "precision": precision,
        "recall": recall,
        # how the generated digits spread over classes: a mode-collapsed generator piles onto a few
        "predicted_digit_counts": torch.bincount(predicted, minlength=classifier.config.num_classes).tolist(),
    }


def evaluate_generator(
    generator: nn.Module,
    classifier: DigitClassifier,
    real: torch.Tensor,
    *,
    latent_dim: int,
    n: int = 1000,
    seed: int = 0,
    k: int = 3,
    bootstrap: int = 0,
    kid: bool = False,
    fd_infinity: bool = False,
) -> dict[str, Any]:
    """Fréchet distance and precision/recall of n generated images against n held-out real ones, plus the same
    numbers for another n held-out real images (the floor: what a perfect generator would score at this n).

    Both comparisons use the same reference half and the same set size, because the Fréchet distance of a
    finite sample is biased upwards by about Tr(S)/n-type terms: a floor at another n would not be comparable.
    `bootstrap` (resamples, 0 = none), `kid` and `fd_infinity` add a "fidelity" entry:
    `vaegan.fidelity.fidelity_report` of the sets "real vs real" and "generated".
    """
    check_seed(seed)
    reference, floor = split_halves(real, n, seed)
    fake = generated_images(generator, latent_dim, n, seed)
    scores = score_images(classifier, reference, fake, k)
    floor_scores = score_images(classifier, reference, floor, k)
    extra = {}
    if bootstrap or kid or fd_infinity:
        sets = {"real vs real": floor, "generated": fake}
        extra["fidelity"] = fidelity_of_images(classifier, reference, sets, resamples=bootstrap, k=k, seed=seed,
                                               kid=kid, curve=fd_infinity)  # fmt: skip
    return {
        "fid": scores["fid"],
        "precision": scores["precision"],
        "recall": scores["recall"],
        "n": n,
        "k": k,
        "seed": seed,
        "real_vs_real_fid": floor_scores["fid"],
        "real_vs_real_precision": floor_scores["precision"],
        "real_vs_real_recall": floor_scores["recall"],
        "predicted_digit_counts": scores["predicted_digit_counts"],
        **extra,
    }
