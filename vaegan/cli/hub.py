"""`vaegan push`: checkpoints and a model card generated from their headers to a Hugging Face Hub model repo.

Loading needs no command: every --ckpt/--classifier also takes hf://OWNER/REPO/PATH.safetensors[@REVISION]
(vaegan/hub.py).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from vaegan.cli.options import err_console

app = typer.Typer(name="push")


@app.command("push")
def push_command(
    ckpt: list[Path] = typer.Argument(..., help="One or more vaegan .safetensors files (one commit)."),
    repo: str = typer.Option(..., "--repo", "--repo-id", help="The Hub model repo OWNER/NAME; created if it does not "
                             "exist."),  # fmt: skip
    private: bool = typer.Option(False, "--private", help="Create the repo private (an existing repo is unchanged)."),
    token: str | None = typer.Option(None, help="A Hub write token (default: HF_TOKEN or the `hf auth login` one)."),
    license: str | None = typer.Option(None, "--license", help="The weights' license on the card (a Hub license "
                                       "id; default: the project's)."),  # fmt: skip
) -> None:
    """Upload checkpoints with their config.json, sample grids and a README.md model card generated from their
    headers; prints their hf:// specs."""
    from vaegan.publish import push

    result = push(ckpt, repo, private=private, token=token, **({"license": license} if license else {}))
    err_console.print(escape(f"pushed to {result.repo_url}  ({result.commit_url})"), highlight=False, soft_wrap=True)
    for spec in result.specs:
        typer.echo(spec)
