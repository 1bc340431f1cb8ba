"""The θ sweep: train one critic per θ for each divergence, all θ at once, and record how the estimates converge.

(Over 400 lines because the result format and the training that fills it are one unit: the snapshots recorded
while training are the result's fields. Its configuration lives in `sweep_config.py`.)

For each divergence, one `CriticEnsemble` holds a critic per θ; every step draws one batch of base noise, shifts
it to every θ (`families.points`), and takes one batched forward/backward and one optimizer step for all critics.
The optimizers (Adam, SGD) act element by element, so each member follows the trajectory it would follow alone:
`batched=False` trains the θ one at a time through the same code and gives the same numbers (tested).

What is reported for each θ:
* the final estimate: the bound of the trained critic on a fresh evaluation sample of `eval_size` points per
  distribution, drawn once from its own random stream. Fresh points matter: on the training batches a critic can
  overfit and report more than the truth (at θ = 0 it would report a positive divergence between identical
  distributions); on fresh points the bound's expectation is a true lower bound, and `eval_size` makes its noise
  small. For W1 it is E_p[V] - E_q[V] alone: the penalty is a training device, not part of the estimate.
  A finite penalty weight λ leaves a small, known bias: on a strip of width θ the penalized optimum has slope
  s = 1 + θ/(2λ) (maximise θs - λ(s - 1)²), so the W1 estimate overshoots by about θ²/(2λ): 0.04 at θ = 2, λ = 50.
* snapshots: the same bound on the first `snapshot_eval_size` evaluation points every `snapshot_every` steps
  (step 0 included), and, for the θ nearest to `heatmap_thetas`, the raw critic output V on a grid every
  `heatmap_every` steps, so an app can animate the estimates converging and draw the critics.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from vaegan.divergences.bounds import (
    DIVERGENCE_TITLES,
    F_DIVERGENCES,
    WASSERSTEIN,
    lipschitz_penalty,
    lower_bound,
)
from vaegan.divergences.critic import CriticConfig, CriticEnsemble
from vaegan.divergences.engine import NO_CHECKPOINTS, ProgressCallback, check_finite_members, rng_stream
from vaegan.divergences.families import exact_divergence, heatmap_grid, noise, points
from vaegan.divergences.optim import make_optimizer
from vaegan.divergences.rounding import round_significant_nested
from vaegan.divergences.sweep_config import (  # re-exported: the config is part of what this module offers
    REFERENCE_SETTING,
    SweepConfig,
    custom_sweep_config,
    parse_thetas,
    result_filename,
    sweep_config,
    theta_range,
)
from vaegan.errors import ConfigError, TrainingError
from vaegan.runtime import intra_op_threads, usable_cpus
from vaegan.storage import JsonResult

RESULT_FORMAT = "vaegan-divergence-sweep/1"


# -------------------------------------------------------------------------------------------------- results


@dataclass
class Snapshots:
    """Training history. estimates[name][k][i] is θ_i's bound after steps[k] steps (on the snapshot sample);
    heatmaps[name][k][j] is the critic V of θ = heatmap_thetas[j] after heatmap_steps[k] steps on the grid,
    a list of rows: heatmaps[name][k][j][row][col] is V at (grid_x[col], grid_y[row])."""

    steps: list[int]
    estimates: dict[str, list[list[float]]]
    heatmap_steps: list[int]
    heatmap_thetas: list[float]
    grid_x: list[float]
    grid_y: list[float]
    heatmaps: dict[str, list[list[list[list[float]]]]]


@dataclass
class SweepResult(JsonResult):
    """Everything a sweep produced. Infinite true values (KL between disjoint lines) are math.inf here and null
    in the JSON, which has no infinity; true values with no closed form (H² of a shifted Swiss roll) are math.nan
    here and the string "nan" in the JSON."""

    config: SweepConfig
    thetas: list[float]
    estimates: dict[str, list[float]]  # final estimate per divergence and θ
    truth: dict[str, list[float]]
    snapshots: Snapshots
    seconds: dict[str, float] = field(default_factory=dict)  # training wall time per divergence
    device: str = "cpu"

    def errors(self, name: str) -> list[float]:
        """|estimate - truth| per θ (inf where the truth is infinite, nan where it has no closed form)."""
        return [abs(e - t) for e, t in zip(self.estimates[name], self.truth[name], strict=True)]

    def worst_error(self, name: str) -> tuple[float | None, int]:
        """(max |estimate - truth| over the θ with a finite truth, or None if there is none; how many θ have an
        infinite truth). θ whose truth has no closed form count in neither: see `no_closed_form`."""
        errors = self.errors(name)
        finite = [e for e in errors if math.isfinite(e)]
        return (max(finite) if finite else None), sum(math.isinf(t) for t in self.truth[name])

    def no_closed_form(self, name: str) -> int:
        """How many θ have no known true value of `name` (NaN truth)."""
        return sum(math.isnan(t) for t in self.truth[name])

    def summary_rows(self) -> list[dict[str, float | str]]:
        """One row per θ: every divergence's estimate and truth (4 decimals; "∞" for an infinite truth, "no closed
        form" where there is none), the table `vaegan divergences sweep` prints and the Divergences page shows."""
        rows: list[dict[str, float | str]] = []
        for i, theta in enumerate(self.thetas):
            row: dict[str, float | str] = {"θ": theta}
            for name in self.config.divergences:
                truth = self.truth[name][i]
                row[f"{DIVERGENCE_TITLES[name]} estimate"] = round(self.estimates[name][i], 4)
                row[f"{DIVERGENCE_TITLES[name]} truth"] = (
                    "no closed form" if math.isnan(truth) else "∞" if math.isinf(truth) else round(truth, 4)
                )
            rows.append(row)
        return rows

    def error_summary(self) -> list[str]:
        """One line per divergence: its largest |estimate - truth| where the truth is known, and its training time."""
        lines = []
        for name in self.config.divergences:
            worst, infinite = self.worst_error(name)
            unknown = self.no_closed_form(name)
            missing = [f"{infinite} θ infinite"] if infinite else []
            missing += [f"{unknown} θ with no closed form"] if unknown else []
            if worst is None:
                shown = "no closed form" if unknown and not infinite else f"no finite truth ({', '.join(missing)})"
            else:
                shown = f"max |estimate - truth| {worst:.4f}"
                shown += f" where the truth is known ({', '.join(missing)})" if missing else ""
            seconds = self.seconds.get(name)
            lines.append(f"{name}: {shown}" + (f", trained in {seconds:.2f}s" if seconds is not None else ""))
        return lines

    FORMAT: ClassVar[str] = RESULT_FORMAT
    WHAT: ClassVar[str] = "divergence sweep"
    MISSING: ClassVar[str] = "no sweep result at {path} (make one with: vaegan divergences sweep --out {path})"

    def to_payload(self) -> dict[str, Any]:
        return {
            "family": self.config.family,
            "divergences": list(self.config.divergences),
            "thetas": self.thetas,
            "estimates": round_significant_nested(self.estimates, 6),
            "truth": {k: [None if math.isinf(v) else "nan" if math.isnan(v) else v for v in vs]
                      for k, vs in self.truth.items()},
            "snapshots": {
                "steps": self.snapshots.steps,
                "estimates": round_significant_nested(self.snapshots.estimates, 5),
                "heatmaps": {
                    "steps": self.snapshots.heatmap_steps,
                    "thetas": self.snapshots.heatmap_thetas,
                    "x": round_significant_nested(self.snapshots.grid_x, 6),
                    "y": round_significant_nested(self.snapshots.grid_y, 6),
                    "critic": round_significant_nested(self.snapshots.heatmaps, 4),
                },
            },
            "seconds": self.seconds,
            "device": self.device,
            "config": self.config.to_dict(),
        }  # fmt: skip

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> SweepResult:
        snap, heat = data["snapshots"], data["snapshots"]["heatmaps"]
        return cls(
            config=SweepConfig.from_dict(data["config"]),
            thetas=list(data["thetas"]),
            estimates=data["estimates"],
            truth={k: [math.inf if v is None else float(v) for v in vs] for k, vs in data["truth"].items()},
            snapshots=Snapshots(
                steps=snap["steps"],
                estimates=snap["estimates"],
                heatmap_steps=heat["steps"],
                heatmap_thetas=heat["thetas"],
                grid_x=heat["x"],
                grid_y=heat["y"],
                heatmaps=heat["critic"],
            ),
            seconds=data.get("seconds", {}),
            device=data.get("device", ""),
        )


