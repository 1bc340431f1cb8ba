"""`vaegan divergences sweep | train-generator | draw`: critics that estimate divergences, generators trained by
them, and both on a drawing of P and Q.

Unset options (None) keep the library's setting: `SweepConfig`'s defaults (or `REFERENCE_SETTING`'s with
--reference) for a sweep, `DynamicsConfig`'s / `Toy2dConfig`'s for a generator. `vaegan compare` and
`vaegan dynamics`, the old spellings, are hidden aliases of these two (vaegan.cli.entry).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vaegan.cli.display import print_rows, progress_bar, step_reporter
from vaegan.cli.options import Device, err_console, one_of
from vaegan.vocabulary import (
    DRAWING_PRESETS,
    GENERATORS,
    OPTIMIZERS,
    PENALTIES,
    SLIDE_DIRECTIONS,
    SWEEP_FAMILIES,
    TARGETS,
    THETA_OPTIMIZERS,
    TOY_LOSSES,
)

if TYPE_CHECKING:
    from vaegan.divergences import DynamicsResult, SweepResult, Toy2dResult

app = typer.Typer(name="divergences", help="Estimate divergences with trained critics, and train 2-D generators "
                  "under each loss.", no_args_is_help=True)  # fmt: skip

DEFAULT = "default: the library's setting"  # a None option: SweepConfig / REFERENCE_SETTING, DynamicsConfig, ...
WORKERS_HELP = "(0 = one per usable CPU core; the results are the same)."


@app.command("sweep")
def sweep_command(
    family: Annotated[one_of(SWEEP_FAMILIES) | None, typer.Option(
        help="lines: P=(0,U[0,1]) vs Q=(θ,U[0,1]); gaussian: N((0,½),σ²I) vs N((θ,½),σ²I); 8gaussians, 25gaussians, "
        "swissroll, moons: P = that 2-D toy target, Q = P moved by θ along x (W1 = |θ|; the f-divergences have no "
        "closed form).")] = None,
    divergences: str | None = typer.Option(
        None, help="Comma list of hellinger, wasserstein, kl, reverse-kl, jensen-shannon, total-variation, pearson."
    ),
    thetas: str | None = typer.Option(None, help="start:stop:count (inclusive) or a comma list such as 0,0.5,1."),
    iters: int | None = typer.Option(None, min=1, help=f"Optimizer steps per critic ({DEFAULT})."),
    batch_size: int | None = typer.Option(None, min=1, help=f"Samples of P and Q per step ({DEFAULT})."),
    lr: float | None = typer.Option(None, min=1e-12, help=f"Learning rate ({DEFAULT})."),
    optimizer: Annotated[one_of(OPTIMIZERS) | None, typer.Option(help=f"The critics' optimizer ({DEFAULT}).")] = None,
    width: int | None = typer.Option(None, min=1, help=f"Critic hidden width ({DEFAULT})."),
    depth: int | None = typer.Option(None, min=1, help=f"Critic hidden layers ({DEFAULT})."),
    penalty: Annotated[one_of(PENALTIES) | None, typer.Option(
        help=f"Lipschitz penalty of the W1 critic ({DEFAULT}).")] = None,
    penalty_weight: float | None = typer.Option(None, min=0.0, help=f"λ of the penalty ({DEFAULT})."),
    penalty_every: int | None = typer.Option(
        None, min=1, help=f"The W1 penalty on every k-th step, k times as heavy ({DEFAULT})."
    ),
    sigma: float | None = typer.Option(None, min=1e-6, help=f"σ of the gaussian family ({DEFAULT})."),
    seed: int = typer.Option(0, "--seed", "-s"),
    snapshot_every: int | None = typer.Option(None, min=1, help=f"Record the estimates every N steps ({DEFAULT})."),
    heatmap_thetas: str | None = typer.Option(
        None, help=f"θ whose critic is recorded on a grid, comma list; '' for none ({DEFAULT})."
    ),
    reference: bool = typer.Option(
        False, "--reference", help="Start from the reference setting (REFERENCE_SETTING: plain SGD, a wider, deeper "
        "critic, more steps)."
    ),  # fmt: skip
    one_at_a_time: bool = typer.Option(False, "--one-at-a-time", help="Train the θ one by one (same numbers, slower)."),
    out: Path = typer.Option(Path("results/divergences.json"), "--out", "--output", "-o",
                             help="Where the result JSON (with snapshots) goes."),  # fmt: skip
    plot: Path | None = typer.Option(None, help="Also write an interactive HTML plot of estimate vs θ here."),
    device: Device = "cpu",
    threads: int = typer.Option(1, min=1, help="CPU threads: 2 can be 1.7x faster on idle cores, far slower on busy."),
    workers: int = typer.Option(0, min=0, help="Divergences trained at once, each in its own thread of --threads "
                                + WORKERS_HELP),  # fmt: skip
) -> None:
    """Estimate divergences between P and Q_θ for every θ with trained critics, all θ trained as one batch."""
    from vaegan.divergences import run_sweep, sweep_config
    from vaegan.runtime import resolve_device

    config = sweep_config(
        reference=reference, family=family, divergences=divergences, thetas=thetas, iters=iters,
        batch_size=batch_size, lr=lr, optimizer=optimizer, width=width, depth=depth, penalty=penalty,
        penalty_weight=penalty_weight, penalty_every=penalty_every, sigma=sigma, seed=seed,
        snapshot_every=snapshot_every, heatmap_thetas=heatmap_thetas, batched=not one_at_a_time,
    )  # fmt: skip
    dev = resolve_device(device)
    err_console.print(
        f"{', '.join(config.divergences)} on {config.family}, {len(config.thetas)} θ, {config.iters} {config.optimizer}"
        f" steps (lr {config.lr:g}), critic 2-{'-'.join([str(config.width)] * config.depth)}-1, on {dev}"
    )
    with progress_bar("divergence") as bar:
        task = bar.add_task("sweep", total=None, divergence="-")

        def on_progress(done: int, total: int, name: str) -> None:
            if done % 10 == 0 or done == total:
                bar.update(task, completed=done, total=total, divergence=name)

        result = run_sweep(config, progress=on_progress, device=dev, threads=threads, workers=workers or None)
    result.save(out)
    print_sweep(result)
    err_console.print(f"wrote {out}")
    if plot is not None:
        from vaegan.figures import divergence_figure, write_html

        write_html(divergence_figure(result), plot)
        err_console.print(f"wrote {plot}")


def print_sweep(result: SweepResult) -> None:
    """Estimate / truth per θ and divergence, then each divergence's largest error where the truth is known."""
    print_rows(result.summary_rows())
    for line in result.error_summary():
        typer.echo(line)


