"""`vaegan export wgan`, `vaegan timeline from-grids` and `vaegan timeline show`: files made from a training run's
folder, and what a timeline file holds; no training."""

from __future__ import annotations

from pathlib import Path

import typer

from vaegan.cli.display import print_json, print_rows
from vaegan.cli.models import command_line
from vaegan.cli.options import WGAN_CKPT, WGAN_TIMELINE, AsJson, Half, err_console

export_app = typer.Typer(name="export", help="Export a model from a run's training state.", no_args_is_help=True)
timeline_app = typer.Typer(name="timeline", help="Training timelines of WGAN runs (what the app's Samples page "
                           "animates).", no_args_is_help=True)  # fmt: skip


@export_app.command("wgan")
def export_wgan_command(
    run_dir: Path = typer.Option(Path("runs/wgan"), help="The run whose state.safetensors to export."),
    out: Path = typer.Option(WGAN_CKPT, "--out", "--output", "-o", help="Where the EMA generator is written."),
    half: Half = False,
) -> None:
    """Export the EMA generator of a run's last checkpoint (a stopped or still running run) without training, and
    its training timeline up to that checkpoint next to it (what `train wgan` writes at the end of a run)."""
    from vaegan.checkpoint import save_result
    from vaegan.timeline import export_sidecar
    from vaegan.train.wgan import STATE_FILE, result_from_state

    result = result_from_state(run_dir / STATE_FILE)
    save_result(result, out, command=command_line(), half=half)
    err_console.print(f"wrote {out} (EMA generator after {result.steps} iterations, {result.seconds:.0f}s of training)")
    sidecar = export_sidecar(run_dir, out, until=result.steps)
    if sidecar is not None:
        err_console.print(f"wrote {sidecar} (its training timeline up to iteration {result.steps:,})")


@timeline_app.command("from-grids")
def timeline_from_grids_command(
    run_dir: Path = typer.Argument(..., help="A WGAN run folder with samples/iter_XXXXXX.png grids of 64 images."),
    out: Path = typer.Option(WGAN_TIMELINE, "--out", "--output", "-o",
                             help="The timeline file to write."),  # fmt: skip
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


@timeline_app.command("show")
def timeline_show_command(
    path: Path = typer.Argument(WGAN_TIMELINE, help="A timeline file."),
    as_json: AsJson = False,
) -> None:
    """The scores a timeline recorded while its run trained: FD / precision / recall at every scored iteration,
    with how they were measured (the curve the Samples page plots next to the frames)."""
    from vaegan.timeline import Timeline, metric_rows

    timeline = Timeline.load(path)
    rows = metric_rows(timeline)
    if as_json:
        print_json({"info": timeline.info, "frames": timeline.iterations, "scores": rows})
        return
    if not rows:
        err_console.print(f"{path} holds {len(timeline)} frames and no scores (a timeline built from sample grids)")
        return
    print_rows([{"iteration": f"{row['iteration']:,}",
                 **{k: "-" if v is None else f"{v:.3f}" for k, v in row.items() if k != "iteration"}}
                for row in rows])  # fmt: skip
    info = timeline.info
    measured = ", ".join(f"{k} {info[k]}" for k in ("n", "k", "metric_seed", "holdout") if k in info)
    floor = " / ".join(f"{value:.3f}" for value in timeline.floor.values())
    err_console.print(f"{len(rows)} scored iterations of {len(timeline)} frames; {measured}"
                      + (f"; floor (real vs real) {floor}" if floor else ""), soft_wrap=True)  # fmt: skip
