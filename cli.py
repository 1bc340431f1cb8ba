"""vaegan command line: every command parses its flags, makes one library call and prints or writes the result.

    python cli.py --help
    python cli.py train vae --epochs 20
    python cli.py eval vae --json
    torchrun --nproc-per-node 4 cli.py train wgan ...   # data-parallel training (README: More than one machine)

All logic lives in `vaegan/`; library errors (VaeganError) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import atexit
import gc
import json
import math
import os
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vaegan.allocator import keep_freed_memory
from vaegan.errors import VaeganError

if TYPE_CHECKING:
    from collections.abc import Callable

    import torch

    from vaegan.divergences import DynamicsResult, Toy2dResult
    from vaegan.train.common import Progress as TrainProgress

app = typer.Typer(
    help="Train, evaluate and explore VAEs and GANs. Weights are exported as self-describing .safetensors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
train_app = typer.Typer(help="Train a model and export it as .safetensors.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a trained model.", no_args_is_help=True)
sample_app = typer.Typer(help="Draw samples from a trained generator into a PNG grid.", no_args_is_help=True)
explore_app = typer.Typer(help="Walk a generator's latent space: perturb, interpolate, rank.", no_args_is_help=True)
export_app = typer.Typer(help="Export a model from a run's training state.", no_args_is_help=True)
timeline_app = typer.Typer(help="Training timelines of WGAN runs (what the app's Samples page animates).",
                           no_args_is_help=True)  # fmt: skip
for sub_app, name in ((train_app, "train"), (eval_app, "eval"), (sample_app, "sample"), (explore_app, "explore"),
                      (export_app, "export"), (timeline_app, "timeline")):  # fmt: skip
    app.add_typer(sub_app, name=name)



def _rank() -> int:
    """This process's rank under torchrun (0 otherwise), from its environment: no torch import at start-up."""
    return int(os.environ.get("RANK", "0")) if "WORLD_SIZE" in os.environ else 0


# Progress and messages go to stderr so that stdout carries only results (e.g. `--json`); under torchrun only
# rank 0 shows them (errors: every rank, see `main`).
err_console = Console(stderr=True, quiet=_rank() != 0)

# The shipped files (vaegan.checkpoint.DEFAULT_CHECKPOINTS), as CLI defaults.
VAE_CKPT = Path("checkpoints/vae.safetensors")
WGAN_CKPT = Path("checkpoints/wgan.safetensors")
CLASSIFIER_CKPT = Path("checkpoints/classifier.safetensors")


VAE_DATA_HELP = "binarized-mnist | mnist | PATH.npz | PATH.amat | FOLDER; rows with @a:b, join with +."
RESUME_HELP = ("Continue from run-dir/state.safetensors if it exists (implied after torchrun restarts the group; "
               "a fresh torchrun run without it removes an older state first).")  # fmt: skip

# ------------------------------------------------------------------------------------------- choices


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class VAEArch(StrEnum):
    mlp = "mlp"
    conv = "conv"


class Schedule(StrEnum):
    constant = "constant"
    cosine = "cosine"


class Binarize(StrEnum):
    auto = "auto"
    dynamic = "dynamic"
    threshold = "threshold"
    none = "none"


BINARIZE_HELP = (
    "Grey data: auto = binary data as is, grey data dynamic; dynamic = a fresh Bernoulli sample per batch (fixed "
    "for valid/test); threshold = pixel >= 0.5; none = grey levels as Bernoulli targets."
)


class Split(StrEnum):
    train = "train"
    valid = "valid"
    test = "test"


class Recipe(StrEnum):
    fast = "fast"
    reference = "reference"


class Precision(StrEnum):
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


class LRDecay(StrEnum):
    none = "none"
    linear = "linear"


class InterpolationMode(StrEnum):
    lerp = "lerp"
    slerp = "slerp"


class RankMethod(StrEnum):
    jacobian = "jacobian"
    features = "features"


class Family(StrEnum):
    lines = "lines"
    gaussian = "gaussian"
    gaussians8 = "8gaussians"
    gaussians25 = "25gaussians"
    swissroll = "swissroll"
    moons = "moons"


class Optimizer(StrEnum):
    adam = "adam"
    sgd = "sgd"


class GeneratorKind(StrEnum):
    shift = "shift"
    mlp = "mlp"


class Target(StrEnum):
    lines = "lines"
    gaussian = "gaussian"
    gaussians8 = "8gaussians"
    gaussians25 = "25gaussians"
    swissroll = "swissroll"
    moons = "moons"


class Penalty(StrEnum):
    one_sided = "one-sided"
    two_sided = "two-sided"


def _value(choice: StrEnum | None) -> str | None:
    return None if choice is None else choice.value


# ------------------------------------------------------------------------------------------- helpers


