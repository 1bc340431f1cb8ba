"""A VAE with a 2-D latent space, trained in seconds: β-VAE loss, the decoded manifold, the aggregate posterior.

The model is `vaegan.vae.VAE` (MLP, `latent_dim=2`) trained on recon + β·KL per digit (Higgins et al., 2017). A run
gives the VAE page the decoder on a grid over the prior's quantiles, the posterior means of held-out digits with
their labels, and the ELBO's two terms on those digits. Digits: one fixed shuffle of the app's test digits, the first
`held_out` held out, the next `train_digits` trained on; labels given, else the classifier's (`label_digits`). The
final weights are rounded through fp16, so a run and its fp16 file (`save_vae2d`) are the same model.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaegan.checkpoint import load_model, save_model
from vaegan.data import MNIST_SIDE, to_rgb32
from vaegan.divergences.engine import ProgressCallback  # (steps done, in total, what is trained)
from vaegan.divergences.optim import Adam
from vaegan.errors import CheckpointError, ConfigError, DataError, TrainingError
from vaegan.limits import (
    MAX_BATCH_SIZE,
    MAX_EPOCHS,
    MAX_HIDDEN,
    MAX_VAE2D_BETA,
    MAX_VAE2D_DIGITS,
    MAX_VAE2D_GRID_SIDE,
    check_count,
    check_seed,
)
from vaegan.runtime import cpu_model, eval_mode, intra_op_threads
from vaegan.vae import IMAGE_PIXELS, VAE, VAEConfig, bernoulli_log_prob, gaussian_kl_to_standard_normal
from vaegan.vocabulary import VAE2D_BETAS, vae2d_checkpoint, vae2d_filename  # noqa: F401 - torch-free, re-exported

Tensor = torch.Tensor
SHUFFLE_SEED = 0  # the one fixed shuffle of the digits (the VAE page's shuffle of its test digits uses the same)
EVAL_SEED = 1  # the posterior samples of the held-out reconstruction term
EVAL_SAMPLES = 4  # posterior samples per held-out digit in the reconstruction term (less noise than one)
# Digits seen in training (epochs x training digits), whatever the count: a fixed number of optimizer steps, so a run
# takes about the same few seconds with 500 digits or 9,000 (docs/app.md#train-a-vae-now has the timings).
DIGIT_PASSES = 150_000
MAX_AUTO_EPOCHS = 300


@dataclass(frozen=True)
class Vae2dConfig:
    beta: float = 1.0  # weight of the KL term: 1 = the ELBO
    train_digits: int = 5_000
    held_out: int = 1_000  # digits encoded for the aggregate posterior and the held-out terms
    epochs: int = 30  # epochs_for(train_digits)
    batch_size: int = 100
    lr: float = 3e-3  # Adam, constant
    hidden: int = 96  # MLP width: 784-h-h-(2x2), 2-h-h-784
    grid_side: int = 15  # the manifold is grid_side x grid_side decoded digits
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta):
            raise ConfigError(f"beta must be a number, got {self.beta!r}")
        if not 0 <= self.beta <= MAX_VAE2D_BETA:
            raise ConfigError(f"beta must lie in [0, {MAX_VAE2D_BETA:g}], got {self.beta:g}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        check_count("train_digits", self.train_digits, MAX_VAE2D_DIGITS)
        check_count("held_out", self.held_out, MAX_VAE2D_DIGITS)
        check_count("epochs", self.epochs, MAX_EPOCHS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("hidden", self.hidden, MAX_HIDDEN)
        check_count("grid_side", self.grid_side, MAX_VAE2D_GRID_SIDE, minimum=2)
        check_seed(self.seed)

    @classmethod
    def for_digits(cls, train_digits: int, **settings: Any) -> Vae2dConfig:
        """A config whose epochs come from `epochs_for(train_digits)`: what the page and the CLI train."""
        return cls(train_digits=train_digits, epochs=epochs_for(train_digits), **settings)

    @property
    def model_config(self) -> VAEConfig:
        return VAEConfig(arch="mlp", latent_dim=2, hidden=self.hidden)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vae2dConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown 2-D VAE settings {unknown[:3]}")
        return cls(**data)


def epochs_for(train_digits: int) -> int:
    """Epochs that make about DIGIT_PASSES training digits in all (1 to MAX_AUTO_EPOCHS)."""
    check_count("train_digits", train_digits, MAX_VAE2D_DIGITS)
    return max(1, min(MAX_AUTO_EPOCHS, round(DIGIT_PASSES / train_digits)))


@dataclass
class Vae2dDigits:
    """Training digits (n, 784) and held-out digits (m, 784) in {0, 1}, with the held-out digits' labels (m,)."""

    train: Tensor
    held_out: Tensor
    labels: Tensor | None
    source: str = ""  # where the digits came from (a dataset spec)
    label_source: str = ""  # "given" or what labelled them