@app.command("train-generator")
def train_generator_command(
    generator: Annotated[one_of(GENERATORS), typer.Option(
        help="shift: one learnable θ, Q_θ = P moved by θ (lines | gaussian); mlp: a 2-D toy GAN.")] = "shift",
    target: Annotated[one_of(TARGETS), typer.Option(
        help="P. shift: lines | gaussian; mlp: any of the choices.")] = "lines",
    losses: str | None = typer.Option(None, help=f"Comma list of {', '.join(TOY_LOSSES)} ({DEFAULT})."),
    optimizer: Annotated[one_of(THETA_OPTIMIZERS) | None, typer.Option(
        help=f"The shift generator's θ optimizer ({DEFAULT}).")] = None,
    steps: int | None = typer.Option(None, min=1, help=f"Generator steps ({DEFAULT})."),
    seed: int = typer.Option(0, "--seed", "-s"),
    out: Path | None = typer.Option(None, "--out", "--output", "-o",
                                    help="The result JSON (default: results/, named by vaegan.divergences."
                                    "dynamics_filename)."),  # fmt: skip
    plot: Path | None = typer.Option(None, help="Also write an interactive HTML plot of the run here."),
    all_defaults: bool = typer.Option(
        False, "--all", help="Run the app's precomputation instead: every target under every loss, default settings."
    ),
    folder: Path = typer.Option(Path("results"), "--dir", help="Where --all writes its files."),
    workers: int = typer.Option(0, min=0, help="Processes that --all trains runs in at once " + WORKERS_HELP),
    device: Device = "cpu",
) -> None:
    """Train generators under each loss (all losses at once, one batched run) and show where each one ends."""
    from vaegan.divergences import dynamics_filename, generator_config, train_generator, write_all_defaults
    from vaegan.errors import ConfigError
    from vaegan.runtime import resolve_device, usable_cpus

    dev = resolve_device(device)
    if all_defaults:
        given = [flag for flag, value in (("--losses", losses), ("--optimizer", optimizer), ("--steps", steps),
                                          ("--out", out), ("--plot", plot)) if value is not None]  # fmt: skip
        if given:
            raise ConfigError(f"--all runs the default settings: drop {', '.join(given)}")
        with progress_bar("training") as bar:
            task = bar.add_task("train-generator --all", total=None, training="-")
            written = write_all_defaults(folder, step_reporter(bar, task), dev, workers or usable_cpus())
        for path, run in written.items():
            print_generator_run(run)
            err_console.print(f"wrote {path}")
        return

    config = generator_config(
        generator, target, losses=None if losses is None else [n.strip() for n in losses.split(",")],
        theta_optimizer=optimizer, steps=steps, seed=seed,
    )  # fmt: skip
    theta_optimizer = getattr(config, "theta_optimizer", "sgd")
    out = out or Path("results") / dynamics_filename(generator, target, theta_optimizer)
    err_console.print(f"{generator} generator on {target}: {', '.join(config.losses)}, "
                      f"{config.steps} steps, on {dev}")  # fmt: skip
    with progress_bar("training") as bar:
        task = bar.add_task("train-generator", total=config.steps, training="-")
        run = train_generator(config, step_reporter(bar, task), dev)
    run.save(out)
    print_generator_run(run)
    err_console.print(f"wrote {out}")
    if plot is not None:
        from vaegan.figures import dynamics_figure, write_html

        write_html(dynamics_figure(run), plot)
        err_console.print(f"wrote {plot}")


