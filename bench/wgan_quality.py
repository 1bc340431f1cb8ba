"""Time to quality of the WGAN-GP on a CPU: the reference recipe against this project's `fast` recipe.

Both train on the same real digits for the same wall-clock budget and thread count (side by side by default: one
process each, one thread each). At every `--eval-every` seconds of training the EMA generator is snapshotted (a
copy of the training state); after training every snapshot is scored on held-out digits with the shipped
classifier (Fréchet distance, precision, recall: what `python cli.py eval wgan` prints), so scoring never eats
into the budget. Prints a table of FD at each time point, the time each recipe needs to reach FD <= 100 / 50 / 25
and the ratio; writes the curves as JSON and an HTML plot.

    python bench/wgan_quality.py --budget 900 --eval-every 120      # docs/results.md#wgan-time-to-quality
    python bench/wgan_quality.py --budget 60 --eval-every 20         # a quick check that it runs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

from vaegan.runtime import run_in_processes

TRAIN = "../shared/data/mnist_train_5k.npz+../shared/data/mnist_test.npz@0:8000"
HELD_OUT = "../shared/data/mnist_test.npz@8000:10000"
THRESHOLDS = (100.0, 50.0, 25.0)


class BudgetSpent(Exception):  # noqa: N818 - a signal, not an error
    pass


def train_one(recipe_name: str, budget: float, eval_every: float, data: str, run_dir: str, threads: int) -> None:
    """Train one recipe until the budget is spent, copying the state at every eval point (runs in a subprocess)."""
    import torch

    from vaegan.data import load_rgb32
    from vaegan.train.wgan import recipe, train_wgan

    torch.set_num_threads(threads)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    # The reference checkpoints often enough to be snapshotted near each eval point (it is ~10x slower per
    # iteration); "fast" runs under the budget option itself, which decays its learning rate to end on time.
    every = 5 if recipe_name == "reference" else 50
    budgeted = {"time_budget": budget} if recipe_name == "fast" else {}
    model_config, train_config = recipe(recipe_name, iters=1_000_000, checkpoint_every=every, sample_every=10**9,
                                        log_every=every, **budgeted)  # fmt: skip
    next_eval = [eval_every]
    last_checkpoint: list = [None]

    def snapshot(report, label: float) -> None:  # noqa: ANN001 - vaegan.train.common.Progress
        shutil.copy(report.path, run / f"snapshot_{int(label):06d}s.safetensors")
        (run / f"snapshot_{int(label):06d}s.json").write_text(
            json.dumps({"seconds": report.seconds, "iteration": report.done})
        )

    def on_progress(report) -> None:  # noqa: ANN001 - vaegan.train.common.Progress
        if report.event == "checkpoint":
            last_checkpoint[0] = report
            if report.seconds >= next_eval[0]:
                snapshot(report, next_eval[0])
                next_eval[0] += eval_every
        if report.event == "step" and report.seconds >= budget:
            raise BudgetSpent

    with contextlib.suppress(BudgetSpent):
        train_wgan(model_config, load_rgb32(data), train_config, run_dir=run, on_progress=on_progress)
    # the end of the budget is a time point too: the last state written (the budgeted run writes one at its end)
    final = last_checkpoint[0]
    if final is not None and not (run / f"snapshot_{int(budget):06d}s.safetensors").exists():
        snapshot(final, budget)


def score(run_dir: Path, classifier: str, held_out: str, n: int = 1000) -> list[dict]:
    """FD / precision / recall of the EMA generator of every snapshot_*.safetensors in run_dir (with the seconds and
    iteration of its .json), in file-name order."""
    import torch

    from vaegan.checkpoint import load_model, load_state
    from vaegan.data import load_rgb32
    from vaegan.metrics import evaluate_generator
    from vaegan.wgan import Generator, WGANConfig

    torch.set_num_threads(2)
    reader = load_model(classifier, kind="digit-classifier")
    real = load_rgb32(held_out).images
    rows = []
    for snapshot in sorted(run_dir.glob("snapshot_*.safetensors")):
        state = load_state(snapshot)
        generator = Generator(WGANConfig(**state["model_config"]))
        generator.load_state_dict(state["ema"])
        result = evaluate_generator(generator.eval(), reader, real, latent_dim=generator.latent_dim, n=n, seed=0)
        meta = json.loads(snapshot.with_suffix(".json").read_text())
        rows.append({**meta, "fid": result["fid"], "precision": result["precision"], "recall": result["recall"]})
    return rows


def time_to(rows: list[dict], threshold: float) -> float | None:
    return next((row["seconds"] for row in rows if row["fid"] <= threshold), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=900.0, help="training seconds per recipe")
    parser.add_argument("--eval-every", type=float, default=120.0, help="seconds of training between snapshots")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per recipe")
    parser.add_argument("--sequential", action="store_true", help="one recipe after the other (default: side by side)")
    parser.add_argument("--recipes", default="reference,fast", help="comma-separated: reference, fast or both")
    parser.add_argument("--data", default=TRAIN)
    parser.add_argument("--holdout", default=HELD_OUT)
    parser.add_argument("--classifier", default="checkpoints/classifier.safetensors")
    parser.add_argument("--work", default="runs/bench_wgan_quality", help="run dirs and snapshots (not committed)")
    parser.add_argument("--out", default="results/wgan_quality.json")
    parser.add_argument("--plot", default="results/wgan_quality.html")
    args = parser.parse_args()

    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    recipes = tuple(name for name in args.recipes.split(",") if name)
    if not recipes or set(recipes) - {"reference", "fast"}:
        sys.exit(f"--recipes: a comma-separated list of reference and fast, got {args.recipes!r}")
    started = time.perf_counter()
    run_in_processes(train_one, [(name, args.budget, args.eval_every, args.data, str(work / name), args.threads)
                                 for name in recipes], sequential=args.sequential)  # fmt: skip
    wall = time.perf_counter() - started
    curves = {name: score(work / name, args.classifier, args.holdout) for name in recipes}

    from vaegan.runtime import cpu_model

    print(f"WGAN-GP time to quality: budget {args.budget:.0f} s per recipe, {args.threads} thread(s) each, "
          f"{'alone' if len(recipes) == 1 else 'one after the other' if args.sequential else 'side by side'} "
          f"({wall:.0f} s of training wall time), "
          f"{cpu_model()}")
    print(f"train {args.data}; FD / precision / recall of the EMA generator on {args.holdout} (n=1000)\n")
    print(f"{'time (s)':>9s}  " + "  ".join(f"{name:>26s}" for name in recipes))
    # snapshot k of each recipe was taken at (k + 1) * eval_every seconds of training, the last one at the budget
    for k in range(max(len(rows) for rows in curves.values())):
        cells = []
        for name in recipes:
            row = curves[name][k] if k < len(curves[name]) else None
            cells.append(f"{row['fid']:7.1f} {row['precision']:5.2f} {row['recall']:5.2f} @it {row['iteration']:6d}"
                         if row else f"{'-':>26s}")  # fmt: skip
        print(f"{min((k + 1) * args.eval_every, args.budget):9.0f}  " + "  ".join(f"{c:>26s}" for c in cells))
    print()
    for threshold in THRESHOLDS:
        times = {name: time_to(curves[name], threshold) for name in recipes}
        shown = "  ".join(f"{name} {t:6.0f} s" if t is not None else f"{name}  never" for name, t in times.items())
        ratio = (f"  ratio {times['reference'] / times['fast']:.1f}x" if times.get("reference") and times.get("fast")
                 else "")  # fmt: skip
        print(f"time to FD <= {threshold:5.0f}:  {shown}{ratio}")
    ref_end = curves["reference"][-1]["fid"] if curves.get("reference") and "fast" in curves else None
    fast_time = time_to(curves["fast"], ref_end) if ref_end is not None else None
    if ref_end is not None:
        reached = f"{fast_time:.0f} s ({fast_time / args.budget:.2f} of the budget)" if fast_time else "never"
        print(f"the reference's end-of-budget FD {ref_end:.1f}: fast reaches it after {reached}")

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"budget": args.budget, "eval_every": args.eval_every,
                                          "threads": args.threads, "sequential": args.sequential,
                                          "cpu": cpu_model(),
                                          "data": args.data, "holdout": args.holdout, "curves": curves}, indent=1))
    try:
        import plotly.graph_objects as go

        figure = go.Figure()
        for name in recipes:
            figure.add_scatter(x=[r["seconds"] for r in curves[name]], y=[r["fid"] for r in curves[name]],
                               name=name, mode="lines+markers")  # fmt: skip
        figure.update_layout(title="Fréchet distance (classifier features) against training time",
                             xaxis_title="training seconds", yaxis_title="FD", yaxis_type="log",
                             template="plotly_white")  # fmt: skip
        figure.write_html(args.plot, include_plotlyjs="cdn")
    except ImportError:
        pass
    print(f"\nwrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
