"""What every training loop shares: the result it returns, its progress reports, the optimizer, the finite-loss
check, the resume-compatibility rule and the RNG state that makes resume exact.

The loops themselves stay explicit (pytorch/examples style); only these small pieces are written once.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaegan.errors import TrainingError
from vaegan.runtime import cpu_model

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


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """`optimizer.load_state_dict(state)`, then every per-parameter tensor laid out as its parameter.

    State files hold tensors contiguous, and torch casts loaded moments to a parameter's dtype and device but not
    to its memory layout. Fused Adam walks a parameter, its gradient and its moments as flat memory, so the moments
    of a channels-last parameter, loaded contiguous, would update each weight with another weight's moments: a
    resumed run would silently train differently from one that never stopped.
    """
    optimizer.load_state_dict(state)
    for group in optimizer.param_groups:
        for param in group["params"]:
            moments = optimizer.state.get(param, {})
            for key, value in moments.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    moments[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def last_good_checkpoint(state_path: str | Path | None, saved_at: str | None) -> str:
    """What a NaN message says about resuming: the last state this run wrote (and when), or why there is none."""
    if state_path is None:
        return "this run writes no checkpoints, so start it again"
    if saved_at is None:
        return f"no checkpoint of this run yet; it would have been {state_path}"
    return f"last good checkpoint: {state_path} at {saved_at}; --resume continues from it"


def check_finite(
    values: Mapping[str, float], where: str, state_path: str | Path | None, saved_at: str | None = None
) -> None:
    """Stop a run whose losses are NaN/inf with one line: where it happened and the last good checkpoint.

    `saved_at` says when this run last wrote `state_path` ("epoch 2", "iteration 500"); None: not yet."""
    bad = {name: value for name, value in values.items() if not math.isfinite(value)}
    if bad:
        shown = ", ".join(f"{name} became {value}" for name, value in bad.items())
        raise TrainingError(f"{shown} at {where}; try a lower --lr ({last_good_checkpoint(state_path, saved_at)})")


def check_finite_weights(
    modules: Mapping[str, nn.Module], where: str, state_path: str | Path | None, saved_at: str | None = None
) -> None:
    """The same stop for weights: an optimizer step can make them NaN while the loss it came from was finite, and
    such weights must never be written over the last good checkpoint."""
    for name, module in modules.items():
        for param_name, tensor in module.state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                raise TrainingError(
                    f"{name} weight {param_name!r} became non-finite at {where}; try a lower --lr "
                    f"({last_good_checkpoint(state_path, saved_at)})"
                )


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
        saved, now = state.get(key), identity[key]
        if key == "model_config":  # a field added to a config later is absent from older files: None = not set
            saved, now = _without_none(saved), _without_none(now)
        if saved != now:
            if key == "data" and isinstance(state.get("data"), list):
                raise TrainingError(
                    f"{state_path} was trained on {state['data'][0]!r} ({state['data'][1]} images), not "
                    f"{identity['data'][0]!r} ({identity['data'][1]} images); drop --resume or use that data"
                )
            raise TrainingError(
                f"{state_path} was written by a run with other settings (its {what} differ"
                f"{_differences(state.get(key), identity[key])}); drop --resume or match them"
            )


def _without_none(config: Any) -> Any:
    return {k: v for k, v in config.items() if v is not None} if isinstance(config, Mapping) else config


def _differences(saved: Any, now: Any) -> str:
    """': epochs 20 in the file, 50 now' for the first few settings two dicts disagree on ('' for non-dicts)."""
    if not (isinstance(saved, Mapping) and isinstance(now, Mapping)):
        return ""
    keys = sorted(k for k in {*saved, *now} if saved.get(k) != now.get(k))
    shown = ", ".join(f"{k} {saved.get(k)!r} in the file, {now.get(k)!r} now" for k in keys[:3])
    return f": {shown}{', …' if len(keys) > 3 else ''}" if keys else ""


@contextmanager
def restoring(state_path: str | Path) -> Iterator[None]:
    """Restoring a state that passed `check_resume` but lacks a part or holds one of the wrong shape (a file edited
    or written by another version) is one TrainingError line, not a KeyError or a load_state_dict traceback."""
    try:
        yield
    except (KeyError, IndexError, ValueError, TypeError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise TrainingError(f"{state_path} cannot be resumed: {type(exc).__name__} {reason}; drop --resume") from exc


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
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return f"{name}, {torch.get_num_threads()} threads"
