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
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaegan.allocator import keep_freed_memory
from vaegan.divergences.bounds import lower_bound
from vaegan.divergences.critic import ACTIVATIONS, CriticConfig, CriticEnsemble, check_activations
from vaegan.divergences.dynamics import (
    DYNAMICS_FORMAT,
    DynamicsConfig,
    DynamicsResult,
    check_losses,
    critic_losses,
    generator_losses,
    run_dynamics,
)
from vaegan.divergences.families import FAMILIES
from vaegan.divergences.optim import Adam
from vaegan.divergences.rounding import round_significant, round_significant_nested
from vaegan.divergences.sweep import (
    NO_CHECKPOINTS,
    ProgressCallback,
    _with_grad,
    check_finite_members,
    rng_stream,
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
from vaegan.vocabulary import GENERATORS, TARGETS, TOY_LOSSES  # torch-free lists, re-exported here

Tensor = torch.Tensor
TOY2D_FORMAT = "vaegan-toy2d/1"

# ------------------------------------------------------------------------------------------------- targets

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
    # Imported here, not at the top: scipy.optimize costs half a second, and `python cli.py compare` (which
    # imports this package) never needs it.
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

    def __post_init__(self) -> None:
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
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Toy2dConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})


# -------------------------------------------------------------------------------------------------- results


@dataclass
class Toy2dResult:
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

    def to_json(self) -> str:
        payload = {
            "format": TOY2D_FORMAT,
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
        }
        return json.dumps(payload, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Toy2dResult:
        try:
            data = json.loads(text)
            if data.get("format") != TOY2D_FORMAT:
                raise ConfigError(f"not a 2-D toy GAN run (format {data.get('format')!r}, expected {TOY2D_FORMAT!r})")
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
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"not a valid 2-D toy GAN JSON: {exc}") from exc

    def save(self, path: str | Path) -> Path:
        from vaegan.checkpoint import atomic_write_bytes

        atomic_write_bytes(path, self.to_json().encode())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Toy2dResult:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no 2-D toy GAN result at {path}")
        return cls.from_json(path.read_text())


# ------------------------------------------------------------------------------------------------- training

def run_toy2d(
    config: Toy2dConfig,
    progress: ProgressCallback | None = None,  # (generator steps done, in total, the target)
    device: str | torch.device = "cpu",
    threads: int | None = 1,
) -> Toy2dResult:
    """Train a generator under every loss of `config` towards its target (one batched run); see the module
    docstring for what the frames hold. `threads` as in run_sweep."""
    if threads is None or torch.device(device).type != "cpu":
        return _with_grad(_run_toy2d, config, progress, torch.device(device))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _with_grad(_run_toy2d, config, progress, torch.device(device))
    finally:
        torch.set_num_threads(previous)


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
    offset = generator_offset(target).to(device)

    def generate(z: Tensor) -> Tensor:
        return generator(z.to(device).expand(members, -1, -1)) + offset  # same noise for every member

    def target_batch(count: int, rng: torch.Generator) -> Tensor:
        return sample_target(target, count, rng).to(device).expand(members, -1, -1)

    # Fixed frame inputs, from their own stream: the frames of different runs show the same noise and target.
    frame_rng = rng_stream(config.seed, "frames")
    z_frame = torch.randn(config.frame_samples, 2, generator=frame_rng)
    x_frame = sample_target(target, config.frame_samples, frame_rng)
    w1_reference = exact_w1(x_frame, sample_target(target, config.frame_samples, frame_rng))
    x0, x1, y0, y1 = plot_box(target)
    xs, ys = np.linspace(x0, x1, config.grid_size).tolist(), np.linspace(y0, y1, config.grid_size).tolist()
    grid = torch.cartesian_prod(torch.tensor(ys), torch.tensor(xs)).flip(-1).float().to(device)  # row-major (y, x)
    grid = grid.expand(members, -1, -1)
    centers = mode_centers(target)

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
        modes=record["modes"] if centers is not None else {},
        quality=record["quality"] if centers is not None else {},
        mode_count=None if centers is None else len(centers),
        seconds={"train": time.perf_counter() - start},
        device=str(device),
    )


def default_configs() -> list[DynamicsConfig | Toy2dConfig]:
    """Every run of the app's precomputation: each 2-D target, then the shift generator on each family."""
    return [Toy2dConfig(target=target) for target in TARGETS] + [DynamicsConfig(family=f) for f in FAMILIES]


def _where(config: DynamicsConfig | Toy2dConfig) -> tuple[str, str, str]:
    """(group of the result, name in it, what the progress calls the run)."""
    if isinstance(config, Toy2dConfig):
        return "toy2d", config.target, config.target
    return "dynamics", config.family, f"shift ({config.family})"


