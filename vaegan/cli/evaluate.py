"""`vaegan eval vae | wgan | compare`: measure trained models (compare: the VAE and the WGAN side by side)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vaegan.cli.display import print_json, progress_bar
from vaegan.cli.models import load
from vaegan.cli.options import (
    BINARIZE_HELP,
    CLASSIFIER_CKPT,
    VAE_CKPT,
    VAE_DATA_HELP,
    WGAN_CKPT,
    AsJson,
    Device,
    VaeCkpt,
    WganCkpt,
    one_of,
)
from vaegan.vocabulary import BINARIZE_MODES, SPLITS

app = typer.Typer(name="eval", help="Evaluate a trained model.", no_args_is_help=True)

SCORED_CLASSIFIER = "The digit classifier whose features the images are scored on."
HELD_OUT_HELP = "Held-out real images (for the shipped models: ../shared/data/mnist_test.npz@8000:10000)."
N_HELP = "Images per compared set (and samples per model); the data must hold 2n (reference + floor)."
K_HELP = "Nearest neighbour that sets the ball radii of precision/recall."
BOOTSTRAP_HELP = "Bootstrap resamples for 95% intervals of FD, precision and recall (0 = none; 200 is usual)."
KID_HELP = "Also the unbiased kernel inception distance (KID, torchmetrics) on the same features."
FD_INFINITY_HELP = "Also FD at several sample counts and its extrapolation to infinitely many samples (FD∞)."
Bootstrap = Annotated[int, typer.Option("--bootstrap", min=0, help=BOOTSTRAP_HELP)]
Kid = Annotated[bool, typer.Option("--kid", help=KID_HELP)]
FdInfinity = Annotated[bool, typer.Option("--fd-infinity", help=FD_INFINITY_HELP)]


def check_fidelity_options(bootstrap: int) -> None:
    """Refuse a bootstrap count over its limit before any model is loaded."""
    from vaegan.fidelity import check_resamples

    if bootstrap:
        check_resamples(bootstrap)


def echo_fidelity(result: dict, labels: dict[str, str]) -> None:
    """The "fidelity" part of a result (`--bootstrap`, `--kid`, `--fd-infinity`) as a plain table and notes."""
    from vaegan.fidelity import fidelity_notes, format_table, summary_rows

    report = result.get("fidelity")
    if report is None:
        return
    typer.echo("")
    typer.echo(format_table(summary_rows(report["sets"], labels)))
    for note in fidelity_notes(report):
        typer.echo(note)


@app.command("vae")
def eval_vae_command(
    ckpt: VaeCkpt = VAE_CKPT,
    data: str = typer.Option("binarized-mnist", help=VAE_DATA_HELP),
    binarize: Annotated[one_of(BINARIZE_MODES), typer.Option(
        help=BINARIZE_HELP + " Must match training for grey data.")] = "auto",
    split: Annotated[one_of(SPLITS), typer.Option()] = "test",
    k: int = typer.Option(200, min=1, help="Importance samples per image for log p(x)."),
    limit: int = typer.Option(0, min=0, help="Evaluate a random subset of N images, fixed by --seed (0 = all)."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed of the data split/binarization (must match training for "
                             "PATH data)."),  # fmt: skip
    as_json: AsJson = False,
    device: Device = "auto",
) -> None:
    """Mean -ELBO and importance-sampled log p(x) (nats) of a trained VAE on one split."""
    from vaegan.data import load_binary_mnist
    from vaegan.likelihood import evaluate_vae
    from vaegan.limits import check_importance_samples

    check_importance_samples(k)  # before loading anything or starting the progress bar
    model = load(ckpt, "vae", device)
    x = load_binary_mnist(data, seed=seed, binarize=binarize).split(split)
    with progress_bar() as bar:
        task = bar.add_task(f"log p(x), K={k}", total=None)
        result = evaluate_vae(model, x, k, limit=limit, seed=seed,
                              on_batch=lambda done, total: bar.update(task, completed=done, total=total))  # fmt: skip
    result["split"] = split
    if as_json:
        print_json(result)
    else:
        typer.echo(f"{split}: -ELBO {result['neg_elbo']:.3f}  log p(x) {result['log_px']:.3f} "
                   f"(K={k}, n={result['n']})")  # fmt: skip


@app.command("wgan")
def eval_wgan_command(
    ckpt: WganCkpt = WGAN_CKPT,
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help=SCORED_CLASSIFIER),
    data: str = typer.Option("mnist", help=HELD_OUT_HELP),
    n: int = typer.Option(1000, min=2, help=N_HELP),
    k: int = typer.Option(3, min=1, help=K_HELP),
    seed: int = typer.Option(0, "--seed", "-s", help="Seeds the latent draws and the split of the real images."),
    bootstrap: Bootstrap = 0,
    kid: Kid = False,
    fd_infinity: FdInfinity = False,
    as_json: AsJson = False,
    device: Device = "auto",
) -> None:
    """Fréchet distance and precision/recall of generated digits on classifier features, with a real-vs-real floor.

    n generated images and n other held-out real images are each compared with the same n held-out reference
    images, so `real_vs_real_fid` is what a perfect generator would score at this n.
    """
    from vaegan.data import load_rgb32
    from vaegan.metrics import evaluate_generator

    check_fidelity_options(bootstrap)
    generator = load(ckpt, "wgan-generator", device)
    digit_classifier = load(classifier, "digit-classifier", device)
    real = load_rgb32(data)
    result = evaluate_generator(generator, digit_classifier, real.images, latent_dim=generator.latent_dim, n=n,
                                seed=seed, k=k, bootstrap=bootstrap, kid=kid, fd_infinity=fd_infinity)  # fmt: skip
    result.update(ckpt=str(ckpt), data=real.name)
    if as_json:
        print_json(result)
        return
    typer.echo(f"{'':14s}{'FD':>10s}{'precision':>11s}{'recall':>8s}   (n={n} per set, k={k}, data {real.name})")
    for name, prefix in (("real vs real", "real_vs_real_"), ("generated", "")):
        fid, precision, recall = (result[prefix + key] for key in ("fid", "precision", "recall"))
        typer.echo(f"{name:14s}{fid:10.3f}{precision:11.3f}{recall:8.3f}")
    typer.echo(f"predicted digits of the generated images: {result['predicted_digit_counts']}")
    echo_fidelity(result, {})


@app.command("compare")
def eval_compare_command(
    vae: Path = typer.Option(VAE_CKPT, help="A VAE .safetensors file."),
    wgan: Path = typer.Option(WGAN_CKPT, help="A WGAN generator .safetensors file."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help=SCORED_CLASSIFIER),
    data: str = typer.Option("mnist", help=HELD_OUT_HELP),
    n: int = typer.Option(1000, min=2, help=N_HELP),
    k: int = typer.Option(3, min=1, help=K_HELP),
    seed: int = typer.Option(0, "--seed", "-s", help="Seeds both models' latents and the split of the real images."),
    bootstrap: Bootstrap = 0,
    kid: Kid = False,
    fd_infinity: FdInfinity = False,
    as_json: AsJson = False,
    device: Device = "auto",
) -> None:
    """The VAE and the WGAN side by side: FD, precision, recall and digit histogram on the same held-out digits.

    VAE samples are its decoder's Bernoulli means, padded from 28x28 to 32x32x3 as MNIST is for the classifier.
    """
    from vaegan.compare import compare_models
    from vaegan.data import load_rgb32

    check_fidelity_options(bootstrap)
    real = load_rgb32(data)
    models = load(vae, "vae", device), load(wgan, "wgan-generator", device)
    digit_classifier = load(classifier, "digit-classifier", device)
    result = compare_models(*models, digit_classifier, real.images, n=n, seed=seed, k=k, bootstrap=bootstrap, kid=kid,
                            fd_infinity=fd_infinity)  # fmt: skip
    result.update(vae_ckpt=str(vae), wgan_ckpt=str(wgan), data=real.name)
    if as_json:
        print_json(result)
        return
    typer.echo(f"{'':14s}{'FD':>10s}{'precision':>11s}{'recall':>8s}   (n={n} per set, k={k}, data {real.name})")
    for name, key in (("real vs real", "floor"), (f"VAE ({result['vae']['arch']})", "vae"), ("WGAN", "wgan")):
        row = result[key]
        typer.echo(f"{name:14s}{row['fid']:10.3f}{row['precision']:11.3f}{row['recall']:8.3f}   "
                   f"digits {row['predicted_digit_counts']}")  # fmt: skip
    echo_fidelity(result, {"floor": "real vs real", "vae": f"VAE ({result['vae']['arch']})", "wgan": "WGAN"})
