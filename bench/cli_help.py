"""How long `vaegan --help` takes, against Python's own start-up and torch's import, measured in the same run.

    python bench/cli_help.py [--repeats 10]

Prints the median wall time of each command over --repeats runs (each a fresh process). The help at every level
imports no torch (tests/test_cli_help.py), so it should sit near the `python -c pass` floor; the target is <= 0.6 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def vaegan_command() -> list[str]:
    """The installed `vaegan` script beside this interpreter (or the module, when it is not on PATH)."""
    script = Path(sys.executable).with_name("vaegan")
    found = str(script) if script.exists() else shutil.which("vaegan")
    return [found] if found else [sys.executable, "-m", "vaegan"]


def median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    vaegan = vaegan_command()
    rows = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ('python -c "import torch" (baseline)', [sys.executable, "-c", "import torch"]),
        ("vaegan --help", [*vaegan, "--help"]),
        ("vaegan divergences --help", [*vaegan, "divergences", "--help"]),
        ("vaegan train wgan --help", [*vaegan, "train", "wgan", "--help"]),
        ("python -m vaegan --help", [sys.executable, "-m", "vaegan", "--help"]),
    ]
    print(f"median wall time of {args.repeats} runs each ({' '.join(vaegan)})")
    print(f"{'command':<40s}{'seconds':>9s}")
    for name, command in rows:
        print(f"{name:<40s}{median_seconds(command, args.repeats):9.3f}")


if __name__ == "__main__":
    main()
