"""`vaegan train vae | classifier | wgan | vae2d`: train a model and export it as .safetensors.

Unset options (None) keep the config dataclass's default (VAEConfig, VAETrainConfig, ClassifierConfig,
ClassifierTrainConfig, or the WGAN recipe in vaegan.train.wgan.RECIPES).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vaegan.cli.display import TrainingDisplay, duration
from vaegan.cli.models import command_line, export, load, torch_version, train_device
from vaegan.cli.options import (
    BINARIZE_HELP,
    CLASSIFIER_CKPT,
    RESUME_HELP,
    VAE_CKPT,
    VAE_DATA_HELP,
    WGAN_CKPT,
    Device,
    Half,
    Seed,
    Threads,
    err_console,
    given,
    one_of,
    out_option,
)
from vaegan.vocabulary import (
    AUGMENTATIONS,
    BINARIZE_MODES,
    LR_DECAYS,
    LR_SCHEDULES,
    PRECISIONS,
    VAE_ARCHITECTURES,
    WGAN_RECIPES,
)

if TYPE_CHECKING:
    from vaegan.train.common import Progress as TrainProgress

app = typer.Typer(name="train", help="Train a model and export it as .safetensors.", no_args_is_help=True)


@app.command("vae")
def train_vae_command(
    epochs: int | None = typer.Option(None, min=1, help="Passes over the training set (with --time-budget: the most "
                                      "it may choose, default 1000)."),  # fmt: skip
    time_budget: str = typer.Option("", help="Train for this long (90s, 30m, 2h): picks --epochs, lays the cosine "
                                    "schedule over them."),  # fmt: skip
    latent_dim: int | None = typer.Option(None, min=1, help="Size of z."),
    hidden: int | None = typer.Option(None, min=1, help="MLP width (conv: channels of the widest layer x4)."),
    batch_size: int | None = typer.Option(None, min=1, help="Examples per step (the reference's: 64)."),
    lr: float | None = typer.Option(None, min=1e-12, help="Peak Adam learning rate (the reference's: 3e-4 constant)."),
    arch: Annotated[one_of(VAE_ARCHITECTURES) | None, typer.Option(
        help="mlp = the reference 784-300-300; conv = convolutional.")] = None,
    schedule: Annotated[one_of(LR_SCHEDULES) | None, typer.Option(
        help="cosine: warm-up, then cosine decay to 0 at --epochs (a run resumes to the same end); constant: runs "
        "can be extended.")] = None,
    warmup_epochs: float | None = typer.Option(None, min=0.0, help="Linear warm-up of the cosine schedule (at most "
                                               "half)."),  # fmt: skip
    data: str = typer.Option("binarized-mnist", help=VAE_DATA_HELP),
    binarize: Annotated[one_of(BINARIZE_MODES), typer.Option(help=BINARIZE_HELP)] = "auto",
    seed: Seed = 0,
    out: Path = out_option(VAE_CKPT, "Where the trained model is written."),
    run_dir: Path = typer.Option(Path("runs/vae"), help="Holds state.safetensors for --resume."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
    eval_k: int | None = typer.Option(None, min=0, help="If > 0, also store test log p(x) with this many IS samples."),
    device: Device = "auto",
    threads: Threads = 0,
) -> None:
    """Train a VAE with negative-ELBO loss on binarized MNIST and export it."""
    from vaegan import distributed
    from vaegan.data import load_binary_mnist
    from vaegan.limits import parse_duration
    from vaegan.runtime import set_threads
    from vaegan.train.common import hardware
    from vaegan.train.vae import ARCH_DEFAULTS, BUDGET_MAX_EPOCHS, VAETrainConfig, train_vae
    from vaegan.vae import VAEConfig

    set_threads(threads)
    dev = train_device(device)
    resume = distributed.resume_wanted(resume, run_dir / "state.safetensors")
    splits = load_binary_mnist(data, seed=seed, binarize=binarize)
    model_defaults, train_defaults = ARCH_DEFAULTS[arch or "mlp"]
    model_config = VAEConfig(**{**model_defaults, **given(arch=arch, latent_dim=latent_dim, hidden=hidden)})
    budget = parse_duration(time_budget) if time_budget else None
    if budget and epochs is None:
        epochs = BUDGET_MAX_EPOCHS
    train_config = VAETrainConfig(seed=seed, **{**train_defaults, **given(
        epochs=epochs, batch_size=batch_size, lr=lr, eval_k=eval_k, schedule=schedule, warmup_epochs=warmup_epochs,
        time_budget=budget)})  # fmt: skip
    err_console.print(
        f"training {model_config.arch} VAE on {splits.name} ({splits.train.shape[0]} images"
        f"{'' if splits.binarize == 'binary' else f', binarized: {splits.binarize}'}) on {dev}"
    )

    def epoch_line(report: TrainProgress) -> str:
        v = report.values
        train, valid = v["train_neg_elbo"], v["valid_neg_elbo"]
        return f"epoch {report.done:3d}  train -ELBO {train:8.3f}  valid -ELBO {valid:8.3f}  ({v['seconds']:.1f}s)"

    with TrainingDisplay("train vae", {"loss": "loss", "valid": "valid_neg_elbo"}, line=epoch_line) as display:
        result = train_vae(model_config, splits, train_config, device=dev, state_path=run_dir / "state.safetensors",
                           resume=resume, on_progress=display)  # fmt: skip
    export(result, out, hardware=hardware(dev), torch=torch_version())
    err_console.print(f"wrote {out}  " + "  ".join(f"{k}={v:.3f}" for k, v in result.metrics.items()))


@app.command("classifier")
def train_classifier_command(
    data: str = typer.Option("mnist", help="Labelled training images: svhn | mnist | PATH.npz | FOLDER, @a:b, +."),
    holdout: str = typer.Option("", help="Labelled held-out images whose accuracy is reported and stored (optional)."),
    epochs: int | None = typer.Option(None, min=1, help="Passes over the training set."),
    batch_size: int | None = typer.Option(None, min=1),
    lr: float | None = typer.Option(None, min=1e-12, help="Peak Adam learning rate (cosine decay to 0)."),
    width: int | None = typer.Option(None, min=1, help="Channels of the first conv block (then 2x, 4x)."),
    feature_dim: int | None = typer.Option(None, min=1, help="Size of the penultimate layer (the metrics' features)."),
    augment: bool | None = typer.Option(None, "--augment/--no-augment", help="Random shifts of up to 2 pixels while "
                                        "training (default: on)."),  # fmt: skip
    seed: Seed = 0,
    out: Path = out_option(CLASSIFIER_CKPT, "Where the classifier is written."),
    device: Device = "auto",
) -> None:
    """Train the small digit classifier used by `eval wgan` and by the app's digit labels, and export it."""
    from vaegan.classifier import ClassifierConfig
    from vaegan.data import load_rgb32
    from vaegan.train.classifier import ClassifierTrainConfig, train_classifier

    dev = train_device(device)
    train_set = load_rgb32(data)
    held_out = load_rgb32(holdout) if holdout else None
    model_config = ClassifierConfig(**given(width=width, feature_dim=feature_dim))
    train_config = ClassifierTrainConfig(seed=seed, **given(epochs=epochs, batch_size=batch_size, lr=lr,
                                                             augment=augment))  # fmt: skip
    err_console.print(f"training digit classifier on {train_set.name} ({train_set.images.shape[0]} images) on {dev}")
    with TrainingDisplay("train classifier", {"loss": "loss"}) as display:
        result = train_classifier(train_set, model_config, train_config, holdout=held_out, device=dev,
                                  on_progress=display)  # fmt: skip
    export(result, out)
    shown = "  ".join(f"{k}={v}" if isinstance(v, int) else f"{k}={v:.4f}" for k, v in result.metrics.items())
    err_console.print(f"wrote {out}  {shown}  ({result.seconds:.0f}s)")


