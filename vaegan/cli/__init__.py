"""The `vaegan` command line, one module per command group; every command parses its flags, makes one library call
and prints or writes the result.

    vaegan --help
    vaegan train vae --epochs 20
    vaegan eval vae --json
    vaegan divergences sweep --family gaussian
    torchrun --nproc-per-node 4 -m vaegan train wgan ...   # data-parallel training (docs/distributed.md)

Modules: `entry` (the app, the aliases, errors and exit), `options` (shared options, choices from
vaegan.vocabulary), `display` (progress and tables), `models` (device, load, export), and the groups: `train`,
`evaluate`, `generate` (sample, explore), `runs` (export, timeline), `divergences`, `hub` (push).
"""

from vaegan.cli.entry import GC_THRESHOLDS, app, exit_without_teardown, main, run
from vaegan.limits import parse_duration

__all__ = ["GC_THRESHOLDS", "app", "exit_without_teardown", "main", "parse_duration", "run"]
