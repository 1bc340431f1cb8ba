"""The VAE training loop: plain epochs over in-memory tensors, a full-state checkpoint after every epoch.

Resume is exact: the state file holds the model, the optimizer, every RNG state and the history, so a run
interrupted after epoch e and resumed ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from vaegan.checkpoint import load_state, rng_state, save_state, set_rng_state
from vaegan.data import BinarySplits, binarize_batch, minibatches
from vaegan.errors import ConfigError, TrainingError
from vaegan.vae import VAE, VAEConfig, log_px_importance, neg_elbo


@dataclass(frozen=True)
class VAETrainConfig:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 6e-4  # the reference used 3e-4; 6e-4 reaches a lower -ELBO in 20 epochs (README: Results)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ConfigError("epochs and batch_size must be >= 1 and lr > 0")


@dataclass
class EpochReport:
    epoch: int
    train_neg_elbo: float
    valid_neg_elbo: float
    seconds: float


# Called after every optimizer step with (epoch, step_in_epoch, steps_per_epoch, loss).
StepCallback = Callable[[int, int, int, float], None]
EpochCallback = Callable[[EpochReport], None]


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu; anything else is passed to torch.device."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available")
    return device


def make_optimizer(model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    # fused Adam: one kernel for the whole parameter update instead of a handful of ops per tensor
    # (measured in bench/vae.py). Falls back to the foreach implementation where fused is unsupported.
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(model.parameters(), lr=lr)


@torch.no_grad()
def evaluate_neg_elbo(model: VAE, x: torch.Tensor, batch_size: int = 2000, seed: int = 1234) -> float:
    """Mean -ELBO over `x` with a fixed noise seed, so the same model always gets the same number."""
    model.eval()
    generator = torch.Generator(device=x.device).manual_seed(seed)
    total = 0.0
    for batch in minibatches(x, batch_size, shuffle=False):
        total += neg_elbo(model, batch, generator=generator).sum().item()
    return total / x.shape[0]


@torch.no_grad()
def evaluate_log_px(model: VAE, x: torch.Tensor, k: int = 200, batch_size: int = 500, seed: int = 1234) -> float:
    """Mean importance-sampled log p(x) over `x` (K samples per image)."""
    model.eval()
    generator = torch.Generator(device=x.device).manual_seed(seed)
    total = 0.0
    for batch in minibatches(x, batch_size, shuffle=False):
        total += log_px_importance(model, batch, k, generator=generator).sum().item()
    return total / x.shape[0]


def train_vae(
    model_config: VAEConfig,
    data: BinarySplits,
    train_config: VAETrainConfig,
    *,
    device: torch.device | str = "cpu",
    state_path: str | Path | None = None,
    resume: bool = False,
    on_step: StepCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[VAE, list[EpochReport]]:
    """Train a VAE; returns the model (eval mode) and one report per epoch (resumed epochs included)."""
    device = torch.device(device)
    torch.manual_seed(train_config.seed)
    model = VAE(model_config).to(device)
    optimizer = make_optimizer(model, train_config.lr)
    history: list[EpochReport] = []
    start_epoch = 0

    if resume and state_path is not None and Path(state_path).exists():
        state = load_state(state_path)
        # Everything but the number of epochs must match: resuming with a larger --epochs extends a finished run.
        saved = {**state["train_config"], "epochs": train_config.epochs}
        if state["model_config"] != dataclasses.asdict(model_config) or saved != dataclasses.asdict(train_config):
            raise TrainingError(f"{state_path} was written by a run with other settings; drop --resume or match them")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        history = [EpochReport(**r) for r in state["history"]]
        start_epoch = int(state["epoch"])

    train_x = data.train.to(device)
    valid_x = data.valid.to(device)
    steps_per_epoch = math.ceil(train_x.shape[0] / train_config.batch_size)

    for epoch in range(start_epoch, train_config.epochs):
        model.train()
        started = time.perf_counter()
        running, seen = 0.0, 0
        for step, batch in enumerate(minibatches(train_x, train_config.batch_size)):
            if data.dynamic:
                batch = binarize_batch(batch)
            loss = neg_elbo(model, batch).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = loss.item()
            if not math.isfinite(value):
                raise TrainingError(
                    f"loss became {value} at epoch {epoch + 1}, step {step + 1}; try a lower --lr "
                    f"(the last good state is in {state_path or 'no state file'})"
                )
            running += value * batch.shape[0]
            seen += batch.shape[0]
            if on_step is not None:
                on_step(epoch, step, steps_per_epoch, value)
        report = EpochReport(
            epoch=epoch + 1,
            train_neg_elbo=running / seen,
            valid_neg_elbo=evaluate_neg_elbo(model, valid_x),
            seconds=time.perf_counter() - started,
        )
        history.append(report)
        if state_path is not None:
            save_state(
                state_path,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": rng_state(),
                    "epoch": epoch + 1,
                    "history": [dataclasses.asdict(r) for r in history],
                    "model_config": dataclasses.asdict(model_config),
                    "train_config": dataclasses.asdict(train_config),
                },
            )
        if on_epoch is not None:
            on_epoch(report)
    return model.eval(), history
