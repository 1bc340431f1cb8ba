"""Latent-space tools for a generator z -> image: sampling, perturbation strips, interpolation and ranking of the
directions that change the image most.

Pure functions on tensors. The generator runs in eval mode (BatchNorm uses its running statistics, so an image
depends on its own z only) and is put back in its previous mode afterwards; everything is deterministic given the
seeds. A "generator" is any module mapping (N, D) -> (N, C, H, W); images are in [-1, 1].

The one measure of "how much a direction v changes the image" used throughout:

    change(v) = mean over the latents z_i of RMS over pixels of  G(z_i + eps * v) - G(z_i)

in [-1, 1] image units (0: no change; 2: every pixel flips from black to white).

Over 400 lines because the strips, the ranking and the principal-direction lesson all rest on that one measure and
on the same eval-mode generator calls; split, each part would import the others' helpers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from vaegan.classifier import EVAL_BATCH, predict_digits
from vaegan.errors import ConfigError, DataError
from vaegan.limits import (
    MAX_GRID_IMAGES,
    MAX_LATENTS,
    MAX_TABLE_IMAGES,
    MAX_TABLE_SIDE,
    check_count,
    check_seed,
)
from vaegan.runtime import device_of, eval_mode
from vaegan.vocabulary import INTERPOLATION_MODES  # torch-free list (vaegan.vocabulary), re-exported here

# ---------------------------------------------------------------------------------------------- sampling


def sample_latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """n draws from the prior N(0, I), (n, latent_dim), from a private RNG seeded by `seed` (CPU, float32)."""
    if n < 1 or latent_dim < 1:
        raise ConfigError("need n >= 1 latents of latent_dim >= 1")
    check_seed(seed)
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))


def sample_images(generator: nn.Module, n: int, seed: int) -> torch.Tensor:
    """G(z) for n latents drawn with `seed` (what `sample wgan` writes as one grid): n is refused above
    MAX_GRID_IMAGES, before any latent is drawn, because a grid of more images is no picture anyone can look at."""
    check_count("the number of images in a grid (--n)", n, MAX_GRID_IMAGES)
    return generate(generator, sample_latents(n, generator.latent_dim, seed))


def generate(generator: nn.Module, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """G(z) for z (N, D), in batches, as float32 on the CPU; values in [-1, 1]."""
    if z.dim() != 2:
        raise ConfigError(f"expected latents of shape (N, D), got {tuple(z.shape)}")
    device = device_of(generator)
    with eval_mode(generator):
        parts = [generator(chunk.to(device)).float().cpu() for chunk in z.split(max(1, batch_size))]
    return torch.cat(parts)


# ---------------------------------------------------------------------------------------- perturbations


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:60] + "…")


def parse_dims(text: str) -> list[int]:
    """Latent dims from text: '20,21' -> [20, 21] (at most MAX_TABLE_SIDE of them: one table row each)."""
    try:
        dims = [int(d) for d in text.split(",") if d.strip()]
    except ValueError as exc:
        raise ConfigError(f"--dims {_shown(text)}: expected comma-separated whole numbers, e.g. 20,21") from exc
    if not dims:
        raise ConfigError(f"--dims {_shown(text)}: give at least one latent dim, e.g. 20,21")
    check_count("the number of --dims", len(dims), MAX_TABLE_SIDE)
    return dims


def parse_eps(text: str) -> list[float]:
    """'start:stop:count' -> count evenly spaced values from start to stop (both included); '-1,0,2' -> a list.

    At least one and at most MAX_TABLE_SIDE values (one table column each), all finite.
    """
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            first, last, n = float(start), float(stop), int(count)
            check_count("the eps count", n, MAX_TABLE_SIDE)
            values = torch.linspace(first, last, n).tolist()
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise ConfigError(f"eps {_shown(text)}: expected start:stop:count (e.g. -5:4:10) or a comma list") from exc
    check_count("the number of eps values", len(values), MAX_TABLE_SIDE)
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"eps {_shown(text)}: every value must be a finite number")
    return values


def direction_strip(
    generator: nn.Module, z: torch.Tensor, directions: torch.Tensor, eps_values: Sequence[float]
) -> torch.Tensor:
    """Images of z + eps * v for each direction v (rows) and each eps (columns): (R, K, C, H, W)."""
    z = z.reshape(1, -1)
    if directions.dim() != 2 or directions.shape[1] != z.shape[1]:
        raise ConfigError(f"directions must be (R, {z.shape[1]}), got {tuple(directions.shape)}")
    eps = torch.as_tensor(list(eps_values), dtype=z.dtype)
    if eps.numel() == 0:
        raise ConfigError("need at least one eps value")
    check_table(directions.shape[0], eps.numel())
    latents = z + eps.view(1, -1, 1) * directions.to(z.dtype).unsqueeze(1)  # (R, K, D)
    images = generate(generator, latents.reshape(-1, z.shape[1]))
    return images.reshape(directions.shape[0], eps.numel(), *images.shape[1:])


def perturbation_strip(
    generator: nn.Module, z: torch.Tensor, dims: Sequence[int], eps_values: Sequence[float]
) -> torch.Tensor:
    """Images of z + eps * e_d: rows are latent dims d, columns eps values -> (len(dims), len(eps), C, H, W)."""
    latent_dim = z.numel()
    if not dims:
        raise ConfigError("need at least one latent dim")
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad:
        raise ConfigError(f"latent dims {bad} are outside 0..{latent_dim - 1}")
    return direction_strip(generator, z, torch.eye(latent_dim)[list(dims)], eps_values)


def check_table(rows: int, columns: int) -> None:
    """A table of images (strip, interpolation) must fit MAX_TABLE_SIDE per side and MAX_TABLE_IMAGES in all."""
    check_count("the rows of an image table", rows, MAX_TABLE_SIDE)
    check_count("the columns of an image table", columns, MAX_TABLE_SIDE)
    check_count("the images of one table (rows x columns)", rows * columns, MAX_TABLE_IMAGES)


# ---------------------------------------------------------------------------------------- interpolation


def interpolate_latent(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "lerp") -> torch.Tensor:
    """`steps` latents from z0 to z1 (both included), (steps, D).

    lerp: (1 - t) z0 + t z1. slerp: along the great circle, sin((1 - t) w) / sin w * z0 + sin(t w) / sin w * z1
    with w the angle between z0 and z1 (norms are interpolated too). In high dimension a Gaussian sample lies near
    the sphere of radius sqrt(D); lerp cuts through its inside (the midpoint of two independent draws has norm
    ~ sqrt(D/2)), slerp stays near typical norms.
    """
    z0, z1 = z0.reshape(-1).float(), z1.reshape(-1).float()
    if z0.shape != z1.shape:
        raise ConfigError(f"z0 and z1 differ in size: {z0.numel()} vs {z1.numel()}")
    if steps < 2:
        raise ConfigError("an interpolation needs steps >= 2")
    check_count("the interpolation steps", steps, MAX_TABLE_SIDE)
    if mode not in INTERPOLATION_MODES:
        raise ConfigError(f"unknown interpolation mode {mode!r}; choose one of {', '.join(INTERPOLATION_MODES)}")
    t = torch.linspace(0.0, 1.0, steps).unsqueeze(1)
    if mode == "slerp":
        cos = torch.dot(z0, z1) / (z0.norm() * z1.norm()).clamp_min(1e-12)
        omega = torch.arccos(cos.clamp(-1.0, 1.0))
        if omega.abs() > 1e-4 and (math.pi - omega).abs() > 1e-4:
            s = torch.sin(omega)
            return torch.sin((1.0 - t) * omega) / s * z0 + torch.sin(t * omega) / s * z1
        # (anti)parallel: the great circle is not unique (or is a point); fall back to the straight line.
    return (1.0 - t) * z0 + t * z1


def interpolation_rows(
    generator: nn.Module, z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "lerp"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(latent_row, fade_row), each (steps, C, H, W): G along the latent path vs a cross-fade of G(z0) and G(z1).

    The two rows share their end images; what differs is the middle: a good latent space morphs one digit into
    another, a pixel fade superimposes them.
    """
    latent_row = generate(generator, interpolate_latent(z0, z1, steps, mode))
    t = torch.linspace(0.0, 1.0, steps).view(-1, 1, 1, 1)
    fade_row = (1.0 - t) * latent_row[:1] + t * latent_row[-1:]
    return latent_row, fade_row


