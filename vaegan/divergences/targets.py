"""The 2-D targets of the toy GANs and what measures a generator against them.

Targets: `8gaussians` (a ring), `25gaussians` (a grid), `swissroll`, `moons`, and `lines`, P = (0, U[0,1]) of the
parallel lines (its generator starts as a blob centred at (θ₀, ½), so that the supports start disjoint as in the
shift example). Measures: the exact empirical W1 of two point sets (`exact_w1`, optimal assignment) and, for the
mixtures, the modes covered and the share of samples near a mode.

The divergence families (`families.py`) move these targets by θ, and the toy GANs (`toy2d.py`) train towards them;
this module depends on neither.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaegan.errors import ConfigError
from vaegan.vocabulary import TARGETS  # torch-free list (vaegan.vocabulary), re-exported here

Tensor = torch.Tensor

MIXTURE_STD = 0.05  # every Gaussian of the mixtures; the modes are at least 1 apart
MODE_RADIUS = 0.25  # 5 standard deviations: half the closest spacing of two modes, so the disks never overlap
MODE_SHARE = 0.25  # a mode is covered when it holds at least this fraction of its fair share n/K of the samples
LINES_START = 1.5  # the `lines` generator starts centred at (LINES_START, ½), θ₀ of the shift example


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ConfigError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    return target


def mode_centers(target: str) -> Tensor | None:
    """The K centres (K, 2) of a Gaussian mixture target, None for the others."""
    if check_target(target) == "8gaussians":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack((torch.cos(angle), torch.sin(angle)), dim=-1)
    if target == "25gaussians":
        ticks = torch.arange(-2.0, 3.0)
        return torch.cartesian_prod(ticks, ticks)
    return None


def sample_target(target: str, n: int, rng: torch.Generator) -> Tensor:
    """n samples (n, 2) of the target, drawn from `rng` only."""
    centers = mode_centers(target)
    if centers is not None:
        which = torch.randint(len(centers), (n,), generator=rng)
        return centers[which] + MIXTURE_STD * torch.randn(n, 2, generator=rng)
    if target == "swissroll":  # sklearn's make_swiss_roll in the (x, z) plane, scaled to about ±2.4
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=rng))
        return torch.stack((t * torch.cos(t), t * torch.sin(t)), dim=-1) / 6 + MIXTURE_STD * torch.randn(
            n, 2, generator=rng
        )
    if target == "moons":  # sklearn's make_moons, centred and scaled by 1.5
        s = math.pi * torch.rand(n, generator=rng)
        upper = torch.rand(n, generator=rng) < 0.5
        x = torch.where(upper, torch.cos(s), 1 - torch.cos(s))
        y = torch.where(upper, torch.sin(s), 0.5 - torch.sin(s))
        return 1.5 * (torch.stack((x, y), dim=-1) - torch.tensor([0.5, 0.25])) + MIXTURE_STD * torch.randn(
            n, 2, generator=rng
        )
    return torch.stack((torch.zeros(n), torch.rand(n, generator=rng)), dim=-1)  # lines: P = (0, U[0,1])


def generator_offset(target: str) -> Tensor:
    """Added to the generator's output: (θ₀, ½) for `lines`, so that Q starts off P's support; 0 otherwise."""
    return torch.tensor([LINES_START, 0.5]) if check_target(target) == "lines" else torch.zeros(2)


def plot_box(target: str) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of the critic's grid: the target and the generator's start with a margin."""
    if check_target(target) == "lines":
        return -1.0, LINES_START + 1.0, -0.75, 1.75
    return -3.0, 3.0, -3.0, 3.0


# ------------------------------------------------------------------------------------------------- metrics


def exact_w1(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """The exact W1 between the empirical distributions of two equal-size point sets (n, d): the mean Euclidean
    distance of the optimal one-to-one matching (for equal weights an optimal plan is a permutation, Birkhoff),
    found by the Hungarian algorithm in O(n³)."""
    # Imported here, not at the top: scipy.optimize costs half a second, and the divergence sweep (which imports
    # this package) never needs it.
    from scipy.optimize import linear_sum_assignment

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ConfigError(f"exact_w1 needs two non-empty point sets of the same shape (n, d), got {a.shape}, {b.shape}")
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def modes_covered(samples: Tensor, centers: Tensor, radius: float = MODE_RADIUS, share: float = MODE_SHARE) -> int:
    """How many of the K modes hold at least max(1, share·n/K) of the n samples within `radius` of their centre.

    Counting a mode only when it holds a fair fraction of the mass (not a single stray sample) is what tells
    mode collapse from coverage; with the defaults an 8-mode ring needs 8 of 256 samples per mode.
    """
    inside = torch.cdist(samples.double(), centers.double()) <= radius  # (n, K)
    needed = max(1.0, share * len(samples) / len(centers))
    return int((inside.sum(0) >= needed).sum())


def mode_quality(samples: Tensor, centers: Tensor, radius: float = MODE_RADIUS) -> float:
    """The fraction of samples within `radius` of some mode (the rest lie between modes)."""
    return float((torch.cdist(samples.double(), centers.double()) <= radius).any(-1).double().mean())


__all__ = [
    "LINES_START",
    "MIXTURE_STD",
    "MODE_RADIUS",
    "MODE_SHARE",
    "TARGETS",
    "check_target",
    "exact_w1",
    "generator_offset",
    "mode_centers",
    "mode_quality",
    "modes_covered",
    "plot_box",
    "sample_target",
]