@app.command("wgan")
def train_wgan_command(
    data: str = typer.Option("svhn", help="svhn | mnist | PATH.npz | FOLDER; rows with @start:stop, join with +."),
    recipe: Annotated[one_of(WGAN_RECIPES), typer.Option(
        help="Starting settings: fast (CPU-tuned) or the reference recipe.")] = "fast",
    time_budget: str = typer.Option("", help="Train for this long (90s, 30m, 2h): picks --iters, decays the lr."),
    iters: int | None = typer.Option(None, min=1, help="Generator iterations (with --time-budget: the most it may "
                                     "pick)."),  # fmt: skip
    batch_size: int | None = typer.Option(None, min=1),
    n_critic: int | None = typer.Option(None, min=1, help="Critic steps per generator step."),
    gp: float | None = typer.Option(None, min=0.0, help="Gradient-penalty weight lambda."),
    gp_every: int | None = typer.Option(None, min=1, help="Lazy penalty: every k-th critic step, weight k * lambda."),
    lr: float | None = typer.Option(None, min=1e-12, help="Adam learning rate of the generator (and the critic)."),
    critic_lr: float | None = typer.Option(None, min=1e-12, help="Critic learning rate (default: --lr)."),
    beta1: float | None = typer.Option(None, min=0.0, max=0.999),
    beta2: float | None = typer.Option(None, min=0.0, max=0.9999),
    lr_decay: Annotated[one_of(LR_DECAYS) | None, typer.Option(
        help="linear: both rates fall to 0 at the last iteration.")] = None,
    warmup_iters: int | None = typer.Option(None, min=0, help="Both learning rates rise linearly from 0 over N "
                                            "iterations; 0 = none."),  # fmt: skip
    ema_decay: float | None = typer.Option(None, min=0.0, max=0.99999),
    top_k: float | None = typer.Option(None, min=0.01, max=1.0, help="Top-k training: the generator step keeps "
                                       "the best-scored fakes, a share falling x0.99 per epoch to this; 1 = off."),
    simultaneous: bool | None = typer.Option(None, "--simultaneous/--alternating", help="Both players step from "
                                             "one shared pass (needs --n-critic 1); default: alternating steps."),
    width: int | None = typer.Option(None, min=1, help="Channels of the 16x16 layer (the 8x8 and 4x4: 2x, 4x)."),
    critic_width: int | None = typer.Option(None, min=1, help="The critic's --width, when it differs."),
    latent_dim: int | None = typer.Option(None, min=1, help="Size of z ~ N(0, I)."),
    augment: Annotated[one_of(AUGMENTATIONS) | None, typer.Option(
        help="DiffAugment for the critic's inputs, real and fake alike (few training images).")] = None,
    seed: Seed = 0,
    out: Path = out_option(WGAN_CKPT, "Where the EMA generator is exported."),
    run_dir: Path = typer.Option(Path("runs/wgan"), help="Holds state.safetensors (for --resume) and samples/."),
    resume: bool = typer.Option(False, help=RESUME_HELP),
    checkpoint_every: int | None = typer.Option(None, min=1, help="Write the full training state every N iterations."),
    sample_every: int | None = typer.Option(None, min=1, help="Write an EMA sample grid every N iterations."),
    timeline_every: int | None = typer.Option(
        None, min=0, help="Record the EMA's images of 16 fixed z (run-dir/timeline.safetensors) every N; 0 = off."
    ),
    classifier: Path | None = typer.Option(None, help="Digit classifier: FD/precision/recall on the timeline."),
    holdout: str = typer.Option("", help="Held-out digits (a --data spec) the timeline's metrics are measured on."),
    timeline_n: int = typer.Option(1000, min=2, help="Images per set for the timeline's metrics (holdout >= 2n)."),
    device: Device = "auto",
    precision: Annotated[one_of(PRECISIONS) | None, typer.Option(
        help="Autocast dtype; fp16 uses loss scaling.")] = None,
    channels_last: bool | None = typer.Option(None, "--channels-last/--no-channels-last",
                                              help="NHWC memory format (faster convolutions on some hardware)."),
    sync_bn: bool | None = typer.Option(None, "--sync-bn/--no-sync-bn", help="Under torchrun: generator BatchNorm on "
                                        "global-batch statistics (SyncBatchNorm; CUDA only). Default: each process's "
                                        "own shard."),  # fmt: skip
    threads: Threads = 0,
    half: Half = False,
) -> None:
    """Train a WGAN-GP (DCGAN generator, 32x32x3) and export its EMA generator as .safetensors."""
    from vaegan import distributed
    from vaegan.data import load_rgb32
    from vaegan.errors import ConfigError
    from vaegan.limits import parse_duration
    from vaegan.runtime import set_threads
    from vaegan.timeline import TimelineScorer, export_sidecar
    from vaegan.train.common import hardware
    from vaegan.train.wgan import STATE_FILE, train_wgan
    from vaegan.train.wgan import recipe as make_recipe

    threads_used = set_threads(threads)
    dev = train_device(device)
    model_config, train_config = make_recipe(
        recipe, latent_dim=latent_dim, width=width, critic_width=critic_width, iters=iters, batch_size=batch_size,
        n_critic=n_critic, gp_weight=gp, gp_every=gp_every, lr=lr, critic_lr=critic_lr, beta1=beta1, beta2=beta2,
        lr_decay=lr_decay, warmup_iters=warmup_iters, ema_decay=ema_decay, top_k=top_k, seed=seed, precision=precision,
        channels_last=channels_last, checkpoint_every=checkpoint_every, sample_every=sample_every,
        timeline_every=timeline_every, time_budget=parse_duration(time_budget) if time_budget else None,
        sync_bn=sync_bn, augment=augment, simultaneous=simultaneous,
    )  # fmt: skip
    if (classifier is None) != (not holdout):
        raise ConfigError("the timeline's metrics need both --classifier and --holdout (or neither)")
    scorer = None
    if classifier is not None and train_config.timeline_every:
        held_out = load_rgb32(holdout)
        scorer = TimelineScorer(load(classifier, "digit-classifier", device), held_out.images, n=timeline_n,
                                data=held_out.name)  # fmt: skip
    resume = distributed.resume_wanted(resume, run_dir / STATE_FILE)
    images = load_rgb32(data)
    budget = f", time budget {duration(train_config.time_budget)}" if train_config.time_budget else ""
    err_console.print(
        f"training WGAN-GP ({recipe} recipe, width {model_config.width}) on {images.name} "
        f"({images.images.shape[0]} images) on {dev}, {train_config.precision}, {threads_used} threads{budget}; "
        f"state and samples in {run_dir}"
    )
    fields = {"it/s": "iters_per_second", "critic": "critic_loss", "W": "wasserstein", "gp": "penalty"}
    hint = "" if train_config.time_budget else "to fit a time, add --time-budget 30m (or 2h, 90s)"
    with TrainingDisplay("train wgan", fields, eta_hint=hint) as display:
        result = train_wgan(model_config, images, train_config, device=dev, run_dir=run_dir, resume=resume,
                            on_progress=display, timeline_scorer=scorer)  # fmt: skip
    export(result, out, half=half, hardware=hardware(dev), torch=torch_version())
    err_console.print(f"wrote {out} (EMA generator, {result.steps} iterations, {result.seconds:.0f}s of training)")
    sidecar = export_sidecar(run_dir, out) if distributed.is_main() else None  # rank 0 wrote the timeline
    if sidecar is not None:
        err_console.print(f"wrote {sidecar} (its training timeline, for the app's Samples page)")


