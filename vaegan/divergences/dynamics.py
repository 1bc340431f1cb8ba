"""Training a generator under each divergence: the shift generator Q_θ = (θ, U[0,1]) pulled towards P = (0, U[0,1]).

(Just over 400 lines: the losses, the config, the result and the one training function of the shift generator.)

The sweep (`sweep.py`) asks what a critic *estimates*; this module asks what a generator *learns* from it. The
generator is one learnable number θ: samples of Q_θ are reparameterized, y = (θ, u) with u ~ U[0,1] (or
y = (θ, ½) + σz for the Gaussian family), so the gradient of the critic's value at y flows back to θ. Training
alternates `critic_steps` Adam steps on the critic, which maximises its bound, with one step on θ, which minimises
a generator loss (Goodfellow et al. 2014's minimax game, in the f-GAN form of Nowozin et al. 2016):

* minimax (`hellinger`, `js`, `wasserstein`, `wasserstein-onesided`): θ minimises the very bound the critic
  maximises. For W1 only -E_q[V] depends on θ, so this is WGAN's generator loss.
* non-saturating (`js-nonsaturating`): the critic is the standard GAN discriminator D = sigmoid(V) (the JS bound,
  see `vaegan.divergences`), and θ minimises -E_q[log D(y)] instead of the bound (Goodfellow et al. 2014, §3).

Why the losses behave differently on the parallel lines (Arjovsky et al. 2017, Example 1): for every θ ≠ 0 the
supports are disjoint, H² = 2 and JS = log 2 whatever θ is, so a good critic is flat (saturated) on Q's support
and dD/dθ = 0: θ stalls. W1 = |θ| has slope 1 everywhere, and the 1-Lipschitz critic keeps a slope at Q, so θ
walks to 0. The non-saturating loss does *not* saturate when D(y) -> 0: its gradient in y is -(1 - D(y))·∇V(y),
of size |∇V| where the discriminator is sure (D(y) ≈ 0), against the minimax JS's -½D(y)·∇V(y), which vanishes
there; so θ keeps moving as long as the critic has a slope at y. On the Gaussian family every divergence is a
smooth function of θ and all losses give gradients.

All losses train together in one `CriticEnsemble`, one member per loss, each member with its own θ (a vector of
them, stepped by one element-wise optimizer). Every member sees the same base noise and starts from the same
critic; a member's trajectory is the one it would follow alone (tested), because the members share no arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from vaegan.divergences.bounds import (
    F_DIVERGENCES,
    LOG_2,
    PENALTIES,
    WASSERSTEIN,
    lower_bound,
    one_sided_penalty,
    two_sided_penalty,
)
from vaegan.divergences.critic import ACTIVATIONS, CriticConfig, CriticEnsemble, check_activations
from vaegan.divergences.engine import NO_CHECKPOINTS, ProgressCallback, rng_stream
from vaegan.divergences.families import FAMILIES, check_family, exact_divergence, heatmap_grid, noise, points
from vaegan.divergences.optim import Adam, make_optimizer
from vaegan.divergences.rounding import round_significant_nested
from vaegan.errors import ConfigError, TrainingError
from vaegan.limits import MAX_BATCH_SIZE, MAX_CRITIC_STEPS, MAX_ITERS, MAX_RECORDED_VALUES, check_count, check_seed
from vaegan.lipschitz import gradient_norms, interpolate
from vaegan.runtime import intra_op_threads
from vaegan.storage import JsonResult
from vaegan.vocabulary import LOSS_TITLES, THETA_OPTIMIZERS  # torch-free, THETA_OPTIMIZERS re-exported here

Tensor = torch.Tensor
DYNAMICS_FORMAT = "vaegan-divergence-dynamics/1"

# ----------------------------------------------------------------------------------------------- GAN losses


@dataclass(frozen=True)
class GanLoss:
    """A way to train a generator against a critic: the bound the critic maximises (`divergence`, a name of
    DIVERGENCE_NAMES), the Lipschitz penalty added to the critic's loss (W1 only) and whether the generator
    minimises the same bound (minimax) or the non-saturating -E_q[log D] (JS only)."""

    name: str
    divergence: str
    penalty: str | None = None
    nonsaturating: bool = False

    def __post_init__(self) -> None:
        if (self.penalty is not None) != (self.divergence == WASSERSTEIN) or self.penalty not in (None, *PENALTIES):
            raise ConfigError(f"{self.name}: a Lipschitz penalty goes with W1 and only with W1")
        if self.nonsaturating and self.divergence != "jensen-shannon":
            raise ConfigError(f"{self.name}: the non-saturating loss is defined for the JS discriminator only")


GAN_LOSSES: dict[str, GanLoss] = {
    loss.name: loss
    for loss in (
        GanLoss("wasserstein", WASSERSTEIN, penalty="two-sided"),
        GanLoss("wasserstein-onesided", WASSERSTEIN, penalty="one-sided"),
        GanLoss("hellinger", "hellinger"),
        GanLoss("js", "jensen-shannon"),
        GanLoss("js-nonsaturating", "jensen-shannon", nonsaturating=True),
    )
}


def check_losses(names: Sequence[str]) -> tuple[GanLoss, ...]:
    if not names:
        raise ConfigError("give at least one loss")
    if len(set(names)) != len(names):
        raise ConfigError("a loss is listed twice")
    for name in names:
        if name not in GAN_LOSSES:
            raise ConfigError(f"unknown loss {name!r}; choose from {', '.join(GAN_LOSSES)}")
    return tuple(GAN_LOSSES[name] for name in names)


def generator_loss(loss: GanLoss, v_p: Tensor, v_q: Tensor) -> Tensor:
    """What the generator minimises, from the critic's values on P's and Q's samples (reduced over the last axis)."""
    if loss.nonsaturating:
        # D = sigmoid(V) and the package's JS activation is g(v) = ½(log 2 - softplus(-v)) = ½(log 2 + log D), so
        # -log D(y) = log 2 - 2 g(V(y)): the non-saturating loss written with the same activation as the bound.
        return LOG_2 - 2 * F_DIVERGENCES[loss.divergence].activation(v_q).mean(-1)
    return lower_bound(loss.divergence, v_p, v_q)


