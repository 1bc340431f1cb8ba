"""`vaegan sample wgan` and `vaegan explore perturb | interpolate | rank`: images from a generator's latent space."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vaegan.cli.display import print_json
from vaegan.cli.models import load, optional_classifier, save_labelled
from vaegan.cli.options import (
    CLASSIFIER_CKPT,
    WGAN_CKPT,
    AsJson,
    Device,
    LabelClassifier,
    WganCkpt,
    err_console,
    one_of,
)
from vaegan.vocabulary import INTERPOLATION_MODES, RANK_METHODS

sample_app = typer.Typer(name="sample", help="Draw samples from a trained generator into a PNG grid.",
                         no_args_is_help=True)  # fmt: skip
explore_app = typer.Typer(name="explore", help="Walk a generator's latent space: perturb, interpolate, rank.",
                          no_args_is_help=True)  # fmt: skip


@sample_app.command("wgan")
def sample_wgan_command(
    ckpt: WganCkpt = WGAN_CKPT,
    n: int = typer.Option(64, min=1, help="How many images."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seeds the latents z ~ N(0, I)."),
    nrow: int = typer.Option(8, min=1, help="Images per row of the grid."),
    out: Path = typer.Option(Path("samples.png"), "--out", "--output", "-o", help="The PNG grid to write."),
    device: Device = "auto",
) -> None:
    """Sample n images from the (EMA) generator and write them as one PNG grid."""
    from vaegan.images import save_png
    from vaegan.latent import sample_images

    generator = load(ckpt, "wgan-generator", device)
    save_png(out, sample_images(generator, n, seed), nrow=nrow)
    err_console.print(f"wrote {out} ({n} samples, seed {seed}, from {ckpt})")


@explore_app.command("perturb")
def explore_perturb_command(
    ckpt: WganCkpt = WGAN_CKPT,
    dims: str = typer.Option("20,21", help="Comma-separated latent dims, one row each."),
    eps: str = typer.Option("-5:4:10", help="start:stop:count (both ends included) or a comma list; one column each."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seeds the base latent z."),
    out: Path = typer.Option(Path("perturb.png"), "--out", "--output", "-o",
                             help="The PNG to write (rows: dims, columns: eps)."),  # fmt: skip
    classifier: LabelClassifier = CLASSIFIER_CKPT,
    device: Device = "auto",
) -> None:
    """Images of z + eps * e_d: one row per latent dim d, one column per eps, each labelled with its digit."""
    from vaegan.latent import parse_dims, parse_eps, perturbation_strip, sample_latents

    dim_list, eps_values = parse_dims(dims), parse_eps(eps)
    generator = load(ckpt, "wgan-generator", device)
    strip = perturbation_strip(generator, sample_latents(1, generator.latent_dim, seed)[0], dim_list, eps_values)
    save_labelled(out, strip, [f"dim {d}" for d in dim_list], [f"eps={e:g}" for e in eps_values], classifier, device)
    err_console.print(f"wrote {out} (rows: dims {dim_list}; columns: eps {[round(e, 3) for e in eps_values]})")


@explore_app.command("interpolate")
def explore_interpolate_command(
    ckpt: WganCkpt = WGAN_CKPT,
    seed0: int = typer.Option(1, help="Seed of the start latent."),
    seed1: int = typer.Option(2, help="Seed of the end latent."),
    steps: int = typer.Option(10, min=2, help="Images per row, ends included."),
    mode: Annotated[one_of(INTERPOLATION_MODES), typer.Option(help="Straight line or great circle.")] = "lerp",
    out: Path = typer.Option(Path("interp.png"), "--out", "--output", "-o",
                             help="The PNG to write (row 1: latent path, row 2: pixel fade)."),  # fmt: skip
    classifier: LabelClassifier = CLASSIFIER_CKPT,
    device: Device = "auto",
) -> None:
    """Interpolate between two latents (top row) next to a cross-fade of the two end images (bottom row)."""
    from vaegan.latent import interpolation_table

    generator = load(ckpt, "wgan-generator", device)
    table, times = interpolation_table(generator, seed0, seed1, steps, mode)
    save_labelled(out, table, [mode, "fade"], [f"t={t:.2f}" for t in times], classifier, device)
    err_console.print(f"wrote {out} ({mode}, {steps} steps, seeds {seed0} -> {seed1})")


@explore_app.command("rank")
def explore_rank_command(
    ckpt: WganCkpt = WGAN_CKPT,
    seed: int = typer.Option(0, "--seed", "-s", help="Seeds the latents the changes are averaged over."),
    n: int = typer.Option(16, min=2, help="Latents to average over."),
    top: int = typer.Option(10, min=1, help="How many dims and directions to list."),
    eps: float = typer.Option(1.0, help="Step size along each dim/direction when measuring the change."),
    method: Annotated[one_of(RANK_METHODS), typer.Option(
        help="Directions from output changes or features.")] = "jacobian",
    classifier: Path = typer.Option(CLASSIFIER_CKPT, help="Digit classifier for the semantic ranking (if present)."),
    out: Path = typer.Option(Path("rank.png"), "--out", "--output", "-o",
                             help="PNG: one row per top principal direction, eps -3..3."),  # fmt: skip
    as_json: AsJson = False,
    device: Device = "auto",
) -> None:
    """Latent dims and principal directions ranked by how much they change the image (mean RMS pixel change)."""
    from vaegan.images import save_png
    from vaegan.latent import rank_report

    generator = load(ckpt, "wgan-generator", device)
    reader = optional_classifier(classifier, device)
    report = rank_report(generator, n=n, seed=seed, top=top, eps=eps, method=method, classifier=reader)
    save_png(out, report.strips)
    result = {"ckpt": str(ckpt), "image": str(out), **report.to_dict()}
    if as_json:
        print_json(result)
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
