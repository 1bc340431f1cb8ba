"""Learning rates of the WGAN `fast` recipe at equal iterations: FD of the EMA generator along the first part of a run.

    python bench/wgan_lr.py                                   # docs/results.md#wgan: 1e-4/3e-4 against 2e-4/6e-4
    python bench/wgan_lr.py --planned 400 --stop 100 --every 50 --n 200     # a quick check that it runs

Each variant is the `fast` recipe with a planned `--planned` iterations (so its linear decay is the one a run of
that length has; 6,000 iterations is about what a 15-minute `--time-budget` plans on one idle thread here), stopped
at `--stop`, its training state copied every `--every` iterations. All variants train side by side (one process,
one thread each), then every copy's EMA generator is scored on the held-out digits with the shipped classifier,
as `python cli.py eval wgan` does. Comparing at equal iterations makes the table independent of how busy the
machine is (every variant costs the same per iteration); bench/wgan_quality.py measures against the clock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from pathlib import Path

from wgan_quality import HELD_OUT, TRAIN, score  # noqa: E402 - this folder is on sys.path when run

from vaegan.runtime import run_in_processes

VARIANTS = '[{"lr": 1e-4, "critic_lr": 3e-4}, {"lr": 2e-4, "critic_lr": 6e-4}]'


class Stop(Exception):  # noqa: N818 - a signal, not an error
    pass


def train_variant(overrides: dict, planned: int, stop: int, every: int, data: str, run_dir: str) -> None:
    import torch

    from vaegan.data import load_rgb32
    from vaegan.train.wgan import recipe, train_wgan

    torch.set_num_threads(1)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    model_config, train_config = recipe("fast", iters=planned, checkpoint_every=every, sample_every=10**9,
                                        log_every=every, **overrides)  # fmt: skip

    def on_progress(report) -> None:  # noqa: ANN001 - vaegan.train.common.Progress
        if report.event == "checkpoint":
            # named and described as bench/wgan_quality.py's snapshots, so that its `score` reads them
            shutil.copy(report.path, run / f"snapshot_{report.done:07d}.safetensors")
            (run / f"snapshot_{report.done:07d}.json").write_text(
                json.dumps({"seconds": report.seconds, "iteration": report.done})
            )
            if report.done >= stop:
                raise Stop

    with contextlib.suppress(Stop):
        train_wgan(model_config, load_rgb32(data), train_config, run_dir=run / "run", on_progress=on_progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=VARIANTS, help="JSON list of recipe overrides, one per variant")
    parser.add_argument("--planned", type=int, default=6000, help="the iteration count each run plans (lr decay)")
    parser.add_argument("--stop", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--n", type=int, default=1000, help="generated images per FD")
    parser.add_argument("--data", default=TRAIN)
    parser.add_argument("--holdout", default=HELD_OUT)
    parser.add_argument("--classifier", default="checkpoints/classifier.safetensors")
    parser.add_argument("--work", default="runs/bench_wgan_lr", help="run dirs and copies (not committed)")
    args = parser.parse_args()
    variants = json.loads(args.variants)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    run_in_processes(train_variant, [(v, args.planned, args.stop, args.every, args.data, str(work / f"v{i}"))
                                     for i, v in enumerate(variants)])  # fmt: skip
    curves = [{row["iteration"]: row["fid"] for row in score(work / f"v{i}", args.classifier, args.holdout, args.n)}
              for i in range(len(variants))]  # fmt: skip
    print(f"fast recipe, {args.planned} iterations planned, stopped at {args.stop}; FD of the EMA generator "
          f"(n={args.n}) on {args.holdout}\n")
    labels = [", ".join(f"{k} {v:g}" for k, v in variant.items()) for variant in variants]
    print(f"{'iteration':>9}  " + "  ".join(f"{label:>26}" for label in labels))
    for iteration in sorted(set().union(*curves)):
        print(f"{iteration:9d}  " + "  ".join(f"{curve.get(iteration, float('nan')):26.1f}" for curve in curves))


if __name__ == "__main__":
    main()
