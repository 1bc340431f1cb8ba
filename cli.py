"""`python cli.py ...`: the `vaegan` command run from a checkout (the design card and older READMEs use it).

The commands live in vaegan/cli/; this file only keeps the old entry point and the names tests import from it.
"""

from __future__ import annotations

from vaegan.cli import GC_THRESHOLDS, app, parse_duration, run
from vaegan.cli import main as _main
from vaegan.cli.entry import exit_without_teardown as _exit_without_teardown

__all__ = ["GC_THRESHOLDS", "app", "main", "parse_duration", "_exit_without_teardown"]


def main(argv: list[str] | None = None) -> int:
    """`vaegan.cli.main` under this file's name (usage lines and the command stored in model files)."""
    return _main(argv, prog_name="cli.py")


if __name__ == "__main__":
    run(prog_name="cli.py")