# ------------------------------------------------------------------------------------------------- training

def _heatmap_members(config: SweepConfig) -> list[int]:
    """Indices of the sweep's θ nearest to each requested heatmap θ (duplicates removed, order kept)."""
    chosen: list[int] = []
    for wanted in config.heatmap_thetas:
        index = min(range(len(config.thetas)), key=lambda i: abs(config.thetas[i] - wanted))
        if index not in chosen:
            chosen.append(index)
    return chosen


@dataclass
class TrainedCritics:
    """One ensemble's output: final[i], history[k][i] and grids[k][j][row][col] as in SweepResult/Snapshots,
    and the trained critics themselves (None when assembled from θ trained one at a time)."""

    final: list[float]
    history: list[list[float]]
    grids: list[list[list[list[float]]]]
    critic: CriticEnsemble | None = None


def _lr_factor(config: SweepConfig, step: int) -> float:
    if config.lr_schedule == "constant":
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * step / config.iters))


def train_critics(
    config: SweepConfig,
    name: str,
    thetas: list[float],
    heatmap_members: list[int],
    device: torch.device,
    on_step: Callable[[], None] | None = None,
) -> TrainedCritics:
    """Train one critic per θ in `thetas` for divergence `name`, all in one ensemble, and evaluate them."""
    members = len(thetas)
    theta = torch.tensor(thetas, dtype=torch.get_default_dtype(), device=device)
    zeros = torch.zeros_like(theta)
    critic = CriticEnsemble(
        CriticConfig(members=members, width=config.width, depth=config.depth, activation=config.activation)
    )
    critic.reset_parameters(rng_stream(config.seed, "init"))
    critic.to(device)
    # Not torch.optim: its first optimizer imports torch._dynamo, which took longer than this training (optim.py).
    optimizer = make_optimizer(config.optimizer, critic.parameters(), config.lr, config.adam_betas)

    # One evaluation sample, shared by all snapshots and the final estimate, independent of the training data.
    eval_rng = rng_stream(config.seed, "eval")
    x_eval = points(config.family, zeros, noise(config.family, config.eval_size, eval_rng), config.sigma).to(device)
    y_eval = points(config.family, theta, noise(config.family, config.eval_size, eval_rng), config.sigma).to(device)
    n_snap = min(config.snapshot_eval_size, config.eval_size)

    xs, ys = heatmap_grid(config.family, list(config.thetas), config.heatmap_size, config.sigma)
    # row-major (y, x); in the default dtype, like every other tensor of the sweep
    grid = torch.cartesian_prod(torch.tensor(ys), torch.tensor(xs)).flip(-1).to(device, torch.get_default_dtype())
    grid = grid.expand(len(heatmap_members), -1, -1)
    heat_index = torch.tensor(heatmap_members, dtype=torch.long, device=device)

    def bound_on(x: torch.Tensor, y: torch.Tensor) -> list[float]:
        return lower_bound(name, critic.evaluate(x), critic.evaluate(y)).tolist()

    history: list[list[float]] = []
    grids: list[list[list[list[float]]]] = []
    data_rng = rng_stream(config.seed, "data")
    member_names = [f"{name}: the critic of θ = {theta:g}" for theta in thetas]
    for step in range(config.iters + 1):
        if step % config.snapshot_every == 0 or step == config.iters:
            history.append(bound_on(x_eval[:, :n_snap], y_eval[:, :n_snap]))
        if heatmap_members and (step % config.heatmap_every == 0 or step == config.iters):
            values = critic.evaluate(grid, members=heat_index)  # only the members drawn: the grid outsizes a batch
            values = values.reshape(-1, config.heatmap_size, config.heatmap_size)
            grids.append(values.tolist())
        if step == config.iters:
            break
        # Base noise is drawn for the batch, not per θ: every member sees the same noise, shifted to its own θ.
        x = points(config.family, zeros, noise(config.family, config.batch_size, data_rng), config.sigma)
        y = points(config.family, theta, noise(config.family, config.batch_size, data_rng), config.sigma)
        eps = torch.rand(config.batch_size, 1, generator=data_rng)
        x, y, eps = x.to(device), y.to(device), eps.to(device)

        bound = lower_bound(name, *critic(torch.cat((x, y), dim=1)).split(config.batch_size, dim=1))
        loss = -bound
        if name == WASSERSTEIN and config.penalty_weight > 0 and step % config.penalty_every == 0:
            weight = config.penalty_weight * config.penalty_every  # the same penalty per step on average
            loss = loss + weight * lipschitz_penalty(critic, x, y, eps, config.penalty)
        check_finite_members(loss, member_names, f"step {step + 1} of {config.iters}")
        optimizer.zero_grad()
        loss.sum().backward()  # a sum, not a mean: each member's gradient is its own loss's gradient
        optimizer.lr = config.lr * _lr_factor(config, step)  # what torch's LambdaLR set for this step
        optimizer.step()
        if on_step is not None:
            on_step()
    if not all(math.isfinite(v) for v in history[-1]):
        raise TrainingError(f"{name}: a critic diverged (non-finite bound); lower the learning rate ({NO_CHECKPOINTS})")
    return TrainedCritics(final=bound_on(x_eval, y_eval), history=history, grids=grids, critic=critic)