@app.command("vae2d")
def train_vae2d_command(
    beta: float = typer.Option(1.0, min=0.0, help="KL weight of the β-VAE loss (1 = the ELBO)."),
    train_digits: int = typer.Option(5000, min=1, help="Digits trained on (after the held-out ones)."),
    held_out: int | None = typer.Option(None, min=1, help="Digits held out for the posterior and the terms."),
    epochs: int | None = typer.Option(None, min=1, help="Passes over the training digits (default: about "
                                      "150,000 digits in all, as the app)."),  # fmt: skip
    data: str = typer.Option("binarized-mnist", help="Binary digits: the test split of this spec (as the app's "
                             "VAE page; never downloads). " + VAE_DATA_HELP),  # fmt: skip
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Labels the held-out digits (none: unlabelled)."),
    seed: Seed = 0,
    out: Path = out_option(None, "Where the 2-D VAE is written (checkpoints/vae2d_beta{β}.safetensors)."),
    threads: Threads = 0,
) -> None:
    """Train the VAE page's 2-D β-VAE on test digits in seconds and export it with its posterior and terms."""
    from vaegan.classifier import load_optional_classifier
    from vaegan.cli.display import progress_bar, step_reporter
    from vaegan.data import load_test_digits
    from vaegan.runtime import set_threads
    from vaegan.vae2d import Vae2dConfig, save_vae2d, split_digits, train_vae2d, vae2d_checkpoint

    set_threads(threads)
    config = Vae2dConfig.for_digits(train_digits, beta=beta, seed=seed, **given(held_out=held_out))
    if epochs is not None:
        config = Vae2dConfig(**{**config.to_dict(), "epochs": epochs})
    reader = load_optional_classifier(classifier)
    digits = split_digits(load_test_digits(data), config, classifier=reader, source=data)
    with progress_bar("training") as bar:
        task = bar.add_task("2-D VAE", total=None, training="-")
        result = train_vae2d(config, digits, progress=step_reporter(bar, task, every=20), threads=None)
    out = out or Path(vae2d_checkpoint(beta))
    save_vae2d(result, out, command=command_line())
    err_console.print(f"wrote {out}  {result.describe()}  labels: {result.label_source}")
