"""What the commands share: the stderr console, option types with their aliases, and choices from the library.

Choices are the library's own torch-free tuples (vaegan.vocabulary), offered as `Literal[...]` types, so `--help`
lists them without importing torch. An option whose value goes into a config dataclass defaults to None, meaning
"the dataclass's default": the number lives once, in the library (`given` drops the unset ones).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console

from vaegan.vocabulary import DEFAULT_CHECKPOINTS, DEVICES


def one_of(names: tuple[str, ...]) -> Any:
    """A Typer type whose values are exactly `names` (a library tuple): `Literal` spelled from data."""
    return Literal[names]


def given(**settings: object) -> dict[str, object]:
    """The settings a user set: None means "keep the config's default"."""
    return {name: value for name, value in settings.items() if value is not None}


def rank() -> int:
    """This process's rank under torchrun (0 otherwise), from its environment: no torch import at start-up."""
    return int(os.environ.get("RANK", "0")) if "WORLD_SIZE" in os.environ else 0


# Progress and messages go to stderr so that stdout carries only results (e.g. `--json`); under torchrun only
# rank 0 shows them (errors: every rank, see vaegan.cli.entry).
err_console = Console(stderr=True, quiet=rank() != 0)

# The shipped files (vaegan.vocabulary.DEFAULT_CHECKPOINTS), as defaults.
VAE_CKPT = Path(DEFAULT_CHECKPOINTS["vae"])
WGAN_CKPT = Path(DEFAULT_CHECKPOINTS["wgan-generator"])
CLASSIFIER_CKPT = Path(DEFAULT_CHECKPOINTS["digit-classifier"])
# The shipped generator's timeline, by vaegan.timeline.sidecar_path's rule (spelled out: that module imports torch,
# which `--help` should not wait for; tests/test_timeline.py holds the two equal).
WGAN_TIMELINE = WGAN_CKPT.with_name(f"{WGAN_CKPT.stem}_timeline.safetensors")

VAE_DATA_HELP = "binarized-mnist | mnist | PATH.npz | PATH.amat | FOLDER; rows with @a:b, join with +."
BINARIZE_HELP = (
    "Grey data: auto = binary data as is, grey data dynamic; dynamic = a fresh Bernoulli sample per batch (fixed "
    "for valid/test); threshold = pixel >= 0.5; none = grey levels as Bernoulli targets."
)
RESUME_HELP = ("Continue from run-dir/state.safetensors if it exists (implied after torchrun restarts the group; "
               "a fresh torchrun run without it removes an older state first).")  # fmt: skip

# Options with the same meaning in every command, with their aliases (as the diffusers and huggingface_hub CLIs
# accept --checkpoint for --ckpt and -o for --out).
Device = Annotated[one_of(DEVICES), typer.Option("--device", help="Where to run (auto: CUDA, then MPS, then CPU).")]
Seed = Annotated[int, typer.Option("--seed", "-s")]
AsJson = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]
Threads = Annotated[int, typer.Option("--threads", min=0, help="CPU threads for torch (0 = torch's default).")]
VaeCkpt = Annotated[Path, typer.Option("--ckpt", "--checkpoint", help="A VAE .safetensors file (or hf://...).")]
WganCkpt = Annotated[
    Path, typer.Option("--ckpt", "--checkpoint", help="A WGAN generator .safetensors file (or hf://...).")
]
LabelClassifier = Annotated[
    Path, typer.Option("--classifier", help="Digit classifier that labels every image (if present).")
]
Half = Annotated[bool, typer.Option("--half", help="Store the weights as fp16 (half the file size).")]


def out_option(default: Path | None, help_text: str) -> Any:
    """--out (aliases --output, -o): where a command writes its file."""
    return typer.Option(default, "--out", "--output", "-o", help=help_text)
