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
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vaegan.errors import VaeganError

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


class Device(str, Enum):
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


class VAEArch(str, Enum):
    mlp = "mlp"
    conv = "conv"


class Split(str, Enum):
    train = "train"
    valid = "valid"
    test = "test"


@train_app.command("vae")
def train_vae_command(
    epochs: int = typer.Option(20, min=1, help="Passes over the training set."),
    latent_dim: int = typer.Option(100, min=1, help="Size of z."),
    hidden: int = typer.Option(300, min=1, help="MLP width (conv: channels of the widest layer x4)."),
    batch_size: int = typer.Option(64, min=1),
    lr: float = typer.Option(3e-4, min=1e-12, help="Adam learning rate."),
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
        extra={"train_config": dataclasses.asdict(train_config)},
    )
    err_console.print(f"wrote {out}  " + "  ".join(f"{k}={v:.3f}" for k, v in metrics.items()))


@eval_app.command("vae")
def eval_vae_command(
    ckpt: Path = typer.Option(Path("checkpoints/vae.safetensors"), help="A VAE .safetensors file."),
    data: str = typer.Option("binarized-mnist", help="binarized-mnist | mnist | PATH.npz | image folder."),
    split: Split = typer.Option(Split.test),
    k: int = typer.Option(200, min=1, help="Importance samples per image for log p(x)."),
    limit: int = typer.Option(0, min=0, help="Evaluate only the first N images (0 = all)."),
    seed: int = typer.Option(0, help="Seed of the data split/binarization (must match training for PATH data)."),
    as_json: bool = typer.Option(False, "--json", help="Print exactly one JSON object on stdout."),
    device: Device = typer.Option(Device.auto),
) -> None:
    """Mean -ELBO and importance-sampled log p(x) (nats) of a trained VAE on one split."""
    from vaegan.checkpoint import load_model
    from vaegan.data import load_binary_mnist
    from vaegan.train_vae import evaluate_log_px, evaluate_neg_elbo, resolve_device

    dev = resolve_device(device.value)
    model = load_model(ckpt, kind="vae", device=dev)
    x = load_binary_mnist(data, seed=seed).split(split.value)
    if limit:
        x = x[:limit]
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
        typer.echo(f"{split.value}: -ELBO {result['neg_elbo']:.3f}  log p(x) {result['log_px']:.3f} (K={k}, n={result['n']})")


# ------------------------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; library errors become `error: ...` on stderr and exit code 2 (usage errors: click's 2)."""
    try:
        app(args=argv, prog_name="cli.py")  # standalone mode: usage errors print one message and exit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except VaeganError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