def critic_losses(
    losses: Sequence[GanLoss],
    critic: Callable[[Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    eps: Tensor,
    penalty_weight: float,
) -> tuple[Tensor, Tensor]:
    """Each member's critic loss -bound + λ·penalty and its bound (both of shape (members,)).

    x, y: (members, N, d) samples of P and Q; member m is trained for losses[m]. The gradient norms at the
    interpolates are computed for the W1 members only (the double backward is the costliest part of a step), and
    each takes the penalty of its kind from them; the f-divergence members take none.
    """
    n = x.shape[1]
    v_p, v_q = critic(torch.cat((x, y), dim=1)).split(n, dim=1)
    bound = torch.stack([lower_bound(loss.divergence, v_p[m], v_q[m]) for m, loss in enumerate(losses)])
    penalised = [m for m, loss in enumerate(losses) if loss.penalty]
    if penalty_weight == 0 or not penalised:
        return -bound, bound
    index = torch.tensor(penalised, device=x.device)
    norms = gradient_norms(lambda z: critic(z, index), interpolate(x[index], y[index], eps))
    kinds = {"one-sided": one_sided_penalty(norms), "two-sided": two_sided_penalty(norms)}
    penalty = bound.new_zeros(len(losses)).index_put((index,), torch.stack(
        [kinds[losses[m].penalty][j] for j, m in enumerate(penalised)]
    ))
    return -bound + penalty_weight * penalty, bound


def generator_losses(losses: Sequence[GanLoss], v_p: Tensor, v_q: Tensor) -> Tensor:
    """`generator_loss` for every member: v_p, v_q of shape (members, N) -> (members,)."""
    return torch.stack([generator_loss(loss, v_p[m], v_q[m]) for m, loss in enumerate(losses)])


# ------------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class DynamicsConfig:
    family: str = "lines"  # lines | gaussian (see vaegan.divergences.families)
    losses: tuple[str, ...] = ("wasserstein", "hellinger", "js", "js-nonsaturating")
    theta0: float = 1.5
    sigma: float = 0.5  # standard deviation of the Gaussian family
    steps: int = 300  # θ steps
    critic_steps: int = 5  # critic steps before each θ step
    batch_size: int = 256  # samples from each of P and Q per step
    critic_lr: float = 2e-3
    # Critic Adam (and θ's with theta_optimizer="adam"). β1 = ½ as for WGAN-GP critics, so the W1 critic follows θ
    # without overshooting; β2 = 0.99 rather than 0.9 because with a short second-moment memory the discriminator
    # keeps sharpening between lines a hair apart, and its slope then kicks the non-saturating θ away from 0.
    adam_betas: tuple[float, float] = (0.5, 0.99)
    theta_optimizer: str = "sgd"  # plain SGD shows the raw gradient: θ moves by exactly lr·dD/dθ
    theta_lr: float = 0.05
    width: int = 64
    depth: int = 2
    activation: str = "relu"
    penalty_weight: float = 10.0  # λ of the W1 losses, as in WGAN-GP
    seed: int = 0
    heatmap_every: int = 20  # θ steps between critic snapshots (step 0 and the last one included)
    heatmap_size: int = 31  # grid points per axis

    def __post_init__(self) -> None:
        if check_family(self.family) not in FAMILIES:  # the others have no closed-form truth to follow θ with
            raise ConfigError(f"the shift generator trains on {' or '.join(FAMILIES)}, not {self.family!r}")
        check_losses(self.losses)
        if self.theta_optimizer not in THETA_OPTIMIZERS:
            choices = ", ".join(THETA_OPTIMIZERS)
            raise ConfigError(f"unknown θ optimizer {self.theta_optimizer!r}; choose from {choices}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        for name in ("steps", "critic_steps", "batch_size", "width", "depth", "heatmap_every", "heatmap_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not (self.critic_lr > 0 and self.theta_lr > 0 and self.sigma > 0 and self.penalty_weight >= 0):
            raise ConfigError("critic_lr, theta_lr and sigma must be > 0 and penalty_weight >= 0")
        if not math.isfinite(self.theta0):
            raise ConfigError("theta0 must be a finite number")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ConfigError("adam_betas must be two numbers in [0, 1)")
        # What a run allocates and records, against vaegan.limits, before anything is allocated.
        check_count("steps", self.steps, MAX_ITERS)
        check_count("critic_steps", self.critic_steps, MAX_CRITIC_STEPS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_seed(self.seed)
        members = len(self.losses)
        CriticConfig(members=members, width=self.width, depth=self.depth, activation=self.activation)
        check_activations("this run", members, max(2 * self.batch_size, min(self.heatmap_size**2, 4096)), self.width)
        recorded = members * (3 * (self.steps + 1) + (self.steps // self.heatmap_every + 2) * self.heatmap_size**2)
        if recorded > MAX_RECORDED_VALUES:
            raise ConfigError(f"this run would record {recorded:,} numbers, over the limit of {MAX_RECORDED_VALUES:,} "
                              "(vaegan.limits): fewer steps or a larger heatmap_every")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DynamicsConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})


# -------------------------------------------------------------------------------------------------- results


@dataclass
class DynamicsResult(JsonResult):
    """One run. Row t of every per-step list describes θ step t: theta[loss][t] is θ_t, estimates[loss][t] the
    bound of the critic trained (critic_steps more steps) at θ_t, on the batch of θ step t; grads[loss][t] the
    derivative of the generator loss in θ that step used (for the minimax losses it is dD̂/dθ); truth[loss][t]
    the exact divergence at θ_t. There are steps + 1 rows: the last one is measured after the last θ step and
    not followed by a step. heatmaps[loss][k][row][col] is the critic V at (grid_x[col], grid_y[row]) after θ step
    heatmap_steps[k], i.e. the critic of row heatmap_steps[k]."""

    config: DynamicsConfig
    theta: dict[str, list[float]]
    estimates: dict[str, list[float]]
    grads: dict[str, list[float]]
    truth: dict[str, list[float]]
    heatmap_steps: list[int]
    grid_x: list[float]
    grid_y: list[float]
    heatmaps: dict[str, list[list[list[float]]]]
    seconds: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    def final_theta(self) -> dict[str, float]:
        return {name: values[-1] for name, values in self.theta.items()}

    def summary_rows(self, losses: Sequence[str] | None = None) -> list[dict[str, float | str]]:
        """Where each loss (all, or `losses`) took θ: the table `vaegan divergences train-generator` prints and the
        "Training a generator" page shows."""
        return [
            {
                "loss": LOSS_TITLES[name],
                "final θ": round(self.theta[name][-1], 4),
                "|dℓ/dθ| at the end": float(f"{abs(self.grads[name][-1]):.3g}"),
                "critic's estimate": round(self.estimates[name][-1], 4),
                "truth D(θ)": round(self.truth[name][-1], 4),
            }
            for name in (self.config.losses if losses is None else losses)
        ]

    FORMAT: ClassVar[str] = DYNAMICS_FORMAT
    WHAT: ClassVar[str] = "dynamics run"

    def to_payload(self) -> dict[str, Any]:
        return {
            "family": self.config.family,
            "losses": list(self.config.losses),
            "steps": list(range(self.config.steps + 1)),
            "theta": round_significant_nested(self.theta, 6),
            "estimates": round_significant_nested(self.estimates, 5),
            "grads": round_significant_nested(self.grads, 4),
            "truth": round_significant_nested(self.truth, 6),
            "snapshots": {
                "heatmaps": {
                    "steps": self.heatmap_steps,
                    "x": round_significant_nested(self.grid_x, 6),
                    "y": round_significant_nested(self.grid_y, 6),
                    "critic": round_significant_nested(self.heatmaps, 3),
                },
            },
            "seconds": self.seconds,
            "device": self.device,
            "config": self.config.to_dict(),
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> DynamicsResult:
        heat = data["snapshots"]["heatmaps"]
        return cls(
            config=DynamicsConfig.from_dict(data["config"]),
            theta=data["theta"],
            estimates=data["estimates"],
            grads=data["grads"],
            truth=data["truth"],
            heatmap_steps=heat["steps"],
            grid_x=heat["x"],
            grid_y=heat["y"],
            heatmaps=heat["critic"],
            seconds=data.get("seconds", {}),
            device=data.get("device", ""),
        )


# ------------------------------------------------------------------------------------------------- training

def run_dynamics(
    config: DynamicsConfig,
    progress: ProgressCallback | None = None,  # (θ steps done, in total, the family)
    device: str | torch.device = "cpu",
    threads: int | None = 1,
) -> DynamicsResult:
    """Train θ under every loss of `config` (one batched run); see the module docstring. `threads` as in run_sweep."""
    device = torch.device(device)
    # autograd on whatever the caller's grad mode: the app's page runs switch it off (per thread)
    with intra_op_threads(threads if device.type == "cpu" else None), torch.enable_grad():
        return _run_dynamics(config, progress, device)


def _run_dynamics(config: DynamicsConfig, progress: ProgressCallback | None, device: torch.device) -> DynamicsResult:
    start = time.perf_counter()
    losses = check_losses(config.losses)
    members, n, family, sigma = len(losses), config.batch_size, config.family, config.sigma
    critic = CriticEnsemble(
        CriticConfig(members=members, width=config.width, depth=config.depth, activation=config.activation)
    )
    critic.reset_parameters(rng_stream(config.seed, "init"))
    critic.to(device)
    critic_opt = Adam(critic.parameters(), lr=config.critic_lr, betas=config.adam_betas)  # torch.optim.Adam, op for op
    theta = torch.full((members,), float(config.theta0), device=device, requires_grad=True)
    theta_opt = make_optimizer(config.theta_optimizer, [theta], config.theta_lr, config.adam_betas)
    zeros = torch.zeros(members, device=device)

    xs, ys = heatmap_grid(family, [config.theta0], config.heatmap_size, sigma)
    grid = torch.cartesian_prod(torch.tensor(ys), torch.tensor(xs)).flip(-1).float().to(device)  # row-major (y, x)
    grid = grid.expand(members, -1, -1)

    data_rng = rng_stream(config.seed, "data")

    def batch(at: Tensor) -> tuple[Tensor, Tensor]:
        # Base noise per batch, shared by all members; `points` shifts it to each member's θ, differentiably.
        x = points(family, zeros, noise(family, n, data_rng).to(device), sigma)
        return x, points(family, at, noise(family, n, data_rng).to(device), sigma)

    rows: list[tuple[list[float], list[float], list[float]]] = []  # (θ, estimate, grad) per step
    heatmap_steps: list[int] = []
    heatmaps: list[list[list[list[float]]]] = []  # [k][member][row][col]
    for step in range(config.steps + 1):
        for _ in range(config.critic_steps):
            x, y = batch(theta.detach())
            eps = torch.rand(n, 1, generator=data_rng).to(device)
            loss, _ = critic_losses(losses, critic, x, y, eps, config.penalty_weight)
            critic_opt.zero_grad()
            loss.sum().backward()  # a sum: each member's gradient is its own loss's gradient
            critic_opt.step()

        x, y = batch(theta)  # y = (θ, u): the critic's values at y carry the gradient to θ
        v_p, v_q = critic(torch.cat((x, y), dim=1)).split(n, dim=1)
        bound = torch.stack([lower_bound(loss.divergence, v_p[m], v_q[m]) for m, loss in enumerate(losses)])
        (grad,) = torch.autograd.grad(generator_losses(losses, v_p, v_q).sum(), theta)
        rows.append((theta.tolist(), bound.tolist(), grad.tolist()))
        broken = [loss.name for m, loss in enumerate(losses) if not math.isfinite(rows[-1][1][m] + rows[-1][2][m])]
        if broken:
            raise TrainingError(
                f"{', '.join(broken)}: the critic diverged at θ step {step}; lower critic_lr ({NO_CHECKPOINTS})"
            )
        if step % config.heatmap_every == 0 or step == config.steps:
            heatmap_steps.append(step)
            values = critic.evaluate(grid).reshape(members, config.heatmap_size, config.heatmap_size)
            heatmaps.append(values.tolist())
        if step == config.steps:
            break
        theta_opt.zero_grad()
        theta.grad = grad
        theta_opt.step()
        if progress is not None:
            progress(step + 1, config.steps, family)

    names = [loss.name for loss in losses]
    column = {name: m for m, name in enumerate(names)}
    theta_of = {name: [row[0][m] for row in rows] for name, m in column.items()}
    return DynamicsResult(
        config=config,
        theta=theta_of,
        estimates={name: [row[1][m] for row in rows] for name, m in column.items()},
        grads={name: [row[2][m] for row in rows] for name, m in column.items()},
        truth={
            loss.name: [exact_divergence(family, loss.divergence, t, sigma) for t in theta_of[loss.name]]
            for loss in losses
        },
        heatmap_steps=heatmap_steps,
        grid_x=xs,
        grid_y=ys,
        heatmaps={name: [frame[m] for frame in heatmaps] for name, m in column.items()},
        seconds={"train": time.perf_counter() - start},
        device=str(device),
    )


__all__ = [
    "DYNAMICS_FORMAT",
    "GAN_LOSSES",
    "DynamicsConfig",
    "DynamicsResult",
    "GanLoss",
    "critic_losses",
    "generator_loss",
    "generator_losses",
    "run_dynamics",
]
