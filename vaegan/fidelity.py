"""How far a Fréchet distance can be trusted: error bars, floors, bias and memorisation, on cached features.

Everything here works on feature matrices (N, d) that `vaegan.classifier.classifier_features` computed once:

* `frechet_from_moments` - many Fréchet distances at once (batched covariances, eigvalsh), written by hand:
  torchmetrics' FID takes images and computes one pair of sets per call (a general sqrtm), too slow 200 times;
* `bootstrap_scores`, `percentile_interval` - FD, precision and recall over rows resampled with replacement, and
  their percentile intervals (shifted by the bootstrap's own bias, see there);
* `frechet_curve` - FD against the sample count n and its extrapolation to n = inf (FD∞, Chong & Forsyth 2020);
* `kernel_inception_distance` - the unbiased KID of torchmetrics (cubic polynomial kernel, subsets);
* `rank_warning` - a rank-deficient covariance (n <= d) makes FD a different, larger number;
* `nearest_training_digits` - the closest training digits of a few samples, to see memorisation;
* `fidelity_report` / `summary_rows` - all of it for a reference set and the sets compared with it.

(Over 400 lines because it is the one home of these checks: they share the batched moments and the report format.)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from vaegan.classifier import DigitClassifier, classifier_features
from vaegan.errors import ConfigError, DataError
from vaegan.limits import MAX_BOOTSTRAP_RESAMPLES, MAX_KID_SUBSETS, MAX_NEAREST, check_count, check_seed

DEFAULT_RESAMPLES = 200  # bootstrap resamples B (`eval wgan --bootstrap`, the VAE vs GAN page)
CI_LEVEL = 0.95  # percentile interval: the 2.5% and 97.5% quantiles of the bootstrap values
KID_SUBSETS = 100  # subsets KID averages over (as torchmetrics' default)
KID_SUBSET_SIZE = 1000  # rows per KID subset, at most half of each set (so the subsets differ)
CURVE_POINTS = 7  # sample counts of the FD-vs-n curve, evenly spaced from n/4 to n
CURVE_REPEATS = 4  # random subsets averaged at each count below n
SAMPLE_COUNTS = (64, 128, 256, 512, 1000)  # the VAE vs GAN page's choices of n: two at or below d = 128, three above
_CHUNK = 25  # resamples per batched covariance: (25, n, d) float64 stays a few tens of MB


# ------------------------------------------------------------------------------------------ batched FD


def _check_pair(reference: torch.Tensor, other: torch.Tensor) -> None:
    if reference.dim() != 2 or other.dim() != 2 or reference.shape[1] != other.shape[1]:
        raise DataError(
            f"feature sets must be (N, d) and (M, d), got {tuple(reference.shape)} and {tuple(other.shape)}"
        )
    if min(reference.shape[0], other.shape[0]) < 2:
        raise DataError(f"the Fréchet distance needs >= 2 rows per set, got {reference.shape[0]} and {other.shape[0]}")


def resampled_moments(features: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Means (B, d) and unbiased covariances (B, d, d), float64, of the B row selections `rows` (B, m) of
    `features` (N, d): one batched matrix product per chunk of selections instead of B separate ones."""
    centred = features.double() - features.double().mean(0)  # centring first keeps float64 sums well conditioned
    means, covariances = [], []
    for chunk in rows.split(_CHUNK):
        picked = centred[chunk]  # (b, m, d)
        mean = picked.mean(1)
        deviations = picked - mean[:, None, :]
        covariances.append(deviations.transpose(1, 2) @ deviations / (chunk.shape[1] - 1))
        means.append(mean)
    shift = features.double().mean(0)
    return torch.cat(means) + shift, torch.cat(covariances)


def drop_constant_columns(
    reference: torch.Tensor, others: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, float]]:
    """(reference, others, offsets) without the feature columns that are constant in every set, and for each other
    set the squared mean difference those columns add to its FD (constant columns have zero variance in every
    resample and subset, so FD = offset + FD of the rest, exactly). Dead ReLU units make about half of the shipped
    classifier's features constant, and the batched eigen-decompositions cost d^3."""
    constant = reference.std(0) == 0
    for features in others.values():
        constant &= features.std(0) == 0
    offsets = {name: float(((reference[0, constant].double() - f[0, constant].double()) ** 2).sum())
               for name, f in others.items()}  # fmt: skip
    return reference[:, ~constant], {name: f[:, ~constant] for name, f in others.items()}, offsets


