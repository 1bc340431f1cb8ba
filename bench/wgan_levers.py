"""Quality-per-second levers of the WGAN-GP: the `fast` recipe against variants of it, for the same wall-clock
budget, side by side on one machine.

    python bench/wgan_levers.py --levers "critic width 64,generator width 64,batch 128 with lr x1.41" --budget 2400
    python bench/wgan_levers.py --list                     # the levers it knows
    python bench/wgan_levers.py --levers "ema 0.9995" --budget 60     # a quick check that it runs
    python bench/wgan_levers.py --levers "width 32,n_critic 2" --score-only --eval-seeds 8  # rescore --work

Every run is `train_wgan` with the `fast` recipe, the budget option (it measures its own speed, fixes the
iteration count that fits and decays the learning rates to zero at it) and one thread, all runs at the same time:
on a 2-core machine four runs share two cores, so each sees the same contention, and a lever that makes an
iteration dearer pays for it in iterations. The baseline (the `fast` recipe unchanged) always runs in the same
batch. After training the EMA generator is scored at the end and at half the budget (FD / precision / recall on
held-out digits, n = 1,000, what `python cli.py eval wgan` prints; `--eval-seeds` averages that many evaluation
seeds), with the critic's memorised share of its margin (`memorised_share`); scoring never eats into the budget.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from vaegan.runtime import run_in_processes

TRAIN = "../shared/data/mnist_train_5k.npz+../shared/data/mnist_test.npz@0:8000"
HELD_OUT = "../shared/data/mnist_test.npz@8000:10000"
BASELINE = "fast recipe"

# Each lever: the recipe fields it changes (model or training settings; `vaegan.train.wgan.recipe`).
LEVERS: dict[str, dict] = {
    BASELINE: {},
    "critic width 64": {"critic_width": 64},
    "generator width 64": {"width": 64, "critic_width": 32},
    "batch 128 with lr x1.41": {"batch_size": 128, "lr": 2.8e-4, "critic_lr": 8.5e-4},
    "batch 32 with lr /1.41": {"batch_size": 32, "lr": 2.1e-4, "critic_lr": 6.4e-4},
    "ema 0.9995": {"ema_decay": 0.9995},
    "ema 0.998": {"ema_decay": 0.998},
    "penalty weight 5": {"gp_weight": 5.0},
    "top-k 0.5": {"top_k": 0.5},
    "top-k 0.75": {"top_k": 0.75},
    "penalty weight 20": {"gp_weight": 20.0},
    "lr x1.5": {"lr": 3e-4, "critic_lr": 9e-4},
    "lr 4.5e-4 / 1.35e-3": {"lr": 4.5e-4, "critic_lr": 1.35e-3},
    "beta2 0.9": {"beta2": 0.9},
    "critic lr 4e-4": {"critic_lr": 4e-4},
    "generator lr 2e-4": {"lr": 2e-4},
    "beta1 0.5": {"beta1": 0.5},
    "n_critic 2": {"n_critic": 2},
    "width 24": {"width": 24},
    "width 32": {"width": 32},
    "width 48": {"width": 48},
    "critic width 48": {"critic_width": 48},
    "critic width 16": {"critic_width": 16},
    "warm-up 1000": {"warmup_iters": 1000},
    "penalty every step": {"gp_every": 1},
    "z 16": {"latent_dim": 16},
    "z 32": {"latent_dim": 32},
    "simultaneous": {"simultaneous": True},
    "simultaneous + width 32": {"simultaneous": True, "width": 32},
    "simultaneous + ema 0.9995": {"simultaneous": True, "ema_decay": 0.9995},
    "augment translation": {"augment": "translation"},
    "augment translation+cutout": {"augment": "translation,cutout"},
}


def lever_names(text: str) -> list[str]:
    """The baseline and the levers a comma-separated --levers value names (so no lever name holds a comma)."""
    names = [BASELINE] + [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LEVERS]
    if unknown:
        sys.exit(f"unknown lever(s) {', '.join(map(repr, unknown))}; --list shows the known ones")
    return names


class BudgetSpent(Exception):  # noqa: N818 - a signal, not an error
    pass


def train_one(name: str, budget: float, data: str, run_dir: str, threads: int) -> None:
    """Train one lever under the budget, keeping a copy of the state at half the budget (runs in a subprocess)."""
    import torch

    from vaegan.data import load_rgb32
    from vaegan.train.wgan import recipe, train_wgan

    torch.set_num_threads(threads)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    model_config, train_config = recipe("fast", iters=1_000_000, time_budget=budget, checkpoint_every=250,
                                        sample_every=10**9, log_every=10**9, timeline_every=0,
                                        **LEVERS[name])  # fmt: skip
    halfway: list[bool] = [False]

    def on_progress(report) -> None:  # noqa: ANN001 - vaegan.train.common.Progress
        if report.event == "checkpoint" and not halfway[0] and report.seconds >= budget / 2:
            halfway[0] = True
            shutil.copy(report.path, run / "half.safetensors")
            (run / "half.json").write_text(json.dumps({"seconds": report.seconds, "iteration": report.done}))
        if report.event == "step" and report.seconds >= budget * 1.1:  # the budget option ends the run before
            raise BudgetSpent

    with contextlib.suppress(BudgetSpent):
        train_wgan(model_config, load_rgb32(data), train_config, run_dir=run, on_progress=on_progress)


def memorised_share(state: dict, training: torch.Tensor, held_out: torch.Tensor, n: int = 2000) -> float:
    """How much of the critic's real-vs-fake margin is its memory of the training digits:
    (E f(train) - E f(held-out)) / (E f(train) - E f(fake)), on untransformed images, fakes from the EMA generator.
    0 for a critic that scores unseen digits like the ones it trained on."""
    from vaegan.wgan import Critic, Generator, WGANConfig

    config = WGANConfig(**state["model_config"])
    critic, generator = Critic(config), Generator(config)
    critic.load_state_dict(state["critic"])
    generator.load_state_dict(state["ema"])
    with torch.no_grad():
        z = torch.randn(n, config.latent_dim, generator=torch.Generator().manual_seed(0))
        train_score, held_score, fake_score = (critic(x).mean().item() for x in
                                               (training[:n], held_out[:n], generator.eval()(z)))  # fmt: skip
    return (train_score - held_score) / (train_score - fake_score)


def score(run_dir: Path, classifier: str, held_out: str, data: str, seeds: int = 1, n: int = 1000) -> dict:
    """FD / precision / recall of the EMA generator at half the budget and at the end, each the mean over `seeds`
    evaluation seeds (each seed draws other z and another half of the held-out digits: at n = 1,000 one seed's FD
    moves by about 1.4, its precision by about 0.02), and the critic's memorised share (`memorised_share`)."""
    import statistics

    from vaegan.checkpoint import load_model, load_state
    from vaegan.data import load_rgb32
    from vaegan.metrics import evaluate_generator
    from vaegan.wgan import Generator, WGANConfig

    torch.set_num_threads(2)
    reader = load_model(classifier, kind="digit-classifier")
    real = load_rgb32(held_out).images
    training = load_rgb32(data).images
    training = training[torch.randperm(len(training), generator=torch.Generator().manual_seed(0))]
    rows = {}
    for label, path in (("half", run_dir / "half.safetensors"), ("end", run_dir / "state.safetensors")):
        if not path.exists():
            continue
        state = load_state(path)
        generator = Generator(WGANConfig(**state["model_config"]))
        generator.load_state_dict(state["ema"])
        results = [evaluate_generator(generator.eval(), reader, real, latent_dim=generator.latent_dim, n=n, seed=seed)
                   for seed in range(seeds)]  # fmt: skip
        metrics = {key: statistics.mean(result[key] for result in results) for key in ("fid", "precision", "recall")}
        spread = {f"{key}_sd": statistics.stdev(r[key] for r in results) if seeds > 1 else None for key in metrics}
        rows[label] = {"seconds": float(state["seconds"]), "iteration": int(state["iteration"]), **metrics, **spread,
                       "eval_seeds": seeds, "memorised_share": memorised_share(state, training, real)}  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levers", default="", help="comma-separated lever names (--list); the baseline is added")
    parser.add_argument("--list", action="store_true", help="print the known levers and exit")
    parser.add_argument("--budget", type=float, default=2400.0, help="training seconds per run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--data", default=TRAIN)
    parser.add_argument("--holdout", default=HELD_OUT)
    parser.add_argument("--classifier", default="checkpoints/classifier.safetensors")
    parser.add_argument("--work", default="runs/bench_wgan_levers", help="run dirs (not committed)")
    parser.add_argument("--out", default="results/wgan_levers.json")
    parser.add_argument("--score-only", action="store_true", help="score the runs already in --work, train nothing")
    parser.add_argument("--eval-seeds", type=int, default=1, help="evaluation seeds averaged per score")
    args = parser.parse_args()
    if args.list:
        for name, change in LEVERS.items():
            print(f"{name:22s} {json.dumps(change)}")
        return
    if args.eval_seeds < 1:
        sys.exit(f"--eval-seeds must be >= 1, got {args.eval_seeds}")
    names = lever_names(args.levers)

    work = Path(args.work)
    started = time.perf_counter()
    if not args.score_only:
        shutil.rmtree(work, ignore_errors=True)
        run_in_processes(train_one, [(name, args.budget, args.data, str(work / f"run{k}"), args.threads)
                                     for k, name in enumerate(names)])  # fmt: skip
    wall = time.perf_counter() - started
    results = {name: score(work / f"run{k}", args.classifier, args.holdout, args.data, args.eval_seeds)
               for k, name in enumerate(names)}  # fmt: skip

    from vaegan.runtime import cpu_model

    how = f"scored the runs in {work}" if args.score_only else f"{wall:.0f} s wall"
    print(f"WGAN-GP levers: {len(names)} runs side by side, {args.threads} thread(s) each, budget {args.budget:.0f} s "
          f"each ({how}), {cpu_model()}")
    print(f"train {args.data}; EMA generator on {args.holdout}, n=1000: FD / precision / recall @ iteration"
          f"{f', mean of {args.eval_seeds} evaluation seeds' if args.eval_seeds > 1 else ''}\n")
    print(f"{'lever':28s} {'at half the budget':>30s} {'at the end':>30s} {'memorised':>10s}")
    for name, rows in results.items():
        cells = [f"{r['fid']:6.2f} {r['precision']:5.3f} {r['recall']:5.3f} @{r['iteration']:6d}" if r else "-"
                 for r in (rows.get("half"), rows.get("end"))]  # fmt: skip
        memorised = f"{rows['end']['memorised_share']:.2f}" if "end" in rows else "-"
        print(f"{name:28s} {cells[0]:>30s} {cells[1]:>30s} {memorised:>10s}")
    print("memorised: the critic's (E f(train) - E f(held-out)) / (E f(train) - E f(fake)) at the end")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"budget": args.budget, "threads": args.threads, "cpu": cpu_model(),
                                          "eval_seeds": args.eval_seeds,
                                          "data": args.data, "holdout": args.holdout,
                                          "levers": {name: LEVERS[name] for name in names},
                                          "results": results}, indent=1))  # fmt: skip
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
