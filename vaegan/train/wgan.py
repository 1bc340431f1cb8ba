"""The WGAN-GP training loop: n_critic critic steps per generator step, an EMA of the generator, sample grids,
periodic full-state checkpoints and an optional wall-clock budget.

(Over 400 lines because the loop, its two recipes and its time budget share one state: each is small, and the
resume rule below needs all of them in view.)

Resume is exact. Everything that decides the next step is either in the state file (generator, critic, EMA,
both optimizers, loss scalers, the global RNG that draws z and the interpolation coefficients, the iteration, the
iteration count a time budget chose) or a pure function of (seed, position): the order of real images is a fresh
permutation per epoch seeded by (seed, epoch), so the data stream needs no state at all. A run killed at any moment
and resumed from its last checkpoint therefore ends with the same weights as one that never stopped.

Time budget: with `time_budget` seconds the loop measures its own speed over the first `calibration_iters`
iterations, fixes the iteration count that fits the budget, stores it in the state and decays the learning rates
linearly to zero at that count, so the run ends on time with its smallest steps last. At every checkpoint it
measures again and corrects the count (the machine may have got busier or freer); the count in force is part of
the state, so a resumed run goes on with it.

Under torchrun the loop is data-parallel (`vaegan.distributed`): each rank trains on its shard of every global
batch with its rows of the global batch's noise, the critic and the generator are wrapped in
DistributedDataParallel, and rank 0 writes the state and the samples. The generator's BatchNorm uses each rank's
own shard statistics unless `sync_bn` (SyncBatchNorm, CUDA only).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vaegan import distributed
from vaegan.augment import check_augmentation
from vaegan.checkpoint import load_state, save_state
from vaegan.data import ImageSet
from vaegan.errors import ConfigError
from vaegan.images import save_png
from vaegan.limits import (
    MAX_BATCH_SIZE,
    MAX_CRITIC_STEPS,
    MAX_ITERS,
    MAX_TIME_BUDGET,
    check_count,
    check_seed,
)
from vaegan.timeline import TIMELINE_IMAGES, TimelineRecorder, TimelineScorer
from vaegan.train.common import (
    ITERATIONS,
    Progress,
    ProgressCallback,
    TrainResult,
    check_finite,
    check_finite_weights,
    check_resume,
    load_optimizer_state,
    make_adam,
    numerics_of,
    restoring,
    rng_state,
    run_identity,
    set_rng_state,
)
from vaegan.vocabulary import LR_DECAYS  # torch-free list (vaegan.vocabulary), re-exported here
from vaegan.wgan import (
    Critic,
    Generator,
    StepOptions,
    WGANConfig,
    critic_step,
    ema_decay,
    generator_step,
    joint_step,
    lazy_penalty_weight,
    top_k_share,
    update_ema,
)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
STATE_FILE = "state.safetensors"


@dataclass(frozen=True)
class WGANTrainConfig:
    iters: int = 100_000  # generator iterations (the most a time budget may choose)
    batch_size: int = 64
    n_critic: int = 5
    gp_weight: float = 10.0
    gp_every: int = 1  # lazy regularization: the penalty on every k-th critic step, weighted k * gp_weight
    lr: float = 1e-4
    critic_lr: float | None = None  # None: the same as lr (two time-scale update rule when different)
    beta1: float = 0.5
    beta2: float = 0.9
    lr_decay: str = "none"  # "linear": both learning rates fall linearly to 0 at the last iteration
    warmup_iters: int = 0  # both learning rates rise linearly from 0 over this many iterations (0: no warm-up)
    ema_decay: float = 0.999
    top_k: float = 1.0  # top-k training: the smallest share of fakes the generator step keeps (1.0: all, off)
    simultaneous: bool = False  # both players step from one pass (vaegan.wgan.joint_step); needs n_critic 1
    time_budget: float = 0.0  # seconds of training; 0 = run `iters` iterations
    calibration_iters: int = 20  # iterations timed before a budget fixes the iteration count
    seed: int = 0
    precision: str = "fp32"
    channels_last: bool = False
    fused_critic_batch: bool = True
    augment: str = "none"  # DiffAugment policy for the critic's inputs (vaegan.augment), "none" to see them as they are
    sync_bn: bool = False  # under torchrun: the generator's BatchNorm uses global-batch statistics (CUDA only)
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 10
    timeline_every: int = 500  # EMA images of 16 fixed z (+ metrics with a scorer) to run_dir/timeline; 0 = none

    def __post_init__(self) -> None:
        if min(self.iters, self.batch_size, self.n_critic, self.gp_every, self.calibration_iters) < 1:
            raise ConfigError("iters, batch_size, n_critic, gp_every and calibration_iters must be >= 1")
        if not self.lr > 0 or self.gp_weight < 0 or not 0 <= self.ema_decay < 1:
            raise ConfigError("need lr > 0, gp >= 0 and 0 <= ema_decay < 1")
        if not 0 < self.top_k <= 1:
            raise ConfigError(f"top_k is the share of fakes kept: it must lie in (0, 1], got {self.top_k}")
        if self.critic_lr is not None and not self.critic_lr > 0:
            raise ConfigError("critic_lr must be > 0")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError("Adam betas must lie in [0, 1)")
        check_augmentation(self.augment)
        if self.simultaneous and (self.n_critic != 1 or self.top_k < 1 or self.precision != "fp32"):
            raise ConfigError("simultaneous updates need n_critic 1, no top-k and fp32 (one shared step)")
        if self.lr_decay not in LR_DECAYS:
            raise ConfigError(f"unknown lr_decay {self.lr_decay!r}; choose one of {', '.join(LR_DECAYS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.time_budget < 0 or not math.isfinite(self.time_budget):
            raise ConfigError(f"time_budget must be a finite number of seconds >= 0, got {self.time_budget}")
        check_count("warmup_iters", self.warmup_iters, MAX_ITERS, minimum=0)
        if min(self.checkpoint_every, self.sample_every, self.log_every) < 1:
            raise ConfigError("checkpoint_every, sample_every and log_every must be >= 1")
        check_count("iters", self.iters, MAX_ITERS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("n_critic", self.n_critic, MAX_CRITIC_STEPS)
        if self.time_budget > MAX_TIME_BUDGET:
            raise ConfigError(f"time_budget {self.time_budget:,.0f} s is over the limit of {MAX_TIME_BUDGET:,.0f} s")
        check_seed(self.seed)
        if self.timeline_every < 0:
            raise ConfigError("timeline_every must be >= 0 (0: no timeline)")

    def step_options(self) -> StepOptions:
        return StepOptions(
            gp_weight=self.gp_weight,
            autocast_dtype=PRECISIONS[self.precision],
            fused_critic_batch=self.fused_critic_batch,
            channels_last=self.channels_last,
            augment=self.augment,
        )

    def numerics(self) -> dict:
        """The fields that change the numbers a run computes (what a resumed run must match). `iters` sets the
        decay schedule, so it counts when the rates decay; how often files are written never does."""
        ignore = ["checkpoint_every", "sample_every", "log_every", "timeline_every"]
        if self.lr_decay == "none" and self.time_budget == 0:
            ignore.append("iters")
        if not self.sync_bn:  # states written before the setting existed resume as before
            ignore.append("sync_bn")
        if self.augment == "none":  # likewise
            ignore.append("augment")
        if self.top_k == 1.0:  # likewise
            ignore.append("top_k")
        if self.warmup_iters == 0:  # likewise
            ignore.append("warmup_iters")
        if not self.simultaneous:  # likewise
            ignore.append("simultaneous")
        return numerics_of(self, ignore)


# Named starting points for `train wgan --recipe`; explicit flags override them.
# "reference": Gulrajani et al.'s DCGAN recipe as the course ran it. "fast": what this project measured to reach a
# given Fréchet distance soonest on a CPU (docs/results.md#wgan, bench/wgan_quality.py).
RECIPES: dict[str, dict[str, dict]] = {
    "reference": {
        "model": {"width": 64},
        "train": {"batch_size": 64, "n_critic": 5, "gp_weight": 10.0, "gp_every": 1, "lr": 1e-4,
                  "critic_lr": None, "beta1": 0.5, "beta2": 0.9, "lr_decay": "none", "ema_decay": 0.999},
    },
    "fast": {
        # width 24: cheaper iterations beat wider nets per second on a CPU (docs/results.md#budget-levers).
        "model": {"width": 24},
        # lr 3e-4 / 9e-4: three times the TTUR paper's 1e-4 / 3e-4 (which made the shipped file); with the linear
        # decay to 0 the larger peak reached a lower FD in the same seconds (docs/results.md#budget-levers).
        # channels_last: NHWC convolutions, faster per iteration on a CPU (docs/results.md#budget-levers).
        "train": {"batch_size": 64, "n_critic": 1, "gp_weight": 10.0, "gp_every": 4, "lr": 3e-4,
                  "critic_lr": 9e-4, "beta1": 0.0, "beta2": 0.99, "lr_decay": "linear", "ema_decay": 0.999,
                  "channels_last": True},
    },
}  # fmt: skip


def recipe(name: str, **overrides: object) -> tuple[WGANConfig, WGANTrainConfig]:
    """The model and train configs of a named recipe, with the given fields (of either config) replaced; a None
    override keeps the recipe's value (an unset CLI flag)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}; choose one of {', '.join(RECIPES)}")
    model_fields = {f.name for f in dataclasses.fields(WGANConfig)}
    train_fields = {f.name for f in dataclasses.fields(WGANTrainConfig)}
    unknown = set(overrides) - model_fields - train_fields
    if unknown:
        raise ConfigError(f"unknown WGAN settings: {', '.join(sorted(unknown))}")
    model = {**RECIPES[name]["model"], **{k: v for k, v in overrides.items() if k in model_fields}}
    train = {**RECIPES[name]["train"], **{k: v for k, v in overrides.items() if k in train_fields}}
    return WGANConfig(**model), WGANTrainConfig(**train)


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
            rng = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(self.images.shape[0], generator=rng)
        rows = self._order[position * self.batch_size : (position + 1) * self.batch_size]
        return self.images[rows.to(self.images.device)]


