"""Recovery time of a torchrun group after kill -9: from the SIGKILL of one worker to the restarted group's first
training step, on this machine's CPUs (gloo, 127.0.0.1).

    python bench/elastic.py                 # 2 processes, a tiny WGAN, rank 0's worker killed
    python bench/elastic.py --victim 1 --rounds 3

The run writes its state after every iteration (--checkpoint-every 1), so the first state written after the kill
marks the restarted group's first step (plus one small atomic write). Printed per round: the kill time after
launch, the recovery time, how much of it passed before torchrun's agent logged the failure (detection and the
survivors' shutdown; the rest is new workers starting Python and torch, joining the group, loading the state) and
the whole run's wall time. That the restarted run ends with the weights of an
uninterrupted one is checked by tests/test_distributed.py, not here.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))
ENV = {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def worker_rank(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            if entry.startswith(b"RANK="):
                return int(entry[5:])
    return None


def command(base: Path, nproc: int, iters: int, restarts: int) -> list[str]:
    return [TORCHRUN, "--standalone", "--nproc-per-node", str(nproc), "--max-restarts", str(restarts),
            str(ROOT / "cli.py"), "train", "wgan", "--data", str(base / "d.npz"), "--width", "4", "--latent-dim", "8",
            "--batch-size", "8", "--n-critic", "1", "--iters", str(iters), "--checkpoint-every", "1",
            "--sample-every", "100000", "--threads", "1", "--device", "cpu", "--run-dir", str(base / "run"),
            "--out", str(base / "w.safetensors")]  # fmt: skip


def failure_logged(log: str, killed: float) -> float:
    """Seconds from the kill to the agent's "failed (exitcode: -9)" line (its timestamps are local HH:MM:SS.us)."""
    match = re.search(r"^E\d{4} (\d\d):(\d\d):(\d\d\.\d+) .*failed \(exitcode: -9\)", log, re.MULTILINE)
    if match is None:
        return float("nan")
    day = datetime.datetime.fromtimestamp(killed).replace(hour=0, minute=0, second=0, microsecond=0)
    hours, minutes, seconds = int(match[1]), int(match[2]), float(match[3])
    return day.timestamp() + hours * 3600 + minutes * 60 + seconds - killed


def one_round(base: Path, args: argparse.Namespace) -> tuple[float, float, float, float]:
    state = base / "run" / "state.safetensors"
    started = time.monotonic()
    log = open(base / "torchrun.log", "w")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(command(base, args.nproc, args.iters, 2), env={**os.environ, **ENV},
                            stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    while not state.exists():
        time.sleep(0.005)
    time.sleep(args.after)
    victim = next(pid for pid in children(proc.pid) if worker_rank(pid) == args.victim)
    os.kill(victim, signal.SIGKILL)
    killed = time.time()
    killed_after = time.monotonic() - started
    recovery = float("nan")
    while proc.poll() is None:
        with contextlib.suppress(FileNotFoundError):
            if state.stat().st_mtime > killed + 0.05:  # not a write of the dying group
                recovery = state.stat().st_mtime - killed
                break
        time.sleep(0.005)
    returncode = proc.wait()
    log.close()
    text = (base / "torchrun.log").read_text()
    if returncode != 0:
        raise SystemExit(f"torchrun failed (exit {returncode}):\n{text[-3000:]}")
    return killed_after, recovery, failure_logged(text, killed), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--victim", type=int, default=0, help="rank whose worker is killed")
    parser.add_argument("--after", type=float, default=0.5, help="seconds after the first state before the kill")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    recoveries = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            rng = np.random.default_rng(0)
            np.savez(base / "d.npz", X=rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8))
            killed_after, recovery, detected, total = one_round(base, args)
        recoveries.append(recovery)
        print(f"round {r + 1}: killed rank {args.victim} {killed_after:.1f} s after launch; restarted group's first "
              f"step {recovery:.2f} s after the kill (failure logged after {detected:.2f} s); run {total:.1f} s, "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"median recovery {statistics.median(recoveries):.2f} s over {len(recoveries)} rounds")


if __name__ == "__main__":
    main()
