"""Variational lower bounds: the f-GAN family and the Wasserstein-1 dual with its Lipschitz penalties.

Every function here works on critic outputs of any leading shape and reduces over the *last* axis, the samples:
`v_p` of shape (..., N) holds V(x) for N samples x ~ p, `v_q` of shape (..., M) holds V(y) for y ~ q, and the
result has shape (...). With an ensemble of critics the leading axis is the ensemble member (one per θ), so one
call gives every member's bound. The conventions (which f, which g_f, D_f(P‖Q) = E_q[f(p/q)]) are written once in
the docstring of `vaegan.divergences`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.functional import relu, softplus

from vaegan.errors import ConfigError
from vaegan.lipschitz import gradient_norms, interpolate
from vaegan.vocabulary import PENALTIES  # torch-free list, re-exported here

LOG_2 = math.log(2.0)
Tensor = torch.Tensor


@dataclass(frozen=True)
class FDivergence:
    """One row of the f-GAN table (Nowozin et al. 2016, Tables 1 and 6).

    `f` is the convex f, `activation` is the output activation g_f (it maps the unconstrained critic output v into
    the domain of f*), `conjugate` is the Fenchel conjugate f*, and `conjugate_of_activation` is f*(g_f(v))
    written in a form that stays finite in float32 (e.g. Hellinger's t/(1 - t) with t = 1 - e^-v is e^v - 1).
    The bound is E_p[g_f(V)] - E_q[f*(g_f(V))] <= D_f(P‖Q) for every critic V.
    """

    name: str
    title: str
    f: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    conjugate: Callable[[Tensor], Tensor]
    conjugate_of_activation: Callable[[Tensor], Tensor]


def _js_f(u: Tensor) -> Tensor:
    # ½[u log u - (u + 1) log((u + 1)/2)]: the f-GAN paper's JS f halved, so that D = JS ∈ [0, log 2].
    return 0.5 * (torch.xlogy(u, u) - (u + 1) * torch.log((u + 1) / 2))


F_DIVERGENCES: dict[str, FDivergence] = {
    "kl": FDivergence(
        "kl",
        "KL(P‖Q)",
        f=lambda u: torch.xlogy(u, u),
        activation=lambda v: v,
        conjugate=lambda t: torch.exp(t - 1),
        conjugate_of_activation=lambda v: torch.exp(v - 1),
    ),
    "reverse-kl": FDivergence(
        "reverse-kl",
        "KL(Q‖P)",
        f=lambda u: -torch.log(u),
        activation=lambda v: -torch.exp(-v),
        conjugate=lambda t: -1 - torch.log(-t),
        conjugate_of_activation=lambda v: v - 1,
    ),
    "jensen-shannon": FDivergence(
        "jensen-shannon",
        "Jensen–Shannon",
        f=_js_f,
        # g = ½(log 2 - softplus(-v)), f*(t) = -½ log(2 - e^{2t}); together f*(g(v)) = ½(softplus(v) - log 2),
        # which turns the bound into log 2 - ½(E_p softplus(-V) + E_q softplus(V)): the GAN discriminator loss.
        activation=lambda v: 0.5 * (LOG_2 - softplus(-v)),
        conjugate=lambda t: -0.5 * torch.log(2 - torch.exp(2 * t)),
        conjugate_of_activation=lambda v: 0.5 * (softplus(v) - LOG_2),
    ),
    "total-variation": FDivergence(
        "total-variation",
        "total variation",
        f=lambda u: 0.5 * torch.abs(u - 1),
        activation=lambda v: 0.5 * torch.tanh(v),
        conjugate=lambda t: t,  # on its domain |t| <= ½, which the activation guarantees
        conjugate_of_activation=lambda v: 0.5 * torch.tanh(v),
    ),
    "pearson": FDivergence(
        "pearson",
        "Pearson χ²",
        f=lambda u: (u - 1) ** 2,
        activation=lambda v: v,
        conjugate=lambda t: t * t / 4 + t,
        conjugate_of_activation=lambda v: v * v / 4 + v,
    ),
    "hellinger": FDivergence(
        "hellinger",
        "squared Hellinger",
        f=lambda u: (torch.sqrt(u) - 1) ** 2,
        activation=lambda v: 1 - torch.exp(-v),
        conjugate=lambda t: t / (1 - t),
        conjugate_of_activation=torch.expm1,  # t/(1-t) at t = 1 - e^-v; 1 - t would round to 0 for v > ~17
    ),
}

WASSERSTEIN = "wasserstein"
DIVERGENCE_NAMES: tuple[str, ...] = (*F_DIVERGENCES, WASSERSTEIN)
DIVERGENCE_TITLES: dict[str, str] = {**{n: d.title for n, d in F_DIVERGENCES.items()}, WASSERSTEIN: "Wasserstein-1"}


def check_divergence_name(name: str) -> str:
    if name not in DIVERGENCE_NAMES:
        raise ConfigError(f"unknown divergence {name!r}; choose from {', '.join(DIVERGENCE_NAMES)}")
    return name


# ------------------------------------------------------------------------------------------------ bounds


def f_divergence_lower_bound(name: str, v_p: Tensor, v_q: Tensor) -> Tensor:
    """E_p[g_f(V)] - E_q[f*(g_f(V))] for the f-divergence `name` (a key of F_DIVERGENCES)."""
    if name not in F_DIVERGENCES:
        raise ConfigError(f"{name!r} is not an f-divergence; choose from {', '.join(F_DIVERGENCES)}")
    div = F_DIVERGENCES[name]
    return div.activation(v_p).mean(-1) - div.conjugate_of_activation(v_q).mean(-1)


def hellinger_lower_bound(v_p: Tensor, v_q: Tensor) -> Tensor:
    """Squared Hellinger bound E_p[1 - e^-V] - E_q[e^V - 1] = 2 - E_p[e^-V] - E_q[e^V] <= H²(P, Q) <= 2."""
    return f_divergence_lower_bound("hellinger", v_p, v_q)


def wasserstein_dual_estimate(v_p: Tensor, v_q: Tensor) -> Tensor:
    """Kantorovich–Rubinstein dual E_p[V] - E_q[V]: a lower bound on W1(P, Q) when V is 1-Lipschitz."""
    return v_p.mean(-1) - v_q.mean(-1)


def lower_bound(name: str, v_p: Tensor, v_q: Tensor) -> Tensor:
    """The variational bound of any divergence in DIVERGENCE_NAMES (without any penalty)."""
    if name == WASSERSTEIN:
        return wasserstein_dual_estimate(v_p, v_q)
    return f_divergence_lower_bound(name, v_p, v_q)


# --------------------------------------------------------------------------------------------- penalties


def one_sided_penalty(norms: Tensor) -> Tensor:
    """Petzka et al. (2018) Lipschitz penalty E[max(0, ‖∇V‖ - 1)²]: only slopes above 1 cost (mean over last axis)."""
    return relu(norms - 1).square().mean(-1)


def two_sided_penalty(norms: Tensor) -> Tensor:
    """Gulrajani et al. (2017) gradient penalty E[(‖∇V‖ - 1)²]: pushes every slope to exactly 1."""
    return (norms - 1).square().mean(-1)


def lipschitz_penalty(
    critic: Callable[[Tensor], Tensor], x: Tensor, y: Tensor, eps: Tensor, kind: str = "one-sided"
) -> Tensor:
    """The penalty of `kind` on the gradient norms at the interpolates between x ~ p and y ~ q (unweighted)."""
    norms = gradient_norms(critic, interpolate(x, y, eps))
    if kind == "one-sided":
        return one_sided_penalty(norms)
    if kind == "two-sided":
        return two_sided_penalty(norms)
    raise ConfigError(f"unknown penalty {kind!r}; choose from {', '.join(PENALTIES)}")
