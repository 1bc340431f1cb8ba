"""The `vaegan` command: the groups of vaegan/cli/ under one Typer app, the old spellings as hidden aliases, and
how the process starts and ends (gc thresholds, one-line errors with exit code 2, a fast exit).

Every command module imports only Typer, Rich and vaegan.vocabulary at start-up (the library, and torch with it,
inside the command), so `vaegan --help` at any level stays fast and torch-free (tests/test_cli_help.py).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

# Each group's module by its full name: a `from vaegan.cli import …` would make this module and the package's
# __init__ (which imports `main` from here) import each other.
import vaegan.cli.app as app_commands
import vaegan.cli.divergences as divergences
import vaegan.cli.evaluate as evaluate
import vaegan.cli.generate as generate
import vaegan.cli.hub as hub
import vaegan.cli.runs as runs
import vaegan.cli.train as train
from vaegan.allocator import keep_freed_memory
from vaegan.cli.models import PROG
from vaegan.cli.options import err_console, rank
from vaegan.errors import VaeganError

app = typer.Typer(
    help="Train, evaluate and explore VAEs and GANs. Weights are exported as self-describing .safetensors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for group in (train.app, evaluate.app, generate.sample_app, generate.explore_app, runs.export_app, runs.timeline_app,
              divergences.app, app_commands.app):  # fmt: skip
    app.add_typer(group)
app.command("push")(hub.push_command)

# The old spellings, kept so that existing commands and links still run: each prints its new name once.
ALIASES = {"compare": "divergences sweep", "dynamics": "divergences train-generator"}
app.command("compare", hidden=True)(divergences.sweep_command)
app.command("dynamics", hidden=True)(divergences.train_generator_command)


@app.callback()
def announce_new_names(ctx: typer.Context) -> None:
    """Train, evaluate and explore VAEs and GANs. Weights are exported as self-describing .safetensors."""
    if ctx.invoked_subcommand in ALIASES:
        err_console.print(f"`{ctx.invoked_subcommand}` is now `vaegan {ALIASES[ctx.invoked_subcommand]}`",
                          highlight=False)  # fmt: skip


GC_THRESHOLDS = (50_000, 20, 10)  # new objects per young collection; young per middle; middle per full


def main(argv: list[str] | None = None, prog_name: str = "vaegan") -> int:
    """Run the CLI; library errors become `error: ...` on stderr and exit code 2 (usage errors: click's 2)."""
    keep_freed_memory()  # before any command allocates: training steps then reuse their pages (vaegan.allocator)
    # The commands import torch: about a million objects, all alive to the end. At Python's default threshold (a
    # collection per 700 new objects) the cycle collector rescans them hundreds of times, a good share of the import
    # (py-spy; docs/results.md#speed); at one per 50,000 it still frees cycles, a few MB later.
    gc.set_threshold(*GC_THRESHOLDS)
    PROG["name"] = prog_name
    try:
        app(args=argv, prog_name=prog_name)  # standalone mode: usage errors print one message and exit
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except VaeganError as exc:
        # User text (paths, flag values) is printed as it is: no rich markup or emoji codes inside it. Every
        # torchrun rank prints its error (one rank may fail alone), the others saying which they are.
        where = f" (rank {rank()})" if rank() else ""
        Console(stderr=True).print(f"[red]error{where}:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True,
                                   emoji=False)  # fmt: skip
        return 2
    finally:
        distributed = sys.modules.get("vaegan.distributed")  # imported by the commands that train
        if distributed is not None:
            distributed.teardown()
    return 0


def exit_without_teardown(outcome: dict[str, int]) -> None:
    """End the process once the exit handlers have run, skipping the interpreter's teardown.

    That teardown takes torch's import apart object by object (about a million) and runs a last full garbage
    collection over them: most of what `python -c "import torch"` waits for at its exit (docs/results.md#speed).
    Nothing of ours needs it: every file is written atomically and closed before `main` returns, and Python has
    joined the worker threads and run every handler registered after this one (they run last in, first out) when it
    gets here.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(outcome["code"])


def run(prog_name: str = "vaegan") -> None:
    """The process entry point (`vaegan`, `python -m vaegan`, `python cli.py`): `main`, then the fast exit."""
    outcome = {"code": 1}  # kept if main() raises: Python prints the traceback before it runs the exit handlers
    atexit.register(exit_without_teardown, outcome)  # first, so that it runs last
    try:
        outcome["code"] = main(prog_name=prog_name)
    except KeyboardInterrupt:
        outcome["code"] = 130  # outside click (which turns Ctrl-C into exit 1): the shell's code for SIGINT
        raise
    sys.exit(outcome["code"])