def preview_latents(n: int, latent_dim: int, seed: int) -> torch.Tensor:
    """The fixed z of the sample grids, from a private RNG (the training RNG is not touched)."""
    return torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed + 4242))


def learning_rate_scale(cfg: WGANTrainConfig, iteration: int, planned: int | None) -> float:
    """The factor on both peak learning rates at `iteration` (0-based) of a run planned to end at `planned`.

    A linear warm-up over `warmup_iters` from 1/warmup_iters up to 1, times the linear decay to 0 at `planned` when
    the run decays (`lr_decay="linear"`, or any time budget: a budgeted run runs at the full rates while it
    calibrates, `planned` None, and decays once the count is fixed).
    """
    decays = cfg.lr_decay == "linear" or cfg.time_budget > 0
    scale = 1.0 - iteration / planned if (decays and planned is not None) else 1.0
    if iteration < cfg.warmup_iters:
        scale *= (iteration + 1) / cfg.warmup_iters
    return scale


def planned_iterations(cfg: WGANTrainConfig, seconds_per_iter: float, seconds_so_far: float, done: int) -> int:
    """How many iterations fit the time budget at the measured speed (at least those done, at most iters).

    2 % of the budget is kept back for the export and the last state write.
    """
    remaining = max(0.0, 0.98 * cfg.time_budget - seconds_so_far)
    return max(done, min(cfg.iters, done + int(remaining / max(seconds_per_iter, 1e-9))))


