"""`vaegan app precompute`: the app's first-visit numbers, computed once (at image build time, or locally)."""

from __future__ import annotations

from pathlib import Path

import typer

from vaegan.cli.display import duration
from vaegan.cli.options import CLASSIFIER_CKPT, WGAN_CKPT, Device, err_console
from vaegan.vocabulary import APP_VAE_CHECKPOINTS

app = typer.Typer(name="app", help="Prepare the Streamlit app.", no_args_is_help=True)


@app.command("precompute")
def precompute_command(
    vae: list[Path] = typer.Option([Path(p) for p in APP_VAE_CHECKPOINTS], help="The VAE files the app offers "
                                   "(repeat the option for several)."),  # fmt: skip
    wgan: Path = typer.Option(WGAN_CKPT, help="The generator of the \"VAE vs GAN\" page (skipped if missing)."),
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Its digit classifier (skipped if missing)."),
    data: str = typer.Option("", help="The test digits the app reads (its VAEGAN_APP_DATA); default: what the app "
                             "finds, i.e. the downloaded test split."),  # fmt: skip
    download: bool = typer.Option(False, help="Download the binarized-MNIST test digits first (a Space's image "
                                  "build does)."),  # fmt: skip
    holdout: str = typer.Option("", help="The \"VAE vs GAN\" page's held-out images (its VAEGAN_APP_HOLDOUT); "
                                "default: the test digits."),  # fmt: skip
    out: Path = typer.Option(Path("results"), help="The app's results folder (its VAEGAN_RESULTS); the numbers go "
                             "to OUT/precomputed/."),  # fmt: skip
    device: Device = "auto",
) -> None:
    """Score what the VAE and "VAE vs GAN" pages show on a first visit, so that no visitor waits for it."""
    from vaegan.checkpoint import load_model
    from vaegan.data import download_test_digits, find_test_digits, load_rgb32, load_test_digits
    from vaegan.precomputed import FOLDER, NumberStore, Written, precompute_app_numbers
    from vaegan.runtime import resolve_device

    dev = resolve_device(device)
    if download:
        err_console.print(f"test digits: {download_test_digits()}")
    source = find_test_digits(data or None)
    digits = load_test_digits(source) if source is not None else None
    err_console.print(f"test digits: {source or 'none (the pages then score model samples)'}")
    vaes = {str(path): load_model(path, kind="vae", device=dev) for path in vae if path.exists()}
    if not vaes:
        raise typer.BadParameter("none of the --vae files exists", param_hint="--vae")
    generator = load_model(wgan, kind="wgan-generator", device=dev) if wgan.exists() else None
    scorer = load_model(classifier, kind="digit-classifier", device=dev) if classifier.exists() else None
    held_out = load_rgb32(holdout, download_missing=False).images if holdout else None

    def report(item: Written) -> None:
        err_console.print(f"{item.kind:22s} {item.model:34s} {duration(item.seconds):>8s}  {item.path}")

    written = precompute_app_numbers(NumberStore(out / FOLDER), vaes, digits, generator=generator,
                                     classifier=scorer, held_out=held_out, on_written=report)  # fmt: skip
    total = sum(item.seconds for item in written)
    err_console.print(f"wrote {len(written)} files to {out / FOLDER} ({duration(total)} of scoring)")
