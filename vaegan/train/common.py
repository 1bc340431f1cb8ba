"""What every training loop shares: the result it returns, its progress reports, the optimizer, the finite-loss
check, the resume-compatibility rule and the RNG state that makes resume exact.

The loops themselves stay explicit (pytorch/examples style); only these small pieces are written once.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaegan.errors import TrainingError

# The unit of `TrainResult.steps` (and of a checkpoint's `steps`), per loop.
EPOCHS = "epochs"
ITERATIONS = "generator iterations"
OPTIMIZER_STEPS = "optimizer steps"


@dataclass
class TrainResult:
    """What a training run produced: the model to export and everything its file should say about it."""

    model: nn.Module  # the exported model (the VAE, the EMA generator, the classifier), eval mode
    steps: int
    step_unit: str  # EPOCHS, ITERATIONS or OPTIMIZER_STEPS
    dataset: str
    metrics: dict[str, float]
    train_config: dict[str, Any]
    seconds: float  # training wall time, summed over the processes of a resumed run
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # loop-specific facts (EMA, iterations chosen, ...)
    parts: dict[str, nn.Module] = field(default_factory=dict)  # other trained modules (the WGAN's critic, ...)


@dataclass(frozen=True)
class Progress:
    """One progress report; every loop calls its `on_progress` with these.

    event: "step" after each optimizer step (VAE, classifier) or generator iteration (WGAN); "epoch" at the end
    of an epoch; "checkpoint" right after the full state was written to `path`.
    """

    event: str
    done: int
    total: int
    unit: str
    values: Mapping[str, float]
    seconds: float
    path: str = ""


ProgressCallback = Callable[[Progress], None]


def make_adam(params: Iterable[nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999)) -> torch.optim.Adam:
    """Adam, fused where the build supports it: one kernel for the whole update instead of a handful of ops per
    tensor. Same numbers either way up to float rounding."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=betas)


def check_finite(values: Mapping[str, float], where: str, state_path: str | Path | None) -> None:
    """Stop a run whose losses are NaN/inf with one line: where it happened and which file to resume from."""
    bad = {name: value for name, value in values.items() if not math.isfinite(value)}
    if bad:
        shown = ", ".join(f"{name} became {value}" for name, value in bad.items())
        last_good = f"resume from the last good state with --resume ({state_path})" if state_path else "no state file"
        raise TrainingError(f"{shown} at {where}; try a lower --lr ({last_good})")


def run_identity(model_config: Any, numerics: Mapping[str, Any], data_name: str, data_size: int) -> dict[str, Any]:
    """What a resumed run must match: the model config, the settings that change the numbers, the data."""
    return {
        "model_config": dataclasses.asdict(model_config),
        "numerics": dict(numerics),
        "data": [data_name, int(data_size)],
    }


def check_resume(state: Mapping[str, Any], identity: Mapping[str, Any], state_path: str | Path) -> None:
    """One rule for every loop: a state file may be resumed only by a run with the same identity."""
    for key, what in (("model_config", "model"), ("numerics", "training settings"), ("data", "data")):
        if state.get(key) != identity[key]:
            if key == "data" and isinstance(state.get("data"), list):
                raise TrainingError(
                    f"{state_path} was trained on {state['data'][0]!r} ({state['data'][1]} images), not "
                    f"{identity['data'][0]!r} ({identity['data'][1]} images); drop --resume or use that data"
                )
            raise TrainingError(
                f"{state_path} was written by a run with other settings (its {what} differ); "
                "drop --resume or match them"
            )


def numerics_of(train_config: Any, ignore: Sequence[str]) -> dict[str, Any]:
    """The fields of a train config that change the numbers a run computes (all but `ignore`)."""
    return {k: v for k, v in dataclasses.asdict(train_config).items() if k not in ignore}


def rng_state() -> dict[str, Any]:
    """Every RNG that training touches, so a resumed run draws the same numbers as an uninterrupted one."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------ provenance


def portable_command(argv: Sequence[str], root: str | Path | None = None) -> str:
    """The command line as a user would retype it from the repository root: absolute paths become relative
    (a shipped file must not record a machine's paths), each word shell-quoted."""
    root = Path(root) if root is not None else Path.cwd()
    words = []
    for word in argv:
        words.append(shlex.quote(_relative_paths(word, root)))
    return " ".join(words)


def _relative_paths(word: str, root: Path) -> str:
    # "--data=/abs/x.npz+/abs/y.npz@0:10": rewrite every absolute part, keep the rest as typed
    head, eq, value = word.partition("=") if word.startswith("--") and "=" in word else ("", "", word)
    parts = []
    for part in value.split("+"):
        path, at, rows = part.partition("@")
        if os.path.isabs(path):
            path = os.path.relpath(path, root)
        parts.append(path + at + rows)
    return head + eq + "+".join(parts)


def hardware(device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    return f"{name}, {torch.get_num_threads()} threads"
