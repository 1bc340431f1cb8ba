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

Imports: a command imports the library inside its own body, never at the top of its module, so that `--help` at
every level stays free of torch (tests/test_cli_help.py). That is why this package's function-local imports carry
no comment of their own (tests/test_import_graph.py).
"""

from vaegan.cli.entry import GC_THRESHOLDS, app, exit_without_teardown, main, run
from vaegan.limits import parse_duration

__all__ = ["GC_THRESHOLDS", "app", "exit_without_teardown", "main", "parse_duration", "run"]
