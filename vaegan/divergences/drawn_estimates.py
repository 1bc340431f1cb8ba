"""Every divergence between a drawing's P and Q, estimated by batched critics, and a θ sweep of Q (their bounded
cache for an app's sessions: `drawn_cache`).

Estimates (`estimate_drawing`, `sweep_drawing`) train one `CriticEnsemble` whose members are every (divergence,
θ, seed): one forward and one backward per step for all of them, with the bounds, penalty, optimizer and schedule
of the θ sweep (`SweepConfig`'s defaults). The seeds are independent critics (their own initial weights and data);
their spread gives each estimate a 95% Student-t interval. The exact empirical W1 (`targets.exact_w1`) is computed
on samples of P and Q drawn with the same random numbers, so a drawing and its copy moved by d are exactly d apart.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from vaegan.divergences.bounds import DIVERGENCE_TITLES, WASSERSTEIN, check_divergence_name, lower_bound
from vaegan.divergences.critic import CriticConfig, CriticEnsemble, check_activations
from vaegan.divergences.drawn import BLUR, HALF_SIDE, Drawing
from vaegan.divergences.engine import ProgressCallback, check_finite_members, rng_stream
from vaegan.divergences.optim import make_optimizer
from vaegan.divergences.sweep_config import SweepConfig, theta_range
from vaegan.divergences.targets import exact_w1
from vaegan.errors import ConfigError
from vaegan.limits import (
    MAX_BATCH_SIZE,
    MAX_DRAWING_SEEDS,
    MAX_EXACT_W1_POINTS,
    MAX_ITERS,
    MAX_THETAS,
    check_count,
    check_seed,
)
from vaegan.lipschitz import gradient_norms, interpolate
from vaegan.runtime import intra_op_threads
from vaegan.vocabulary import SLIDE_DIRECTIONS

Tensor = torch.Tensor

# the divergences the lesson compares (reverse KL adds nothing a learner would see here)
DRAWN_DIVERGENCES = ("hellinger", "jensen-shannon", "total-variation", "kl", "pearson", "wasserstein")
SWEEP_DIVERGENCES = ("hellinger", "jensen-shannon", "wasserstein")  # the θ sweep's default: its time grows with each
# 97.5% quantiles of Student's t with 1..30 degrees of freedom: a 95% interval from a handful of seeds
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
          2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
          2.045, 2.042)  # fmt: skip


# ------------------------------------------------------------------------------------------- the estimates


@dataclass(frozen=True)
class DrawnConfig:
    """How the critics of a drawing are trained: the θ sweep's defaults (`SweepConfig`), `seeds` critics each."""

    divergences: tuple[str, ...] = DRAWN_DIVERGENCES
    seeds: int = 5  # independent critics per divergence (and per θ): the spread that gives the interval
    iters: int = SweepConfig.iters
    batch_size: int = SweepConfig.batch_size
    lr: float = SweepConfig.lr
    adam_betas: tuple[float, float] = SweepConfig.adam_betas
    width: int = SweepConfig.width
    depth: int = SweepConfig.depth
    penalty_weight: float = SweepConfig.penalty_weight  # one-sided, as the sweep's default
    penalty_every: int = SweepConfig.penalty_every
    eval_size: int = 4096  # fresh points per distribution and seed for the final estimate
    exact_points: int = 512  # points per distribution of the exact (Hungarian) W1
    heatmap_size: int = 41
    blur: float = BLUR
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.divergences or len(set(self.divergences)) != len(self.divergences):
            raise ConfigError("give each divergence at most once, and at least one")
        for name in self.divergences:
            check_divergence_name(name)
        check_count("seeds (critics per divergence)", self.seeds, MAX_DRAWING_SEEDS, minimum=2)
        check_count("iters", self.iters, MAX_ITERS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("eval_size", self.eval_size, MAX_BATCH_SIZE)
        check_count("exact_points", self.exact_points, MAX_EXACT_W1_POINTS)
        check_count("heatmap_size", self.heatmap_size, 201)
        check_count("penalty_every", self.penalty_every, MAX_ITERS)
        check_seed(self.seed)
        if not (self.lr > 0 and self.penalty_weight >= 0 and 0 <= self.blur <= 1 and self.width >= 1
                and self.depth >= 1):  # fmt: skip
            raise ConfigError("lr must be > 0, penalty_weight >= 0, blur in [0, 1], width and depth >= 1")


@dataclass
class Interval:
    """An estimate from several critics: their mean and a 95% Student-t interval, and each critic's value."""

    mean: float
    low: float
    high: float
    values: list[float]

    @classmethod
    def of(cls, values: Sequence[float]) -> Interval:
        values = [float(v) for v in values]
        mean = sum(values) / len(values)
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        half = _T_975[min(len(values) - 1, len(_T_975)) - 1] * spread / math.sqrt(len(values))
        return cls(mean, mean - half, mean + half, values)


@dataclass
class DrawnEstimates:
    """Every divergence between a drawing's P and Q, the exact empirical W1, and one trained critic per divergence
    on a grid: heatmaps[name][row][col] is V at (grid_x[col], grid_y[row])."""

    code: str
    config: DrawnConfig
    estimates: dict[str, Interval]
    exact_w1: float
    grid_x: list[float]
    grid_y: list[float]
    heatmaps: dict[str, list[list[float]]]
    p_points: list[list[float]]  # the exact W1's samples, to draw
    q_points: list[list[float]]
    seconds: float = 0.0

    def rows(self) -> list[dict[str, float | str]]:
        """One row per divergence: the mean estimate, its 95% interval and the number of critics; then the exact W1."""
        rows: list[dict[str, float | str]] = [
            {"divergence": DIVERGENCE_TITLES[name], "estimate": round(e.mean, 4),
             "95% interval": f"[{e.low:.4f}, {e.high:.4f}]", "critics": len(e.values)}
            for name, e in self.estimates.items()
        ]  # fmt: skip
        rows.append({"divergence": "exact empirical W1", "estimate": round(self.exact_w1, 4), "95% interval": "—",
                     "critics": 0})  # fmt: skip
        return rows


@dataclass
class DrawnSweep:
    """The estimates between P and Q moved by θ along `direction` (a unit vector) for every θ: estimates[name][i]
    for thetas[i], and the exact empirical W1 at every θ."""

    code: str
    config: DrawnConfig
    direction: str
    vector: list[float]
    thetas: list[float]
    estimates: dict[str, list[Interval]]
    exact_w1: list[float]
    seconds: float = 0.0


def _independent_init(critic: CriticEnsemble, seed_of_member: Tensor, seeds: int, rng: torch.Generator) -> None:
    """nn.Linear's default init drawn once per seed and given to every member of that seed: the seeds are
    independent critics, while the members of one seed (its divergences and θ) start alike."""
    with torch.no_grad():
        for weight, bias in zip(critic.weights, critic.biases, strict=True):
            bound = 1.0 / math.sqrt(weight.shape[1])
            one_w = torch.rand((seeds, *weight.shape[1:]), generator=rng) * 2 * bound - bound
            one_b = torch.rand((seeds, *bias.shape[1:]), generator=rng) * 2 * bound - bound
            weight.copy_(one_w[seed_of_member])
            bias.copy_(one_b[seed_of_member])


def _train(drawing: Drawing, config: DrawnConfig, shifts: Tensor, seeds: int, progress: ProgressCallback | None,
           heat_grid: Tensor | None = None) -> tuple[Tensor, Tensor | None]:  # fmt: skip
    """Train one critic per (divergence, shift, seed), all in one ensemble, and evaluate them on fresh points.

    Returns the final bounds (divergences, shifts, seeds) and, with `heat_grid` (G, 2), seed 0's critic of each
    divergence at the first shift on it (divergences, G). Member m = (d·T + t)·S + s."""
    names, t_count = config.divergences, len(shifts)
    members = len(names) * t_count * seeds
    n = config.batch_size
    check_activations("this drawing's critics", members, max(2 * n, min(config.eval_size, 2048) * 2), config.width)
    member = torch.arange(members)
    seed_of, shift_of = member % seeds, (member // seeds) % t_count
    critic = CriticEnsemble(CriticConfig(members=members, width=config.width, depth=config.depth))
    _independent_init(critic, seed_of, seeds, rng_stream(config.seed, "drawn-init"))
    optimizer = make_optimizer("adam", critic.parameters(), config.lr, config.adam_betas)
    data = [rng_stream(config.seed, f"drawn-data-{s}") for s in range(seeds)]
    w1_members = [i for i, name in enumerate(names) if name == WASSERSTEIN]
    w1_index = torch.cat([member[d * t_count * seeds : (d + 1) * t_count * seeds] for d in w1_members]) \
        if w1_members else None  # fmt: skip
    block = t_count * seeds

    def batch(count: int, rngs: Sequence[torch.Generator]) -> tuple[Tensor, Tensor]:
        """P's and Q's points (members, count, 2): per seed its own points, Q moved by each member's shift."""
        p = torch.stack([drawing.sample("p", count, g, config.blur) for g in rngs])
        q = torch.stack([drawing.sample("q", count, g, config.blur) for g in rngs])
        return p[seed_of], q[seed_of] + shifts[shift_of][:, None, :]

    def bounds(v_p: Tensor, v_q: Tensor) -> Tensor:
        return torch.cat([lower_bound(name, v_p[d * block : (d + 1) * block], v_q[d * block : (d + 1) * block])
                          for d, name in enumerate(names)])  # fmt: skip

    labels = [f"{names[int(m) // block]}, shift {int(shift_of[m])}, seed {int(seed_of[m])}" for m in member]
    with torch.enable_grad():  # grad mode is per thread, and the app's page runs switch it off
        for step in range(config.iters):
            x, y = batch(n, data)
            v_p, v_q = critic(torch.cat((x, y), dim=1)).split(n, dim=1)
            loss = -bounds(v_p, v_q)
            if w1_index is not None and config.penalty_weight > 0 and step % config.penalty_every == 0:
                eps = torch.rand(len(w1_index), n, 1, generator=data[0])
                norms = gradient_norms(lambda z: critic(z, w1_index), interpolate(x[w1_index], y[w1_index], eps))
                penalty = torch.relu(norms - 1).square().mean(-1)  # one-sided (Petzka et al.), as the sweep's default
                loss = loss.index_add(0, w1_index, config.penalty_weight * config.penalty_every * penalty)
            check_finite_members(loss, labels, f"step {step + 1} of {config.iters}")
            optimizer.zero_grad()
            loss.sum().backward()  # a sum: each member's gradient is its own loss's gradient
            optimizer.lr = config.lr * 0.5 * (1.0 + math.cos(math.pi * step / config.iters))  # cosine, as the sweep
            optimizer.step()
            if progress is not None:
                progress(step + 1, config.iters, "drawing")
    evaluation = [rng_stream(config.seed, f"drawn-eval-{s}") for s in range(seeds)]
    x, y = batch(config.eval_size, evaluation)
    final = torch.cat([bounds(v_p, v_q) for v_p, v_q in [critic.evaluate(torch.cat((x, y), dim=1), 2048)
                                                        .split(config.eval_size, dim=1)]])  # fmt: skip
    if not bool(torch.isfinite(final).all()):
        raise ConfigError("a critic's estimate is not finite: lower the learning rate")
    heat = None
    if heat_grid is not None:
        first = torch.tensor([d * block for d in range(len(names))])  # shift 0, seed 0 of each divergence
        heat = critic.evaluate(heat_grid.expand(len(first), -1, -1), members=first)
    return final.reshape(len(names), t_count, seeds), heat


def _exact_pair(drawing: Drawing, config: DrawnConfig, n: int) -> tuple[Tensor, Tensor]:
    """n points of P and of Q drawn with the same random numbers (common random numbers, as the sweep's families)."""
    return (drawing.sample("p", n, rng_stream(config.seed, "drawn-exact"), config.blur),
            drawing.sample("q", n, rng_stream(config.seed, "drawn-exact"), config.blur))  # fmt: skip


def estimate_drawing(drawing: Drawing, config: DrawnConfig | None = None, progress: ProgressCallback | None = None,
                     threads: int | None = 1) -> DrawnEstimates:  # fmt: skip
    """Every divergence of `config` between the drawing's P and Q (a 95% interval over `config.seeds` critics),
    the exact empirical W1, and each divergence's critic on a grid over the drawing. `threads` as in run_sweep."""
    config = config or DrawnConfig()
    start = time.perf_counter()
    axis = np.linspace(-HALF_SIDE, HALF_SIDE, config.heatmap_size)
    grid = torch.cartesian_prod(torch.tensor(axis[::-1].copy()), torch.tensor(axis)).flip(-1)
    grid = grid.to(torch.get_default_dtype())  # row-major, row 0 at the top (y = +HALF_SIDE) as on the canvas
    with intra_op_threads(threads):
        final, heat = _train(drawing, config, torch.zeros(1, 2), config.seeds, progress, grid)
        p, q = _exact_pair(drawing, config, config.exact_points)
        w1 = exact_w1(p, q)
    assert heat is not None
    size = config.heatmap_size
    return DrawnEstimates(
        code=drawing.code,
        config=config,
        estimates={name: Interval.of(final[d, 0].tolist()) for d, name in enumerate(config.divergences)},
        exact_w1=w1,
        grid_x=axis.tolist(),
        grid_y=axis[::-1].tolist(),
        heatmaps={name: heat[d].reshape(size, size).tolist() for d, name in enumerate(config.divergences)},
        p_points=p[:256].tolist(),
        q_points=q[:256].tolist(),
        seconds=time.perf_counter() - start,
    )


SWEEP_THETAS = theta_range(-2.0, 2.0, 21)
SWEEP_SEEDS = 3  # critics per (divergence, θ): 21 θ x 3 divergences x 3 seeds = 189 critics in one ensemble
SWEEP_ITERS = 100  # fewer steps than a single estimate: enough for the drawn shapes (bench/draw_divergences.py)
SWEEP_EXACT_POINTS = 256  # per distribution and θ (21 optimal assignments)
# Half the batch of a single estimate: 189 critics must train in a few seconds on two busy cores.
SWEEP_CONFIG = DrawnConfig(divergences=SWEEP_DIVERGENCES, seeds=SWEEP_SEEDS, iters=SWEEP_ITERS, batch_size=128,
                           eval_size=1024, exact_points=SWEEP_EXACT_POINTS)  # fmt: skip


def sweep_drawing(drawing: Drawing, direction: str = SLIDE_DIRECTIONS[0], thetas: Sequence[float] = SWEEP_THETAS,
                  config: DrawnConfig | None = None, progress: ProgressCallback | None = None,
                  threads: int | None = 1) -> DrawnSweep:  # fmt: skip
    """`estimate_drawing` between P and Q moved by every θ along `direction` (SLIDE_DIRECTIONS), all θ in one
    ensemble: each divergence and the exact empirical W1 as functions of θ. `config.seeds` critics per θ."""
    config = config or SWEEP_CONFIG
    check_count("the number of θ values", len(thetas), MAX_THETAS)
    if not all(math.isfinite(t) for t in thetas):
        raise ConfigError("θ values must be finite numbers")
    start = time.perf_counter()
    vector = drawing.direction(direction)
    shifts = torch.tensor(list(thetas), dtype=torch.get_default_dtype())[:, None] * vector
    with intra_op_threads(threads):
        final, _ = _train(drawing, config, shifts, config.seeds, progress)
        p, q = _exact_pair(drawing, config, config.exact_points)
        w1 = [exact_w1(p, q + shift) for shift in shifts]
    return DrawnSweep(
        code=drawing.code,
        config=config,
        direction=direction,
        vector=vector.tolist(),
        thetas=[float(t) for t in thetas],
        estimates={name: [Interval.of(final[d, t].tolist()) for t in range(len(thetas))]
                   for d, name in enumerate(config.divergences)},  # fmt: skip
        exact_w1=w1,
        seconds=time.perf_counter() - start,
    )


__all__ = [
    "DRAWN_DIVERGENCES",
    "SWEEP_CONFIG",
    "SWEEP_DIVERGENCES",
    "SWEEP_THETAS",
    "DrawnConfig",
    "DrawnEstimates",
    "DrawnSweep",
    "Interval",
    "estimate_drawing",
    "sweep_drawing",
]
