"""What a θ sweep trains: `SweepConfig` (its validation and limits), the reference setting, the θ grammar of the
front-ends (`theta_range`, `parse_thetas`), the configs the CLI and the app build (`sweep_config`,
`custom_sweep_config`) and the shipped files' names. The training and its result are in `sweep.py`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from vaegan.divergences.bounds import PENALTIES, WASSERSTEIN, check_divergence_name
from vaegan.divergences.critic import ACTIVATIONS, CriticConfig, check_activations
from vaegan.divergences.families import check_family
from vaegan.divergences.optim import OPTIMIZERS
from vaegan.errors import ConfigError
from vaegan.limits import MAX_BATCH_SIZE, MAX_ITERS, MAX_RECORDED_VALUES, MAX_THETAS, check_count, check_seed
from vaegan.vocabulary import LR_SCHEDULES


def theta_range(start: float, stop: float, count: int) -> tuple[float, ...]:
    """`count` evenly spaced values from start to stop inclusive, rounded so that 0.1·3 prints as 0.3."""
    if count < 1:
        raise ConfigError("a θ range needs at least one value")
    check_count("the number of θ values", count, MAX_THETAS)
    if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(stop - start)):
        raise ConfigError(f"a θ range needs finite ends, got {start} and {stop}")
    if count == 1:
        return (float(start),)
    return tuple(round(start + (stop - start) * i / (count - 1), 10) for i in range(count))


def parse_thetas(spec: str) -> tuple[float, ...]:
    """θ values from text: 'start:stop:count' (inclusive, e.g. 0:2:21) or a comma list (e.g. 0,0.5,1)."""
    try:
        if ":" in spec:
            start, stop, count = spec.split(":")
            return theta_range(float(start), float(stop), int(count))
        values = tuple(float(part) for part in spec.split(",") if part.strip())
    except ValueError as exc:
        shown = spec if len(spec) <= 80 else spec[:80] + "…"
        raise ConfigError(
            f"bad θ list {shown!r}: use start:stop:count (e.g. 0:2:21) or a comma list (0,0.5,1)"
        ) from exc
    check_count("the number of θ values", len(values), MAX_THETAS, minimum=0)
    if not all(math.isfinite(v) for v in values):
        raise ConfigError("θ values must be finite numbers")
    return values


@dataclass(frozen=True)
class SweepConfig:
    family: str = "lines"  # lines | gaussian | a shifted toy target (see vaegan.divergences.families)
    divergences: tuple[str, ...] = ("hellinger", "wasserstein")
    thetas: tuple[float, ...] = theta_range(0.0, 2.0, 21)
    sigma: float = 0.5  # standard deviation of the Gaussian family
    iters: int = 150  # optimizer steps per critic
    # samples from each of P and Q per step (and as many interpolates for the W1 penalty); 512, the reference's,
    # takes twice as long for the same accuracy on the lines (docs/results.md#divergences)
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 2e-2
    adam_betas: tuple[float, float] = (0.5, 0.9)  # as for WGAN-GP critics: quicker to react to the penalty
    lr_schedule: str = "cosine"  # cosine: decay to 0 over `iters`, so the critics settle instead of jittering
    width: int = 16
    depth: int = 2
    activation: str = "relu"
    penalty: str = "one-sided"  # W1 only: one-sided (Petzka et al.) or two-sided (Gulrajani et al.)
    penalty_weight: float = 50.0  # λ, as in the reference
    # W1 only: the penalty on every k-th step, k times as heavy (lazy regularisation, Karras et al. 2020, as the WGAN's
    # fast recipe does): 2 is faster at the same accuracy on the lines (docs/results.md#lazy-penalty)
    penalty_every: int = 2
    seed: int = 0
    batched: bool = True  # False: train the θ one after another (same numbers, much slower)
    eval_size: int = 16384  # fresh points per distribution for the final estimate
    snapshot_every: int = 5
    snapshot_eval_size: int = 512  # the first points of the evaluation sample, for the snapshots
    heatmap_thetas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)  # snapped to the nearest θ of the sweep
    heatmap_every: int = 15
    heatmap_size: int = 41  # grid points per axis

    def __post_init__(self) -> None:
        check_family(self.family)
        if not self.divergences:
            raise ConfigError("give at least one divergence")
        for name in self.divergences:
            check_divergence_name(name)
        if len(set(self.divergences)) != len(self.divergences):
            raise ConfigError("a divergence is listed twice")
        if not self.thetas or not all(math.isfinite(t) for t in self.thetas):
            raise ConfigError("thetas must be a non-empty list of finite numbers")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"unknown lr schedule {self.lr_schedule!r}; choose from {', '.join(LR_SCHEDULES)}")
        if self.penalty not in PENALTIES:
            raise ConfigError(f"unknown penalty {self.penalty!r}; choose from {', '.join(PENALTIES)}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        positive = ("iters", "batch_size", "width", "depth", "eval_size", "snapshot_every", "snapshot_eval_size",
                    "penalty_every")  # fmt: skip
        for name in (*positive, "heatmap_every", "heatmap_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not self.lr > 0 or not self.sigma > 0 or self.penalty_weight < 0:
            raise ConfigError("lr and sigma must be > 0 and penalty_weight >= 0")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise ConfigError("adam_betas must be two numbers in [0, 1)")
        self._check_size()

    def _check_size(self) -> None:
        """What a run allocates and records, against vaegan.limits, before anything is allocated."""
        check_count("the number of θ values", len(self.thetas), MAX_THETAS)
        check_count("the number of heat-map θ", len(self.heatmap_thetas), MAX_THETAS, minimum=0)
        check_count("iters", self.iters, MAX_ITERS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("eval_size", self.eval_size, MAX_BATCH_SIZE * 16)
        check_seed(self.seed)
        members = len(self.thetas)
        CriticConfig(members=members, width=self.width, depth=self.depth, activation=self.activation)
        # A step runs [x; y] (2 batches) and the evaluation runs chunks of up to 4096 points (CriticEnsemble.evaluate).
        points = max(2 * self.batch_size, min(self.eval_size, 4096), min(self.heatmap_size**2, 4096))
        check_activations("this sweep", members, points, self.width)
        snapshots = (self.iters // self.snapshot_every + 2) * members
        heat_members = min(len(self.heatmap_thetas), members)
        heatmaps = (self.iters // self.heatmap_every + 2) * heat_members * self.heatmap_size**2
        recorded = len(self.divergences) * (snapshots + heatmaps)
        if recorded > MAX_RECORDED_VALUES:
            raise ConfigError(
                f"this sweep would record {recorded:,} numbers (snapshots and heat maps), over the limit of "
                f"{MAX_RECORDED_VALUES:,} (vaegan.limits): raise snapshot_every / heatmap_every or use fewer θ"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        values.setdefault("penalty_every", 1)  # files written before the setting existed penalized every step
        return cls(**values)


# The procedure of the reference: each θ alone, plain SGD at lr 1e-3 for 600 steps, a 2-256-256-256-1 ReLU MLP,
# batches of 512, λ = 50 on every step. Its critics are far from converged, which is why its curves of the estimate
# against θ look like smooth sigmoids rather than the true step (H²) and line (W1). The members of a sweep follow
# exactly the trajectory they would follow alone, so `batched=True` reproduces the one-at-a-time numbers, only faster.
REFERENCE_SETTING = SweepConfig(
    iters=600,
    batch_size=512,
    optimizer="sgd",
    lr=1e-3,
    lr_schedule="constant",
    width=256,
    depth=3,
    penalty_every=1,
    snapshot_every=10,
    heatmap_every=60,
)


def sweep_config(
    *,
    reference: bool = False,
    divergences: str | None = None,
    thetas: str | None = None,
    heatmap_thetas: str | None = None,
    **settings: Any,
) -> SweepConfig:
    """A sweep from the default setting (or the reference one), with text lists parsed and every setting that is
    not None replaced: what `vaegan divergences sweep` calls."""
    base = REFERENCE_SETTING if reference else SweepConfig()
    parsed: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
    if divergences is not None:
        parsed["divergences"] = tuple(name.strip() for name in divergences.split(",") if name.strip())
    if thetas is not None:
        parsed["thetas"] = parse_thetas(thetas)
    if heatmap_thetas is not None:
        parsed["heatmap_thetas"] = parse_thetas(heatmap_thetas)
    unknown = set(parsed) - {f.name for f in dataclasses.fields(SweepConfig)}
    if unknown:
        raise ConfigError(f"unknown sweep settings: {', '.join(sorted(unknown))}")
    return dataclasses.replace(base, **parsed)


def custom_sweep_config(
    family: str, divergences: tuple[str, ...], n_thetas: int, iters: int, optimizer: str, lr: float
) -> SweepConfig:
    """The app's "train your own critics": the default setting with the user's choices, θ evenly over [0, 2], a
    cosine schedule for Adam (plain SGD keeps its rate), and about 30 snapshots and 6 heat maps whatever `iters`.
    Plain SGD penalizes every step: its step grows with the penalty's weight, which the lazy penalty doubles."""
    return dataclasses.replace(
        SweepConfig(),
        family=family,
        divergences=divergences or (WASSERSTEIN,),
        thetas=theta_range(0.0, 2.0, n_thetas),
        iters=iters,
        optimizer=optimizer,
        lr=lr,
        lr_schedule="cosine" if optimizer == "adam" else "constant",
        penalty_every=SweepConfig().penalty_every if optimizer == "adam" else 1,
        heatmap_every=max(1, iters // 6),
        snapshot_every=max(1, iters // 30),
    )


def result_filename(family: str, reference: bool) -> str:
    """The file name under results/ of the precomputed sweep of one (family, setting): what `python cli.py
    compare --family F [--reference]` is run with to make the shipped results."""
    check_family(family)
    return f"divergences{'' if family == 'lines' else '_' + family}{'_reference' if reference else ''}.json"


__all__ = [
    "LR_SCHEDULES",
    "REFERENCE_SETTING",
    "SweepConfig",
    "custom_sweep_config",
    "parse_thetas",
    "result_filename",
    "sweep_config",
    "theta_range",
]