def progress_bar(*fields: str) -> Progress:
    """A progress bar with ETA plus named live fields (e.g. loss)."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields]
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*columns, console=err_console, transient=False)


class TrainingDisplay:
    """Shows a training loop's `vaegan.train.common.Progress` reports: a live bar for "step" events, one plain
    line per "epoch" / "checkpoint" (so a log file without a terminal shows progress too) and the speed and ETA
    once the loop has measured them ("plan")."""

    def __init__(
        self, name: str, fields: dict[str, str], eta_hint: str = "", line: Callable[[TrainProgress], str] | None = None
    ) -> None:
        self.bar = progress_bar(*fields)
        self.fields = fields  # shown name -> key in Progress.values
        self.name, self.eta_hint, self.line = name, eta_hint, line
        self.task = self.bar.add_task(name, total=None, **{f: "-" for f in fields})

    def __enter__(self) -> TrainingDisplay:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def _shown(self, values: dict[str, float]) -> dict[str, str]:
        return {f: f"{values[key]:.3f}" for f, key in self.fields.items() if key in values}

    def __call__(self, report: TrainProgress) -> None:
        values = dict(report.values)
        if report.event == "step":
            self.bar.update(self.task, completed=report.done, total=report.total, **self._shown(values))
        elif report.event == "plan":
            per_iter, planned = values["seconds_per_iter"], int(values["planned_iters"])
            eta = per_iter * (planned - report.done)
            line = f"{per_iter:.3f} s per {report.unit[:-1]}: {planned:,} take about {_duration(eta)} more"
            if eta > 3600 and self.eta_hint:
                line += f"; {self.eta_hint}"
            self.bar.console.print(line)
        elif self.line is not None:
            self.bar.console.print(self.line(report))
        else:
            shown = "  ".join(f"{k} {v:.3f}" for k, v in values.items() if k != "seconds")
            target = f"  -> {report.path}" if report.path else ""
            line = f"{report.unit} {report.done}/{report.total}  {shown}  {report.seconds:.0f}s{target}"
            self.bar.console.print(line)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def parse_duration(text: str) -> float:
    """'90s', '30m', '2h', '1h30m' or a plain number of seconds -> seconds."""
    import re

    from vaegan.errors import ConfigError
    from vaegan.limits import MAX_TIME_BUDGET

    text = text.strip().lower()
    match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not text or match is None or not any(match.groups()):
        raise ConfigError(f"--time-budget {text[:40]!r}: expected a duration such as 90s, 30m, 2h or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ConfigError(f"--time-budget {text!r} must be longer than 0 s")
    if not total <= MAX_TIME_BUDGET:  # also catches a number so long that it became inf
        raise ConfigError(f"--time-budget {text[:40]!r} is longer than the limit of {MAX_TIME_BUDGET / 86400:g} days")
    return total


def _command() -> str:
    from vaegan.train.common import portable_command

    launcher = "python"
    nodes, per_node = os.environ.get("GROUP_WORLD_SIZE"), os.environ.get("LOCAL_WORLD_SIZE")
    if nodes and per_node:  # torchrun (its rendezvous flags are the launch's, not the run's)
        launcher = f"torchrun --nnodes {nodes} --nproc-per-node {per_node}"
    return f"{launcher} cli.py " + portable_command(sys.argv[1:])


def _train_device(device: Device) -> torch.device:
    """The device this process trains on. Under torchrun it joins the process group first (NCCL for CUDA, gloo
    for the CPU) and gets its own GPU; `main` leaves the group at the end."""
    from vaegan import distributed
    from vaegan.runtime import resolve_device

    return distributed.init(resolve_device(device.value))


def _export(result: object, out: Path, **extra: object) -> None:
    """Rank 0 (or the only process) writes the model file, with the world size when torchrun trained it."""
    from vaegan import distributed
    from vaegan.checkpoint import save_result

    if distributed.is_main():
        save_result(result, out, command=_command(), **extra, **distributed.describe())


def _load(path: Path, kind: str, device: Device) -> torch.nn.Module:
    from vaegan.checkpoint import load_model
    from vaegan.runtime import resolve_device

    return load_model(path, kind=kind, device=resolve_device(device.value))


def _optional_classifier(path: Path, device: Device) -> torch.nn.Module | None:
    from vaegan.hub import is_hub_spec

    if not (path.exists() or is_hub_spec(path)):
        err_console.print(f"no classifier at {path}: images are not labelled")
        return None
    return _load(path, "digit-classifier", device)


def _print_json(result: dict) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def _print_table(labels: list[str], rows: list[str], columns: list[str]) -> None:
    """The classifier's reading of every image of a table, one line per row."""
    typer.echo(f"{'':>8s}  " + "  ".join(f"{c:>9s}" for c in columns))
    for r, name in enumerate(rows):
        cells = labels[r * len(columns) : (r + 1) * len(columns)]
        typer.echo(f"{name:>8s}  " + "  ".join(f"{label:>9s}" for label in cells))


def _save_labelled(out: Path, table: torch.Tensor, rows: list[str], columns: list[str], classifier: Path,
                   device: Device) -> None:  # fmt: skip
    """Save an (R, K, 3, 32, 32) table as PNG; with a classifier, caption every image with its digit and print the
    readings (so "the 9 turns into a 4" is measured, not described by eye)."""
    from vaegan.classifier import label_images
    from vaegan.images import save_table

    reader = _optional_classifier(classifier, device)
    labels = label_images(reader, table.reshape(-1, *table.shape[2:])) if reader is not None else None
    save_table(out, table, labels)
    if labels is not None:
        _print_table(labels, rows, columns)


# ------------------------------------------------------------------------------------------------- VAE


