"""The steps several commands share around one library call: the training device, loading a model, writing one."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vaegan.cli.display import print_label_table
from vaegan.cli.options import err_console

if TYPE_CHECKING:
    import torch

# How this process was started, for the command stored in a model file: `vaegan` or `python cli.py` (main sets it).
PROG = {"name": "vaegan"}


def command_line() -> str:
    """This run's command, as stored in the files it writes (paths made portable by the library)."""
    from vaegan.train.common import portable_command

    script = "cli.py" if PROG["name"] == "cli.py" else "-m vaegan"
    launcher = "python cli.py" if PROG["name"] == "cli.py" else "vaegan"
    nodes, per_node = os.environ.get("GROUP_WORLD_SIZE"), os.environ.get("LOCAL_WORLD_SIZE")
    if nodes and per_node:  # torchrun (its rendezvous flags are the launch's, not the run's)
        launcher = f"torchrun --nnodes {nodes} --nproc-per-node {per_node} {script}"
    return f"{launcher} " + portable_command(sys.argv[1:])


def train_device(device: str) -> torch.device:
    """The device this process trains on. Under torchrun it joins the process group first (NCCL for CUDA, gloo
    for the CPU) and gets its own GPU; `main` leaves the group at the end."""
    from vaegan import distributed
    from vaegan.runtime import resolve_device

    return distributed.init(resolve_device(device))


def export(result: object, out: Path, **extra: object) -> None:
    """The model file, with this run's command (rank 0 alone writes it under torchrun)."""
    from vaegan.distributed import export_on_main

    export_on_main(result, out, command=command_line(), **extra)


def load(path: Path, kind: str, device: str) -> torch.nn.Module:
    from vaegan.checkpoint import load_model
    from vaegan.runtime import resolve_device

    return load_model(path, kind=kind, device=resolve_device(device))


def optional_classifier(path: Path, device: str) -> torch.nn.Module | None:
    from vaegan.classifier import load_optional_classifier
    from vaegan.runtime import resolve_device

    classifier = load_optional_classifier(path, resolve_device(device))
    if classifier is None:
        err_console.print(f"no classifier at {path}: images are not labelled")
    return classifier


def save_labelled(out: Path, table: torch.Tensor, rows: list[str], columns: list[str], classifier: Path,
                  device: str) -> None:  # fmt: skip
    """Save an (R, K, 3, 32, 32) table as PNG; with a classifier, caption every image with its digit and print the
    readings (so "the 9 turns into a 4" is measured, not described by eye)."""
    from vaegan.classifier import label_images
    from vaegan.images import save_table

    reader = optional_classifier(classifier, device)
    labels = label_images(reader, table.reshape(-1, *table.shape[2:])) if reader is not None else None
    save_table(out, table, labels)
    if labels is not None:
        print_label_table(labels, rows, columns)


def torch_version() -> str:
    import torch

    return torch.__version__