def run_sweep(
    config: SweepConfig,
    progress: ProgressCallback | None = None,
    device: str | torch.device = "cpu",
    threads: int | None = 1,
    workers: int | None = None,
) -> SweepResult:
    """Estimate every divergence of `config` at every θ; see the module docstring for what is recorded.

    `threads`: torch's CPU intra-op threads while training (restored afterwards; None leaves them alone). One is the
    default because the ops here are small: more threads help a little on idle cores and a great deal less than
    nothing on busy ones, where their workers spin at every op (docs/results.md#divergences, `bench/divergences.py`).

    `workers`: on the CPU, how many divergences train at once, each ensemble in its own Python thread (None: one per
    CPU core this process may use). torch lets go of Python's lock inside its ops, so two ensembles on two cores
    overlap most of their work. The numbers are those of one worker by construction, on any CPU: the ensembles
    share nothing, each draws from its own seeded streams, and every thread that trains one first sets its own
    intra-op count to `threads` (`runtime.intra_op_threads` says why a worker thread must), so each ensemble runs
    the same kernels with the same reduction orders whichever thread runs it. `progress` is still called from the
    caller's thread.
    """
    if workers is None:
        workers = usable_cpus()
    if workers < 1:
        raise ConfigError("workers must be >= 1")
    device = torch.device(device)
    if device.type != "cpu":  # one device runs one stream of kernels: nothing to overlap, no CPU threads to set
        return _run_sweep(config, progress, device, 1, None)
    if threads is None:
        threads = torch.get_num_threads()  # the caller's count, for the workers too
    with intra_op_threads(threads):
        return _run_sweep(config, progress, device, workers, threads)


