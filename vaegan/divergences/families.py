"""Two families of pairs (P, Q_θ) in the plane whose divergences are known exactly.

* `lines`: P = (0, U[0,1]) and Q_θ = (θ, U[0,1]), two parallel vertical segments (Arjovsky et al. 2017, Example 1).
  For θ ≠ 0 the supports are disjoint, so every f-divergence sits at its maximum (or is infinite) however small θ
  is, while W1 = |θ| moves smoothly.
* `gaussian`: P = N((0, ½), σ²I) and Q_θ = N((θ, ½), σ²I), the same shape with overlapping supports: every
  divergence is a smooth function of θ/σ.
* the 2-D toy targets (`8gaussians`, `25gaussians`, `swissroll`, `moons`, sampled by `toy2d.sample_target`): P is
  the target and Q_θ is P moved by θ along x. W1 = |θ| exactly for any P (a translation), but the f-divergences
  between a mixture or a noisy curve and its shifted copy have no closed form: their truth is NaN for θ ≠ 0.

Sampling shares its randomness across θ: `noise` draws base noise once and `points` shifts it to every θ, so a
sweep over many θ sees, for each θ, exactly the samples it would see alone (common random numbers).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaegan.divergences.bounds import check_divergence_name
from vaegan.divergences.targets import sample_target
from vaegan.errors import ConfigError
from vaegan.vocabulary import FAMILIES, SHIFTED_TARGETS, SWEEP_FAMILIES  # noqa: F401 - torch-free, re-exported

GAUSSIAN_CENTER_Y = 0.5  # both Gaussians sit at height ½, like the middle of the unit segments of `lines`
TARGET_BOX = 3.0  # the toy2d targets lie within ±TARGET_BOX on both axes (targets.plot_box)


def check_family(family: str) -> str:
    if family not in SWEEP_FAMILIES:
        raise ConfigError(f"unknown family {family!r}; choose from {', '.join(SWEEP_FAMILIES)}")
    return family


def noise(family: str, n: int, rng: torch.Generator) -> torch.Tensor:
    """Base noise for n samples, shape (n, 2); `points` turns it into samples of any member of the family."""
    if check_family(family) == "lines":
        return torch.rand(n, 2, generator=rng)  # column 0 is unused: the x-coordinate is θ exactly
    if family in SHIFTED_TARGETS:
        return sample_target(family, n, rng)  # samples of P itself: Q_θ is the same points moved by θ
    return torch.randn(n, 2, generator=rng)


def points(family: str, theta: torch.Tensor, base: torch.Tensor, sigma: float = 0.5) -> torch.Tensor:
    """Samples of Q_θ for every θ at once: theta (T,), base noise (n, 2) -> (T, n, 2). P is Q_0."""
    theta = theta.to(base).reshape(-1, 1)
    if check_family(family) == "lines":
        x = theta.expand(-1, base.shape[0])
        y = base[:, 1].expand(theta.shape[0], -1)
    elif family in SHIFTED_TARGETS:
        x = theta + base[:, 0]
        y = base[:, 1].expand(theta.shape[0], -1)
    else:
        x = theta + sigma * base[:, 0]
        y = GAUSSIAN_CENTER_Y + sigma * base[:, 1].expand(theta.shape[0], -1)
    return torch.stack((x, y), dim=-1)


def _gaussian_js(shift: float) -> float:
    """JS(N(0,1), N(t,1)) in nats by quadrature (no closed form exists).

    With r = p/q, log r(z) = t²/2 - t z, and JS = log 2 - ½E_p[log(1 + 1/r)] - ½E_q[log(1 + r)]; reflecting
    about t/2 swaps p and q, so both halves are equal and JS = log 2 - E_{z~N(0,1)}[softplus(t z - t²/2)].
    """
    z = np.linspace(-16.0, 16.0, 64_001)
    integrand = np.logaddexp(0.0, shift * z - shift * shift / 2) * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return max(0.0, math.log(2.0) - float(np.trapezoid(integrand, z)))


def exact_divergence(family: str, name: str, theta: float, sigma: float = 0.5) -> float:
    """The true value of divergence `name` between P and Q_θ (math.inf where it is infinite, math.nan where no
    closed form is known: the f-divergences of the shifted toy targets for θ ≠ 0).

    Same conventions as the bounds (see `vaegan.divergences`): D_f(P‖Q) = E_q[f(p/q)], H² ∈ [0, 2], TV ∈ [0, 1],
    JS ∈ [0, log 2], in nats. `sigma` only matters for the Gaussian family.
    """
    check_family(family)
    check_divergence_name(name)
    shift = abs(float(theta))
    if name == "wasserstein":
        # A translation by θ moves every unit of mass exactly |θ|, and no plan can do better: E_p[V(x) - V(x + θe)]
        # <= |θ| for every 1-Lipschitz V, with equality at V(x) = -sign(θ)·x₁. True for every P, toy targets too.
        return shift
    if shift == 0.0:
        return 0.0
    if family in SHIFTED_TARGETS:
        return math.nan
    if family == "lines":
        # Disjoint supports: p/q is 0 on Q's support and ∞ on P's, so D_f = f(0) + lim_{u→∞} f(u)/u (the singular
        # part of the f-divergence): 1 + 1 for Hellinger, ½log 2 + ½log 2 for JS, ½ + ½ for TV, and ∞ for KL,
        # reverse KL and χ², whose f(0) or f(u)/u blows up.
        return {"hellinger": 2.0, "jensen-shannon": math.log(2.0), "total-variation": 1.0}.get(name, math.inf)
    if sigma <= 0:
        raise ConfigError("sigma must be positive")
    t = shift / sigma  # everything depends only on the standardised shift
    if name == "hellinger":
        return 2.0 * (1.0 - math.exp(-t * t / 8))  # Bhattacharyya coefficient of equal-variance Gaussians
    if name in ("kl", "reverse-kl"):
        return t * t / 2
    if name == "pearson":
        return math.expm1(t * t)
    if name == "total-variation":
        return math.erf(t / (2 * math.sqrt(2)))  # P(Z < t/2) - P(Z < -t/2)
    return _gaussian_js(t)


def heatmap_grid(
    family: str, thetas: list[float], size: int = 41, sigma: float = 0.5
) -> tuple[list[float], list[float]]:
    """Axes (xs, ys) of a size×size grid that covers P and every Q_θ of the sweep with a margin."""
    lo, hi = min(0.0, *thetas), max(0.0, *thetas)
    if check_family(family) == "lines":
        x0, x1, y0, y1 = lo - 0.5, hi + 0.5, -0.25, 1.25
    elif family in SHIFTED_TARGETS:
        x0, x1, y0, y1 = lo - TARGET_BOX, hi + TARGET_BOX, -TARGET_BOX, TARGET_BOX
    else:
        x0, x1 = lo - 3 * sigma, hi + 3 * sigma
        y0, y1 = GAUSSIAN_CENTER_Y - 3 * sigma, GAUSSIAN_CENTER_Y + 3 * sigma
    return np.linspace(x0, x1, size).tolist(), np.linspace(y0, y1, size).tolist()
