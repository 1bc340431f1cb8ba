"""The WGAN-GP training loop: n_critic critic steps per generator step, an EMA of the generator, sample grids and
periodic full-state checkpoints.

Resume is exact. Everything that decides the next step is either in the state file (generator, critic, EMA,
both optimizers, loss scalers, the global RNG that draws z and the interpolation coefficients, the iteration) or
a pure function of (seed, position): the order of real images is a fresh permutation per epoch seeded by
(seed, epoch), so the data stream needs no state at all. A run killed at any moment and resumed from its last
checkpoint therefore ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vaegan.checkpoint import load_state, rng_state, save_state, set_rng_state
from vaegan.data import ImageSet
from vaegan.errors import ConfigError, TrainingError
from vaegan.images import save_png
from vaegan.wgan import (
    Critic,
    Generator,
    StepOptions,
    WGANConfig,
    critic_step,
    ema_decay,
    generator_step,
    update_ema,
)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
STATE_FILE = "state.safetensors"
# Fields that only say when to stop or how often to write files: a resumed run may change them freely.
NON_NUMERIC_FIELDS = ("iters", "checkpoint_every", "sample_every", "log_every")


@dataclass(frozen=True)
class WGANTrainConfig:
    iters: int = 100_000  # generator iterations
    batch_size: int = 64
    n_critic: int = 5
    gp_weight: float = 10.0
    gp_every: int = 1  # lazy regularization: the penalty on every k-th critic step, weighted k * gp_weight
    lr: float = 1e-4
    critic_lr: float | None = None  # None: the same as lr (TTUR when different)
    lr_decay: str = "none"  # "linear": both learning rates fall linearly to 0 at `iters`
    beta1: float = 0.5
    beta2: float = 0.9
    ema_decay: float = 0.999
    seed: int = 0
    precision: str = "fp32"
    channels_last: bool = False
    fused_critic_batch: bool = True
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 10

    def __post_init__(self) -> None:
        if self.iters < 1 or self.batch_size < 1 or self.n_critic < 1 or self.gp_every < 1:
            raise ConfigError("iters, batch_size, n_critic and gp_every must be >= 1")
        if self.critic_lr is not None and not self.critic_lr > 0:
            raise ConfigError("critic_lr must be > 0")
        if self.lr_decay not in ("none", "linear"):
            raise ConfigError(f"unknown lr_decay {self.lr_decay!r}; choose none or linear")
        if not self.lr > 0 or self.gp_weight < 0 or not 0 <= self.ema_decay < 1:
            raise ConfigError("need lr > 0, gp >= 0 and 0 <= ema_decay < 1")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError("Adam betas must lie in [0, 1)")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if min(self.checkpoint_every, self.sample_every, self.log_every) < 1:
            raise ConfigError("checkpoint_every, sample_every and log_every must be >= 1")

    def step_options(self) -> StepOptions:
        return StepOptions(
            gp_weight=self.gp_weight,
            autocast_dtype=PRECISIONS[self.precision],
            fused_critic_batch=self.fused_critic_batch,
            channels_last=self.channels_last,
        )

    def numerics(self) -> dict:
        """The fields that change the numbers a run computes (what a resumed run must match)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in NON_NUMERIC_FIELDS}


@dataclass
class StepReport:
    """What the progress bar shows after each generator iteration (losses refreshed every log_every steps)."""

    iteration: int
    total: int
    critic_loss: float
    wasserstein: float
    penalty: float
    generator_loss: float
    iters_per_second: float


@dataclass
class WGANResult:
    generator: Generator
    critic: Critic
    ema: Generator  # the exported, sampled-from model (eval mode)
    iteration: int
    seconds: float  # training wall time, summed over the processes of a resumed run
    history: list[dict] = field(default_factory=list)  # one entry per log point


StepCallback = Callable[[StepReport], None]
CheckpointCallback = Callable[[int, Path], None]


def make_adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:  # noqa: ANN001
    # fused Adam: one kernel per update instead of a handful of ops per tensor; older builds fall back.
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


class RealBatches:
    """Batch k of the real-image stream, as a pure function of (seed, k): epoch e uses a permutation seeded by
    (seed, e) and drops its last incomplete batch."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int) -> None:
        if images.shape[0] < batch_size:
            raise ConfigError(f"the data has {images.shape[0]} images, fewer than one batch of {batch_size}")
        self.images, self.batch_size, self.seed = images, batch_size, seed
        self.per_epoch = images.shape[0] // batch_size
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.int64)

    def __call__(self, k: int) -> torch.Tensor:
        epoch, position = divmod(k, self.per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(self.images.shape[0], generator=generator)
        rows = self._order[position * self.batch_size : (position + 1) * self.batch_size]
        return self.images[rows.to(self.images.device)]


def preview_latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """The fixed z of the sample grids, from a private generator (the training RNG is not touched)."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed + 4242))