def _train_divergence(config: SweepConfig, name: str, device: torch.device, on_step: Callable[[], None]
                      ) -> tuple[TrainedCritics, float]:  # fmt: skip
    """One divergence's critics for every θ (one ensemble, or one θ at a time) and the seconds they took."""
    thetas = list(config.thetas)
    heat = _heatmap_members(config)
    start = time.perf_counter()
    with torch.enable_grad():  # grad mode is per thread, and the app's page runs switch it off
        if config.batched:
            trained = train_critics(config, name, thetas, heat, device, on_step)
        else:
            alone = [
                train_critics(config, name, [theta], [0] if i in heat else [], device, on_step)
                for i, theta in enumerate(thetas)
            ]
            trained = TrainedCritics(
                final=[a.final[0] for a in alone],
                history=[[a.history[k][0] for a in alone] for k in range(len(alone[0].history))],
                grids=[[alone[i].grids[k][0] for i in heat] for k in range(len(alone[heat[0]].grids))] if heat else [],
            )
    return trained, time.perf_counter() - start


class _StoppedEarlyError(Exception):
    """Raised in a worker at its next step once another worker (or the caller's progress callback) failed."""


def _train_all(config: SweepConfig, device: torch.device, workers: int, threads: int | None,
               step_done: Callable[[str], None]) -> dict[str, tuple[TrainedCritics, float]]:  # fmt: skip
    """`_train_divergence` for every divergence of `config`, `workers` at a time, each at `threads` intra-op threads
    set in the thread that trains it (this one, already set by `run_sweep`, or a pool thread); `step_done(name)`
    after each step, always in this thread: a Streamlit progress bar can only be drawn from its script's thread."""
    names = config.divergences
    if workers == 1 or len(names) == 1:
        return {name: _train_divergence(config, name, device, lambda name=name: step_done(name)) for name in names}
    steps: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # a name per step done, None when a worker ends
    failed = threading.Event()

    def work(name: str) -> tuple[TrainedCritics, float]:
        def on_step() -> None:
            if failed.is_set():
                raise _StoppedEarlyError
            steps.put(name)

        try:
            with intra_op_threads(threads):  # this thread's own count: MKL's would otherwise be one per core
                return _train_divergence(config, name, device, on_step)
        except BaseException:
            failed.set()
            raise
        finally:
            steps.put(None)

    with ThreadPoolExecutor(min(workers, len(names)), thread_name_prefix="vaegan-sweep") as pool:
        futures = {name: pool.submit(work, name) for name in names}
        try:
            running = len(futures)
            while running:
                name = steps.get()
                if name is None:
                    running -= 1
                else:
                    step_done(name)
        except BaseException:
            failed.set()  # the others stop at their next step; the pool's exit waits for them
            raise
    errors = [error for future in futures.values() if (error := future.exception()) is not None]
    if errors:  # the worker that failed first, not one it stopped
        raise next((e for e in errors if not isinstance(e, _StoppedEarlyError)), errors[0])
    return {name: future.result() for name, future in futures.items()}