def train_wgan(
    model_config: WGANConfig,
    data: ImageSet,
    train_config: WGANTrainConfig,
    *,
    device: torch.device | str = "cpu",
    run_dir: str | Path | None = None,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    timeline_scorer: TimelineScorer | None = None,
) -> TrainResult:
    """Train a WGAN-GP on `data.images`; see the module docstring for what makes resume exact.

    With a `run_dir`, the full state is written atomically to run_dir/state.safetensors every `checkpoint_every`
    iterations and at the end, EMA sample grids to run_dir/samples/iter_XXXXXX.png every `sample_every`, and the
    training timeline (`vaegan.timeline`: the EMA's images of the grids' first 16 latents, plus FD / precision /
    recall when a `timeline_scorer` is given) to run_dir/timeline.safetensors every `timeline_every`.
    The result's model is the EMA generator (eval mode); `parts` holds the raw generator and the critic.
    Progress events: "step" after every iteration, "plan" once the speed is measured (values: seconds_per_iter,
    planned_iters), "checkpoint" after every state write.
    """
    started = time.perf_counter()  # a time budget counts from here: building the models and moving data too
    device = torch.device(device)
    cfg = train_config
    options = cfg.step_options()
    torch.manual_seed(cfg.seed)
    generator = Generator(model_config).to(device=device, memory_format=options.memory_format)
    critic = Critic(model_config).to(device=device, memory_format=options.memory_format)
    ema = copy.deepcopy(generator).requires_grad_(False)
    betas = (cfg.beta1, cfg.beta2)
    critic_lr = cfg.lr if cfg.critic_lr is None else cfg.critic_lr
    opt_g = make_adam(generator.parameters(), cfg.lr, betas)
    opt_c = make_adam(critic.parameters(), critic_lr, betas)
    use_scaler = cfg.precision == "fp16"
    scaler_g = torch.amp.GradScaler(device.type, enabled=use_scaler)
    scaler_c = torch.amp.GradScaler(device.type, enabled=use_scaler)
    run_dir = Path(run_dir) if run_dir is not None else None
    state_path = run_dir / STATE_FILE if run_dir is not None else None
    identity = run_identity(model_config, cfg.numerics(), data.name, data.images.shape[0])
    start, history = 0, []
    planned = cfg.iters if cfg.time_budget == 0 else None  # a budget fixes it after calibration
    seconds_before = 0.0  # training time of the processes before a resume, so reported times are totals
    saved_at: str | None = None  # when this run last wrote state_path: what a NaN message names as the last good one

    state = distributed.load_newest_state(state_path, "iteration") if resume and state_path is not None else None
    if state is not None:
        check_resume(state, identity, state_path)
        with restoring(state_path):
            for module, key in ((generator, "generator"), (critic, "critic"), (ema, "ema"), (scaler_g, "scaler_g"),
                                (scaler_c, "scaler_c")):  # fmt: skip
                module.load_state_dict(state[key])
            load_optimizer_state(opt_g, state["opt_g"])
            load_optimizer_state(opt_c, state["opt_c"])
            set_rng_state(state["rng"])
            start, history = int(state["iteration"]), list(state["history"])
            seconds_before = float(state["seconds"])
            if cfg.time_budget > 0:  # the count the budget chose; without a budget a resume may extend the run
                planned = state["planned_iters"]
        saved_at = f"iteration {start}"
    # rank 0 alone records a timeline, as it alone writes the state
    timeline = TimelineRecorder.open(
        run_dir if distributed.is_main() else None, cfg.timeline_every,
        latents=preview_latents(64, model_config.latent_dim, cfg.seed)[:TIMELINE_IMAGES],
        start=start, generator=ema, scorer=timeline_scorer, info={"seed": cfg.seed, "dataset": data.name},
    )  # fmt: skip

    def elapsed() -> float:
        return seconds_before + time.perf_counter() - started

    def save(iteration: int) -> None:
        nonlocal saved_at
        if state_path is None or not distributed.is_main():
            return
        # Losses are checked every log_every iterations only, and a step can break the weights after a finite loss:
        # whatever is written here must be finite, or it would replace the last good checkpoint.
        check_finite_weights({"generator": generator, "critic": critic, "EMA generator": ema},
                             f"iteration {iteration}", state_path, saved_at)  # fmt: skip
        save_state(state_path, {
            "generator": generator.state_dict(), "critic": critic.state_dict(), "ema": ema.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_c": opt_c.state_dict(),
            "scaler_g": scaler_g.state_dict(), "scaler_c": scaler_c.state_dict(),
            "rng": rng_state(), "iteration": iteration, "planned_iters": planned, "history": history,
            "seconds": elapsed(), **identity,
        })  # fmt: skip
        saved_at = f"iteration {iteration}"
        if on_progress is not None:
            on_progress(Progress("checkpoint", iteration, planned or cfg.iters, ITERATIONS, last_values, elapsed(),
                                 str(state_path)))  # fmt: skip

    def write_samples(iteration: int) -> None:
        if run_dir is None or not distributed.is_main():
            return
        ema.eval()
        with torch.no_grad():
            images = ema(preview_latents(64, model_config.latent_dim, cfg.seed).to(device))
        save_png(run_dir / "samples" / f"iter_{iteration:06d}.png", images.float().cpu(), nrow=8)

    def set_learning_rates(iteration: int) -> None:
        scale = learning_rate_scale(cfg, iteration, planned)
        for optimizer, lr in ((opt_g, cfg.lr), (opt_c, critic_lr)):
            for group in optimizer.param_groups:
                group["lr"] = lr * scale

    images = data.images.to(device).contiguous(memory_format=options.memory_format)
    real_batches = RealBatches(images, cfg.batch_size, cfg.seed)
    local_batch = distributed.local_batch(cfg.batch_size)
    # DDP: the critic step calls the wrapped critic, the generator step the wrapped generator (and the plain
    # critic, which is frozen there); one process: the modules themselves.
    ddp_generator, ddp_critic = distributed.wrap(generator, sync_bn=cfg.sync_bn), distributed.wrap(critic)
    generator.train()
    critic.train()
    window_start, window_iters = time.perf_counter(), 0
    last_values: dict[str, float] = {}
    last_penalty = torch.full((), math.nan)
    iteration = start
    calibration_start = None
    plan_mark: tuple[float, int] | None = None  # (time, iteration) the speed is measured from
    while iteration < (planned if planned is not None else cfg.iters):
        set_learning_rates(iteration)
        for k in range(cfg.n_critic):
            step = iteration * cfg.n_critic + k
            real = distributed.shard(real_batches(step)).contiguous(memory_format=options.memory_format)
            weight = lazy_penalty_weight(step, cfg.gp_weight, cfg.gp_every)
            if cfg.simultaneous:  # both players from one shared pass (n_critic is 1)
                stats, g_loss = joint_step(ddp_generator, ddp_critic, opt_g, opt_c, real, options, weight)
            else:
                stats = critic_step(generator, ddp_critic, opt_c, real, options, scaler_c if use_scaler else None,
                                    weight)  # fmt: skip
            if weight > 0:
                last_penalty = stats.penalty
        # Top-k: the share kept shrinks per epoch of real batches, as the paper's schedule does.
        share = top_k_share(iteration * cfg.n_critic // real_batches.per_epoch, cfg.top_k)
        keep = max(1, round(share * local_batch)) if cfg.top_k < 1 else None
        if not cfg.simultaneous:
            g_loss = generator_step(ddp_generator, critic, opt_g, local_batch, device, options,
                                    scaler_g if use_scaler else None, keep)  # fmt: skip
        update_ema(ema, generator, ema_decay(iteration, cfg.ema_decay))
        iteration += 1
        done = iteration
        window_iters += 1
        # Calibration: time iterations 3..calibration_iters of this process (the first ones pay for allocations);
        # a budget then fixes the count, and either way the caller hears the speed (for an ETA).
        if done == start + 2:
            calibration_start = time.perf_counter()
        if done == start + cfg.calibration_iters:
            per_iter = (time.perf_counter() - (calibration_start or started)) / max(1, cfg.calibration_iters - 2)
            if planned is None:
                planned = distributed.from_main(planned_iterations(cfg, per_iter, elapsed(), done))
            plan_mark = (time.perf_counter(), done)
            if on_progress is not None:
                on_progress(Progress("plan", done, planned, ITERATIONS,
                                     {"seconds_per_iter": per_iter, "planned_iters": planned}, elapsed()))
        if done % cfg.log_every == 0 or done == planned:
            now = time.perf_counter()
            values = {"critic_loss": stats.loss.item(), "wasserstein": stats.wasserstein.item(),
                      "penalty": last_penalty.item(), "generator_loss": g_loss.item()}  # fmt: skip
            values = distributed.mean_over_ranks(values)
            finite = {k: v for k, v in values.items() if k != "penalty" or not math.isnan(v)}
            check_finite(finite, f"iteration {done}", state_path, saved_at)
            last_values = {**values, "iters_per_second": window_iters / max(now - window_start, 1e-9)}
            window_start, window_iters = now, 0
            history.append({"iteration": done, **values, "seconds": elapsed()})
        if on_progress is not None:
            on_progress(Progress("step", done, planned or cfg.iters, ITERATIONS, last_values, elapsed()))
        final = planned is not None and done >= planned
        if done % cfg.sample_every == 0 or final:
            write_samples(done)
        if timeline is not None:
            timeline(done, ema, final)
        # No state before a budget has fixed the count: a resume would measure the speed again and plan otherwise.
        if (done % cfg.checkpoint_every == 0 or final) and planned is not None:
            if cfg.time_budget > 0 and not final and plan_mark is not None and done > plan_mark[1]:
                per_iter = (time.perf_counter() - plan_mark[0]) / (done - plan_mark[1])
                planned = distributed.from_main(planned_iterations(cfg, per_iter, elapsed(), done))
                plan_mark = (time.perf_counter(), done)
            save(done)
    if start >= (planned or cfg.iters):
        write_samples(start)
    ema.eval()
    last = history[-1] if history else {}
    return TrainResult(
        model=ema,
        steps=iteration,
        step_unit=ITERATIONS,
        dataset=data.name,
        metrics={k: last[k] for k in ("critic_loss", "wasserstein", "penalty") if k in last},
        train_config=dataclasses.asdict(cfg),
        seconds=elapsed(),
        history=history,
        extra={"ema": True, "iterations": iteration, "planned_iters": planned},
        parts={"generator": generator.eval(), "critic": critic.eval()},
    )


def result_from_state(state_path: str | Path) -> TrainResult:
    """The EMA generator of a run's last checkpoint as a `TrainResult`, ready for `save_result`: what a stopped
    or interrupted run has learnt so far, exported without training any further."""
    state = load_state(state_path)
    model_config = WGANConfig(**state["model_config"])
    ema = Generator(model_config)
    ema.load_state_dict(state["ema"])
    history = list(state["history"])
    last = history[-1] if history else {}
    iteration = int(state["iteration"])
    return TrainResult(
        model=ema.eval(),
        steps=iteration,
        step_unit=ITERATIONS,
        dataset=state["data"][0],
        metrics={k: last[k] for k in ("critic_loss", "wasserstein", "penalty") if k in last},
        train_config=dict(state["numerics"]),
        seconds=float(state["seconds"]),
        history=history,
        extra={"ema": True, "iterations": iteration, "planned_iters": state.get("planned_iters"),
               "exported_from_state": True},
    )