def print_generator_run(run: DynamicsResult | Toy2dResult) -> None:
    """Where each loss took the generator: the shift generator's θ, the MLP's exact W1 to the target and modes."""
    from vaegan.divergences import DynamicsResult

    config = run.config
    if isinstance(run, DynamicsResult):
        typer.echo(f"shift generator on {config.family}, θ₀ = {config.theta0:g}, {config.steps} "
                   f"{config.theta_optimizer} steps on θ (lr {config.theta_lr:g}), {config.critic_steps} critic steps "
                   "each")  # fmt: skip
    else:
        typer.echo(f"MLP generator on {config.target}, {config.steps} steps, {config.critic_steps} critic steps each")
    print_rows(run.summary_rows())
    if not isinstance(run, DynamicsResult):
        typer.echo(f"exact W1 between {config.frame_samples} generated and {config.frame_samples} target points; two "
                   f"samples of the target itself: {run.w1_reference:.3f}")  # fmt: skip
    typer.echo(f"all {len(config.losses)} losses trained together in {run.seconds.get('train', math.nan):.1f} s")


@app.command("draw")
def draw_command(
    drawing: str = typer.Argument(..., help="A picture of P (red) and Q (blue) on black, a drawing's code from the "
                                  f"app's link (?draw=…), or a preset: {', '.join(DRAWING_PRESETS)}."),  # fmt: skip
    slide: Annotated[one_of(SLIDE_DIRECTIONS) | None, typer.Option(
        help="Also sweep θ: Q moved by θ in [-2, 2] along this direction, every θ at once.")] = None,
    train_generator: bool = typer.Option(False, "--train-generator",
                                         help="Also train the MLP generator from Q towards P under every loss."),
    seed: int = typer.Option(0, "--seed", "-s"),
    out: Path | None = typer.Option(None, "--out", "--output", "-o",
                                    help="With --train-generator: the run's JSON (as train-generator writes)."),
) -> None:
    """Every divergence between a drawn P and Q (critics' estimates with 95% intervals, the exact W1), as the
    Divergences page's "draw your own" shows them; optionally their θ sweep and a generator trained towards P."""
    import dataclasses

    from vaegan.divergences.drawn import load_drawing
    from vaegan.divergences.drawn_estimates import SWEEP_CONFIG, DrawnConfig, estimate_drawing, sweep_drawing
    from vaegan.divergences.generators import drawn_generator_config
    from vaegan.divergences.generators import train_generator as train

    picture = load_drawing(drawing)
    err_console.print(f"drawing {picture.code} ({int(picture.p.sum())} cells of P, {int(picture.q.sum())} of Q)")
    with progress_bar("training") as bar:
        task = bar.add_task("critics", total=None, training="-")
        estimates = estimate_drawing(picture, DrawnConfig(seed=seed), step_reporter(bar, task))
    print_rows(estimates.rows())
    if slide is not None:
        with progress_bar("training") as bar:
            task = bar.add_task("θ sweep", total=None, training="-")
            sweep = sweep_drawing(picture, slide, config=dataclasses.replace(SWEEP_CONFIG, seed=seed),
                                  progress=step_reporter(bar, task))  # fmt: skip
        print_rows([{"θ": theta, **{name: round(sweep.estimates[name][i].mean, 4) for name in sweep.estimates},
                     "exact W1": round(sweep.exact_w1[i], 4)} for i, theta in enumerate(sweep.thetas)])  # fmt: skip
    if train_generator:
        config = drawn_generator_config(picture.code, seed=seed)
        with progress_bar("training") as bar:
            task = bar.add_task("train-generator", total=config.steps, training="-")
            run = train(config, step_reporter(bar, task))
        print_generator_run(run)
        if out is not None:
            run.save(out)
            err_console.print(f"wrote {out}")
