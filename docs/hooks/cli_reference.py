"""MkDocs hooks (mkdocs.yml `hooks:`): the CLI reference generated from the Typer app, and the result plots.

- `docs/cli.md` holds the marker `<!-- cli-reference -->`; at build time it is replaced by every visible command of
  `vaegan.cli.entry.app`: its usage line, its help and the help record of each option, exactly the text
  `vaegan … --help` prints (click's `get_help_record`, which Typer's help renders too). Hidden commands (the old
  `compare` / `dynamics` spellings) stay hidden. Nothing is written to disk, so the page cannot drift from the
  program; `tests/test_docs.py` checks what it generates.
- The interactive plots in `results/*.html` (written by the benches and `--plot`) are added to the site under
  `results/`, so that `docs/results.md` can link them without a copy in `docs/`.

Importing the CLI imports Typer, Rich and vaegan.vocabulary only (no torch), so the build stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MARKER = "<!-- cli-reference -->"
REPO_ROOT = Path(__file__).resolve().parents[2]
EXTRAS = re.compile(r"^(?P<help>.*?)\s*\[(?P<extra>[^\[\]]*)\]$", re.S)


def visible_commands(
    command: Any, context: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any, Any]]:
    """(path, command, context) for every command under `command` that `--help` lists, depth first in its order."""
    for name, sub in getattr(command, "commands", {}).items():
        if sub.hidden:
            continue
        sub_context = sub.context_class(sub, info_name=name, parent=context)
        yield (*path, name), sub, sub_context
        yield from visible_commands(sub, sub_context, (*path, name))


def root_command() -> tuple[Any, Any]:
    """The click(-compatible) command of the `vaegan` app and its context."""
    from typer.main import get_command

    from vaegan.cli.entry import app

    command = get_command(app)
    return command, command.context_class(command, info_name="vaegan")


def anchor(path: tuple[str, ...]) -> str:
    return "-".join(path)


def cell(text: str) -> str:
    """Text for a Markdown table cell: pipes escaped, no line breaks, no HTML."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def options_table(command: Any, context: Any) -> list[str]:
    rows = ["| option | help | default, range |", "|---|---|---|"]
    for param in command.get_params(context):
        record = param.get_help_record(context)
        if record is None or param.hidden or record[0] == "--help":  # arguments without help, hidden options
            continue
        names, help_text = record
        match = EXTRAS.match(help_text)
        extra = match["extra"] if match else ""
        help_text = match["help"] if match else help_text
        rows.append(f"| `{names}` | {cell(help_text)} | {cell(extra)} |")  # a pipe inside a code span is kept
    return rows


def reference_markdown() -> str:
    """The CLI reference: an index of the commands, then one section per command."""
    root, root_context = root_command()
    commands = list(visible_commands(root, root_context))
    lines = ["| command | what it does |", "|---|---|"]
    for path, command, _ in commands:
        summary = command.get_short_help_str(limit=200) if hasattr(command, "get_short_help_str") else command.help
        lines.append(f"| [`vaegan {' '.join(path)}`](#{anchor(path)}) | {cell(summary or '')} |")
    for path, command, context in commands:
        level = "#" * (len(path) + 1)
        lines += ["", f"{level} `vaegan {' '.join(path)}` {{#{anchor(path)}}}", ""]
        lines += ["```", command.get_usage(context).strip(), "```", ""]
        if command.help:
            lines += [" ".join(command.help.split()).replace("<", "&lt;"), ""]
        if getattr(command, "commands", None):
            continue  # a group: its commands follow
        lines += options_table(command, context)
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, reference_markdown())
    return markdown


def on_files(files: Any, config: Any, **_: Any) -> Any:
    from mkdocs.structure.files import File

    for plot in sorted((REPO_ROOT / "results").glob("*.html")):
        files.append(File(f"results/{plot.name}", str(REPO_ROOT), config["site_dir"], config["use_directory_urls"]))
    return files
