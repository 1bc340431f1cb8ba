"""The entry point for both generators of the divergence lesson, whichever a front-end picked.

`shift` is the one-parameter Q_θ of `dynamics.py` (on the `lines` and `gaussian` families), `mlp` the 2-D MLP
generator of `toy2d.py` (on any of `targets.TARGETS`). A front-end builds a config with `generator_config`,
trains it with `train_generator`, and saves or loads runs by `dynamics_filename` / `load_generator_run`.
`run_all_defaults` / `write_all_defaults` make the precomputation the app shows (`results/dynamics_*.json`).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import torch

from vaegan.allocator import keep_freed_memory
from vaegan.divergences.dynamics import DYNAMICS_FORMAT, DynamicsConfig, DynamicsResult, run_dynamics
from vaegan.divergences.engine import ProgressCallback
from vaegan.divergences.families import FAMILIES
from vaegan.divergences.targets import TARGETS, check_target
from vaegan.divergences.toy2d import TOY2D_FORMAT, Toy2dConfig, Toy2dResult, run_toy2d
from vaegan.errors import ConfigError
from vaegan.storage import json_format
from vaegan.vocabulary import DRAWN_TARGET, GENERATORS  # torch-free (vaegan.vocabulary), GENERATORS re-exported

GeneratorConfig = DynamicsConfig | Toy2dConfig
GeneratorRun = DynamicsResult | Toy2dResult


def default_configs() -> list[DynamicsConfig | Toy2dConfig]:
    """Every run of the app's precomputation: each 2-D target, then the shift generator on each family."""
    return [Toy2dConfig(target=target) for target in TARGETS] + [DynamicsConfig(family=f) for f in FAMILIES]


def _where(config: DynamicsConfig | Toy2dConfig) -> tuple[str, str, str]:
    """(group of the result, name in it, what the progress calls the run)."""
    if isinstance(config, Toy2dConfig):
        return "toy2d", config.target, config.target
    return "dynamics", config.family, f"shift ({config.family})"


def run_all_defaults(
    progress: ProgressCallback | None = None, device: str | torch.device = "cpu", workers: int = 1
) -> dict[str, Any]:
    """The precomputation the app shows (`default_configs`): every target under every loss with the default
    settings, plus the shift generator on both families. Returns {"toy2d": {target: Toy2dResult}, "dynamics":
    {family: DynamicsResult}}. `progress` gets (generator steps done, in total, what is training), counted over the
    whole precomputation: after every step with one worker, after every finished run with more.

    `workers` > 1 trains that many runs at once in fresh (spawned) processes of one torch thread each. The runs are
    independent and each is seeded by its config, so the results are those of one worker; on a CPU with idle cores
    this divides the wall time, because each run is too small to keep more than one core busy."""
    if workers < 1:
        raise ConfigError("workers must be >= 1")
    configs = default_configs()
    total = sum(config.steps for config in configs)
    results: dict[int, DynamicsResult | Toy2dResult] = {}
    done = 0
    if workers == 1 or torch.device(device).type != "cpu":
        for i, config in enumerate(configs):
            label = _where(config)[2]

            def report(steps_done: int, _total: int, _what: str, base: int = done, label: str = label) -> None:
                if progress is not None:
                    progress(base + steps_done, total, label)

            results[i] = train_generator(config, report, device)
            done += config.steps
    else:
        # spawn, not fork: a forked child of a process that has run OpenMP work can hang in its first parallel op
        context = multiprocessing.get_context("spawn")
        # each worker keeps its freed memory as the CLI's own process does (vaegan.allocator says why)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(configs)), mp_context=context, initializer=keep_freed_memory
        ) as pool:
            # the longest runs first, so that no worker is left alone with a long one at the end
            order = sorted(range(len(configs)), key=lambda i: -configs[i].steps)
            # train_generator is module level: the spawned workers import it
            futures = {pool.submit(train_generator, configs[i], None, str(device)): i for i in order}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done += configs[i].steps
                if progress is not None:
                    progress(done, total, _where(configs[i])[2])
    out: dict[str, Any] = {"toy2d": {}, "dynamics": {}}
    for i, config in enumerate(configs):  # the order of default_configs, however the runs finished
        group, name, _ = _where(config)
        out[group][name] = results[i]
    return out