def symmetric_sqrt(covariances: torch.Tensor) -> torch.Tensor:
    """C^(1/2) of symmetric positive semi-definite matrices (B, d, d) by eigh; round-off negatives count as 0."""
    values, vectors = torch.linalg.eigh(covariances)
    return (vectors * values.clamp(min=0).sqrt()[:, None, :]) @ vectors.transpose(1, 2)


def frechet_from_moments(
    mean_a: torch.Tensor, cov_a: torch.Tensor, mean_b: torch.Tensor, cov_b: torch.Tensor,
    sqrt_a: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)) for batches (B, d) and (B, d, d).

    Tr (C_a C_b)^(1/2) is the sum of square roots of the eigenvalues of C_a^(1/2) C_b C_a^(1/2), which is symmetric
    and has the same eigenvalues as C_a C_b: eigvalsh instead of a general sqrtm (scipy's, torchmetrics'), stable
    and batched. `sqrt_a` (C_a^(1/2)) can be passed when several sets share the same C_a.
    """
    root = symmetric_sqrt(cov_a) if sqrt_a is None else sqrt_a
    eigenvalues = torch.linalg.eigvalsh(root @ cov_b @ root)
    trace_sqrt = eigenvalues.clamp(min=0).sqrt().sum(-1)
    traces = cov_a.diagonal(dim1=-2, dim2=-1).sum(-1) + cov_b.diagonal(dim1=-2, dim2=-1).sum(-1)
    return ((mean_a - mean_b) ** 2).sum(-1) + traces - 2 * trace_sqrt


def frechet_from_features(reference: torch.Tensor, other: torch.Tensor) -> float:
    """The Fréchet distance of Gaussians fitted to two feature sets (N, d) and (M, d): the number torchmetrics'
    FID gives (`vaegan.metrics.frechet_distance`) from the same features, by `frechet_from_moments`."""
    _check_pair(reference, other)
    rows_a = torch.arange(reference.shape[0])[None]
    rows_b = torch.arange(other.shape[0])[None]
    return float(frechet_from_moments(*resampled_moments(reference, rows_a), *resampled_moments(other, rows_b))[0])


# ------------------------------------------------------------------------------------------ bootstrap


def check_resamples(resamples: int) -> int:
    return check_count("bootstrap resamples", resamples, MAX_BOOTSTRAP_RESAMPLES)


def percentile_interval(
    values: torch.Tensor, estimate: float, level: float = CI_LEVEL, bounds: tuple[float, float] = (0.0, math.inf)
) -> list[float]:
    """[low, high]: the (1 - level)/2 and (1 + level)/2 quantiles of bootstrap values, shifted by the bootstrap's
    bias (their mean minus `estimate`) and clipped to the metric's `bounds`.

    Why shifted: a resample of n rows holds only about 63% distinct rows, so FD on a resample carries more of
    FD's small-sample bias (which grows like 1/n) than FD on the sample itself, and the plain percentile interval
    lies above the estimate (on the shipped features it does not even contain it). The shift removes that
    extra bias, which leaves an interval for FD at this n, centred on the reported value. Precision and recall
    barely move (their resample bias is small), but get the same rule.
    """
    tail = (1.0 - level) / 2
    values = values.double()
    low, high = torch.quantile(values, torch.tensor([tail, 1.0 - tail], dtype=torch.float64)) - (
        values.mean() - estimate
    )
    return [max(float(low), bounds[0]), min(float(high), bounds[1])]


def _inside_matrix(points: torch.Tensor, centres: torch.Tensor, k: int) -> torch.Tensor:
    """(P, C) bool: point p lies in the ball around centre c whose radius is c's distance to its k-th nearest
    other centre (improved precision/recall's balls, `vaegan.metrics.precision_recall_from_features`)."""
    points, centres = points.double(), centres.double()
    radii = torch.cdist(centres, centres).topk(k + 1, dim=1, largest=False).values[:, k]
    return torch.cdist(points, centres) <= radii[None, :]


def _resampled_share(inside: torch.Tensor, point_counts: torch.Tensor, centre_counts: torch.Tensor) -> torch.Tensor:
    """Share of resampled points that lie in a ball of a resampled centre: (B,) from counts (B, P) and (B, C)."""
    covered = (inside.double() @ (centre_counts > 0).double().T > 0).double()  # (P, B)
    return (point_counts.double() * covered.T).sum(1) / point_counts.sum(1)


def bootstrap_scores(
    reference: torch.Tensor, others: dict[str, torch.Tensor], *, resamples: int = DEFAULT_RESAMPLES, k: int = 3,
    seed: int = 0, precision_recall: bool = True,
) -> dict[str, dict[str, torch.Tensor]]:  # fmt: skip
    """FD, precision and recall (unless `precision_recall` is False) of each set in `others` against `reference`,
    on `resamples` bootstrap resamples: {name: {"fid": (B,), "precision": (B,), "recall": (B,)}}.

    Each resample draws the rows of every set with replacement (the reference's draw is shared by all sets, so
    their values are paired). Precision/recall keep each ball's radius from the full set: in a resample the
    copies of a row would be each other's nearest neighbours, radius 0, and shrink every ball.
    """
    check_resamples(resamples)
    check_seed(seed)
    for features in others.values():
        _check_pair(reference, features)
    varying_reference, varying_others, offsets = drop_constant_columns(reference, others)
    generator = torch.Generator().manual_seed(seed)
    n = reference.shape[0]
    ref_rows = torch.randint(0, n, (resamples, n), generator=generator)
    ref_mean, ref_cov = resampled_moments(varying_reference, ref_rows)
    ref_root = symmetric_sqrt(ref_cov)
    ref_counts = torch.zeros(resamples, n).scatter_add_(1, ref_rows, torch.ones(resamples, n))
    values: dict[str, dict[str, torch.Tensor]] = {}
    for name, features in others.items():
        m = features.shape[0]
        rows = torch.randint(0, m, (resamples, m), generator=generator)
        moments = resampled_moments(varying_others[name], rows)
        fid = offsets[name] + frechet_from_moments(ref_mean, ref_cov, *moments, sqrt_a=ref_root)
        values[name] = {"fid": fid}
        if precision_recall:
            counts = torch.zeros(resamples, m).scatter_add_(1, rows, torch.ones(resamples, m))
            values[name]["precision"] = _resampled_share(_inside_matrix(features, reference, k), counts, ref_counts)
            values[name]["recall"] = _resampled_share(_inside_matrix(reference, features, k), ref_counts, counts)
    return values


# ------------------------------------------------------------------------------------------ FD against n


def curve_sizes(n: int, points: int = CURVE_POINTS) -> list[int]:
    """Sample counts from n/4 to n, evenly spaced (fewer when n is small)."""
    low = max(2, n // 4)
    return sorted({round(low + (n - low) * i / (points - 1)) for i in range(points)})


def fit_infinity(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """(FD∞, slope): the least-squares line FD(n) = FD∞ + slope / n through the points (Chong & Forsyth 2020: the
    bias of FD is linear in 1/n, so its intercept at 1/n = 0 is the FD of infinitely many samples)."""
    if len(sizes) < 2:
        raise DataError("the FD∞ fit needs FD at two or more sample counts")
    x = torch.tensor([1.0 / s for s in sizes], dtype=torch.float64)
    design = torch.stack([torch.ones_like(x), x], dim=1)
    solution = torch.linalg.lstsq(design, torch.tensor(values, dtype=torch.float64)[:, None]).solution[:, 0]
    return float(solution[0]), float(solution[1])


def _subsets(total: int, size: int, draws: int, generator: torch.Generator) -> torch.Tensor:
    """(draws, size) row indices, each row a random subset drawn without replacement."""
    return torch.stack([torch.randperm(total, generator=generator)[:size] for _ in range(draws)])


def frechet_curve(
    reference: torch.Tensor, others: dict[str, torch.Tensor], *, seed: int = 0, repeats: int = CURVE_REPEATS,
) -> dict[str, Any]:  # fmt: skip
    """FD at the sample counts `curve_sizes(n)` (both sets cut to that count; the mean over `repeats` random subsets
    below n) and the FD∞ fit: {"n": sizes, name: {"fid": [...], "fid_infinity": float, "slope": float}}."""
    check_seed(seed)
    n = min([reference.shape[0], *(f.shape[0] for f in others.values())])
    sizes = curve_sizes(n)
    reference, others, offsets = drop_constant_columns(reference, others)
    generator = torch.Generator().manual_seed(seed)
    curves: dict[str, list[float]] = {name: [] for name in others}
    for size in sizes:
        draws = 1 if size == n else repeats
        ref_mean, ref_cov = resampled_moments(reference, _subsets(reference.shape[0], size, draws, generator))
        ref_root = symmetric_sqrt(ref_cov)
        for name, features in others.items():
            rows = _subsets(features.shape[0], size, draws, generator)
            fids = frechet_from_moments(ref_mean, ref_cov, *resampled_moments(features, rows), sqrt_a=ref_root)
            curves[name].append(offsets[name] + float(fids.mean()))
    result: dict[str, Any] = {"n": sizes}
    for name, fids in curves.items():
        infinity, slope = fit_infinity(sizes, fids)
        result[name] = {"fid": fids, "fid_infinity": infinity, "slope": slope}
    return result


# ------------------------------------------------------------------------------------------ KID, rank


def kernel_inception_distance(
    reference: torch.Tensor, other: torch.Tensor, *, subsets: int = KID_SUBSETS, seed: int = 0,
) -> tuple[float, float]:  # fmt: skip
    """(mean, std) over subsets of the unbiased MMD² with the kernel (x.y / d + 1)^3: torchmetrics'
    `KernelInceptionDistance`, fed the cached features through an identity "feature extractor" (its documented
    custom-module path). Subsets hold min(KID_SUBSET_SIZE, n/2) rows, drawn from torch's global RNG, which is
    seeded here inside `fork_rng` so the caller's random state is left alone."""
    # torchmetrics' image metrics only when asked for: importing them costs a second
    from torchmetrics.image.kid import KernelInceptionDistance

    check_count("KID subsets", subsets, MAX_KID_SUBSETS)
    check_seed(seed)
    _check_pair(reference, other)
    size = min(KID_SUBSET_SIZE, reference.shape[0] // 2, other.shape[0] // 2)
    if size < 2:
        raise DataError(f"KID needs >= 4 rows per set, got {reference.shape[0]} and {other.shape[0]}")
    with warnings.catch_warnings():  # "will save all extracted features": they are already in memory
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=subsets, subset_size=size)
    # float64: the estimate is a small difference of kernel means of order 1-1000
    metric.update(reference.double(), real=True)
    metric.update(other.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def rank_warning(n: int, feature_dim: int) -> str | None:
    """A warning when n samples give a rank-deficient covariance of d-dim features: its rank is at most n - 1, so
    it is singular exactly when n <= d, and FD then mostly measures the missing directions."""
    if n > feature_dim:
        return None
    return (
        f"n = {n} samples per set is not more than the feature dimension d = {feature_dim}: the covariances have "
        f"rank <= {n - 1} < {feature_dim} (singular), so FD is dominated by directions the samples cannot estimate. "
        f"Use n > {feature_dim}, and compare FDs only at equal n."
    )


# ------------------------------------------------------------------------------------------ memorisation


def digit_pixels(images: torch.Tensor) -> torch.Tensor:
    """(N, 784) grey levels in [0, 1] of images (N, 3, 32, 32) in [-1, 1] (the 2-pixel pad `to_rgb32` puts around
    a 28x28 digit cut off) or (N, 28, 28) / (N, 784) in [0, 1]."""
    if images.dim() == 4 and tuple(images.shape[1:]) == (3, 32, 32):
        return ((images[:, :, 2:30, 2:30].mean(1) + 1) / 2).reshape(images.shape[0], -1).float()
    if images.dim() in (2, 3) and images[0].numel() == 784:
        return images.reshape(images.shape[0], -1).float()
    raise DataError(f"expected digits (N, 3, 32, 32), (N, 28, 28) or (N, 784), got {tuple(images.shape)}")


def nearest_training_digits(
    samples: torch.Tensor, training: torch.Tensor, count: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices (S, count), distances (S, count)): the `count` training digits closest to each sample in pixel
    space (Euclidean over the 28x28 grey levels, `digit_pixels`), closest first. A sample at distance ~0 from a
    training digit is a copy of it."""
    check_count("nearest training digits per sample", count, MAX_NEAREST)
    queries, pool = digit_pixels(samples), digit_pixels(training)
    if count > pool.shape[0]:
        raise ConfigError(f"{count} nearest digits asked for, but there are only {pool.shape[0]} training digits")
    best_d = torch.full((queries.shape[0], 0), math.inf)
    best_i = torch.zeros((queries.shape[0], 0), dtype=torch.long)
    for start in range(0, pool.shape[0], 10_000):  # bounded memory for any training set
        distances = torch.cdist(queries, pool[start : start + 10_000])
        merged_d = torch.cat([best_d, distances], 1)
        merged_i = torch.cat([best_i, torch.arange(start, start + distances.shape[1]).expand_as(distances)], 1)
        best_d, order = merged_d.topk(count, dim=1, largest=False)
        best_i = merged_i.gather(1, order)
    return best_i, best_d


def held_out_distance(held_out: torch.Tensor, training: torch.Tensor, count: int = 50) -> float:
    """Median distance from the first `count` held-out digits to their nearest training digit: how far a new
    digit of the data sits from the training set, the yardstick for a sample's nearest distance."""
    return float(nearest_training_digits(held_out[:count], training, 1)[1].median())


# ------------------------------------------------------------------------------------------ the report


def fidelity_report(
    reference: torch.Tensor, others: dict[str, torch.Tensor], *, resamples: int = DEFAULT_RESAMPLES, k: int = 3,
    seed: int = 0, kid: bool = True, curve: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Everything above for the sets `others` (e.g. the real-vs-real floor and each model) against `reference`:
    {"n", "feature_dim", "resamples", "ci_level", "rank_warning", "reference_rank", "constant_features", "curve_n",
    "sets": {name: {"fid", "precision", "recall"[, "fid_ci", "precision_ci", "recall_ci", "fid_bootstrap_bias"]
    [, "kid", "kid_std"][, "fid_infinity", "fid_slope", "fid_curve"]}}}. `resamples` = 0 skips the intervals."""
    check_seed(seed)
    n, feature_dim = reference.shape[0], reference.shape[1]
    sets: dict[str, dict[str, Any]] = {}
    for name, features in others.items():
        _check_pair(reference, features)
        rows_ref, rows = torch.arange(n)[None], torch.arange(features.shape[0])[None]
        fid = frechet_from_moments(*resampled_moments(reference, rows_ref), *resampled_moments(features, rows))
        inside_fake = _inside_matrix(features, reference, k)
        inside_real = _inside_matrix(reference, features, k)
        sets[name] = {"fid": float(fid[0]), "precision": float(inside_fake.any(1).double().mean()),
                      "recall": float(inside_real.any(1).double().mean())}  # fmt: skip
    if resamples:
        for name, values in bootstrap_scores(reference, others, resamples=resamples, k=k, seed=seed).items():
            for metric, samples in values.items():
                bounds = (0.0, math.inf) if metric == "fid" else (0.0, 1.0)
                sets[name][f"{metric}_ci"] = percentile_interval(samples, sets[name][metric], bounds=bounds)
            sets[name]["fid_bootstrap_bias"] = float(values["fid"].mean()) - sets[name]["fid"]
    if kid:
        for name, features in others.items():
            sets[name]["kid"], sets[name]["kid_std"] = kernel_inception_distance(reference, features, seed=seed)
    covariance = torch.cov(reference.double().T)
    report: dict[str, Any] = {
        "n": n, "feature_dim": feature_dim, "resamples": resamples, "ci_level": CI_LEVEL,
        "rank_warning": rank_warning(n, feature_dim),
        # features that never vary (dead ReLU units) cap the rank whatever n is: said beside the warning
        "reference_rank": int(torch.linalg.matrix_rank(covariance, hermitian=True)),
        "constant_features": int((reference.double().std(0) == 0).sum()),
    }  # fmt: skip
    if curve:
        fitted = frechet_curve(reference, others, seed=seed)
        report["curve_n"] = fitted["n"]
        for name in others:
            sets[name].update(fid_infinity=fitted[name]["fid_infinity"], fid_slope=fitted[name]["slope"],
                              fid_curve=fitted[name]["fid"])  # fmt: skip
    report["sets"] = sets
    return report


def fidelity_of_images(
    classifier: DigitClassifier, reference: torch.Tensor, image_sets: dict[str, torch.Tensor], **options: Any
) -> dict[str, Any]:
    """`fidelity_report` of images (N, 3, 32, 32) in [-1, 1], each set's classifier features computed once."""
    others = {name: classifier_features(classifier, images) for name, images in image_sets.items()}
    return fidelity_report(classifier_features(classifier, reference), others, **options)


TRUST_COLUMNS = ("set", "FD", "FD 95% CI", "FD∞", "precision [95% CI]", "recall [95% CI]", "KID (± sd)")


def _with_interval(row: dict[str, Any], key: str, digits: int) -> str:
    value = f"{row[key]:.{digits}f}"
    if f"{key}_ci" in row:
        low, high = row[f"{key}_ci"]
        value += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return value


def summary_rows(sets: dict[str, dict[str, Any]], labels: dict[str, str] | None = None) -> list[dict[str, str]]:
    """One row of strings per set (columns `TRUST_COLUMNS`; "-" where a number was not computed): what
    `eval wgan/compare --bootstrap` print and the VAE vs GAN page shows. `labels` renames the sets."""
    rows = []
    for name, row in sets.items():
        interval = "-"
        if "fid_ci" in row:
            interval = f"[{row['fid_ci'][0]:.2f}, {row['fid_ci'][1]:.2f}]"
        kid = f"{row['kid']:.3f} (± {row['kid_std']:.3f})" if "kid" in row else "-"
        infinity = f"{row['fid_infinity']:.2f}" if "fid_infinity" in row else "-"
        cells = [(labels or {}).get(name, name), f"{row['fid']:.2f}", interval, infinity,
                 _with_interval(row, "precision", 3), _with_interval(row, "recall", 3), kid]  # fmt: skip
        rows.append(dict(zip(TRUST_COLUMNS, cells, strict=True)))
    return rows


def constant_features_note(report: dict[str, Any]) -> str | None:
    """What features that never vary on the reference digits (dead ReLU units) do to its covariance, or None."""
    if not report["constant_features"]:
        return None
    return (
        f"{report['constant_features']} of the {report['feature_dim']} features are constant on the reference "
        f"digits, so the reference covariance has rank {report['reference_rank']} whatever n is."
    )


def fidelity_notes(report: dict[str, Any]) -> list[str]:
    """What to keep in mind when reading a report: the rank warning, dead features, how the numbers were made."""
    notes = []
    if report["rank_warning"]:
        notes.append(f"warning: {report['rank_warning']}")
    if (constant := constant_features_note(report)) is not None:
        notes.append(f"note: {constant}")
    if report["resamples"]:
        notes.append(
            f"intervals: {report['ci_level']:.0%} bootstrap percentile intervals over {report['resamples']} "
            "resamples, shifted by the bootstrap's own bias (vaegan.fidelity.percentile_interval)."
        )
    if "curve_n" in report:
        notes.append(f"FD∞: FD(n) = FD∞ + slope/n fitted at n = {', '.join(map(str, report['curve_n']))}.")
    return notes


def format_table(rows: list[dict[str, str]]) -> str:
    """The rows as a plain-text table with aligned columns (the CLI's output)."""
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in TRUST_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in TRUST_COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in TRUST_COLUMNS) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
