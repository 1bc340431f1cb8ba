"""What a user waits for in the divergence lab: the app's precomputation and the default `python cli.py compare`.

    python bench/dynamics.py                 # docs/results.md#speed (about 3-4 minutes on this 2-core machine)
    python bench/dynamics.py --quick         # a check that it runs (tiny step counts, seconds)

Part 1, the app's precomputation (every 2-D target under every loss, plus the shift generator on both families;
target <= 120 s): `python cli.py dynamics --all` end to end in a fresh process, as a user runs it (one worker
process per CPU core, one torch thread each). Baselines in the same run: the same runs one after the other in this
process (one worker), each timed; and the one-loss-at-a-time way, a separate run per loss (what batching all
losses into one ensemble replaces), on `--baseline-target`, against that target's batched run.

Part 2, the default `python cli.py compare` end to end as a user runs it (a fresh interpreter: imports, the batched
sweep, the table, the JSON write; target <= 4 s less interpreter start-up), median of `--repeats`. Baselines in the
same run: the bare interpreter (`python -c pass`, subtracted), `python cli.py compare --help` (the imports the
command needs), the sweep alone in this process (`run_sweep(SweepConfig())`), and `compare` with glibc's malloc
defaults (`VAEGAN_KEEP_FREED_MEMORY=0`, see vaegan/allocator.py), interleaved with the default runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]

from vaegan.divergences import (  # noqa: E402
    FAMILIES,
    TARGETS,
    DynamicsConfig,
    SweepConfig,
    Toy2dConfig,
    run_dynamics,
    run_sweep,
    run_toy2d,
    train_critics,
)
from vaegan.divergences import sweep as sweep_module  # noqa: E402
from vaegan.divergences.rounding import round_significant  # noqa: E402


def seconds_of(work) -> float:  # noqa: ANN001 - any zero-argument callable
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def wall_of(command: list[str], repeats: int) -> list[float]:
    """Wall seconds of a fresh process running `command` from the repository root, `repeats` times."""
    return [run_of(command)[0] for _ in range(repeats)]


def run_of(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """(wall seconds, minor page faults) of one fresh process running `command` from the repository root."""
    faults_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **(env or {})})  # fmt: skip
    return time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - faults_before


def precomputation(quick: bool, baseline_target: str) -> None:
    print("Part 1: the app's precomputation, every run at one torch thread; target <= 120 s\n")
    if quick:
        print("(--quick: the end-to-end row runs `dynamics --all` at full size only without --quick; skipped)\n")
        cli_seconds = float("nan")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            cli_seconds = statistics.median(wall_of([sys.executable, "cli.py", "dynamics", "--all", "--dir", tmp], 1))
    steps = {"steps": 20} if quick else {}
    print(f"{'run (baseline: one after the other in one process)':<58}{'losses':>7}{'steps':>7}{'seconds':>10}")
    total = 0.0
    batched: dict[str, float] = {}
    for target in TARGETS:
        config = Toy2dConfig(target=target, **steps)
        batched[target] = seconds_of(lambda c=config: run_toy2d(c))
        total += batched[target]
        print(f"{'2-D toy GAN, all losses batched: ' + target:<58}{len(config.losses):7d}{config.steps:7d}"
              f"{batched[target]:10.2f}")  # fmt: skip
    for family in FAMILIES:
        config = DynamicsConfig(family=family, **steps)
        took = seconds_of(lambda c=config: run_dynamics(c))
        total += took
        print(f"{'shift generator, all losses batched: ' + family:<58}{len(config.losses):7d}{config.steps:7d}"
              f"{took:10.2f}")  # fmt: skip
    print(f"{'one after the other, in total (baseline)':<72}{total:10.2f}")
    verdict = "met" if cli_seconds <= 120 else "NOT met"
    workers = os.cpu_count() or 1
    print(f"{f'python cli.py dynamics --all ({workers} worker processes), end to end':<72}{cli_seconds:10.2f}"
          f"   target <= 120 s: {verdict}  ({total / cli_seconds:.2f}x)")  # fmt: skip

    base = Toy2dConfig(target=baseline_target, **steps)
    one_at_a_time = 0.0
    for loss in base.losses:
        one_at_a_time += seconds_of(lambda c=dataclasses.replace(base, losses=(loss,)): run_toy2d(c))
    print(f"\nbaseline, {baseline_target}: one run per loss, {len(base.losses)} runs: {one_at_a_time:.2f} s; "
          f"batched {batched[baseline_target]:.2f} s ({one_at_a_time / batched[baseline_target]:.2f}x)\n")


def one_number_rounding(values: Any, digits: int) -> Any:
    """The rounding the result files used before vaegan.divergences.rounding: one f-string per number."""
    if isinstance(values, dict):
        return {key: one_number_rounding(value, digits) for key, value in values.items()}
    if isinstance(values, list):
        return [one_number_rounding(value, digits) for value in values]
    return round_significant(values, digits)


def compare_end_to_end(quick: bool, repeats: int) -> None:
    python = sys.executable
    print(f"Part 2: the default `python cli.py compare`, a fresh process each time, median of {repeats}; "
          "target <= 4 s less interpreter start-up\n")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "divergences.json")
        extra = ["--iters", "5"] if quick else []
        interpreter = statistics.median(wall_of([python, "-c", "pass"], repeats))
        imports = statistics.median(wall_of([python, "cli.py", "compare", "--help"], repeats))
        torch_import = statistics.median(wall_of([python, "-c", "import torch"], repeats))
        # the same, ending without the interpreter's teardown (as cli.py ends: cli._exit_without_teardown)
        torch_import_only = statistics.median(wall_of([python, "-c", "import torch, os; os._exit(0)"], repeats))
        # interleaved, so that a slow spell of a shared machine hits all alike
        variants = {
            "default": ([], {}),
            "one_worker": (["--workers", "1"], {}),
            "glibc": ([], {"VAEGAN_KEEP_FREED_MEMORY": "0"}),
        }
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in variants}
        for _ in range(repeats):
            for name, (flags, env) in variants.items():
                runs[name].append(run_of([python, "cli.py", "compare", "--out", out, *extra, *flags], env))
    config = SweepConfig(iters=5) if quick else SweepConfig()
    in_process = seconds_of(lambda: run_sweep(config))
    in_process_one = seconds_of(lambda: run_sweep(config, workers=1))
    every_step = seconds_of(lambda: run_sweep(dataclasses.replace(config, penalty_every=1)))
    every_step_512 = seconds_of(lambda: run_sweep(dataclasses.replace(config, penalty_every=1, batch_size=512)))
    result = run_sweep(config)
    to_json = seconds_of(result.to_json)
    real_rounding = sweep_module.round_significant_nested
    sweep_module.round_significant_nested = one_number_rounding
    try:
        to_json_before = seconds_of(result.to_json)
    finally:
        sweep_module.round_significant_nested = real_rounding
    # Would one ensemble for both divergences help (half the ops, each twice the size)? The W1 critics, twice over:
    thetas, cpu = list(config.thetas), torch.device("cpu")
    two_of_21 = seconds_of(lambda: [train_critics(config, "wasserstein", thetas, [], cpu) for _ in range(2)])
    one_of_42 = seconds_of(lambda: train_critics(config, "wasserstein", thetas + thetas, [], cpu))
    full = [seconds for seconds, _ in runs["default"]]
    net = statistics.median(full) - interpreter
    print(f"{'measured':<66}{'seconds':>10}")
    print(f"{'python -c pass (interpreter start-up)':<66}{interpreter:10.2f}")
    print(f"{'python -c import torch: with the teardown at exit / without':<66}{torch_import:10.2f} / "
          f"{torch_import_only:.2f}")
    print(f"{'python cli.py compare --help (start-up + imports)':<66}{imports:10.2f}")
    print(f"{'run_sweep(SweepConfig()) in this process (the sweep alone)':<66}{in_process:10.2f}")
    print(f"{'... with workers=1: the divergences one after the other (baseline)':<66}{in_process_one:10.2f}")
    print(f"{'... the W1 penalty on every step (the default of stop 18)':<66}{every_step:10.2f}")
    print(f"{'... that with batches of 512 (the default before stop 18)':<66}{every_step_512:10.2f}")
    print(f"{'SweepResult.to_json: array rounding / one f-string per number':<66}{to_json:10.2f} / "
          f"{to_json_before:.2f}")
    print(f"{'its W1 critics twice: two ensembles of 21 / one of 42':<66}{two_of_21:10.2f} / {one_of_42:.2f}")
    labels = {
        "glibc": "glibc's malloc defaults (baseline)",
        "one_worker": "--workers 1 (baseline)",
        "default": "as it is (the default)",
    }
    for key in ("glibc", "one_worker", "default"):
        times = [seconds for seconds, _ in runs[key]]
        faults = statistics.median(f for _, f in runs[key])
        print(f"{'python cli.py compare, ' + labels[key]:<66}{statistics.median(times):10.2f}   all: "
              f"{', '.join(f'{t:.2f}' for t in times)}; page faults {faults:,.0f}")  # fmt: skip
    verdict = "met" if net <= 4 else "NOT met"
    print(f"{'python cli.py compare less interpreter start-up':<66}{net:10.2f}   target <= 4 s: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny step counts: checks that the script runs")
    parser.add_argument("--baseline-target", default="8gaussians", choices=TARGETS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=("dynamics", "compare"), help="run one part only")
    args = parser.parse_args()
    torch.set_num_threads(1)  # what `cli.py dynamics` and `cli.py compare` use by default
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, load average {os.getloadavg()[0]:.1f}\n")
    if args.only != "compare":
        precomputation(args.quick, args.baseline_target)
    if args.only != "dynamics":
        compare_end_to_end(args.quick, args.repeats)


if __name__ == "__main__":
    main()