@dataclass
class Vae2dResult:
    """One trained 2-D VAE and what the page shows of it.

    manifold[r, c] is the decoded digit (Bernoulli means, 28x28) at z = (grid[c], grid[grid_side - 1 - r]): z1 grows
    to the right, z2 upwards. posterior[i] is the mean of q(z|x_i) for held-out digit i, labels[i] its digit.
    reconstruction and kl are the held-out means of E_q[-log p(x|z)] and KL(q(z|x) ‖ p(z)) in nats; their sum is the
    held-out -ELBO whatever β was trained with."""

    config: Vae2dConfig
    model: VAE
    manifold: Tensor
    grid: list[float]
    posterior: Tensor
    labels: Tensor | None
    reconstruction: float
    kl: float
    seconds: float
    history: list[float] = field(default_factory=list)  # mean training loss per epoch
    data: str = ""
    label_source: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)  # a loaded file's command, CPU, threads

    @property
    def neg_elbo(self) -> float:
        return self.reconstruction + self.kl

    def describe(self) -> str:
        """One line for the CLI."""
        return (f"β = {self.config.beta:g}: held-out −ELBO {self.neg_elbo:.2f} = reconstruction "
                f"{self.reconstruction:.2f} + KL {self.kl:.2f} nats ({self.seconds:.1f} s)")  # fmt: skip

    def terms_row(self) -> dict[str, float]:
        """The row of the ELBO-terms table and chart."""
        return {"β": self.config.beta, "reconstruction": round(self.reconstruction, 2), "KL": round(self.kl, 2),
                "−ELBO": round(self.neg_elbo, 2)}  # fmt: skip


# ---------------------------------------------------------------------------------------------- the digits