def train_wgan(
    model_config: WGANConfig,
    data: ImageSet,
    train_config: WGANTrainConfig,
    *,
    device: torch.device | str = "cpu",
    run_dir: str | Path | None = None,
    resume: bool = False,
    on_step: StepCallback | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> WGANResult:
    """Train a WGAN-GP on `data.images`; see the module docstring for what makes resume exact.

    With a `run_dir`, the full state is written atomically to run_dir/state.safetensors every `checkpoint_every`
    iterations and at the end, and EMA sample grids to run_dir/samples/iter_XXXXXX.png every `sample_every`.
    """
    device = torch.device(device)
    cfg = train_config
    options = cfg.step_options()
    torch.manual_seed(cfg.seed)
    generator = Generator(model_config).to(device=device, memory_format=options.memory_format)
    critic = Critic(model_config).to(device=device, memory_format=options.memory_format)
    ema = copy.deepcopy(generator).requires_grad_(False)
    betas = (cfg.beta1, cfg.beta2)
    opt_g = make_adam(generator.parameters(), cfg.lr, betas)
    critic_lr = cfg.lr if cfg.critic_lr is None else cfg.critic_lr
    opt_c = make_adam(critic.parameters(), critic_lr, betas)
    use_scaler = cfg.precision == "fp16"
    scaler_g = torch.amp.GradScaler(device.type, enabled=use_scaler)
    scaler_c = torch.amp.GradScaler(device.type, enabled=use_scaler)
    run_dir = Path(run_dir) if run_dir is not None else None
    state_path = run_dir / STATE_FILE if run_dir is not None else None
    start, history = 0, []
    seconds_before = 0.0  # training time of the processes before a resume, so reported times are totals

    if resume and state_path is not None and state_path.exists():
        state = load_state(state_path)
        if state["model_config"] != dataclasses.asdict(model_config) or state["numerics"] != cfg.numerics():
            raise TrainingError(f"{state_path} was written by a run with other settings; drop --resume or match them")
        if state["data"] != [data.name, int(data.images.shape[0])]:
            raise TrainingError(f"{state_path} was trained on {state['data'][0]!r}, not {data.name!r}")
        generator.load_state_dict(state["generator"])
        critic.load_state_dict(state["critic"])
        ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_c.load_state_dict(state["opt_c"])
        scaler_g.load_state_dict(state["scaler_g"])
        scaler_c.load_state_dict(state["scaler_c"])
        set_rng_state(state["rng"])
        start, history = int(state["iteration"]), list(state["history"])
        seconds_before = float(state.get("seconds", history[-1]["seconds"] if history else 0.0))

    def save(iteration: int) -> None:
        if state_path is None:
            return
        save_state(
            state_path,
            {
                "generator": generator.state_dict(),
                "critic": critic.state_dict(),
                "ema": ema.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_c": opt_c.state_dict(),
                "scaler_g": scaler_g.state_dict(),
                "scaler_c": scaler_c.state_dict(),
                "rng": rng_state(),
                "iteration": iteration,
                "history": history,
                "model_config": dataclasses.asdict(model_config),
                "numerics": cfg.numerics(),
                "data": [data.name, int(data.images.shape[0])],
                "seconds": seconds_before + time.perf_counter() - started,
            },
        )
        if on_checkpoint is not None:
            on_checkpoint(iteration, state_path)

    def write_samples(iteration: int) -> None:
        if run_dir is None:
            return
        ema.eval()
        with torch.no_grad():
            images = ema(preview_latents(64, model_config.latent_dim, cfg.seed).to(device))
        save_png(run_dir / "samples" / f"iter_{iteration:06d}.png", images.float().cpu(), nrow=8)

    images = data.images.to(device).contiguous(memory_format=options.memory_format)
    real_batches = RealBatches(images, cfg.batch_size, cfg.seed)
    generator.train()
    critic.train()
    started = time.perf_counter()
    window_start, window_iters = started, 0
    report = StepReport(start, cfg.iters, math.nan, math.nan, math.nan, math.nan, 0.0)
    last_penalty = torch.full((), math.nan)
    for iteration in range(start, cfg.iters):
        if cfg.lr_decay == "linear":
            scale = 1.0 - iteration / cfg.iters
            for group in opt_g.param_groups:
                group["lr"] = cfg.lr * scale
            for group in opt_c.param_groups:
                group["lr"] = critic_lr * scale
        for k in range(cfg.n_critic):
            step = iteration * cfg.n_critic + k
            real = real_batches(step).contiguous(memory_format=options.memory_format)
            weight = cfg.gp_weight * cfg.gp_every if step % cfg.gp_every == 0 else 0.0
            stats = critic_step(generator, critic, opt_c, real, options, scaler_c if use_scaler else None, weight)
            if weight > 0:
                last_penalty = stats.penalty
        g_loss = generator_step(generator, critic, opt_g, cfg.batch_size, device, options,
                                scaler_g if use_scaler else None)  # fmt: skip
        update_ema(ema, generator, ema_decay(iteration, cfg.ema_decay))
        done = iteration + 1
        window_iters += 1
        if done % cfg.log_every == 0 or done == cfg.iters:
            now = time.perf_counter()
            values = [stats.loss.item(), stats.wasserstein.item(), last_penalty.item(), g_loss.item()]
            if not all(math.isfinite(v) for v in values):
                raise TrainingError(
                    f"losses became {values} at iteration {done}; try a lower --lr "
                    f"(the last good state is in {state_path or 'no state file'})"
                )
            speed = window_iters / max(now - window_start, 1e-9)
            window_start, window_iters = now, 0
            report = StepReport(done, cfg.iters, *values, iters_per_second=speed)
            history.append({"iteration": done, "critic_loss": values[0], "wasserstein": values[1],
                            "penalty": values[2], "generator_loss": values[3],
                            "seconds": seconds_before + now - started})  # fmt: skip
        else:
            report = dataclasses.replace(report, iteration=done)
        if on_step is not None:
            on_step(report)
        if done % cfg.sample_every == 0 or done == cfg.iters:
            write_samples(done)
        if done % cfg.checkpoint_every == 0 or done == cfg.iters:
            save(done)
    if start >= cfg.iters:
        write_samples(start)
    ema.eval()
    seconds = seconds_before + time.perf_counter() - started
    return WGANResult(generator.eval(), critic.eval(), ema, max(start, cfg.iters), seconds, history)
