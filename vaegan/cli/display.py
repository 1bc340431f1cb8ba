"""How the commands show progress and results on the console: progress bars, training lines, JSON, tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vaegan.cli.options import err_console

if TYPE_CHECKING:
    from vaegan.train.common import Progress as TrainProgress


def progress_bar(*fields: str) -> Progress:
    """A progress bar with ETA plus named live fields (e.g. loss)."""
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(f"{name} {{task.fields[{name}]}}") for name in fields]
    columns += [TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    return Progress(*columns, console=err_console, transient=False)


def step_reporter(bar: Progress, task: int, every: int = 5) -> Callable[[int, int, str], None]:
    """A (done, total, what) progress callback that moves `task` of `bar` every `every` steps and at the end."""

    def report(done: int, total: int, what: str) -> None:
        if done % every == 0 or done == total:
            bar.update(task, completed=done, total=total, training=what)

    return report


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


class TrainingDisplay:
    """Shows a training loop's `vaegan.train.common.Progress` reports: a live bar for "step" events, one plain
    line per "epoch" / "checkpoint" (so a log file without a terminal shows progress too) and the speed and ETA
    once the loop has measured them ("plan")."""

    def __init__(
        self, name: str, fields: dict[str, str], eta_hint: str = "", line: Callable[[TrainProgress], str] | None = None
    ) -> None:
        self.bar = progress_bar(*fields)
        self.fields = fields  # shown name -> key in Progress.values
        self.name, self.eta_hint, self.line = name, eta_hint, line
        self.task = self.bar.add_task(name, total=None, **{f: "-" for f in fields})

    def __enter__(self) -> TrainingDisplay:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def _shown(self, values: dict[str, float]) -> dict[str, str]:
        return {f: f"{values[key]:.3f}" for f, key in self.fields.items() if key in values}

    def __call__(self, report: TrainProgress) -> None:
        values = dict(report.values)
        if report.event == "step":
            self.bar.update(self.task, completed=report.done, total=report.total, **self._shown(values))
        elif report.event == "plan":
            per_iter, planned = values["seconds_per_iter"], int(values["planned_iters"])
            eta = per_iter * (planned - report.done)
            line = f"{per_iter:.3f} s per {report.unit[:-1]}: {planned:,} take about {duration(eta)} more"
            if eta > 3600 and self.eta_hint:
                line += f"; {self.eta_hint}"
            self.bar.console.print(line)
        elif self.line is not None:
            self.bar.console.print(self.line(report))
        else:
            shown = "  ".join(f"{k} {v:.3f}" for k, v in values.items() if k != "seconds")
            target = f"  -> {report.path}" if report.path else ""
            line = f"{report.unit} {report.done}/{report.total}  {shown}  {report.seconds:.0f}s{target}"
            self.bar.console.print(line)


def print_rows(rows: list[dict[str, float | str]]) -> None:
    """A library result's summary rows as a plain text table on stdout: a header line of the row keys, then one
    right-aligned line per row (plain text, so a pipe or a log file reads it as well as a terminal)."""
    if not rows:
        return
    columns = list(rows[0])
    cells = [[str(row.get(column, "")) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    typer.echo("  ".join(f"{column:>{width}s}" for column, width in zip(columns, widths, strict=True)))
    for line in cells:
        typer.echo("  ".join(f"{cell:>{width}s}" for cell, width in zip(line, widths, strict=True)))


def print_json(result: dict) -> None:
    sys.stdout.write(json.dumps(result) + "\n")


def print_label_table(labels: list[str], rows: list[str], columns: list[str]) -> None:
    """The classifier's reading of every image of a table, one line per row."""
    typer.echo(f"{'':>8s}  " + "  ".join(f"{c:>9s}" for c in columns))
    for r, name in enumerate(rows):
        cells = labels[r * len(columns) : (r + 1) * len(columns)]
        typer.echo(f"{name:>8s}  " + "  ".join(f"{label:>9s}" for label in cells))