def interpolation_table(
    generator: nn.Module, seed0: int, seed1: int, steps: int, mode: str = "lerp"
) -> tuple[torch.Tensor, list[float]]:
    """The (2, steps, C, H, W) table of `interpolation_rows` between the latents of two seeds, and the t values."""
    z0, z1 = sample_latents(1, generator.latent_dim, seed0)[0], sample_latents(1, generator.latent_dim, seed1)[0]
    latent_row, fade_row = interpolation_rows(generator, z0, z1, steps, mode)
    return torch.stack([latent_row, fade_row]), torch.linspace(0, 1, steps).tolist()


# -------------------------------------------------------------------------------------------- ranking


# Moved images generated (and kept) at once by `output_change`: the R x N moved images of a ranking are walked in
# groups of directions of about this many images, so memory does not grow with R or N.
CHANGE_BATCH = 1024


def output_change(generator: nn.Module, z: torch.Tensor, directions: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """change(v) of the module docstring for each row v of `directions` (R, D) over the latents z (N, D) -> (R,)."""
    z = z.reshape(-1, directions.shape[1]).float()
    base = generate(generator, z).reshape(1, z.shape[0], -1)
    directions = directions.float()
    group = max(1, CHANGE_BATCH // z.shape[0])  # directions per generated group
    scores = []
    for part in directions.split(group):
        moved = generate(generator, (z.unsqueeze(0) + eps * part.unsqueeze(1)).reshape(-1, z.shape[1]))
        diff = moved.reshape(part.shape[0], z.shape[0], -1) - base
        scores.append(diff.pow(2).mean(dim=2).sqrt().mean(dim=1))
    return torch.cat(scores)


def rank_latent_dims(generator: nn.Module, z: torch.Tensor, eps: float = 1.0) -> list[tuple[int, float]]:
    """Every latent dim d with change(e_d) over the latents z (N, D), largest change first."""
    latent_dim = z.shape[-1]
    scores = output_change(generator, z, torch.eye(latent_dim), eps)
    order = torch.argsort(scores, descending=True, stable=True)
    return [(int(d), float(scores[d])) for d in order]


@dataclass
class PrincipalDirections:
    directions: torch.Tensor  # (k, D) unit latent directions, most important first
    variance: torch.Tensor  # (k,) what the PCA ranks by (eigenvalue of E[J^T J], or feature-PCA variance)
    scores: torch.Tensor  # (k,) change(v) with the eps given, comparable with rank_latent_dims
    method: str


def _fix_signs(directions: torch.Tensor) -> torch.Tensor:
    """Eigenvectors are defined up to sign; make each one's largest entry positive, so results are reproducible."""
    index = directions.abs().argmax(dim=1, keepdim=True)
    return directions * torch.sign(directions.gather(1, index))


def jacobian_gram(generator: nn.Module, z: torch.Tensor, h: float = 1e-2) -> torch.Tensor:
    """E_z[J(z)^T J(z)] / P (D x D), J = dG/dz by central differences, P = pixels: the mean squared change per
    pixel of G when z moves by a unit vector v is v^T M v (for small steps)."""
    z = z.float()
    n, latent_dim = z.shape
    basis = torch.eye(latent_dim) * h
    gram = torch.zeros(latent_dim, latent_dim, dtype=torch.float64)
    for zi in z:
        plus = generate(generator, zi + basis)
        minus = generate(generator, zi - basis)
        jac = ((plus - minus).reshape(latent_dim, -1) / (2.0 * h)).double()  # (D, P): row d = dG/dz_d
        gram += jac @ jac.T / jac.shape[1]
    return (gram / n).float()


def principal_directions(
    generator: nn.Module,
    z: torch.Tensor,
    *,
    k: int = 10,
    method: str = "jacobian",
    layer: int = 1,
    eps: float = 1.0,
) -> PrincipalDirections:
    """The k latent directions that change the generator's output most, GANSpace-style.

    method "jacobian": eigenvectors of E_z[J^T J] (the PCA of output changes under small latent steps); v^T M v is
    the mean squared pixel change per unit step along v, so the top eigenvector is the single most effective
    direction. method "features": GANSpace (Harkonen et al., 2020) for a generator without a mapping network:
    PCA of the activations after block `layer` (generator.features), each principal component carried back to
    latent space by least squares regression of z on the PCA coordinates.
    """
    z = z.reshape(-1, z.shape[-1]).float()
    latent_dim = z.shape[1]
    k = min(k, latent_dim)
    if k < 1:
        raise ConfigError("k must be >= 1")
    if method == "jacobian":
        eigenvalues, eigenvectors = torch.linalg.eigh(jacobian_gram(generator, z).double())
        order = torch.argsort(eigenvalues, descending=True)[:k]
        directions, variance = eigenvectors[:, order].T.float(), eigenvalues[order].float()
    elif method == "features":
        if not hasattr(generator, "features"):
            raise ConfigError("method 'features' needs a generator with a features(z, layer) method")
        if z.shape[0] <= k:
            raise ConfigError(f"feature PCA needs more latents than directions ({z.shape[0]} <= {k})")
        device = device_of(generator)
        with eval_mode(generator):
            feats = generator.features(z.to(device), layer).float().cpu().reshape(z.shape[0], -1)
        centred = feats - feats.mean(dim=0)
        _, singular, v_t = torch.linalg.svd(centred.double(), full_matrices=False)
        coords = centred.double() @ v_t[:k].T  # (N, k) PCA coordinates
        # z ~ coords @ U: row i of U is the latent direction that moves along feature component i.
        u = torch.linalg.lstsq(coords, (z - z.mean(dim=0)).double()).solution  # (k, D)
        directions = (u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)).float()
        variance = (singular[:k] ** 2 / (z.shape[0] - 1)).float()
    else:
        raise ConfigError(f"unknown method {method!r}; choose jacobian or features")
    directions = _fix_signs(directions)
    return PrincipalDirections(directions, variance, output_change(generator, z, directions, eps), method)


@dataclass
class RankReport:
    """What `python cli.py explore rank` shows: dims by pixel change, dims by digit change (with a classifier),
    the principal directions, and a strip image per direction."""

    dims: list[tuple[int, float]]
    semantic_dims: list[tuple[int, float]]
    directions: PrincipalDirections
    strips: torch.Tensor  # (top, len(DIRECTION_EPS), C, H, W): G(z_0 + eps * v_i)
    settings: dict

    def to_dict(self) -> dict:
        pcs = self.directions
        return {
            **self.settings,
            "method": pcs.method,
            "dims": [{"dim": d, "change": s} for d, s in self.dims],
            "semantic_dims": [{"dim": d, "digit_change_rate": r} for d, r in self.semantic_dims],
            "directions": [
                {"index": i, "change": float(pcs.scores[i]), "variance": float(pcs.variance[i]),
                 "top_dims": [int(d) for d in pcs.directions[i].abs().argsort(descending=True)[:5]]}
                for i in range(pcs.directions.shape[0])
            ],
        }  # fmt: skip


DIRECTION_EPS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
SEMANTIC_EPS = (-3.0, -1.5, 1.5, 3.0)


def rank_report(
    generator: nn.Module,
    *,
    n: int = 16,
    seed: int = 0,
    top: int = 10,
    eps: float = 1.0,
    method: str = "jacobian",
    classifier: nn.Module | None = None,
) -> RankReport:
    """Rank the latent dims and principal directions of `generator` over n latents drawn with `seed`."""
    check_count("the number of latents (--n)", n, MAX_LATENTS)
    check_count("--top", top, MAX_TABLE_SIDE)
    z = sample_latents(n, generator.latent_dim, seed)
    dims = rank_latent_dims(generator, z, eps=eps)[:top]
    # feature PCA needs more latents than directions: give it at least 4x as many
    pca_z = z if method == "jacobian" else sample_latents(max(n, 4 * top), z.shape[1], seed)
    pcs = principal_directions(generator, pca_z, k=top, method=method, eps=eps)
    strips = direction_strip(generator, z[0], pcs.directions, list(DIRECTION_EPS))
    semantic = semantic_rank(generator, classifier, z, SEMANTIC_EPS)[:top] if classifier is not None else []
    return RankReport(dims, semantic, pcs, strips, {"n": n, "eps": eps, "seed": seed})


# ------------------------------------------------------------------------------------------ semantic ranking



@torch.no_grad()
def semantic_rank(
    generator: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    classifier: nn.Module,
    z: torch.Tensor,
    eps_values: Sequence[float] = SEMANTIC_EPS,
) -> list[tuple[int, float]]:
    """For every latent dim d: the share of (sample, eps) pairs for which G(z + eps e_d) gets another predicted
    digit than G(z). Sorted from the dim that changes the digit most often to the least (ties: lower dim first).

    Beside `rank_latent_dims` (pixels): meaning. `classifier` is a `vaegan.classifier.DigitClassifier` and
    `generator` any module mapping z (N, D) to images (N, 3, 32, 32). Cost: D * len(eps_values) * N images.
    """
    if z.dim() != 2 or z.shape[0] < 1:
        raise DataError(f"z must be a (N, D) batch of latent vectors, got shape {tuple(z.shape)}")
    eps = torch.as_tensor(list(eps_values), dtype=z.dtype, device=z.device)
    if eps.numel() == 0:
        raise ConfigError("semantic_rank needs at least one eps value")
    n, dims = z.shape
    repeats = eps.numel() * n  # moved images per dim

    changed = []
    # a plain function z -> images (the tests' stand-ins) has no mode to set
    with eval_mode(generator) if isinstance(generator, nn.Module) else torch.no_grad():
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


# ------------------------------------------------------------------------ directions against single axes

# The ε of the digit-change comparison below: the same both ways, so a unit direction and a unit axis move z equally
# far. ε = 0 is the reference itself, so it is left out.
LESSON_EPS = (-3.0, -1.5, 1.5, 3.0)
LESSON_LATENTS = 16  # latents the directions are averaged over and the digit changes counted on


@torch.no_grad()
def digit_change_share(
    generator: nn.Module, classifier: nn.Module, z: torch.Tensor, directions: torch.Tensor,
    eps_values: Sequence[float] = LESSON_EPS,
) -> torch.Tensor:  # fmt: skip
    """For each direction v (rows of `directions`, (R, D)): the share of the latents z (N, D) whose predicted digit
    changes somewhere along z + ε v, ε in `eps_values`, compared with the digit of G(z) -> (R,) in [0, 1].

    A row counts once however many ε change it: "does moving along v turn this digit into another one?". Cost:
    R * len(eps_values) * N generated and classified images, walked a few hundred at a time.
    """
    if z.dim() != 2 or directions.dim() != 2 or directions.shape[1] != z.shape[1]:
        raise ConfigError(f"need z (N, D) and directions (R, D), got {tuple(z.shape)} and {tuple(directions.shape)}")
    eps = torch.as_tensor(list(eps_values), dtype=z.dtype)
    if eps.numel() == 0:
        raise ConfigError("need at least one eps value")
    n, steps = z.shape[0], eps.numel()
    base, _ = predict_digits(classifier, generate(generator, z))
    # Every moved latent, in the order (direction, eps, sample); generated and read in groups of whole directions.
    group = max(1, EVAL_BATCH // (steps * n))
    changed = []
    for part in directions.to(z.dtype).split(group):
        moved = z.view(1, 1, n, -1) + eps.view(1, -1, 1, 1) * part.view(-1, 1, 1, z.shape[1])
        digits, _ = predict_digits(classifier, generate(generator, moved.reshape(-1, z.shape[1])))
        changed.append((digits.view(part.shape[0], steps, n) != base.view(1, 1, n)).any(dim=1))
    return torch.cat(changed).float().mean(dim=1)


@dataclass
class DirectionLesson:
    """Principal directions next to single latent axes: how often each one turns a sample into another digit."""

    directions: PrincipalDirections
    direction_share: torch.Tensor  # (k,): digit_change_share of each principal direction
    axis_share: torch.Tensor  # (D,): digit_change_share of each axis e_d
    eps: tuple[float, ...]
    n: int  # latents (sample rows) each share is over


def lesson_directions(
    generator: nn.Module, *, k: int = 10, n: int = LESSON_LATENTS, seed: int = 0
) -> tuple[torch.Tensor, PrincipalDirections]:
    """The n latents drawn with `seed` and the generator's k principal directions over them (method "jacobian":
    orthonormal by construction and ranked by the pixel change they cause, which is what a strip shows)."""
    check_count("the number of latents (n)", n, MAX_LATENTS)
    check_count("the number of principal directions (k)", k, MAX_TABLE_SIDE)
    z = sample_latents(n, generator.latent_dim, seed)
    return z, principal_directions(generator, z, k=k, method="jacobian")


def direction_lesson(
    generator: nn.Module,
    classifier: nn.Module,
    *,
    k: int = 10,
    n: int = LESSON_LATENTS,
    seed: int = 0,
    eps_values: Sequence[float] = LESSON_EPS,
) -> DirectionLesson:
    """The generator's k principal directions (method "jacobian", over n latents drawn with `seed`) and, over the
    same n latents, how often each direction and each single axis changes the classifier's digit."""
    z, pcs = lesson_directions(generator, k=k, n=n, seed=seed)
    direction_share = digit_change_share(generator, classifier, z, pcs.directions, eps_values)
    axis_share = digit_change_share(generator, classifier, z, torch.eye(z.shape[1]), eps_values)
    return DirectionLesson(pcs, direction_share, axis_share, tuple(float(e) for e in eps_values), n)