def _run_sweep(config: SweepConfig, progress: ProgressCallback | None, device: torch.device, workers: int,
               threads: int | None) -> SweepResult:  # fmt: skip
    thetas = list(config.thetas)
    heat = _heatmap_members(config)
    total = config.iters * len(config.divergences) * (1 if config.batched else len(thetas))
    done = 0

    def step_done(name: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, name)

    trained = _train_all(config, device, workers, threads, step_done)
    estimates = {name: trained[name][0].final for name in config.divergences}
    history = {name: trained[name][0].history for name in config.divergences}
    heatmaps = {name: trained[name][0].grids for name in config.divergences}
    seconds = {name: trained[name][1] for name in config.divergences}

    steps = sorted({*range(0, config.iters, config.snapshot_every), config.iters})
    heatmap_steps = sorted({*range(0, config.iters, config.heatmap_every), config.iters}) if heat else []
    xs, ys = heatmap_grid(config.family, thetas, config.heatmap_size, config.sigma)
    truth = {n: [exact_divergence(config.family, n, t, config.sigma) for t in thetas] for n in config.divergences}
    return SweepResult(
        config=config,
        thetas=thetas,
        estimates=estimates,
        truth=truth,
        snapshots=Snapshots(
            steps=steps,
            estimates=history,
            heatmap_steps=heatmap_steps,
            heatmap_thetas=[thetas[i] for i in heat],
            grid_x=xs,
            grid_y=ys,
            heatmaps=heatmaps,
        ),
        seconds=seconds,
        device=str(device),
    )


__all__ = [
    "F_DIVERGENCES",
    "REFERENCE_SETTING",
    "Snapshots",
    "SweepConfig",
    "SweepResult",
    "custom_sweep_config",
    "result_filename",
    "sweep_config",
    "TrainedCritics",
    "run_sweep",
    "theta_range",
    "parse_thetas",
    "train_critics",
]