def run_all_defaults(
    progress: ProgressCallback | None = None, device: str | torch.device = "cpu", workers: int = 1
) -> dict[str, Any]:
    """The precomputation the app shows (`default_configs`): every target under every loss with the default
    settings, plus the shift generator on both families. Returns {"toy2d": {target: Toy2dResult}, "dynamics":
    {family: DynamicsResult}}. `progress` gets (generator steps done, in total, what is training), counted over the
    whole precomputation: after every step with one worker, after every finished run with more.

    `workers` > 1 trains that many runs at once in fresh (spawned) processes of one torch thread each. The runs are
    independent and each is seeded by its config, so the results are those of one worker; on a CPU with idle cores
    this divides the wall time, because each run is too small to keep more than one core busy."""
    if workers < 1:
        raise ConfigError("workers must be >= 1")
    configs = default_configs()
    total = sum(config.steps for config in configs)
    results: dict[int, DynamicsResult | Toy2dResult] = {}
    done = 0
    if workers == 1 or torch.device(device).type != "cpu":
        for i, config in enumerate(configs):
            label = _where(config)[2]

            def report(steps_done: int, _total: int, _what: str, base: int = done, label: str = label) -> None:
                if progress is not None:
                    progress(base + steps_done, total, label)

            results[i] = train_generator(config, report, device)
            done += config.steps
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: a forked child of a process that has run OpenMP work can hang in its first parallel op
        context = multiprocessing.get_context("spawn")
        # each worker keeps its freed memory as the CLI's own process does (vaegan.allocator says why)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(configs)), mp_context=context, initializer=keep_freed_memory
        ) as pool:
            # the longest runs first, so that no worker is left alone with a long one at the end
            order = sorted(range(len(configs)), key=lambda i: -configs[i].steps)
            # train_generator is module level: the spawned workers import it
            futures = {pool.submit(train_generator, configs[i], None, str(device)): i for i in order}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done += configs[i].steps
                if progress is not None:
                    progress(done, total, _where(configs[i])[2])
    out: dict[str, Any] = {"toy2d": {}, "dynamics": {}}
    for i, config in enumerate(configs):  # the order of default_configs, however the runs finished
        group, name, _ = _where(config)
        out[group][name] = results[i]
    return out


# ------------------------------------------------------------------------------------ what the front-ends call

GeneratorConfig = DynamicsConfig | Toy2dConfig
GeneratorRun = DynamicsResult | Toy2dResult


def generator_config(
    generator: str,
    target: str,
    *,
    losses: Sequence[str] | None = None,
    theta_optimizer: str | None = None,
    steps: int | None = None,
    seed: int = 0,
) -> GeneratorConfig:
    """One run's config from a front-end's choices (None keeps the default): `generator` "shift" (the one-parameter
    Q_θ of `dynamics`, on lines | gaussian) or "mlp" (this module's 2-D toy GAN, on any of TARGETS)."""
    settings: dict[str, Any] = {"seed": seed}
    if losses is not None:
        settings["losses"] = tuple(losses)
    if steps is not None:
        settings["steps"] = steps
    if generator == "shift":
        if target not in FAMILIES:
            raise ConfigError(f"the shift generator trains on {' or '.join(FAMILIES)}, not {target!r} (use mlp)")
        if theta_optimizer is not None:
            settings["theta_optimizer"] = theta_optimizer
        return DynamicsConfig(family=target, **settings)
    if generator == "mlp":
        if theta_optimizer is not None:
            raise ConfigError("the θ optimizer is the shift generator's; the MLP generator always trains with Adam")
        return Toy2dConfig(target=target, **settings)
    raise ConfigError(f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}")


def train_generator(
    config: GeneratorConfig, progress: ProgressCallback | None = None, device: str | torch.device = "cpu"
) -> GeneratorRun:
    """run_dynamics or run_toy2d, whichever the config is for."""
    if isinstance(config, DynamicsConfig):
        return run_dynamics(config, progress, device)
    return run_toy2d(config, progress, device)


def dynamics_filename(generator: str, target: str, theta_optimizer: str = "sgd") -> str:
    """The file name under results/ of one run with default settings: `dynamics_<target>.json` for the MLP
    generator, `dynamics_shift_<family>[_adam].json` for the shift generator (SGD on θ unless _adam)."""
    if generator == "mlp":
        return f"dynamics_{check_target(target)}.json"
    if generator == "shift":
        if target not in FAMILIES:
            raise ConfigError(f"the shift generator trains on {' or '.join(FAMILIES)}, not {target!r} (use mlp)")
        suffix = "" if theta_optimizer == "sgd" else f"_{theta_optimizer}"
        return f"dynamics_shift_{target}{suffix}.json"
    raise ConfigError(f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}")


def load_generator_run(path: str | Path) -> GeneratorRun:
    """A saved DynamicsResult or Toy2dResult, whichever the file holds (one-line ConfigError otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no generator run at {path}")
    text = path.read_text()
    try:
        kind = json.loads(text).get("format")
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a generator run: {exc}") from exc
    if kind == DYNAMICS_FORMAT:
        return DynamicsResult.from_json(text)
    if kind == TOY2D_FORMAT:
        return Toy2dResult.from_json(text)
    raise ConfigError(f"{path} is not a generator run (format {kind!r})")


def write_all_defaults(
    folder: str | Path, progress: ProgressCallback | None = None, device: str | torch.device = "cpu", workers: int = 1
) -> dict[Path, GeneratorRun]:
    """`run_all_defaults`, each run saved under `folder` by `dynamics_filename`: what `python cli.py dynamics
    --all` calls to make the shipped results/. Returns {written path: run}."""
    runs = run_all_defaults(progress, device, workers)
    written: dict[Path, GeneratorRun] = {}
    for generator, group in (("mlp", runs["toy2d"]), ("shift", runs["dynamics"])):
        for target, run in group.items():
            written[run.save(Path(folder) / dynamics_filename(generator, target))] = run
    return written


__all__ = [
    "GENERATORS",
    "MODE_RADIUS",
    "MODE_SHARE",
    "TARGETS",
    "TOY2D_FORMAT",
    "TOY_LOSSES",
    "Toy2dConfig",
    "Toy2dResult",
    "default_configs",
    "dynamics_filename",
    "exact_w1",
    "generator_config",
    "load_generator_run",
    "mode_centers",
    "mode_quality",
    "modes_covered",
    "run_all_defaults",
    "run_toy2d",
    "sample_target",
    "train_generator",
    "write_all_defaults",
]