def shuffled_digits(digits: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """The digits (and labels) in the one fixed order every 2-D VAE uses (sorted files hold one class first)."""
    order = torch.randperm(digits.shape[0], generator=torch.Generator().manual_seed(SHUFFLE_SEED))
    return digits[order], None if labels is None else labels[order]


def label_digits(classifier: nn.Module, binary: Tensor) -> Tensor:
    """The classifier's digit for each binary digit (n, 784), read padded to 32x32x3 as it reads MNIST."""
    from vaegan.classifier import predict_digits  # a model module; only this path needs it

    images = to_rgb32(binary.reshape(-1, MNIST_SIDE, MNIST_SIDE))
    return predict_digits(classifier, images)[0]


def split_digits(
    digits: Tensor,
    config: Vae2dConfig,
    *,
    labels: Tensor | None = None,
    classifier: nn.Module | None = None,
    source: str = "",
) -> Vae2dDigits:
    """Held-out and training digits for `config` from a set of binary digits (N, 784) or (N, 28, 28): one fixed
    shuffle, the first `held_out` held out, the next `train_digits` trained on. Labels: `labels` when given, else
    the classifier's reading of the held-out digits, else none."""
    if digits.dim() not in (2, 3) or digits.shape[0] == 0 or math.prod(digits.shape[1:]) != IMAGE_PIXELS:
        raise DataError(f"expected binary digits (N, 784) or (N, 28, 28), got shape {tuple(digits.shape)}")
    digits = digits.reshape(-1, IMAGE_PIXELS).float()
    if not bool(((digits == 0) | (digits == 1)).all()):
        raise DataError("the 2-D VAE trains on binary digits (pixels 0 or 1)")
    if labels is not None and labels.shape != (digits.shape[0],):
        raise DataError(f"expected one label per digit ({digits.shape[0]}), got shape {tuple(labels.shape)}")
    wanted = config.held_out + config.train_digits
    if wanted > digits.shape[0]:
        raise DataError(
            f"{config.train_digits:,} training + {config.held_out:,} held-out digits need {wanted:,} digits; "
            f"{source or 'the data'} has {digits.shape[0]:,}"
        )
    digits, labels = shuffled_digits(digits, labels)
    held_out, train = digits[: config.held_out], digits[config.held_out : wanted]
    label_source = "given"
    if labels is not None:
        labels = labels[: config.held_out].long()
    elif classifier is not None:
        labels, label_source = label_digits(classifier, held_out), "the digit classifier"
    else:
        label_source = "none"
    return Vae2dDigits(train.contiguous(), held_out.contiguous(), labels, source, label_source)


# ---------------------------------------------------------------------------------------------- training


def reset_parameters(model: nn.Module, rng: torch.Generator) -> None:
    """nn.Linear's default initialisation drawn from `rng`: seeded without touching the global RNG, which other
    threads of the app share."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=rng)
            bound = 1 / math.sqrt(module.in_features)
            nn.init.uniform_(module.bias, -bound, bound, generator=rng)


def loss_terms(model: VAE, x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
    """Per-digit (reconstruction term, KL term): E_q[-log p(x|z)] with one sample z = μ + σ·eps, and the closed-form
    KL(q(z|x) ‖ N(0, I)). The β-VAE loss is their mean of recon + β·KL."""
    mu, logvar = model.encode(x)
    z = mu + eps * torch.exp(0.5 * logvar)
    return -bernoulli_log_prob(model.decode(z), x), gaussian_kl_to_standard_normal(mu, logvar)


def train_vae2d(
    config: Vae2dConfig,
    digits: Vae2dDigits,
    progress: ProgressCallback | None = None,
    threads: int | None = 1,
) -> Vae2dResult:
    """Train a 2-D β-VAE on `digits.train` and measure it on `digits.held_out`; deterministic at config.seed and a
    thread count (`threads` intra-op threads for the run, as the divergence trainers; None: as they are)."""
    if digits.train.shape[0] != config.train_digits or digits.held_out.shape[0] != config.held_out:
        raise ConfigError("these digits were split for other counts: split_digits(digits, config) first")
    # autograd whatever the caller's grad mode: the app's page runs switch it off (per thread)
    with intra_op_threads(threads), torch.enable_grad():
        return _train(config, digits, progress)


def _train(config: Vae2dConfig, digits: Vae2dDigits, progress: ProgressCallback | None) -> Vae2dResult:
    start = time.perf_counter()
    rng = torch.Generator().manual_seed(config.seed)
    model = VAE(config.model_config)
    reset_parameters(model, rng)
    # optim.Adam: torch's arithmetic without torch.optim's first-use import of the compiler stack (a second or more)
    optimizer = Adam(model.parameters(), lr=config.lr)
    train = digits.train
    n = train.shape[0]
    steps_per_epoch = math.ceil(n / config.batch_size)
    total, done = config.epochs * steps_per_epoch, 0
    history: list[float] = []
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=rng)
        running = 0.0
        for first in range(0, n, config.batch_size):
            x = train[order[first : first + config.batch_size]]
            eps = torch.randn(x.shape[0], 2, generator=rng)
            recon, kl = loss_terms(model, x, eps)
            loss = (recon + config.beta * kl).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingError(f"the 2-D VAE's loss became {value} at epoch {epoch + 1}: try a smaller lr")
            running += value * x.shape[0]
            done += 1
            if progress is not None:
                progress(done, total, f"β = {config.beta:g}")
        history.append(running / n)
    model.eval()
    with torch.no_grad():  # the fp16 file is then the same model as this run (module docstring)
        for p in model.parameters():
            p.copy_(p.half().float())
    reconstruction, kl = held_out_terms(model, digits.held_out)
    result = Vae2dResult(
        config=config, model=model, manifold=decoded_manifold(model, config.grid_side),
        grid=prior_quantile_grid(config.grid_side).tolist(), posterior=posterior_means(model, digits.held_out),
        labels=digits.labels, reconstruction=reconstruction, kl=kl, seconds=time.perf_counter() - start,
        history=history, data=digits.source, label_source=digits.label_source,
    )  # fmt: skip
    if not math.isfinite(result.neg_elbo):
        raise TrainingError(f"the 2-D VAE's held-out -ELBO is {result.neg_elbo}: try a smaller lr")
    return result


# ---------------------------------------------------------------------------------------------- what it shows


def prior_quantile_grid(side: int) -> Tensor:
    """`side` points Φ⁻¹((i + ½) / side): equal prior mass between neighbours, the corners at ±Φ⁻¹(1 - 1/(2·side))."""
    check_count("grid_side", side, MAX_VAE2D_GRID_SIDE, minimum=2)
    return torch.special.ndtri((torch.arange(side, dtype=torch.float64) + 0.5) / side).float()


def decoded_manifold(model: VAE, side: int) -> Tensor:
    """(side, side, 28, 28) Bernoulli means on the quantile grid, z1 to the right and z2 upwards (see Vae2dResult)."""
    grid = prior_quantile_grid(side)
    z1 = grid.repeat(side)  # columns vary fastest
    z2 = grid.flip(0).repeat_interleave(side)  # the top row is the largest z2
    with eval_mode(model):
        means = torch.sigmoid(model.decode(torch.stack((z1, z2), dim=1)))
    return means.view(side, side, MNIST_SIDE, MNIST_SIDE)


def posterior_means(model: VAE, x: Tensor) -> Tensor:
    """(n, 2) means of q(z|x): where each digit lands in the latent plane."""
    with eval_mode(model):
        return model.encode(x.reshape(-1, IMAGE_PIXELS).float())[0]


def encode_digit(model: VAE, binary: Tensor) -> tuple[list[float], list[float]]:
    """A binary digit's posterior: (mean, standard deviation), each (z1, z2)."""
    with eval_mode(model):
        mu, logvar = model.encode(binary.reshape(1, IMAGE_PIXELS).float())
    return mu[0].tolist(), torch.exp(0.5 * logvar[0]).tolist()


def held_out_terms(model: VAE, x: Tensor, samples: int = EVAL_SAMPLES) -> tuple[float, float]:
    """Mean E_q[-log p(x|z)] (`samples` posterior samples per digit, fixed seed) and mean analytic KL over x."""
    x = x.reshape(-1, IMAGE_PIXELS).float()
    rng = torch.Generator().manual_seed(EVAL_SEED)
    with eval_mode(model):
        mu, logvar = model.encode(x)
        eps = torch.randn(samples, *mu.shape, generator=rng)
        recon = -bernoulli_log_prob(model.decode(mu + eps * torch.exp(0.5 * logvar)), x)  # (samples, n)
        kl = gaussian_kl_to_standard_normal(mu, logvar)
    return float(recon.mean()), float(kl.mean())


# ---------------------------------------------------------------------------------------------- files
# A 2-D VAE file is an ordinary `vae` model file (fp16 weights) whose header's `extra` also holds the run's settings,
# the held-out posterior means and labels, and its provenance: a shipped β shows in full without any digits.

POSTERIOR_DECIMALS = 3


def save_vae2d(result: Vae2dResult, path: str | os.PathLike[str], *, command: str = "") -> Path:
    """Write the run as a self-describing fp16 safetensors file (atomically)."""
    posterior = {
        "z": [[round(v, POSTERIOR_DECIMALS) for v in point] for point in result.posterior.tolist()],
        "label": None if result.labels is None else result.labels.tolist(),
    }
    extra = {
        "vae2d_config": result.config.to_dict(),
        "command": command,
        "train_seconds_total": round(result.seconds, 2),
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "label_source": result.label_source,
        "history": [round(v, 3) for v in result.history],
        "posterior": posterior,
    }
    metrics = {"held_out_reconstruction": result.reconstruction, "held_out_kl": result.kl,
               "held_out_neg_elbo": result.neg_elbo}  # fmt: skip
    return save_model(result.model, path, dataset=result.data, steps=result.config.epochs, step_unit="epochs",
                      metrics=metrics, extra=extra, half=True)  # fmt: skip


def load_vae2d(path: str | os.PathLike[str]) -> Vae2dResult:
    """A file written by `save_vae2d`, as the result it was saved from (the manifold decoded again)."""
    model = load_model(path, kind="vae")
    info = model.checkpoint_info  # type: ignore[attr-defined]
    extra = info.extra
    try:
        config = Vae2dConfig.from_dict(extra["vae2d_config"])
        posterior = torch.tensor(extra["posterior"]["z"], dtype=torch.float32).reshape(-1, 2)
        labels = extra["posterior"]["label"]
        labels = None if labels is None else torch.tensor(labels, dtype=torch.long)
        metrics = info.metrics
        reconstruction, kl = float(metrics["held_out_reconstruction"]), float(metrics["held_out_kl"])
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{path} is not a 2-D VAE file (vaegan train vae2d): {type(exc).__name__} {exc}") from exc
    if config.model_config != model.config or posterior.shape[0] != config.held_out:
        raise CheckpointError(f"{path}: its 2-D VAE settings do not match its model or its posterior")
    if labels is not None and labels.shape != (config.held_out,):
        raise CheckpointError(f"{path}: {labels.shape[0]} labels for {config.held_out} held-out digits")
    provenance = {k: extra.get(k) for k in ("command", "cpu", "threads", "torch", "train_seconds_total")}
    return Vae2dResult(
        config=config, model=model, manifold=decoded_manifold(model, config.grid_side),
        grid=prior_quantile_grid(config.grid_side).tolist(), posterior=posterior, labels=labels,
        reconstruction=reconstruction, kl=kl, seconds=float(extra.get("train_seconds_total", 0.0)),
        history=list(extra.get("history", [])), data=info.dataset, label_source=str(extra.get("label_source", "")),
        provenance=provenance,
    )  # fmt: skip


def shipped_vae2d_paths(folder: str | os.PathLike[str] = "checkpoints") -> dict[float, Path]:
    """β -> the shipped file for it, for each shipped β whose file exists in `folder`."""
    paths = {beta: Path(folder) / vae2d_filename(beta) for beta in VAE2D_BETAS}
    return {beta: path for beta, path in paths.items() if path.exists()}
