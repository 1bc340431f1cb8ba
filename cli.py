"""vaegan command line: thin wrappers that parse flags, call one library function and report.

    python cli.py --help
    python cli.py train vae --epochs 20
    python cli.py eval vae --json

All logic lives in `vaegan/`; library errors (VaeganError) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vaegan.errors import VaeganError

if TYPE_CHECKING:
    import torch

app = typer.Typer(
    help="Train, evaluate and explore VAEs and GANs. Weights are exported as self-describing .safetensors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
train_app = typer.Typer(help="Train a model and export it as .safetensors.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a trained model.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")

# Progress and messages go to stderr so that stdout carries only results (e.g. `--json`).
err_console = Console(stderr=True)


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


def progress_bar(*fields: str) -> Progress:
    """A progress bar with ETA plus named live fields (e.g. loss)."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields]
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*columns, console=err_console, transient=False)


# ------------------------------------------------------------------------------------------------- VAE


class VAEArch(StrEnum):
    mlp = "mlp"
    conv = "conv"


class Split(StrEnum):
    train = "train"
    valid = "valid"
    test = "test"


@train_app.command("vae")
def train_vae_command(
    epochs: int = typer.Option(20, min=1, help="Passes over the training set."),
    latent_dim: int = typer.Option(100, min=1, help="Size of z."),
    hidden: int = typer.Option(300, min=1, help="MLP width (conv: channels of the widest layer x4)."),
    batch_size: int = typer.Option(64, min=1),
    lr: float = typer.Option(6e-4, min=1e-12, help="Adam learning rate (3e-4 is the reference's: see README)."),
    arch: VAEArch = typer.Option(VAEArch.mlp, help="mlp = the reference 784-300-300; conv = convolutional."),
    data: str = typer.Option("binarized-mnist", help="binarized-mnist | mnist | PATH.npz | image folder."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("checkpoints/vae.safetensors"), help="Where the trained model is written."),
    run_dir: Path = typer.Option(Path("runs/vae"), help="Holds state.safetensors for --resume."),
    resume: bool = typer.Option(False, help="Continue from run-dir/state.safetensors if it exists."),
    eval_k: int = typer.Option(0, min=0, help="If > 0, also store test log p(x) with this many IS samples."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Train a VAE with negative-ELBO loss on binarized MNIST and export it."""
    from vaegan.checkpoint import save_model
    from vaegan.data import load_binary_mnist
    from vaegan.train_vae import VAETrainConfig, evaluate_log_px, resolve_device, train_vae
    from vaegan.vae import VAEConfig

    dev = resolve_device(device.value)
    splits = load_binary_mnist(data, seed=seed)
    model_config = VAEConfig(arch=arch.value, latent_dim=latent_dim, hidden=hidden)
    train_config = VAETrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    err_console.print(
        f"training {arch.value} VAE on {splits.name} ({splits.train.shape[0]} images"
        f"{', dynamic binarization' if splits.dynamic else ''}) on {dev}"
    )
    with progress_bar("loss", "valid") as bar:
        task = bar.add_task("train vae", total=None, loss="-", valid="-")

        def on_step(epoch: int, step: int, steps_per_epoch: int, loss: float) -> None:
            bar.update(task, total=epochs * steps_per_epoch, completed=epoch * steps_per_epoch + step + 1)
            if step % 20 == 0:
                bar.update(task, loss=f"{loss:7.2f}")

        def on_epoch(report) -> None:  # noqa: ANN001 - EpochReport
            bar.update(task, valid=f"{report.valid_neg_elbo:7.2f}")
            bar.console.print(
                f"epoch {report.epoch:3d}  train -ELBO {report.train_neg_elbo:8.3f}  "
                f"valid -ELBO {report.valid_neg_elbo:8.3f}  ({report.seconds:.1f}s)"
            )

        model, history = train_vae(
            model_config,
            splits,
            train_config,
            device=dev,
            state_path=run_dir / "state.safetensors",
            resume=resume,
            on_step=on_step,
            on_epoch=on_epoch,
        )
    metrics = {"valid_neg_elbo": history[-1].valid_neg_elbo, "train_neg_elbo": history[-1].train_neg_elbo}
    if eval_k:
        metrics[f"test_log_px_k{eval_k}"] = evaluate_log_px(model, splits.test.to(dev), eval_k)
    save_model(
        model,
        out,
        dataset=splits.name,
        steps=epochs,
        metrics=metrics,
        extra={"train_config": dataclasses.asdict(train_config), "command": " ".join(["python cli.py", *sys.argv[1:]])},
    )
    err_console.print(f"wrote {out}  " + "  ".join(f"{k}={v:.3f}" for k, v in metrics.items()))


@eval_app.command("vae")
def eval_vae_command(
    ckpt: Path = typer.Option(Path("checkpoints/vae.safetensors"), help="A VAE .safetensors file."),
    data: str = typer.Option("binarized-mnist", help="binarized-mnist | mnist | PATH.npz | image folder."),
    split: Split = typer.Option(Split.test),
    k: int = typer.Option(200, min=1, help="Importance samples per image for log p(x)."),
    limit: int = typer.Option(0, min=0, help="Evaluate a random subset of N images, fixed by --seed (0 = all)."),
    seed: int = typer.Option(0, help="Seed of the data split/binarization (must match training for PATH data)."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Mean -ELBO and importance-sampled log p(x) (nats) of a trained VAE on one split."""
    import torch

    from vaegan.checkpoint import load_model
    from vaegan.data import load_binary_mnist
    from vaegan.train_vae import evaluate_log_px, evaluate_neg_elbo, resolve_device

    dev = resolve_device(device.value)
    model = load_model(ckpt, kind="vae", device=dev)
    x = load_binary_mnist(data, seed=seed).split(split.value)
    if limit:
        # A seeded random subset, not the first N: some files (binarized_mnist.npz) are sorted by class.
        x = x[torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))[:limit]]
    x = x.to(dev)
    result = {
        "neg_elbo": evaluate_neg_elbo(model, x),
        "log_px": evaluate_log_px(model, x, k),
        "k": k,
        "n": int(x.shape[0]),
        "split": split.value,
    }
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        typer.echo(
            f"{split.value}: -ELBO {result['neg_elbo']:.3f}  log p(x) {result['log_px']:.3f} (K={k}, n={result['n']})"
        )


