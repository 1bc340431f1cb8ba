"""Two threads in one process against two one-thread workers (torchrun, gloo) for the WGAN's `fast` recipe.

    python bench/wgan_workers.py [--iters 400] [--rounds 2]

Both train the same recipe on the same global batch (64: one process, or two ranks of 32) through the CLI, the way
a user would run them; the table shows each one's training seconds per generator iteration, read from the run's
own state (model building and data loading count in both), the median over the rounds, which alternate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TRAIN = "../shared/data/mnist_train_5k.npz+../shared/data/mnist_test.npz@0:8000"


def seconds_per_iteration(workers: int, iters: int, data: str) -> float:
    from vaegan.checkpoint import load_state

    with tempfile.TemporaryDirectory() as tmp:
        train = ["cli.py", "train", "wgan", "--data", data, "--iters", str(iters), "--run-dir", f"{tmp}/run",
                 "--out", f"{tmp}/g.safetensors", "--sample-every", "100000", "--timeline-every", "0",
                 "--checkpoint-every", "100000"]  # fmt: skip
        if workers == 1:
            command = [sys.executable, *train, "--threads", "2"]
        else:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                       str(workers), *train, "--threads", "1"]  # fmt: skip
        env = {**os.environ, "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
        subprocess.run(command, check=True, env=env, capture_output=True)
        state = load_state(Path(tmp) / "run" / "state.safetensors")
        return float(state["seconds"]) / int(state["iteration"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", default=TRAIN)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"one process, 2 threads": [], "two workers, 1 thread each": []}
    for _ in range(args.rounds):
        runs["one process, 2 threads"].append(seconds_per_iteration(1, args.iters, args.data))
        runs["two workers, 1 thread each"].append(seconds_per_iteration(2, args.iters, args.data))

    from vaegan.runtime import cpu_model

    print(f"WGAN fast recipe, global batch 64, {args.iters} iterations, median of {args.rounds}; {cpu_model()}\n")
    base = statistics.median(runs["one process, 2 threads"])
    print(f"{'run':30s} {'ms / iteration':>15s} {'speed-up':>9s}")
    for name, values in runs.items():
        median = statistics.median(values)
        print(f"{name:30s} {1000 * median:15.1f} {base / median:8.2f}x")


if __name__ == "__main__":
    main()
