"""The VAE training loop: plain epochs over in-memory tensors, a full-state checkpoint after every epoch.

Resume is exact: the state file holds the model, the optimizer, every RNG state and the history, so a run
interrupted after epoch e and resumed ends with the same weights as one that never stopped. Under the constant
schedule a resumed run may ask for more epochs than the first one (extending a finished run); a cosine schedule is
laid out over `epochs`, so its runs resume to the same end. Everything else must match (`check_resume`).

Under torchrun the loop is data-parallel (`vaegan.distributed`): every rank sees every global batch, takes its
shard of the rows and of the noise, and DDP averages the gradients, so W ranks compute what one process computes
on the same batches (up to float summation order). Rank 0 writes the state.

Time budget: with `time_budget` seconds the loop times its epochs (training, validation and the state write), and
after each one fixes how many epochs fit the budget (at most `epochs`). The count is stored in the state, so a
resumed run keeps it, and the cosine schedule is laid out over it.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vaegan import distributed
from vaegan.checkpoint import save_state
from vaegan.data import BinarySplits, binarize_batch, minibatches
from vaegan.errors import ConfigError, TrainingError
from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo
from vaegan.limits import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_IMPORTANCE_SAMPLES,
    MAX_TIME_BUDGET,
    check_count,
    check_seed,
)
from vaegan.train.common import (
    EPOCHS,
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
from vaegan.vae import VAE, VAEConfig, neg_elbo
from vaegan.vocabulary import LR_SCHEDULES


@dataclass(frozen=True)
class VAETrainConfig:
    epochs: int = 20
    # The reference trains at batch 64, Adam 3e-4, constant. Larger batches run an epoch faster on a CPU (bigger
    # matrix products, fewer steps), and a higher peak rate with a warm-up and cosine decay keeps, even improves, the
    # -ELBO reached in 20 epochs (docs/results.md#vae-time-to-quality).
    batch_size: int = 256
    lr: float = 4e-3
    seed: int = 0
    schedule: str = "cosine"  # linear warm-up over warmup_epochs, then cosine decay to 0 at `epochs`; or "constant"
    warmup_epochs: float = 1.0  # at most half the run
    eval_k: int = 0  # > 0: also measure test log p(x) with this many importance samples at the end
    time_budget: float = 0.0  # seconds of training (the final eval_k measurement not included); 0 = run `epochs`

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.eval_k < 0:
            raise ConfigError("epochs and batch_size must be >= 1, lr > 0 and eval_k >= 0")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if not 0 <= self.warmup_epochs <= MAX_EPOCHS:
            raise ConfigError(f"warmup_epochs must lie in [0, {MAX_EPOCHS}]")
        check_count("epochs", self.epochs, MAX_EPOCHS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("eval_k", self.eval_k, MAX_IMPORTANCE_SAMPLES, minimum=0)
        check_seed(self.seed)
        if not (0 <= self.time_budget <= MAX_TIME_BUDGET):  # also refuses NaN
            raise ConfigError(f"time_budget must be a number of seconds in [0, {MAX_TIME_BUDGET:,.0f}], got "
                              f"{self.time_budget}")  # fmt: skip

    def lr_at(self, step: int, steps_per_epoch: int, epochs: int | None = None) -> float:
        """The learning rate of optimizer step `step` (0-based) in a run of `epochs` (default: self.epochs; a time
        budget passes the count it planned)."""
        if self.schedule == "constant":
            return self.lr
        epochs = self.epochs if epochs is None else epochs
        # at most half the run, so that a short run (--epochs 1 for a quick look) still decays
        warmup = min(self.warmup_epochs, epochs / 2) * steps_per_epoch
        if step < warmup:
            return self.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1.0, epochs * steps_per_epoch - warmup)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


SCHEDULES = LR_SCHEDULES  # the old name of the torch-free list (vaegan.vocabulary)

# The most epochs a time budget may choose when the caller names no --epochs (the CLI's default then).
BUDGET_MAX_EPOCHS = 1000

# What `train vae --arch ARCH` starts from (model settings, train settings); explicit settings override them. The
# dataclass defaults are the MLP's. The conv net's are the shipped checkpoints/vae.safetensors's net and batch with
# a higher peak rate, which under a 30-minute budget reached the shipped file's 40-epoch -ELBO where its own rate
# fell short (docs/results.md#vae-conv-budget).
ARCH_DEFAULTS: dict[str, tuple[dict, dict]] = {
    "mlp": ({}, {}),
    "conv": ({"hidden": 64, "latent_dim": 32}, {"batch_size": 100, "lr": 2.5e-3}),
}


def planned_epochs(cfg: VAETrainConfig, seconds_per_epoch: float, seconds_so_far: float, done: int) -> int:
    """How many epochs fit the time budget at the measured speed (at least those done, at most cfg.epochs).

    1 % of the budget is kept back for the export.
    """
    remaining = max(0.0, 0.99 * cfg.time_budget - seconds_so_far)
    return max(done, min(cfg.epochs, done + int(remaining / max(seconds_per_epoch, 1e-9))))


def check_schedule_end(state: dict, identity: dict, cfg: VAETrainConfig, state_path: str | Path) -> None:
    """A cosine schedule is laid out over `epochs`: a state differing only there cannot be extended, and says so."""
    saved = state.get("numerics")
    if cfg.schedule == "constant" or not isinstance(saved, dict) or saved.get("epochs") == cfg.epochs:
        return
    if {k: v for k, v in saved.items() if k != "epochs"} == {k: v for k, v in identity["numerics"].items()
                                                             if k != "epochs"}:  # fmt: skip
        raise TrainingError(
            f"{state_path} was trained under a {cfg.schedule} schedule laid out over {saved.get('epochs')} epochs, "
            f"which cannot be stretched to {cfg.epochs}: resume with --epochs {saved.get('epochs')}, or drop --resume "
            "(runs meant to be extended train with --schedule constant)"
        )


class BatchNegElbo(nn.Module):
    """The training loss, mean -ELBO of a global batch, as a module: DistributedDataParallel syncs gradients only
    of computations that run through its module's forward. Under DDP each rank scores its shard of the batch with
    its rows of the noise drawn for the whole batch."""

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if distributed.world_size() == 1:
            return neg_elbo(self.vae, batch).mean()
        x = distributed.shard(batch)
        weight = next(self.vae.parameters())
        eps = distributed.draw_shard_of(torch.randn, batch.shape[0], self.vae.latent_dim,
                                        device=weight.device, dtype=weight.dtype)  # fmt: skip
        return distributed.weight_shard(neg_elbo(self.vae, x, eps=eps).mean(), x.shape[0], batch.shape[0])


def train_vae(
    model_config: VAEConfig,
    data: BinarySplits,
    train_config: VAETrainConfig,
    *,
    device: torch.device | str = "cpu",
    state_path: str | Path | None = None,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
) -> TrainResult:
    """Train a VAE; the result's model is in eval mode and its history has one entry per epoch (resumed ones too)."""
    device = torch.device(device)
    cfg = train_config
    distributed.local_batch(cfg.batch_size)  # under torchrun: refuses a batch that does not split over the ranks
    torch.manual_seed(cfg.seed)
    model = VAE(model_config).to(device)
    optimizer = make_adam(model.parameters(), cfg.lr)
    # What a resumed run must match. `epochs` only says when to stop (a resume may extend a finished run), except
    # under a schedule, whose shape depends on it; `eval_k` only says what to measure at the end.
    ignore = ("eval_k",) if cfg.schedule != "constant" else ("epochs", "eval_k")
    if cfg.time_budget == 0:  # states written before the option existed hold no budget, and keep resuming
        ignore = (*ignore, "time_budget")
    numerics = numerics_of(cfg, ignore)
    if data.binarize in ("threshold", "none"):  # other data than auto would give: not the same run (older states
        numerics["binarize"] = data.binarize  # hold auto's data and keep resuming)
    identity = run_identity(model_config, numerics, data.name, data.train.shape[0])
    history: list[dict] = []
    start_epoch, seconds_before = 0, 0.0
    planned: int | None = cfg.epochs if cfg.time_budget == 0 else None  # a budget fixes it after the first epoch
    saved_at: str | None = None  # when this run last wrote state_path: what a NaN message names as the last good one

    state = distributed.load_newest_state(state_path, "epoch") if resume and state_path is not None else None
    if state is not None:
        check_schedule_end(state, identity, cfg, state_path)
        check_resume(state, identity, state_path)
        with restoring(state_path):
            model.load_state_dict(state["model"])
            load_optimizer_state(optimizer, state["optimizer"])
            set_rng_state(state["rng"])
            history = list(state["history"])
            start_epoch = int(state["epoch"])
            seconds_before = sum(entry["seconds"] for entry in history)
            if cfg.time_budget > 0:
                planned = int(state["planned_epochs"])
        saved_at = f"epoch {start_epoch}"

    train_x = data.train.to(device)
    valid_x = data.valid.to(device)
    steps_per_epoch = math.ceil(train_x.shape[0] / cfg.batch_size)
    started = time.perf_counter()
    objective = distributed.wrap(BatchNegElbo(model))

    epoch = start_epoch
    while epoch < (planned or cfg.epochs):
        total_steps = (planned or cfg.epochs) * steps_per_epoch
        model.train()
        epoch_started = time.perf_counter()
        running, seen = 0.0, 0
        for step, batch in enumerate(minibatches(train_x, cfg.batch_size)):
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr_at(epoch * steps_per_epoch + step, steps_per_epoch, planned)
            if batch.shape[0] < distributed.world_size():
                continue  # a last batch of fewer rows than processes: some would have no rows (DDP only)
            if data.dynamic:
                batch = binarize_batch(batch)
            loss = objective(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = distributed.mean_over_ranks({"loss": loss.item()})["loss"]
            check_finite({"loss": value}, f"epoch {epoch + 1}, step {step + 1}", state_path, saved_at)
            running += value * batch.shape[0]
            seen += batch.shape[0]
            if on_progress is not None:
                on_progress(Progress("step", epoch * steps_per_epoch + step + 1, total_steps, "steps",
                                     {"loss": value}, time.perf_counter() - started))  # fmt: skip
        history.append({
            "epoch": epoch + 1,
            "train_neg_elbo": running / seen,
            "valid_neg_elbo": evaluate_neg_elbo(model, valid_x),
            "seconds": time.perf_counter() - epoch_started,
        })  # fmt: skip
        # The last step's update can make weights NaN after a finite loss: never write such a state.
        check_finite({"valid -ELBO": history[-1]["valid_neg_elbo"]}, f"the end of epoch {epoch + 1}", state_path,
                     saved_at)  # fmt: skip
        check_finite_weights({"VAE": model}, f"the end of epoch {epoch + 1}", state_path, saved_at)
        epoch += 1
        if cfg.time_budget > 0:  # plan (again) at the speed of the epochs this process ran, state write included
            seconds_per_epoch = (time.perf_counter() - started) / (epoch - start_epoch)
            planned = distributed.from_main(planned_epochs(cfg, seconds_per_epoch, seconds_before + time.perf_counter()
                                                           - started, epoch))  # fmt: skip
            if on_progress is not None and epoch == start_epoch + 1:
                on_progress(Progress("plan", epoch, planned, EPOCHS,
                                     {"seconds_per_iter": seconds_per_epoch, "planned_iters": planned},
                                     seconds_before + time.perf_counter() - started))  # fmt: skip
        if state_path is not None and distributed.is_main():
            save_state(state_path, {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "rng": rng_state(),
                "epoch": epoch,
                "planned_epochs": planned or cfg.epochs,
                "history": history,
                **identity,
            })  # fmt: skip
            saved_at = f"epoch {epoch}"
        if on_progress is not None:
            on_progress(Progress("epoch", epoch, planned or cfg.epochs, EPOCHS,
                                 {k: v for k, v in history[-1].items() if k != "epoch"},
                                 time.perf_counter() - started, str(state_path or "")))  # fmt: skip
    model.eval()
    last = history[-1]
    metrics = {"valid_neg_elbo": last["valid_neg_elbo"], "train_neg_elbo": last["train_neg_elbo"]}
    if cfg.eval_k and distributed.is_main():
        metrics[f"test_log_px_k{cfg.eval_k}"] = evaluate_log_px(model, data.test.to(device), cfg.eval_k)
    return TrainResult(
        model=model,
        steps=max(epoch, start_epoch),
        step_unit=EPOCHS,
        dataset=data.name,
        metrics=metrics,
        train_config=dataclasses.asdict(cfg),
        seconds=seconds_before + time.perf_counter() - started,
        history=history,
        # eval vae --binarize must match the binarization for grey data
        extra={"binarize": data.binarize, **({"planned_epochs": planned} if cfg.time_budget > 0 else {})},
    )