def generator_config(
    generator: str,
    target: str,
    *,
    losses: Sequence[str] | None = None,
    theta_optimizer: str | None = None,
    steps: int | None = None,
    seed: int = 0,
    drawing: str | None = None,
) -> GeneratorConfig:
    """One run's config from a front-end's choices (None keeps the default): `generator` "shift" (the one-parameter
    Q_θ of `dynamics`, on lines | gaussian) or "mlp" (this module's 2-D toy GAN, on any of TARGETS, or on
    DRAWN_TARGET with `drawing` a drawing's code: `drawn_generator_config`'s settings)."""
    settings: dict[str, Any] = {"seed": seed}
    if losses is not None:
        settings["losses"] = tuple(losses)
    if steps is not None:
        settings["steps"] = steps
    if generator == "shift":
        if target not in FAMILIES:
            raise ConfigError(f"the shift generator trains on {' or '.join(FAMILIES)}, not {target!r} (use mlp)")
        if theta_optimizer is not None:
            settings["theta_optimizer"] = theta_optimizer
        return DynamicsConfig(family=target, **settings)
    if generator == "mlp":
        if theta_optimizer is not None:
            raise ConfigError("the θ optimizer is the shift generator's; the MLP generator always trains with Adam")
        if target == DRAWN_TARGET:
            return dataclasses.replace(drawn_generator_config(drawing or ""), **settings)
        return Toy2dConfig(target=target, **settings)
    raise ConfigError(f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}")


# A drawn target trains from scratch while the learner waits: fewer steps and a smaller batch and network than the
# shipped runs, so that all five losses train in under half a minute on two busy cores (bench/draw_divergences.py).
DRAWN_TOY_SETTINGS: dict[str, Any] = dict(steps=200, batch_size=128, width=64, frame_every=10)


def drawn_generator_config(code: str, **settings: Any) -> Toy2dConfig:
    """The MLP generator's run towards a drawing's P (its code), from the generator's start at Q's centre."""
    return Toy2dConfig(target=DRAWN_TARGET, drawing=code, **{**DRAWN_TOY_SETTINGS, **settings})


def train_generator(
    config: GeneratorConfig, progress: ProgressCallback | None = None, device: str | torch.device = "cpu"
) -> GeneratorRun:
    """run_dynamics or run_toy2d, whichever the config is for."""
    if isinstance(config, DynamicsConfig):
        return run_dynamics(config, progress, device)
    return run_toy2d(config, progress, device)


def dynamics_filename(generator: str, target: str, theta_optimizer: str = "sgd") -> str:
    """The file name under results/ of one run with default settings: `dynamics_<target>.json` for the MLP
    generator, `dynamics_shift_<family>[_adam].json` for the shift generator (SGD on θ unless _adam)."""
    if generator == "mlp":
        return f"dynamics_{check_target(target)}.json"
    if generator == "shift":
        if target not in FAMILIES:
            raise ConfigError(f"the shift generator trains on {' or '.join(FAMILIES)}, not {target!r} (use mlp)")
        suffix = "" if theta_optimizer == "sgd" else f"_{theta_optimizer}"
        return f"dynamics_shift_{target}{suffix}.json"
    raise ConfigError(f"unknown generator {generator!r}; choose from {', '.join(GENERATORS)}")


def load_generator_run(path: str | Path) -> GeneratorRun:
    """A saved DynamicsResult or Toy2dResult, whichever the file holds (one-line ConfigError otherwise)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no generator run at {path}")
    text = path.read_text()
    kind = json_format(text)
    if kind == DYNAMICS_FORMAT:
        return DynamicsResult.from_json(text)
    if kind == TOY2D_FORMAT:
        return Toy2dResult.from_json(text)
    raise ConfigError(f"{path} is not a generator run (format {kind!r})")


def write_all_defaults(
    folder: str | Path, progress: ProgressCallback | None = None, device: str | torch.device = "cpu", workers: int = 1
) -> dict[Path, GeneratorRun]:
    """`run_all_defaults`, each run saved under `folder` by `dynamics_filename`: what
    `vaegan divergences train-generator --all` calls to make the shipped results/. Returns {written path: run}."""
    runs = run_all_defaults(progress, device, workers)
    written: dict[Path, GeneratorRun] = {}
    for generator, group in (("mlp", runs["toy2d"]), ("shift", runs["dynamics"])):
        for target, run in group.items():
            written[run.save(Path(folder) / dynamics_filename(generator, target))] = run
    return written


__all__ = [
    "GENERATORS",
    "GeneratorConfig",
    "GeneratorRun",
    "default_configs",
    "drawn_generator_config",
    "dynamics_filename",
    "generator_config",
    "load_generator_run",
    "run_all_defaults",
    "train_generator",
    "write_all_defaults",
]