@train_app.command("vae")
def train_vae_command(
    epochs: int = typer.Option(20, min=1, help="Passes over the training set."),
    latent_dim: int = typer.Option(100, min=1, help="Size of z."),
    hidden: int = typer.Option(300, min=1, help="MLP width (conv: channels of the widest layer x4)."),
    batch_size: int = typer.Option(256, min=1, help="Examples per step (the reference's: 64)."),
    lr: float = typer.Option(4e-3, min=1e-12, help="Peak Adam learning rate (the reference's: 3e-4 constant)."),
    arch: VAEArch = typer.Option(VAEArch.mlp, help="mlp = the reference 784-300-300; conv = convolutional."),
    schedule: Schedule = typer.Option(Schedule.cosine, help="cosine: warm-up, then cosine decay to 0 at --epochs "
                                      "(a run resumes to the same end); constant: runs can be extended."),
    warmup_epochs: float = typer.Option(1.0, min=0.0, help="Linear warm-up of the cosine schedule (at most half)."),
    data: str = typer.Option("binarized-mnist", help=VAE_DATA_HELP),
    binarize: Binarize = typer.Option(Binarize.auto, help=BINARIZE_HELP),
    seed: int = typer.Option(0),
    out: Path = typer.Option(VAE_CKPT, help="Where the trained model is written."),
    run_dir: Path = typer.Option(Path("runs/vae"), help="Holds state.safetensors for --resume."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
    eval_k: int = typer.Option(0, min=0, help="If > 0, also store test log p(x) with this many IS samples."),
    device: Device = typer.Option(Device.auto),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch (0 = torch's default)."),
) -> None:
    """Train a VAE with negative-ELBO loss on binarized MNIST and export it."""
    from vaegan import distributed
    from vaegan.data import load_binary_mnist
    from vaegan.runtime import set_threads
    from vaegan.train.vae import VAETrainConfig, train_vae
    from vaegan.vae import VAEConfig

    set_threads(threads)
    dev = _train_device(device)
    resume = distributed.resume_wanted(resume, run_dir / "state.safetensors")
    splits = load_binary_mnist(data, seed=seed, binarize=binarize.value)
    model_config = VAEConfig(arch=arch.value, latent_dim=latent_dim, hidden=hidden)
    train_config = VAETrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, eval_k=eval_k,
                                  schedule=schedule.value, warmup_epochs=warmup_epochs)  # fmt: skip
    err_console.print(
        f"training {arch.value} VAE on {splits.name} ({splits.train.shape[0]} images"
        f"{'' if splits.binarize == 'binary' else f', binarized: {splits.binarize}'}) on {dev}"
    )
    def epoch_line(report: TrainProgress) -> str:
        v = report.values
        train, valid = v["train_neg_elbo"], v["valid_neg_elbo"]
        return f"epoch {report.done:3d}  train -ELBO {train:8.3f}  valid -ELBO {valid:8.3f}  ({v['seconds']:.1f}s)"

    with TrainingDisplay("train vae", {"loss": "loss", "valid": "valid_neg_elbo"}, line=epoch_line) as display:
        result = train_vae(model_config, splits, train_config, device=dev, state_path=run_dir / "state.safetensors",
                           resume=resume, on_progress=display)  # fmt: skip
    _export(result, out)
    err_console.print(f"wrote {out}  " + "  ".join(f"{k}={v:.3f}" for k, v in result.metrics.items()))


@eval_app.command("vae")
def eval_vae_command(
    ckpt: Path = typer.Option(VAE_CKPT, help="A VAE .safetensors file."),
    data: str = typer.Option("binarized-mnist", help=VAE_DATA_HELP),
    binarize: Binarize = typer.Option(Binarize.auto, help=BINARIZE_HELP + " Must match training for grey data."),
    split: Split = typer.Option(Split.test),
    k: int = typer.Option(200, min=1, help="Importance samples per image for log p(x)."),
    limit: int = typer.Option(0, min=0, help="Evaluate a random subset of N images, fixed by --seed (0 = all)."),
    seed: int = typer.Option(0, help="Seed of the data split/binarization (must match training for PATH data)."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Mean -ELBO and importance-sampled log p(x) (nats) of a trained VAE on one split."""
    from vaegan.data import load_binary_mnist
    from vaegan.likelihood import evaluate_vae
    from vaegan.limits import check_importance_samples

    check_importance_samples(k)  # before loading anything or starting the progress bar
    model = _load(ckpt, "vae", device)
    x = load_binary_mnist(data, seed=seed, binarize=binarize.value).split(split.value)
    with progress_bar() as bar:
        task = bar.add_task(f"log p(x), K={k}", total=None)
        result = evaluate_vae(model, x, k, limit=limit, seed=seed,
                              on_batch=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    result["split"] = split.value
    if as_json:
        _print_json(result)
    else:
        typer.echo(f"{split.value}: -ELBO {result['neg_elbo']:.3f}  log p(x) {result['log_px']:.3f} "
                   f"(K={k}, n={result['n']})")  # fmt: skip


# ------------------------------------------------------------------------------------------ classifier


@train_app.command("classifier")
def train_classifier_command(
    data: str = typer.Option("mnist", help="Labelled training images: svhn | mnist | PATH.npz | FOLDER, @a:b, +."),
    holdout: str = typer.Option("", help="Labelled held-out images whose accuracy is reported and stored (optional)."),
    epochs: int = typer.Option(8, min=1, help="Passes over the training set."),
    batch_size: int = typer.Option(128, min=1),
    lr: float = typer.Option(1e-3, min=1e-12, help="Peak Adam learning rate (cosine decay to 0)."),
    width: int = typer.Option(16, min=1, help="Channels of the first conv block (then 2x, 4x)."),
    feature_dim: int = typer.Option(128, min=1, help="Size of the penultimate layer: the features metrics use."),
    augment: bool = typer.Option(True, help="Random shifts of up to 2 pixels while training."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(CLASSIFIER_CKPT, help="Where the classifier is written."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Train the small digit classifier used by `eval wgan` and by the app's digit labels, and export it."""
    from vaegan.classifier import ClassifierConfig
    from vaegan.data import load_rgb32
    from vaegan.train.classifier import ClassifierTrainConfig, train_classifier

    dev = _train_device(device)
    train_set = load_rgb32(data)
    held_out = load_rgb32(holdout) if holdout else None
    model_config = ClassifierConfig(width=width, feature_dim=feature_dim)
    train_config = ClassifierTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, augment=augment)
    err_console.print(f"training digit classifier on {train_set.name} ({train_set.images.shape[0]} images) on {dev}")
    with TrainingDisplay("train classifier", {"loss": "loss"}) as display:
        result = train_classifier(train_set, model_config, train_config, holdout=held_out, device=dev,
                                  on_progress=display)  # fmt: skip
    _export(result, out)
    shown = "  ".join(f"{k}={v}" if isinstance(v, int) else f"{k}={v:.4f}" for k, v in result.metrics.items())
    err_console.print(f"wrote {out}  {shown}  ({result.seconds:.0f}s)")


# ------------------------------------------------------------------------------------------------ WGAN


@train_app.command("wgan")
def train_wgan_command(
    data: str = typer.Option("svhn", help="svhn | mnist | PATH.npz | FOLDER; rows with @start:stop, join with +."),
    recipe: Recipe = typer.Option(Recipe.fast, help="Starting settings: fast (CPU-tuned) or the reference recipe."),
    time_budget: str = typer.Option("", help="Train for this long (90s, 30m, 2h): picks --iters, decays the lr."),
    iters: int = typer.Option(100_000, min=1, help="Generator iterations (with --time-budget: the most it may pick)."),
    batch_size: int | None = typer.Option(None, min=1),
    n_critic: int | None = typer.Option(None, min=1, help="Critic steps per generator step."),
    gp: float | None = typer.Option(None, min=0.0, help="Gradient-penalty weight lambda."),
    gp_every: int | None = typer.Option(None, min=1, help="Lazy penalty: every k-th critic step, weight k * lambda."),
    lr: float | None = typer.Option(None, min=1e-12, help="Adam learning rate of the generator (and the critic)."),
    critic_lr: float | None = typer.Option(None, min=1e-12, help="Critic learning rate (default: --lr)."),
    beta1: float | None = typer.Option(None, min=0.0, max=0.999),
    beta2: float | None = typer.Option(None, min=0.0, max=0.9999),
    lr_decay: LRDecay | None = typer.Option(None, help="linear: both rates fall to 0 at the last iteration."),
    ema_decay: float | None = typer.Option(None, min=0.0, max=0.99999),
    width: int | None = typer.Option(None, min=1, help="Channels of the 16x16 layer (the 8x8 and 4x4: 2x, 4x)."),
    latent_dim: int = typer.Option(100, min=1, help="Size of z ~ N(0, I)."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(WGAN_CKPT, help="Where the EMA generator is exported."),
    run_dir: Path = typer.Option(Path("runs/wgan"), help="Holds state.safetensors (for --resume) and samples/."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
    checkpoint_every: int = typer.Option(500, min=1, help="Write the full training state every N iterations."),
    sample_every: int = typer.Option(500, min=1, help="Write an EMA sample grid every N iterations."),
    timeline_every: int = typer.Option(
        500, min=0, help="Record the EMA's images of 16 fixed z (run-dir/timeline.safetensors) every N; 0 = off."
    ),
    classifier: Path | None = typer.Option(None, help="Digit classifier: FD/precision/recall on the timeline."),
    holdout: str = typer.Option("", help="Held-out digits (a --data spec) the timeline's metrics are measured on."),
    timeline_n: int = typer.Option(1000, min=2, help="Images per set for the timeline's metrics (holdout >= 2n)."),
    device: Device = typer.Option(Device.auto),
    precision: Precision = typer.Option(Precision.fp32, help="Autocast dtype; fp16 uses loss scaling."),
    channels_last: bool = typer.Option(False, help="NHWC memory format (faster convolutions on some hardware)."),
    sync_bn: bool = typer.Option(False, help="Under torchrun: generator BatchNorm on global-batch statistics "
                                 "(SyncBatchNorm; CUDA only). Default: each process's own shard."),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch (0 = torch's default)."),
    half: bool = typer.Option(False, help="Export the generator's weights as fp16 (half the file size)."),
) -> None:
    """Train a WGAN-GP (DCGAN generator, 32x32x3) and export its EMA generator as .safetensors."""
    from vaegan import distributed
    from vaegan.data import load_rgb32
    from vaegan.errors import ConfigError
    from vaegan.runtime import set_threads
    from vaegan.timeline import TimelineScorer, export_sidecar
    from vaegan.train.common import hardware
    from vaegan.train.wgan import STATE_FILE, train_wgan
    from vaegan.train.wgan import recipe as make_recipe

    threads_used = set_threads(threads)
    dev = _train_device(device)
    model_config, train_config = make_recipe(
        recipe.value, latent_dim=latent_dim, width=width, iters=iters, batch_size=batch_size, n_critic=n_critic,
        gp_weight=gp, gp_every=gp_every, lr=lr, critic_lr=critic_lr, beta1=beta1, beta2=beta2,
        lr_decay=_value(lr_decay), ema_decay=ema_decay, seed=seed, precision=precision.value,
        channels_last=channels_last, checkpoint_every=checkpoint_every, sample_every=sample_every,
        timeline_every=timeline_every, time_budget=parse_duration(time_budget) if time_budget else 0.0, sync_bn=sync_bn,
    )  # fmt: skip
    if (classifier is None) != (not holdout):
        raise ConfigError("the timeline's metrics need both --classifier and --holdout (or neither)")
    scorer = None
    if classifier is not None and timeline_every:
        held_out = load_rgb32(holdout)
        scorer = TimelineScorer(_load(classifier, "digit-classifier", device), held_out.images, n=timeline_n,
                                data=held_out.name)  # fmt: skip
    resume = distributed.resume_wanted(resume, run_dir / STATE_FILE)
    images = load_rgb32(data)
    budget = f", time budget {_duration(train_config.time_budget)}" if train_config.time_budget else ""
    err_console.print(
        f"training WGAN-GP ({recipe.value} recipe, width {model_config.width}) on {images.name} "
        f"({images.images.shape[0]} images) on {dev}, {precision.value}, {threads_used} threads{budget}; "
        f"state and samples in {run_dir}"
    )
    fields = {"it/s": "iters_per_second", "critic": "critic_loss", "W": "wasserstein", "gp": "penalty"}
    hint = "" if train_config.time_budget else "to fit a time, add --time-budget 30m (or 2h, 90s)"
    with TrainingDisplay("train wgan", fields, eta_hint=hint) as display:
        result = train_wgan(model_config, images, train_config, device=dev, run_dir=run_dir, resume=resume,
                            on_progress=display, timeline_scorer=scorer)  # fmt: skip
    _export(result, out, half=half, hardware=hardware(dev), torch=_torch_version())
    err_console.print(f"wrote {out} (EMA generator, {result.steps} iterations, {result.seconds:.0f}s of training)")
    sidecar = export_sidecar(run_dir, out) if distributed.is_main() else None  # rank 0 wrote the timeline
    if sidecar is not None:
        err_console.print(f"wrote {sidecar} (its training timeline, for the app's Samples page)")


@export_app.command("wgan")
def export_wgan_command(
    run_dir: Path = typer.Option(Path("runs/wgan"), help="The run whose state.safetensors to export."),
    out: Path = typer.Option(WGAN_CKPT, help="Where the EMA generator is written."),
    half: bool = typer.Option(False, help="Store the weights as fp16."),
) -> None:
    """Export the EMA generator of a run's last checkpoint (a stopped or still running run) without training."""
    from vaegan.checkpoint import save_result
    from vaegan.train.wgan import STATE_FILE, result_from_state

    result = result_from_state(run_dir / STATE_FILE)
    save_result(result, out, command=_command(), half=half)
    err_console.print(f"wrote {out} (EMA generator after {result.steps} iterations, {result.seconds:.0f}s of training)")


def _torch_version() -> str:
    import torch

    return torch.__version__


@eval_app.command("wgan")
def eval_wgan_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="The digit classifier."),
    data: str = typer.Option(
        "mnist", help="Held-out real images (for the shipped model: ../shared/data/mnist_test.npz@8000:10000)."
    ),
    n: int = typer.Option(1000, min=2, help="Images per compared set; the data must hold 2n (reference + floor)."),
    k: int = typer.Option(3, min=1, help="Nearest neighbour that sets the ball radii of precision/recall."),
    seed: int = typer.Option(0, help="Seeds the latent draws and the split of the real images into two halves."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Fréchet distance and precision/recall of generated digits on classifier features, with a real-vs-real floor.

    n generated images and n other held-out real images are each compared with the same n held-out reference
    images, so `real_vs_real_fid` is what a perfect generator would score at this n.
    """
    from vaegan.data import load_rgb32
    from vaegan.metrics import evaluate_generator

    generator = _load(ckpt, "wgan-generator", device)
    digit_classifier = _load(classifier, "digit-classifier", device)
    real = load_rgb32(data)
    result = evaluate_generator(generator, digit_classifier, real.images, latent_dim=generator.latent_dim, n=n,
                                seed=seed, k=k)  # fmt: skip
    result.update(ckpt=str(ckpt), data=real.name)
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{'':14s}{'FD':>10s}{'precision':>11s}{'recall':>8s}   (n={n} per set, k={k}, data {real.name})")
    for name, prefix in (("real vs real", "real_vs_real_"), ("generated", "")):
        fid, precision, recall = (result[prefix + key] for key in ("fid", "precision", "recall"))
        typer.echo(f"{name:14s}{fid:10.3f}{precision:11.3f}{recall:8.3f}")
    typer.echo(f"predicted digits of the generated images: {result['predicted_digit_counts']}")


@eval_app.command("compare")
def eval_compare_command(
    vae: Path = typer.Option(VAE_CKPT, help="A VAE .safetensors file."),
    wgan: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="The digit classifier whose features both are scored on."),
    data: str = typer.Option(
        "mnist", help="Held-out real images, as for eval wgan (shipped models: ../shared/data/mnist_test.npz@8000:)."
    ),
    n: int = typer.Option(1000, min=2, help="Samples per model and images per real set; the data must hold 2n."),
    k: int = typer.Option(3, min=1, help="Nearest neighbour that sets the ball radii of precision/recall."),
    seed: int = typer.Option(0, help="Seeds both models' latents and the split of the real images."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """The VAE and the WGAN side by side: FD, precision, recall and digit histogram on the same held-out digits.

    VAE samples are its decoder's Bernoulli means, padded from 28x28 to 32x32x3 as MNIST is for the classifier.
    """
    from vaegan.compare import compare_models
    from vaegan.data import load_rgb32

    real = load_rgb32(data)
    models = _load(vae, "vae", device), _load(wgan, "wgan-generator", device)
    digit_classifier = _load(classifier, "digit-classifier", device)
    result = compare_models(*models, digit_classifier, real.images, n=n, seed=seed, k=k)
    result.update(vae_ckpt=str(vae), wgan_ckpt=str(wgan), data=real.name)
    if as_json:
        _print_json(result)
        return
    typer.echo(f"{'':14s}{'FD':>10s}{'precision':>11s}{'recall':>8s}   (n={n} per set, k={k}, data {real.name})")
    for name, key in (("real vs real", "floor"), (f"VAE ({result['vae']['arch']})", "vae"), ("WGAN", "wgan")):
        row = result[key]
        typer.echo(f"{name:14s}{row['fid']:10.3f}{row['precision']:11.3f}{row['recall']:8.3f}   "
                   f"digits {row['predicted_digit_counts']}")  # fmt: skip


@sample_app.command("wgan")
def sample_wgan_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    n: int = typer.Option(64, min=1, help="How many images."),
    seed: int = typer.Option(0, help="Seeds the latents z ~ N(0, I)."),
    nrow: int = typer.Option(8, min=1, help="Images per row of the grid."),
    out: Path = typer.Option(Path("samples.png"), help="The PNG grid to write."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Sample n images from the (EMA) generator and write them as one PNG grid."""
    from vaegan.images import save_png
    from vaegan.latent import sample_images

    generator = _load(ckpt, "wgan-generator", device)
    save_png(out, sample_images(generator, n, seed), nrow=nrow)
    err_console.print(f"wrote {out} ({n} samples, seed {seed}, from {ckpt})")


@explore_app.command("perturb")
def explore_perturb_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    dims: str = typer.Option("20,21", help="Comma-separated latent dims, one row each."),
    eps: str = typer.Option("-5:4:10", help="start:stop:count (both ends included) or a comma list; one column each."),
    seed: int = typer.Option(0, help="Seeds the base latent z."),
    out: Path = typer.Option(Path("perturb.png"), help="The PNG to write (rows: dims, columns: eps)."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Digit classifier that labels every image (if present)."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Images of z + eps * e_d: one row per latent dim d, one column per eps, each labelled with its digit."""
    from vaegan.latent import parse_dims, parse_eps, perturbation_strip, sample_latents

    dim_list, eps_values = parse_dims(dims), parse_eps(eps)
    generator = _load(ckpt, "wgan-generator", device)
    strip = perturbation_strip(generator, sample_latents(1, generator.latent_dim, seed)[0], dim_list, eps_values)
    _save_labelled(out, strip, [f"dim {d}" for d in dim_list], [f"eps={e:g}" for e in eps_values], classifier, device)
    err_console.print(f"wrote {out} (rows: dims {dim_list}; columns: eps {[round(e, 3) for e in eps_values]})")


@explore_app.command("interpolate")
def explore_interpolate_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    seed0: int = typer.Option(1, help="Seed of the start latent."),
    seed1: int = typer.Option(2, help="Seed of the end latent."),
    steps: int = typer.Option(10, min=2, help="Images per row, ends included."),
    mode: InterpolationMode = typer.Option(InterpolationMode.lerp, help="Straight line or great circle."),
    out: Path = typer.Option(Path("interp.png"), help="The PNG to write (row 1: latent path, row 2: pixel fade)."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Digit classifier that labels every image (if present)."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Interpolate between two latents (top row) next to a cross-fade of the two end images (bottom row)."""
    from vaegan.latent import interpolation_table

    generator = _load(ckpt, "wgan-generator", device)
    table, times = interpolation_table(generator, seed0, seed1, steps, mode.value)
    _save_labelled(out, table, [mode.value, "fade"], [f"t={t:.2f}" for t in times], classifier, device)
    err_console.print(f"wrote {out} ({mode.value}, {steps} steps, seeds {seed0} -> {seed1})")


@explore_app.command("rank")
def explore_rank_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    seed: int = typer.Option(0, help="Seeds the latents the changes are averaged over."),
    n: int = typer.Option(16, min=2, help="Latents to average over."),
    top: int = typer.Option(10, min=1, help="How many dims and directions to list."),
    eps: float = typer.Option(1.0, help="Step size along each dim/direction when measuring the change."),
    method: RankMethod = typer.Option(RankMethod.jacobian, help="Directions from output changes or features."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Digit classifier for the semantic ranking (if present)."),
    out: Path = typer.Option(Path("rank.png"), help="PNG: one row per top principal direction, eps -3..3."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Latent dims and principal directions ranked by how much they change the image (mean RMS pixel change)."""
    from vaegan.images import save_png
    from vaegan.latent import rank_report

    generator = _load(ckpt, "wgan-generator", device)
    reader = _optional_classifier(classifier, device)
    report = rank_report(generator, n=n, seed=seed, top=top, eps=eps, method=method.value, classifier=reader)
    save_png(out, report.strips)
    result = {"ckpt": str(ckpt), "image": str(out), **report.to_dict()}
    if as_json:
        _print_json(result)
        return
    typer.echo(f"mean RMS pixel change for a step of {eps} (over {n} latents, seed {seed}); images in [-1, 1]")
    typer.echo(f"{'latent dim':>10s}  {'change':>8s}")
    for d, s in report.dims:
        typer.echo(f"{d:10d}  {s:8.4f}")
    if report.semantic_dims:
        typer.echo("dims ranked by how often a step of ±1.5 or ±3 changes the predicted digit")
        typer.echo(f"{'latent dim':>10s}  {'rate':>8s}")
        for d, r in report.semantic_dims:
            typer.echo(f"{d:10d}  {r:8.3f}")
    typer.echo(f"principal directions ({result['method']}); rows of {out}")
    typer.echo(f"{'#':>3s}  {'change':>8s}  {'variance':>10s}  largest latent dims")
    for row in result["directions"]:
        typer.echo(f"{row['index']:3d}  {row['change']:8.4f}  {row['variance']:10.4g}  {row['top_dims']}")


@timeline_app.command("from-grids")
def timeline_from_grids_command(
    run_dir: Path = typer.Argument(..., help="A WGAN run folder with samples/iter_XXXXXX.png grids of 64 images."),
    out: Path = typer.Option(Path("checkpoints/wgan_timeline.safetensors"), help="The timeline file to write."),
    max_frames: int = typer.Option(32, min=2, help="Keep at most this many grids, spread evenly (first and last)."),
    seed: int | None = typer.Option(None, help="The run's --seed: stores the 16 latents (needs --latent-dim)."),
    latent_dim: int = typer.Option(100, min=1, help="The run's --latent-dim (with --seed)."),
) -> None:
    """Build a training timeline (images only) from a run's sample grids: the first 16 images of every grid."""
    from vaegan.timeline import TIMELINE_IMAGES, timeline_from_grids
    from vaegan.train.wgan import preview_latents

    latents = None if seed is None else preview_latents(64, latent_dim, seed)[:TIMELINE_IMAGES]
    timeline = timeline_from_grids(run_dir, latents=latents, info={} if seed is None else {"seed": seed})
    thinned = timeline.thinned(max_frames)
    thinned.save(out)
    span = f"iterations {thinned.iterations[0]}..{thinned.iterations[-1]}, {out.stat().st_size / 1e6:.2f} MB"
    err_console.print(f"wrote {out}: {len(thinned)} of {len(timeline)} grids ({span})")


# ------------------------------------------------------------------------------------------ divergences


@app.command("compare")
def compare_command(
    family: Family = typer.Option(
        Family.lines,
        help="lines: P=(0,U[0,1]) vs Q=(θ,U[0,1]); gaussian: N((0,½),σ²I) vs N((θ,½),σ²I); 8gaussians, 25gaussians, "
        "swissroll, moons: P = that 2-D toy target, Q = P moved by θ along x (W1 = |θ|; the f-divergences have no "
        "closed form).",
    ),
    divergences: str = typer.Option(
        "hellinger,wasserstein",
        help="Comma list of hellinger, wasserstein, kl, reverse-kl, jensen-shannon, total-variation, pearson.",
    ),
    thetas: str = typer.Option("0:2:21", help="start:stop:count (inclusive) or a comma list such as 0,0.5,1."),
    iters: int | None = typer.Option(None, min=1, help="Optimizer steps per critic (default 150; reference 600)."),
    batch_size: int | None = typer.Option(None, min=1, help="Samples of P and Q per step (256; reference: 512)."),
    lr: float | None = typer.Option(None, min=1e-12, help="Learning rate (default 2e-2 cosine; reference 1e-3)."),
    optimizer: Optimizer | None = typer.Option(None, help="Default adam; reference sgd."),
    width: int | None = typer.Option(None, min=1, help="Critic hidden width (default 16; reference 256)."),
    depth: int | None = typer.Option(None, min=1, help="Critic hidden layers (default 2; reference 3)."),
    penalty: Penalty | None = typer.Option(None, help="Lipschitz penalty of the W1 critic (default one-sided)."),
    penalty_weight: float | None = typer.Option(None, min=0.0, help="λ of the penalty (default 50)."),
    penalty_every: int | None = typer.Option(
        None, min=1, help="The W1 penalty on every k-th step, k times as heavy (default 2; reference 1)."
    ),
    sigma: float | None = typer.Option(None, min=1e-6, help="σ of the gaussian family (default 0.5)."),
    seed: int = typer.Option(0),
    snapshot_every: int | None = typer.Option(None, min=1, help="Record the estimates every N steps (default 5)."),
    heatmap_thetas: str | None = typer.Option(
        None, help="θ whose critic is recorded on a grid, comma list; '' for none (default 0,0.5,1,2)."
    ),
    reference: bool = typer.Option(
        False, "--reference", help="Start from the reference setting: plain SGD lr 1e-3, 600 steps, 2-256-256-256-1."
    ),
    one_at_a_time: bool = typer.Option(False, "--one-at-a-time", help="Train the θ one by one (same numbers, slower)."),
    out: Path = typer.Option(Path("results/divergences.json"), help="Where the result JSON (with snapshots) goes."),
    plot: Path | None = typer.Option(None, help="Also write an interactive HTML plot of estimate vs θ here."),
    device: Device = typer.Option(Device.cpu, help="The critics are small: the CPU is usually fastest."),
    threads: int = typer.Option(1, min=1, help="CPU threads: 2 can be 1.7x faster on idle cores, far slower on busy."),
    workers: int = typer.Option(
        0, min=0, help="Divergences trained at once, each in its own thread of --threads (0 = one per CPU core; the "
        "results are the same).",
    ),  # fmt: skip
) -> None:
    """Estimate divergences between P and Q_θ for every θ with trained critics, all θ trained as one batch."""
    from vaegan.divergences import run_sweep, sweep_config
    from vaegan.runtime import resolve_device

    config = sweep_config(
        reference=reference, family=family.value, divergences=divergences, thetas=thetas, iters=iters,
        batch_size=batch_size, lr=lr, optimizer=_value(optimizer), width=width, depth=depth, penalty=_value(penalty),
        penalty_weight=penalty_weight, penalty_every=penalty_every, sigma=sigma, seed=seed,
        snapshot_every=snapshot_every, heatmap_thetas=heatmap_thetas, batched=not one_at_a_time,
    )  # fmt: skip
    dev = resolve_device(device.value)
    err_console.print(
        f"{', '.join(config.divergences)} on {config.family}, {len(config.thetas)} θ, {config.iters} {config.optimizer}"
        f" steps (lr {config.lr:g}), critic 2-{'-'.join([str(config.width)] * config.depth)}-1, on {dev}"
    )
    with progress_bar("divergence") as bar:
        task = bar.add_task("compare", total=None, divergence="-")

        def on_progress(done: int, total: int, name: str) -> None:
            if done % 10 == 0 or done == total:
                bar.update(task, completed=done, total=total, divergence=name)

        result = run_sweep(config, progress=on_progress, device=dev, threads=threads, workers=workers or None)
    result.save(out)
    unknown = {name: result.no_closed_form(name) for name in config.divergences}
    width = 30 if any(unknown.values()) else 22  # room for "no closed form" in the truth column

    def truth_cell(value: float) -> str:
        return "no closed form" if math.isnan(value) else f"{value:<8.4g}"

    typer.echo(f"{'θ':>6s}" + "".join(f"{name:>{width}s}" for name in config.divergences) + "   (estimate / truth)")
    for i, theta in enumerate(result.thetas):
        cells = [f"{result.estimates[n][i]:11.4f} / {truth_cell(result.truth[n][i])}" for n in config.divergences]
        typer.echo(f"{theta:6.3f}" + "".join(f"{cell:>{width}s}" for cell in cells))
    for name in config.divergences:
        worst, infinite = result.worst_error(name)
        missing = [f"{infinite} θ infinite"] if infinite else []
        missing += [f"{unknown[name]} θ with no closed form"] if unknown[name] else []
        if worst is None:
            shown = "no closed form" if unknown[name] and not infinite else f"no finite truth ({', '.join(missing)})"
        else:
            shown = f"max |estimate - truth| {worst:.4f}"
            shown += f" where the truth is known ({', '.join(missing)})" if missing else ""
        typer.echo(f"{name}: {shown}, trained in {result.seconds[name]:.2f}s")
    err_console.print(f"wrote {out}")
    if plot is not None:
        from demo.charts import divergence_figure, write_html

        write_html(divergence_figure(result), plot)
        err_console.print(f"wrote {plot}")


@app.command("dynamics")
def dynamics_command(
    generator: GeneratorKind = typer.Option(
        GeneratorKind.shift, help="shift: one learnable θ, Q_θ = P moved by θ (lines | gaussian); mlp: a 2-D toy GAN."
    ),
    target: Target = typer.Option(
        Target.lines, help="P. shift: lines | gaussian; mlp: lines | 8gaussians | 25gaussians | swissroll | moons."
    ),
    losses: str | None = typer.Option(
        None,
        help="Comma list of wasserstein, wasserstein-onesided, hellinger, js, js-nonsaturating (default: shift "
        "wasserstein,hellinger,js,js-nonsaturating; mlp all five).",
    ),
    optimizer: Optimizer | None = typer.Option(None, help="The shift generator's θ optimizer (default sgd)."),
    steps: int | None = typer.Option(None, min=1, help="Generator steps (default: shift 300, mlp 500)."),
    seed: int = typer.Option(0),
    out: Path | None = typer.Option(None, help="The result JSON (default results/dynamics_<target>.json, "
                                    "results/dynamics_shift_<target>[_adam].json for shift)."),  # fmt: skip
    plot: Path | None = typer.Option(None, help="Also write an interactive HTML plot of the run here."),
    all_defaults: bool = typer.Option(
        False, "--all", help="Run the app's precomputation instead: every target under every loss, default settings."
    ),
    folder: Path = typer.Option(Path("results"), "--dir", help="Where --all writes its files."),
    workers: int = typer.Option(
        0, min=0, help="Processes that --all trains runs in at once (0 = one per CPU core; the results are the same)."
    ),
    device: Device = typer.Option(Device.cpu, help="The networks are small: the CPU is usually fastest."),
) -> None:
    """Train generators under each loss (all losses at once, one batched run) and show where each one ends."""
    from vaegan.divergences import dynamics_filename, generator_config, train_generator, write_all_defaults
    from vaegan.errors import ConfigError
    from vaegan.runtime import resolve_device

    dev = resolve_device(device.value)
    if all_defaults:
        given = [flag for flag, value in (("--losses", losses), ("--optimizer", optimizer), ("--steps", steps),
                                          ("--out", out), ("--plot", plot)) if value is not None]  # fmt: skip
        if given:
            raise ConfigError(f"--all runs the default settings: drop {', '.join(given)}")
        with progress_bar("training") as bar:
            task = bar.add_task("dynamics --all", total=None, training="-")
            written = write_all_defaults(folder, _step_reporter(bar, task), dev, workers or os.cpu_count() or 1)
        for path, run in written.items():
            _print_generator_run(run)
            err_console.print(f"wrote {path}")
        return

    config = generator_config(
        generator.value, target.value, losses=None if losses is None else [n.strip() for n in losses.split(",")],
        theta_optimizer=_value(optimizer), steps=steps, seed=seed,
    )  # fmt: skip
    theta_optimizer = getattr(config, "theta_optimizer", "sgd")
    out = out or Path("results") / dynamics_filename(generator.value, target.value, theta_optimizer)
    err_console.print(f"{generator.value} generator on {target.value}: {', '.join(config.losses)}, "
                      f"{config.steps} steps, on {dev}")  # fmt: skip
    with progress_bar("training") as bar:
        task = bar.add_task("dynamics", total=config.steps, training="-")
        run = train_generator(config, _step_reporter(bar, task), dev)
    run.save(out)
    _print_generator_run(run)
    err_console.print(f"wrote {out}")
    if plot is not None:
        from demo.charts import dynamics_figure, write_html

        write_html(dynamics_figure(run), plot)
        err_console.print(f"wrote {plot}")


def _step_reporter(bar: Progress, task: int) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, what: str) -> None:
        if done % 5 == 0 or done == total:
            bar.update(task, completed=done, total=total, training=what)

    return report


def _print_generator_run(run: DynamicsResult | Toy2dResult) -> None:
    """Where each loss took the generator: the shift generator's θ, the MLP's exact W1 to the target and modes."""
    from vaegan.divergences import DynamicsResult

    seconds = run.seconds.get("train", float("nan"))
    if isinstance(run, DynamicsResult):
        config = run.config
        typer.echo(f"shift generator on {config.family}, θ₀ = {config.theta0:g}, {config.steps} "
                   f"{config.theta_optimizer} steps on θ (lr {config.theta_lr:g}), {config.critic_steps} critic steps "
                   "each")  # fmt: skip
        typer.echo(f"{'loss':>18s}  {'final θ':>9s}  {'|dℓ/dθ| last':>12s}  {'estimate':>9s}  {'truth D(θ)':>10s}")
        for name in config.losses:
            typer.echo(f"{name:>18s}  {run.theta[name][-1]:9.4f}  {abs(run.grads[name][-1]):12.3g}  "
                       f"{run.estimates[name][-1]:9.4f}  {run.truth[name][-1]:10.4f}")  # fmt: skip
    else:
        config = run.config
        typer.echo(f"MLP generator on {config.target}, {config.steps} steps, {config.critic_steps} critic steps each")
        modes = f"modes of {run.mode_count}" if run.mode_count else ""
        typer.echo(f"{'loss':>20s}  {'W1 at start':>11s}  {'W1 final':>8s}  {modes:>11s}")
        for name in config.losses:
            covered = f"{run.modes[name][-1]:>11d}" if run.mode_count else ""
            typer.echo(f"{name:>20s}  {run.w1[name][0]:11.3f}  {run.w1[name][-1]:8.3f}  {covered}")
        typer.echo(f"exact W1 between {config.frame_samples} generated and {config.frame_samples} target points; two "
                   f"samples of the target itself: {run.w1_reference:.3f}")  # fmt: skip
    typer.echo(f"all {len(run.config.losses)} losses trained together in {seconds:.1f} s")


# --- hub ---
# `push`: checkpoints and a model card generated from their headers to a Hugging Face Hub model repo. Loading needs no
# command: every --ckpt/--classifier also takes hf://OWNER/REPO/PATH.safetensors[@REVISION] (vaegan/hub.py).


@app.command("push")
def push_command(
    ckpt: list[Path] = typer.Argument(..., help="One or more vaegan .safetensors files (one commit)."),
    repo: str = typer.Option(..., help="The Hub model repo OWNER/NAME; created if it does not exist."),
    private: bool = typer.Option(False, "--private", help="Create the repo private (an existing repo is unchanged)."),
    token: str | None = typer.Option(None, help="A Hub write token (default: HF_TOKEN or the `hf auth login` one)."),
) -> None:
    """Upload checkpoints plus a README.md model card generated from their headers; prints their hf:// specs."""
    from vaegan.publish import push

    result = push(ckpt, repo, private=private, token=token)
    err_console.print(escape(f"pushed to {result.repo_url}  ({result.commit_url})"), highlight=False, soft_wrap=True)
    for spec in result.specs:
        typer.echo(spec)


# ------------------------------------------------------------------------------------------- entry point


GC_THRESHOLDS = (50_000, 20, 10)  # new objects per young collection; young per middle; middle per full


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become `error: ...` on stderr and exit code 2 (usage errors: click's 2)."""
    keep_freed_memory()  # before any command allocates: training steps then reuse their pages (vaegan.allocator)
    # The commands import torch: about a million objects, all alive to the end. At Python's default threshold (a
    # collection per 700 new objects) the cycle collector rescans them hundreds of times, a good share of the import
    # (py-spy; README: Divergences); at one per 50,000 it still frees cycles, a few MB later.
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        app(args=argv, prog_name="cli.py")  # standalone mode: usage errors print one message and exit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except VaeganError as exc:
        # User text (paths, flag values) is printed as it is: no rich markup or emoji codes inside it. Every
        # torchrun rank prints its error (one rank may fail alone), the others saying which they are.
        where = f" (rank {_rank()})" if _rank() else ""
        Console(stderr=True).print(f"[red]error{where}:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True,
                                   emoji=False)  # fmt: skip
        return 2
    finally:
        distributed = sys.modules.get("vaegan.distributed")  # imported by the commands that train
        if distributed is not None:
            distributed.teardown()
    return 0


def _exit_without_teardown(outcome: dict[str, int]) -> None:
    """End the process once the exit handlers have run, skipping the interpreter's teardown.

    That teardown takes torch's import apart object by object (about a million) and runs a last full garbage
    collection over them: most of what `python -c "import torch"` waits for at its exit (README: Divergences).
    Nothing of ours needs it: every file is written atomically and closed before `main` returns, and Python has
    joined the worker threads and run every handler registered after this one (they run last in, first out) when it
    gets here.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(outcome["code"])


if __name__ == "__main__":
    outcome = {"code": 1}  # kept if main() raises: Python prints the traceback before it runs the exit handlers
    atexit.register(_exit_without_teardown, outcome)  # first, so that it runs last
    try:
        outcome["code"] = main()
    except KeyboardInterrupt:
        outcome["code"] = 130  # outside click (which turns Ctrl-C into exit 1): the shell's code for SIGINT
        raise
    sys.exit(outcome["code"])