# --- metrics ---
# The digit classifier whose features score generated images, and `eval wgan` (Fréchet distance, precision/recall).


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
    out: Path = typer.Option(Path("checkpoints/classifier.safetensors"), help="Where the classifier is written."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Train the small digit classifier used by `eval wgan` and by the app's digit labels, and export it."""
    import time

    from vaegan.checkpoint import save_model
    from vaegan.data import load_rgb32
    from vaegan.errors import DataError
    from vaegan.metrics import ClassifierConfig, ClassifierTrainConfig, classifier_accuracy, train_classifier
    from vaegan.train_vae import resolve_device

    dev = resolve_device(device.value)
    train_set = load_rgb32(data)
    if train_set.labels is None:
        raise DataError(f"--data {data!r} has no labels; the classifier needs labelled digits")
    model_config = ClassifierConfig(width=width, feature_dim=feature_dim)
    train_config = ClassifierTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, augment=augment)
    err_console.print(f"training digit classifier on {train_set.name} ({train_set.images.shape[0]} images) on {dev}")
    started = time.perf_counter()
    with progress_bar("loss") as bar:
        task = bar.add_task("train classifier", total=None, loss="-")

        def on_step(epoch: int, step: int, steps_per_epoch: int, loss: float) -> None:
            bar.update(task, total=epochs * steps_per_epoch, completed=epoch * steps_per_epoch + step + 1)
            if step % 10 == 0:
                bar.update(task, loss=f"{loss:.3f}")

        model, history = train_classifier(
            train_set.images, train_set.labels, model_config, train_config, device=dev, on_step=on_step
        )
    seconds = time.perf_counter() - started
    for report in history:
        err_console.print(
            f"epoch {report.epoch:2d}  loss {report.train_loss:.4f}  train accuracy {report.train_accuracy:.4f}"
            f"  ({report.seconds:.1f}s)"
        )
    metrics = {"train_accuracy": history[-1].train_accuracy}
    if holdout:
        held_out = load_rgb32(holdout)
        if held_out.labels is None:
            raise DataError(f"--holdout {holdout!r} has no labels")
        metrics["holdout_accuracy"] = classifier_accuracy(model, held_out.images, held_out.labels)
        metrics["holdout_n"] = int(held_out.images.shape[0])
    steps = epochs * -(-train_set.images.shape[0] // batch_size)
    save_model(
        model,
        out,
        dataset=train_set.name,
        steps=steps,
        metrics=metrics,
        extra={"train_config": dataclasses.asdict(train_config), "holdout": holdout, "wall_seconds": seconds},
    )
    shown = "  ".join(f"{k}={v}" if isinstance(v, int) else f"{k}={v:.4f}" for k, v in metrics.items())
    err_console.print(f"wrote {out}  {shown}  ({seconds:.0f}s)")


@eval_app.command("wgan")
def eval_wgan_command(
    ckpt: Path = typer.Option(Path("checkpoints/wgan.safetensors"), help="A WGAN generator .safetensors file."),
    classifier: Path = typer.Option(Path("checkpoints/classifier.safetensors"), help="The digit classifier."),
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
    from vaegan.checkpoint import load_model
    from vaegan.data import load_rgb32
    from vaegan.metrics import evaluate_generator
    from vaegan.train_vae import resolve_device

    dev = resolve_device(device.value)
    generator = load_model(ckpt, kind="wgan-generator", device=dev)
    digit_classifier = load_model(classifier, kind="digit-classifier", device=dev)
    real = load_rgb32(data)
    result = evaluate_generator(
        generator, digit_classifier, real.images, latent_dim=generator.config.latent_dim, n=n, seed=seed, k=k
    )
    result.update(ckpt=str(ckpt), data=real.name)
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        typer.echo(f"{'':14s}{'FD':>10s}{'precision':>11s}{'recall':>8s}   (n={n} per set, k={k}, data {real.name})")
        typer.echo(f"{'real vs real':14s}{result['real_vs_real_fid']:10.3f}"
                   f"{result['real_vs_real_precision']:11.3f}{result['real_vs_real_recall']:8.3f}")
        typer.echo(f"{'generated':14s}{result['fid']:10.3f}{result['precision']:11.3f}{result['recall']:8.3f}")
        typer.echo(f"predicted digits of the generated images: {result['predicted_digit_counts']}")


# --- WGAN ---
# `train wgan`, `sample wgan` and `explore perturb|interpolate|rank`. The logic is in vaegan/train_wgan.py and
# vaegan/latent.py; these commands parse flags, call one function and write a PNG (or JSON).


@train_app.command("wgan")
def train_wgan_command(
    data: str = typer.Option("svhn", help="svhn | mnist | PATH.npz | FOLDER; rows with @start:stop, join with +."),
    iters: int = typer.Option(100_000, min=1, help="Generator iterations (each after n-critic critic steps)."),
    batch_size: int = typer.Option(64, min=1),
    n_critic: int = typer.Option(5, min=1, help="Critic steps per generator step."),
    gp: float = typer.Option(10.0, min=0.0, help="Gradient-penalty weight lambda."),
    gp_every: int = typer.Option(1, min=1, help="Lazy penalty: every k-th critic step, weight k * lambda."),
    lr: float = typer.Option(1e-4, min=1e-12, help="Adam learning rate of the generator (and critic)."),
    critic_lr: float = typer.Option(0.0, min=0.0, help="Critic learning rate (0 = same as --lr)."),
    beta1: float = typer.Option(0.5, min=0.0, max=0.999),
    beta2: float = typer.Option(0.9, min=0.0, max=0.9999),
    lr_decay: str = typer.Option("none", help="none | linear (both rates fall to 0 at --iters)."),
    ema_decay: float = typer.Option(0.999, min=0.0, max=0.99999),
    width: int = typer.Option(64, min=1, help="Channels of the 16x16 layer (the 8x8 and 4x4 layers: 2x, 4x)."),
    latent_dim: int = typer.Option(100, min=1, help="Size of z ~ N(0, I)."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("checkpoints/wgan.safetensors"), help="Where the EMA generator is exported."),
    run_dir: Path = typer.Option(Path("runs/wgan"), help="Holds state.safetensors (for --resume) and samples/."),
    resume: bool = typer.Option(False, help="Continue from run-dir/state.safetensors if it exists."),
    checkpoint_every: int = typer.Option(500, min=1, help="Write the full training state every N iterations."),
    sample_every: int = typer.Option(500, min=1, help="Write an EMA sample grid every N iterations."),
    device: Device = typer.Option(Device.auto),
    precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16 (autocast; fp16 with loss scaling)."),
    channels_last: bool = typer.Option(False, help="NHWC memory format (faster convolutions on some hardware)."),
    threads: int = typer.Option(0, min=0, help="CPU threads for torch (0 = torch's default)."),
    half: bool = typer.Option(False, help="Export the generator's weights as fp16 (half the file size)."),
) -> None:
    """Train a WGAN-GP (DCGAN generator, 32x32x3) and export its EMA generator as .safetensors."""
    import platform
    import time

    import torch

    from vaegan.checkpoint import save_model
    from vaegan.data import load_rgb32
    from vaegan.train_vae import resolve_device
    from vaegan.train_wgan import WGANTrainConfig, train_wgan
    from vaegan.wgan import WGANConfig

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device.value)
    images = load_rgb32(data)
    model_config = WGANConfig(latent_dim=latent_dim, width=width)
    train_config = WGANTrainConfig(
        iters=iters, batch_size=batch_size, n_critic=n_critic, gp_weight=gp, gp_every=gp_every, lr=lr,
        critic_lr=critic_lr or None, beta1=beta1, beta2=beta2, lr_decay=lr_decay, ema_decay=ema_decay, seed=seed,
        precision=precision, channels_last=channels_last, checkpoint_every=checkpoint_every,
        sample_every=sample_every,
    )  # fmt: skip
    err_console.print(
        f"training WGAN-GP (width {width}) on {images.name} ({images.images.shape[0]} images) on {dev}, "
        f"{precision}, {torch.get_num_threads()} threads; state and samples in {run_dir}"
    )
    started = time.perf_counter()
    with progress_bar("it/s", "critic", "W", "gp") as bar:
        task = bar.add_task("train wgan", total=iters, **{"it/s": "-", "critic": "-", "W": "-", "gp": "-"})

        def on_step(report) -> None:  # noqa: ANN001 - StepReport
            bar.update(
                task, completed=report.iteration, total=report.total, **{
                    "it/s": f"{report.iters_per_second:5.2f}", "critic": f"{report.critic_loss:8.3f}",
                    "W": f"{report.wasserstein:7.3f}", "gp": f"{report.penalty:6.3f}",
                },
            )  # fmt: skip
            latest[0] = report

        def on_checkpoint(iteration: int, path: Path) -> None:
            # A plain line per checkpoint, so a log file (nohup, no terminal) shows progress too.
            r = latest[0]
            bar.console.print(
                f"iter {iteration:7d}/{iters}  {r.iters_per_second:5.2f} it/s  critic {r.critic_loss:8.3f}  "
                f"W {r.wasserstein:7.3f}  gp {r.penalty:6.3f}  {time.perf_counter() - started:7.0f}s  -> {path}"
            )

        latest = [None]
        result = train_wgan(
            model_config, images, train_config, device=dev, run_dir=run_dir, resume=resume, on_step=on_step,
            on_checkpoint=on_checkpoint,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    last = result.history[-1] if result.history else {}
    hardware = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    save_model(
        result.ema,
        out,
        dataset=images.name,
        steps=result.iteration,
        half=half,
        metrics={k: last[k] for k in ("critic_loss", "wasserstein", "penalty") if k in last},
        extra={
            "train_config": dataclasses.asdict(train_config),
            "ema": True,
            "iterations": result.iteration,
            "wall_seconds_this_process": round(seconds, 1),
            "train_seconds_total": round(result.seconds, 1),  # summed over resumes
            "hardware": f"{hardware}, {torch.get_num_threads()} threads",
            "torch": torch.__version__,
        },
    )
    err_console.print(f"wrote {out} (EMA generator, {result.iteration} iterations, {seconds:.0f}s in this run)")


sample_app = typer.Typer(help="Draw samples from a trained generator into a PNG grid.", no_args_is_help=True)
explore_app = typer.Typer(help="Walk a generator's latent space: perturb, interpolate, rank.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")
app.add_typer(explore_app, name="explore")
WGAN_CKPT = Path("checkpoints/wgan.safetensors")


CLASSIFIER_CKPT = Path("checkpoints/classifier.safetensors")


def _save_labelled(
    out: Path, table: torch.Tensor, row_names: list[str], column_names: list[str], classifier: Path, device: Device
) -> None:
    """Save an (R, K, 3, 32, 32) table as PNG; with a classifier file, caption every image with its digit and print
    the readings (so "the 9 turns into a 4" is measured, not described by eye)."""
    from vaegan.checkpoint import load_model
    from vaegan.images import captioned_grid, save_png
    from vaegan.metrics import label_images
    from vaegan.train_vae import resolve_device

    if not classifier.exists():
        err_console.print(f"no classifier at {classifier}: images are not labelled")
        save_png(out, table)
        return
    model = load_model(classifier, kind="digit-classifier", device=resolve_device(device.value))
    labels = label_images(model, table.reshape(-1, *table.shape[2:]))
    save_png(out, captioned_grid(table, labels))
    cols = table.shape[1]
    typer.echo(f"{'':>8s}  " + "  ".join(f"{c:>9s}" for c in column_names))
    for r, name in enumerate(row_names):
        typer.echo(f"{name:>8s}  " + "  ".join(f"{label:>9s}" for label in labels[r * cols : (r + 1) * cols]))


def _load_wgan(ckpt: Path, device: Device):  # noqa: ANN202 - a vaegan.wgan.Generator
    from vaegan.checkpoint import load_model
    from vaegan.train_vae import resolve_device

    return load_model(ckpt, kind="wgan-generator", device=resolve_device(device.value))


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
    from vaegan.latent import generate, sample_latents

    generator = _load_wgan(ckpt, device)
    images = generate(generator, sample_latents(n, generator.config.latent_dim, seed))
    save_png(out, images, nrow=nrow)
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
    from vaegan.errors import ConfigError
    from vaegan.latent import parse_eps, perturbation_strip, sample_latents

    try:
        dim_list = [int(d) for d in dims.split(",") if d.strip()]
    except ValueError as exc:
        raise ConfigError(f"--dims {dims!r}: expected comma-separated whole numbers, e.g. 20,21") from exc
    eps_values = parse_eps(eps)
    generator = _load_wgan(ckpt, device)
    strip = perturbation_strip(generator, sample_latents(1, generator.config.latent_dim, seed)[0], dim_list, eps_values)
    row_names = [f"dim {d}" for d in dim_list]
    _save_labelled(out, strip, row_names, [f"eps={e:g}" for e in eps_values], classifier, device)
    err_console.print(f"wrote {out} (rows: dims {dim_list}; columns: eps {[round(e, 3) for e in eps_values]})")


@explore_app.command("interpolate")
def explore_interpolate_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    seed0: int = typer.Option(1, help="Seed of the start latent."),
    seed1: int = typer.Option(2, help="Seed of the end latent."),
    steps: int = typer.Option(10, min=2, help="Images per row, ends included."),
    mode: str = typer.Option("lerp", help="lerp (straight line) | slerp (great circle)."),
    out: Path = typer.Option(Path("interp.png"), help="The PNG to write (row 1: latent path, row 2: pixel fade)."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Digit classifier that labels every image (if present)."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Interpolate between two latents (top row) next to a cross-fade of the two end images (bottom row)."""
    import torch

    from vaegan.latent import interpolation_rows, sample_latents

    generator = _load_wgan(ckpt, device)
    dim = generator.config.latent_dim
    latent_row, fade_row = interpolation_rows(
        generator, sample_latents(1, dim, seed0)[0], sample_latents(1, dim, seed1)[0], steps, mode
    )
    columns = [f"t={t:.2f}" for t in torch.linspace(0, 1, steps).tolist()]
    _save_labelled(out, torch.stack([latent_row, fade_row]), [mode, "fade"], columns, classifier, device)
    err_console.print(f"wrote {out} ({mode}, {steps} steps, seeds {seed0} -> {seed1})")


@explore_app.command("rank")
def explore_rank_command(
    ckpt: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    seed: int = typer.Option(0, help="Seeds the latents the changes are averaged over."),
    n: int = typer.Option(16, min=2, help="Latents to average over."),
    top: int = typer.Option(10, min=1, help="How many dims and directions to list."),
    eps: float = typer.Option(1.0, help="Step size along each dim/direction when measuring the change."),
    method: str = typer.Option("jacobian", help="Principal directions from: jacobian (output changes) | features."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Digit classifier for the semantic ranking (if present)."),
    out: Path = typer.Option(Path("rank.png"), help="PNG: one row per top principal direction, eps -3..3."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Latent dims and principal directions ranked by how much they change the image (mean RMS pixel change)."""
    from vaegan.images import save_png
    from vaegan.latent import direction_strip, principal_directions, rank_latent_dims, sample_latents

    generator = _load_wgan(ckpt, device)
    z = sample_latents(n, generator.config.latent_dim, seed)
    dims = rank_latent_dims(generator, z, eps=eps)[:top]
    # feature PCA needs more latents than directions: give it at least 4x as many
    pcs = principal_directions(
        generator, z if method == "jacobian" else sample_latents(max(n, 4 * top), z.shape[1], seed), k=top,
        method=method, eps=eps,
    )  # fmt: skip
    save_png(out, direction_strip(generator, z[0], pcs.directions, [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]))
    semantic: list[tuple[int, float]] = []
    if classifier.exists():  # beside the pixel ranking: how often a step along a dim changes the predicted digit
        from vaegan.checkpoint import load_model
        from vaegan.metrics import semantic_rank

        reader = load_model(classifier, kind="digit-classifier", device=next(generator.parameters()).device)
        semantic = semantic_rank(generator, reader, z, (-3.0, -1.5, 1.5, 3.0))[:top]
    result = {
        "ckpt": str(ckpt), "n": n, "eps": eps, "seed": seed, "method": pcs.method, "image": str(out),
        "dims": [{"dim": d, "change": s} for d, s in dims],
        "semantic_dims": [{"dim": d, "digit_change_rate": r} for d, r in semantic],
        "directions": [
            {"index": i, "change": float(pcs.scores[i]), "variance": float(pcs.variance[i]),
             "top_dims": [int(d) for d in pcs.directions[i].abs().argsort(descending=True)[:5]]}
            for i in range(pcs.directions.shape[0])
        ],
    }  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    typer.echo(f"mean RMS pixel change for a step of {eps} (over {n} latents, seed {seed}); images in [-1, 1]")
    typer.echo(f"{'latent dim':>10s}  {'change':>8s}")
    for d, s in dims:
        typer.echo(f"{d:10d}  {s:8.4f}")
    if semantic:
        typer.echo("dims ranked by how often a step of ±1.5 or ±3 changes the predicted digit")
        typer.echo(f"{'latent dim':>10s}  {'rate':>8s}")
        for d, r in semantic:
            typer.echo(f"{d:10d}  {r:8.3f}")
    typer.echo(f"principal directions ({pcs.method}); rows of {out}")
    typer.echo(f"{'#':>3s}  {'change':>8s}  {'variance':>10s}  largest latent dims")
    for row in result["directions"]:
        typer.echo(f"{row['index']:3d}  {row['change']:8.4f}  {row['variance']:10.4g}  {row['top_dims']}")


# --- divergences ---
# `compare`: estimate divergences between P and Q_θ over a sweep of θ with trained critics (vaegan/divergences/).
# Flags left unset take their value from the default setting, or from the reference one with --reference.


@app.command("compare")
def compare_command(
    family: str = typer.Option(
        "lines", help="lines: P=(0,U[0,1]) vs Q=(θ,U[0,1]); gaussian: N((0,½),σ²I) vs N((θ,½),σ²I)."
    ),
    divergences: str = typer.Option(
        "hellinger,wasserstein",
        help="Comma list of hellinger, wasserstein, kl, reverse-kl, jensen-shannon, total-variation, pearson.",
    ),
    thetas: str = typer.Option("0:2:21", help="start:stop:count (inclusive) or a comma list such as 0,0.5,1."),
    iters: int | None = typer.Option(None, min=1, help="Optimizer steps per critic (default 150; reference 600)."),
    batch_size: int | None = typer.Option(None, min=1, help="Samples of P and of Q per step (default 512)."),
    lr: float | None = typer.Option(None, min=1e-12, help="Learning rate (default 2e-2 cosine; reference 1e-3)."),
    optimizer: str | None = typer.Option(None, help="adam | sgd (default adam; reference sgd)."),
    width: int | None = typer.Option(None, min=1, help="Critic hidden width (default 16; reference 256)."),
    depth: int | None = typer.Option(None, min=1, help="Critic hidden layers (default 2; reference 3)."),
    penalty: str | None = typer.Option(None, help="Lipschitz penalty of the W1 critic: one-sided | two-sided."),
    penalty_weight: float | None = typer.Option(None, min=0.0, help="λ of the penalty (default 50)."),
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
) -> None:
    """Estimate divergences between P and Q_θ for every θ with trained critics, all θ trained as one batch."""
    from vaegan.divergences import REFERENCE_SETTING, SweepConfig, parse_thetas, run_sweep
    from vaegan.train_vae import resolve_device

    base = REFERENCE_SETTING if reference else SweepConfig()
    overrides = {
        "iters": iters,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "width": width,
        "depth": depth,
        "penalty": penalty,
        "penalty_weight": penalty_weight,
        "sigma": sigma,
        "snapshot_every": snapshot_every,
        "heatmap_thetas": parse_thetas(heatmap_thetas) if heatmap_thetas is not None else None,
    }
    config = dataclasses.replace(
        base,
        family=family,
        divergences=tuple(name.strip() for name in divergences.split(",") if name.strip()),
        thetas=parse_thetas(thetas),
        seed=seed,
        batched=not one_at_a_time,
        **{key: value for key, value in overrides.items() if value is not None},
    )
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

        result = run_sweep(config, progress=on_progress, device=dev, threads=threads)
    result.save(out)
    typer.echo(f"{'θ':>6s}" + "".join(f"{name:>22s}" for name in config.divergences) + "   (estimate / truth)")
    for i, theta in enumerate(result.thetas):
        cells = [f"{result.estimates[n][i]:11.4f} / {result.truth[n][i]:<8.4g}" for n in config.divergences]
        typer.echo(f"{theta:6.3f}" + "".join(f"{cell:>22s}" for cell in cells))
    for name in config.divergences:
        errors = result.errors(name)
        finite = [e for e in errors if e != float("inf")]
        worst = f"max |estimate - truth| {max(finite):.4f}" if finite else "truth infinite"
        if finite and len(finite) < len(errors):
            worst += f" where the truth is finite ({len(errors) - len(finite)} θ infinite)"
        typer.echo(f"{name}: {worst}, trained in {result.seconds[name]:.2f}s")
    err_console.print(f"wrote {out}")
    if plot is not None:
        _write_divergence_plot(result, plot)
        err_console.print(f"wrote {plot}")


def _write_divergence_plot(result, path: Path) -> None:  # noqa: ANN001 - a vaegan.divergences.SweepResult
    """Estimate (markers) and truth (dashed) against θ, one colour per divergence, as a self-contained HTML file."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for i, name in enumerate(result.config.divergences):
        colour = f"hsl({(i * 137) % 360}, 65%, 45%)"
        figure.add_scatter(x=result.thetas, y=result.estimates[name], name=f"{name} estimate", mode="lines+markers",
                           line={"color": colour})
        truth = [None if t == float("inf") else t for t in result.truth[name]]
        figure.add_scatter(x=result.thetas, y=truth, name=f"{name} truth", mode="lines",
                           line={"color": colour, "dash": "dash"})
    config = result.config
    figure.update_layout(
        title=f"{config.family}: estimates after {config.iters} {config.optimizer} steps vs the truth",
        xaxis_title="θ",
        yaxis_title="divergence",
        template="plotly_white",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(str(path), include_plotlyjs=True)


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
    from vaegan.hub import push

    result = push(ckpt, repo, private=private, token=token)
    err_console.print(escape(f"pushed to {result.repo_url}  ({result.commit_url})"), highlight=False, soft_wrap=True)
    for spec in result.specs:
        typer.echo(spec)


# ------------------------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become `error: ...` on stderr and exit code 2 (usage errors: click's 2)."""
    try:
        app(args=argv, prog_name="cli.py")  # standalone mode: usage errors print one message and exit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except VaeganError as exc:
        # User text (paths, flag values) is printed as it is: no rich markup or emoji codes inside it.
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True, emoji=False)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
