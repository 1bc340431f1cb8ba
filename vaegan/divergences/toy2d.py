"""2-D toy GANs: an MLP generator from 2-D noise trained under each loss towards a target in the plane.

The shift generator (`dynamics.py`) has one parameter; here the generator is a network and the question is what
each loss does to a whole distribution: does it find every mode of a mixture, does it move at all when it starts
off the target's support? Targets: `8gaussians` (a ring), `25gaussians` (a grid), `swissroll`, `moons`, and
`lines`, P = (0, U[0,1]) of the parallel lines with a generator that starts as a blob centred at (θ₀, ½), so that
the supports start disjoint as in the shift example. Losses are those of `dynamics.GAN_LOSSES`: `js` (minimax
GAN), `js-nonsaturating`, `hellinger` (f-GAN), `wasserstein` (WGAN-GP, two-sided penalty) and
`wasserstein-onesided`. Both players use Adam; the critic takes `critic_steps` steps per generator step.

As in the shift example, every loss trains at once: one `CriticEnsemble` of critics and one of generators (the
same batched MLP with a 2-D output), member m for loss m, all members starting from the same weights and seeing
the same noise, so the runs differ only by their loss.

Every `frame_every` steps a frame records, per loss: generated samples (from a fixed noise batch), the critic on
a grid, the arrows -∂ℓ/∂y at the first samples (where the generator loss pushes each sample; ℓ is the per-sample
generator loss, so the arrows are the generator's gradient before it passes into the network's weights), the
critic's bound on the frame's samples, the exact empirical W1 between the frame's samples and a fixed target
sample of the same size (`exact_w1`), and for the mixtures the modes covered (see `modes_covered`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from vaegan.divergences.bounds import lower_bound
from vaegan.divergences.critic import ACTIVATIONS, CriticConfig, CriticEnsemble, check_activations
from vaegan.divergences.drawn import Drawing, DrawnTarget
from vaegan.divergences.dynamics import check_losses, critic_losses, generator_losses
from vaegan.divergences.engine import NO_CHECKPOINTS, ProgressCallback, check_finite_members, rng_stream
from vaegan.divergences.optim import Adam
from vaegan.divergences.rounding import round_significant, round_significant_nested
from vaegan.divergences.targets import (
    check_target,
    exact_w1,
    generator_offset,
    mode_centers,
    mode_quality,
    modes_covered,
    plot_box,
    sample_target,
)
from vaegan.errors import ConfigError, TrainingError
from vaegan.limits import (
    MAX_BATCH_SIZE,
    MAX_CRITIC_STEPS,
    MAX_EXACT_W1_POINTS,
    MAX_ITERS,
    MAX_RECORDED_VALUES,
    check_count,
    check_seed,
)
from vaegan.runtime import intra_op_threads
from vaegan.storage import JsonResult
from vaegan.vocabulary import DRAWN_TARGET, LOSS_TITLES, TOY_LOSSES  # torch-free, TOY_LOSSES re-exported here

Tensor = torch.Tensor
TOY2D_FORMAT = "vaegan-toy2d/1"

# -------------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Toy2dConfig:
    target: str = "8gaussians"
    losses: tuple[str, ...] = TOY_LOSSES
    steps: int = 500  # generator steps
    critic_steps: int = 5  # critic steps per generator step
    batch_size: int = 256
    generator_lr: float = 1e-3
    critic_lr: float = 1e-3
    adam_betas: tuple[float, float] = (0.5, 0.9)  # both players, as in WGAN-GP
    width: int = 96  # both networks: 2 -> width (× depth) -> 1 or 2
    depth: int = 2
    activation: str = "relu"
    # λ of the W1 losses: 0.1, not WGAN-GP's 10, as in its toy experiments (Gulrajani et al.'s gan_toy.py: a smaller λ
    # helps on toy tasks). With λ = 10 and this short training the two-sided critic lags and the generator's
    # samples swing back and forth across the target instead of settling.
    penalty_weight: float = 0.1
    seed: int = 0
    frame_every: int = 25
    frame_samples: int = 256  # generated samples per frame (also the size of both sets of the exact W1)
    frame_arrows: int = 48  # arrows at the first samples of each frame
    grid_size: int = 25  # critic grid points per axis
    drawing: str = ""  # with target DRAWN_TARGET: the drawing's code (drawn.Drawing.code); P is its P

    def __post_init__(self) -> None:
        if self.target == DRAWN_TARGET:
            Drawing.from_code(self.drawing)  # a one-line DataError for a bad code, before anything runs
        elif self.drawing:
            raise ConfigError(f"a drawing is only read by the target {DRAWN_TARGET!r}, not {self.target!r}")
        else:
            check_target(self.target)
        check_losses(self.losses)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        positive = ("steps", "critic_steps", "batch_size", "width", "depth", "frame_every", "frame_samples")
        for name in (*positive, "grid_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not 0 <= self.frame_arrows <= self.frame_samples:
            raise ConfigError("frame_arrows must be between 0 and frame_samples")
        if not (self.generator_lr > 0 and self.critic_lr > 0 and self.penalty_weight >= 0):
            raise ConfigError("the learning rates must be > 0 and penalty_weight >= 0")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ConfigError("adam_betas must be two numbers in [0, 1)")
        # What a run allocates and records, against vaegan.limits, before anything is allocated.
        check_count("steps", self.steps, MAX_ITERS)
        check_count("critic_steps", self.critic_steps, MAX_CRITIC_STEPS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("frame_samples", self.frame_samples, MAX_EXACT_W1_POINTS)  # the exact W1 is O(n^3)
        check_seed(self.seed)
        members = len(self.losses)
        for out_dim in (1, 2):  # the critics and the generators
            CriticConfig(members=members, width=self.width, depth=self.depth, activation=self.activation,
                         out_dim=out_dim)  # fmt: skip
        points = max(2 * self.batch_size, self.frame_samples * 2, min(self.grid_size**2, 4096))
        check_activations("this run", members, points, self.width)
        per_frame = 2 * self.frame_samples + self.grid_size**2 + 2 * self.frame_arrows + 4
        recorded = members * (self.steps // self.frame_every + 2) * per_frame
        if recorded > MAX_RECORDED_VALUES:
            raise ConfigError(
                f"this run would record {recorded:,} numbers in its frames, over the limit of "
                f"{MAX_RECORDED_VALUES:,} (vaegan.limits): a larger frame_every or fewer steps"
            )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not self.drawing:  # a built-in target's file stays what it was before drawings existed, byte for byte
            del data["drawing"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Toy2dConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})


# -------------------------------------------------------------------------------------------------- results


@dataclass
class Toy2dResult(JsonResult):
    """One run, per loss and frame k (after steps[k] generator steps): samples[loss][k][i] = (x, y) of generated
    sample i, critic[loss][k][row][col] = V at (grid_x[col], grid_y[row]), arrows[loss][k][i] = -∂ℓ/∂y at sample i
    (i < frame_arrows), estimates[loss][k] the critic's bound between target_samples and the frame's samples,
    w1[loss][k] their exact empirical W1, and for the mixtures modes[loss][k] (of mode_count) and quality[loss][k]
    (fraction of samples near a mode). w1_reference is the exact W1 between target_samples and a second target
    sample of the same size: about what a perfect generator scores, i.e. the scale of the sampling noise in w1. It
    is not a floor: a generator that puts its samples where this particular target sample is dense (a smoother
    or slightly collapsed copy of the target) can score below it."""

    config: Toy2dConfig
    steps: list[int]
    target_samples: list[list[float]]
    w1_reference: float
    grid_x: list[float]
    grid_y: list[float]
    samples: dict[str, list[list[list[float]]]]
    critic: dict[str, list[list[list[float]]]]
    arrows: dict[str, list[list[list[float]]]]
    estimates: dict[str, list[float]]
    w1: dict[str, list[float]]
    modes: dict[str, list[int]] = field(default_factory=dict)
    quality: dict[str, list[float]] = field(default_factory=dict)
    mode_count: int | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"

    def summary_rows(self, losses: Sequence[str] | None = None) -> list[dict[str, float | str]]:
        """Where each loss (all, or `losses`) took the generator: exact W1 to the target at the start and the end,
        and for the mixtures the modes covered at the end; the table the CLI prints and the page shows."""
        return [
            {
                "loss": LOSS_TITLES[name],
                "W1 at start": round(self.w1[name][0], 3),
                "W1 at the end": round(self.w1[name][-1], 3),
                **({f"modes (of {self.mode_count})": self.modes[name][-1]} if self.mode_count else {}),
            }
            for name in (self.config.losses if losses is None else losses)
        ]

    FORMAT: ClassVar[str] = TOY2D_FORMAT
    WHAT: ClassVar[str] = "2-D toy GAN run"

    def to_payload(self) -> dict[str, Any]:
        return {
            "target": self.config.target,
            "losses": list(self.config.losses),
            "steps": self.steps,
            "estimates": round_significant_nested(self.estimates, 5),
            "w1": round_significant_nested(self.w1, 5),
            "w1_reference": round_significant(self.w1_reference, 5),
            "modes": self.modes,
            "quality": round_significant_nested(self.quality, 4),
            "mode_count": self.mode_count,
            "frames": {
                "x": round_significant_nested(self.grid_x, 6),
                "y": round_significant_nested(self.grid_y, 6),
                "target": [[round(v, 3) for v in p] for p in self.target_samples],
                # Coordinates to 0.01, about a pixel on a plot of the ±3 box: the bulk of the file.
                "samples": {k: [[[round(v, 2) for v in p] for p in frame] for frame in frames]
                            for k, frames in self.samples.items()},
                "arrows": round_significant_nested(self.arrows, 3),
                "critic": round_significant_nested(self.critic, 3),
            },
            "seconds": self.seconds,
            "device": self.device,
            "config": self.config.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Toy2dResult:
        frames = data["frames"]
        return cls(
            config=Toy2dConfig.from_dict(data["config"]),
            steps=data["steps"],
            target_samples=frames["target"],
            w1_reference=data["w1_reference"],
            grid_x=frames["x"],
            grid_y=frames["y"],
            samples=frames["samples"],
            critic=frames["critic"],
            arrows=frames["arrows"],
            estimates=data["estimates"],
            w1=data["w1"],
            modes=data.get("modes", {}),
            quality=data.get("quality", {}),
            mode_count=data.get("mode_count"),
            seconds=data.get("seconds", {}),
            device=data.get("device", ""),
        )


# ------------------------------------------------------------------------------------------------- training

def run_toy2d(
    config: Toy2dConfig,
    progress: ProgressCallback | None = None,  # (generator steps done, in total, the target)
    device: str | torch.device = "cpu",
    threads: int | None = 1,
) -> Toy2dResult:
    """Train a generator under every loss of `config` towards its target (one batched run); see the module
    docstring for what the frames hold. `threads` as in run_sweep."""
    device = torch.device(device)
    # autograd on whatever the caller's grad mode: the app's page runs switch it off (per thread)
    with intra_op_threads(threads if device.type == "cpu" else None), torch.enable_grad():
        return _run_toy2d(config, progress, device)


def _run_toy2d(config: Toy2dConfig, progress: ProgressCallback | None, device: torch.device) -> Toy2dResult:
    start = time.perf_counter()
    losses = check_losses(config.losses)
    members, n, target = len(losses), config.batch_size, config.target
    net = dict(members=members, width=config.width, depth=config.depth, activation=config.activation)
    critic = CriticEnsemble(CriticConfig(**net))
    critic.reset_parameters(rng_stream(config.seed, "critic-init"))
    generator = CriticEnsemble(CriticConfig(**net, out_dim=2))
    generator.reset_parameters(rng_stream(config.seed, "generator-init"))
    critic.to(device)
    generator.to(device)
    # optim.Adam is torch's arithmetic without torch.optim's import of the compiler stack (see optim.py).
    critic_opt = Adam(critic.parameters(), lr=config.critic_lr, betas=config.adam_betas)
    generator_opt = Adam(generator.parameters(), lr=config.generator_lr, betas=config.adam_betas)
    # A drawn target: P is the drawing's P, the generator starts at Q's centre and P's regions are its modes.
    drawn = DrawnTarget(Drawing.from_code(config.drawing)) if target == DRAWN_TARGET else None
    sample = drawn.sample if drawn is not None else lambda count, rng: sample_target(target, count, rng)
    offset = (drawn.start() if drawn is not None else generator_offset(target)).to(device)

    def generate(z: Tensor) -> Tensor:
        return generator(z.to(device).expand(members, -1, -1)) + offset  # same noise for every member

    def target_batch(count: int, rng: torch.Generator) -> Tensor:
        return sample(count, rng).to(device).expand(members, -1, -1)

    # Fixed frame inputs, from their own stream: the frames of different runs show the same noise and target.
    frame_rng = rng_stream(config.seed, "frames")
    z_frame = torch.randn(config.frame_samples, 2, generator=frame_rng)
    x_frame = sample(config.frame_samples, frame_rng)
    w1_reference = exact_w1(x_frame, sample(config.frame_samples, frame_rng))
    x0, x1, y0, y1 = drawn.box() if drawn is not None else plot_box(target)
    xs, ys = np.linspace(x0, x1, config.grid_size).tolist(), np.linspace(y0, y1, config.grid_size).tolist()
    grid = torch.cartesian_prod(torch.tensor(ys), torch.tensor(xs)).flip(-1).float().to(device)  # row-major (y, x)
    grid = grid.expand(members, -1, -1)
    centers = mode_centers(target) if drawn is None else None

    names = [loss.name for loss in losses]
    record: dict[str, dict[str, list[Any]]] = {
        key: {name: [] for name in names}
        for key in ("samples", "critic", "arrows", "estimates", "w1", "modes", "quality")
    }

    def take_frame() -> None:
        with torch.no_grad():
            y = generate(z_frame)
            v_p, v_q = critic(torch.cat((x_frame.to(device).expand(members, -1, -1), y), dim=1)).split(
                config.frame_samples, dim=1
            )
            bound = [float(lower_bound(loss.divergence, v_p[m], v_q[m])) for m, loss in enumerate(losses)]
            heat = critic.evaluate(grid).reshape(members, config.grid_size, config.grid_size)
        # -∂ℓ_i/∂y_i: the mean over the k arrow samples scales each sample's gradient by 1/k, undone here. The P term
        # of the bound is held fixed (detached): it does not depend on the generator.
        k = config.frame_arrows
        at = y[:, :k].detach().requires_grad_(True)
        v_at = critic(at)
        (grad,) = torch.autograd.grad(generator_losses(losses, v_at.detach(), v_at).sum(), at)
        arrows = -k * grad
        for m, name in enumerate(names):
            record["samples"][name].append(y[m].tolist())
            record["critic"][name].append(heat[m].tolist())
            record["arrows"][name].append(arrows[m].tolist())
            record["estimates"][name].append(bound[m])
            record["w1"][name].append(exact_w1(y[m].cpu(), x_frame))
            if centers is not None:
                record["modes"][name].append(modes_covered(y[m].cpu(), centers))
                record["quality"][name].append(mode_quality(y[m].cpu(), centers))
            elif drawn is not None:
                record["modes"][name].append(drawn.regions_covered(y[m]))
                record["quality"][name].append(drawn.quality(y[m]))

    data_rng = rng_stream(config.seed, "data")
    critics = [f"{target}, {name}: the critic" for name in names]
    generators = [f"{target}, {name}: the generator" for name in names]
    frame_steps: list[int] = []
    for step in range(config.steps + 1):
        if step % config.frame_every == 0 or step == config.steps:
            frame_steps.append(step)
            take_frame()
            broken = [name for name in names if not math.isfinite(record["estimates"][name][-1])]
            if broken:
                raise TrainingError(f"{target}, {', '.join(broken)}: the critic diverged by step {step}; "
                                    f"lower the lr ({NO_CHECKPOINTS})")  # fmt: skip
        if step == config.steps:
            break
        for _ in range(config.critic_steps):
            x = target_batch(n, data_rng)
            with torch.no_grad():
                y = generate(torch.randn(n, 2, generator=data_rng))
            eps = torch.rand(n, 1, generator=data_rng).to(device)
            loss, _ = critic_losses(losses, critic, x, y, eps, config.penalty_weight)
            check_finite_members(loss, critics, f"generator step {step + 1} of {config.steps}")
            critic_opt.zero_grad()
            loss.sum().backward()  # a sum: each member's gradient is its own loss's gradient
            critic_opt.step()
        x = target_batch(n, data_rng)
        y = generate(torch.randn(n, 2, generator=data_rng))
        v_p, v_q = critic(torch.cat((x, y), dim=1)).split(n, dim=1)
        generator_opt.zero_grad()
        g_loss = generator_losses(losses, v_p, v_q)
        check_finite_members(g_loss, generators, f"generator step {step + 1} of {config.steps}")
        # inputs=: only the generator's weights receive gradients; the critic is a fixed function for this step.
        g_loss.sum().backward(inputs=list(generator.parameters()))
        generator_opt.step()
        if progress is not None:
            progress(step + 1, config.steps, target)

    return Toy2dResult(
        config=config,
        steps=frame_steps,
        target_samples=x_frame.tolist(),
        w1_reference=w1_reference,
        grid_x=xs,
        grid_y=ys,
        samples=record["samples"],
        critic=record["critic"],
        arrows=record["arrows"],
        estimates=record["estimates"],
        w1=record["w1"],
        modes=record["modes"] if centers is not None or drawn is not None else {},
        quality=record["quality"] if centers is not None or drawn is not None else {},
        mode_count=len(centers) if centers is not None else drawn.region_count if drawn is not None else None,
        seconds={"train": time.perf_counter() - start},
        device=str(device),
    )


__all__ = ["TOY2D_FORMAT", "TOY_LOSSES", "Toy2dConfig", "Toy2dResult", "run_toy2d"]
