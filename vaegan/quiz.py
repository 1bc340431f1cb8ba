"""Predict, then reveal: scoring a learner's predictions against a divergence sweep and a generator run. No torch.

Divergences: the learner sketches a curve (H² or W1 against θ) by its values at a few knots, θ values of the
sweep's own grid (`knot_indices`: the first two θ, so that a jump at the first θ > 0 can be drawn, then evenly
spaced ones). The sketch is read as the straight lines between its knots (`sketch_on_grid`) and scored against
the truth on every θ of the grid: the closed form where it is known, else the critics' final estimate
(`reference_curve`). The score is the mean absolute error; the shape claims (`SHAPE_CLAIMS`) are judged on the
sketch and on the truth at the knots with the same rule, and a claim is right when both agree.

Generators: the learner predicts, per loss, how far the generator ends from P (`OUTCOMES`), judged on its
distance to P at the start and the end: |θ| for the shift generator (= W1 exactly), the exact empirical W1 for
the MLP generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vaegan.errors import ConfigError

if TYPE_CHECKING:  # for the type hints only: importing them at run time would import torch
    from vaegan.divergences import DynamicsResult, SweepResult, Toy2dResult

QUIZ_DIVERGENCES: tuple[str, ...] = ("hellinger", "wasserstein")  # the curves the learner sketches
EVEN_KNOTS = 5  # evenly spaced knots over the θ grid, plus the first θ > 0
SKETCH_STEP = 0.05
SHAPE_TOLERANCE = 0.05  # of the sketch's range: two values closer than this count as equal in a shape claim


# ----------------------------------------------------------------------------------------------- sketches


def knot_indices(count: int, even: int = EVEN_KNOTS) -> list[int]:
    """Indices into a θ grid of `count` values where the learner sketches: 0, 1, and `even` evenly spaced ones."""
    if count < 1:
        raise ConfigError("a θ grid needs at least one value")
    spaced = {round(i * (count - 1) / (even - 1)) for i in range(even)} if count > 1 else {0}
    return sorted(spaced | {0, min(1, count - 1)})


def sketch_range(name: str, thetas: Sequence[float]) -> tuple[float, float]:
    """(low, high) of a sketch of `name` over these θ: H²'s whole range [0, 2]; for W1 half again the largest |θ|
    (W1 of a translation is |θ|, so the truth fits without the range giving it away)."""
    if name == "hellinger":
        return 0.0, 2.0
    if name == "wasserstein":
        return 0.0, max(1.0, math.ceil(3 * max(abs(t) for t in thetas)) / 2)
    raise ConfigError(f"no sketch for {name!r}; the quiz asks about {', '.join(QUIZ_DIVERGENCES)}")


def sketch_on_grid(knots: Sequence[float], values: Sequence[float], thetas: Sequence[float]) -> list[float]:
    """The sketch at every θ: straight lines between the knots (sorted, distinct), constant beyond the end ones."""
    if len(knots) != len(values) or not knots:
        raise ConfigError("a sketch needs one value per knot")
    if any(b <= a for a, b in zip(knots, knots[1:], strict=False)):
        raise ConfigError("the knots of a sketch must increase")
    out = []
    for theta in thetas:
        if theta <= knots[0]:
            out.append(float(values[0]))
            continue
        if theta >= knots[-1]:
            out.append(float(values[-1]))
            continue
        j = next(i for i in range(1, len(knots)) if theta <= knots[i])
        share = (theta - knots[j - 1]) / (knots[j] - knots[j - 1])
        out.append(float(values[j - 1] + share * (values[j] - values[j - 1])))
    return out


def reference_curve(truth: Sequence[float], estimates: Sequence[float]) -> tuple[list[float], str]:
    """What a sketch is scored against: the closed form where it is finite, else the critics' final estimate; and
    which of the two it is ("closed form", "critics' estimates" or both)."""
    known = [math.isfinite(t) for t in truth]
    curve = [float(t) if ok else float(e) for t, e, ok in zip(truth, estimates, known, strict=True)]
    if all(known):
        return curve, "closed form"
    if not any(known):
        return curve, "critics' estimates"
    return curve, "closed form where known, else the critics' estimates"


def mean_absolute_error(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b) or not a:
        raise ConfigError("two curves of the same non-zero length are needed")
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


# --------------------------------------------------------------------------------------------- shape claims


def _starts_at_zero(values: Sequence[float], tol: float) -> bool:
    return abs(values[0]) <= tol


def _saturates(values: Sequence[float], tol: float) -> bool:
    # rises by the first θ > 0 and then stays level: every later value within tol of the first one after θ₀
    rest = values[1:]
    return len(rest) >= 2 and rest[0] > values[0] + tol and max(rest) - min(rest) <= tol


def _keeps_growing(values: Sequence[float], tol: float) -> bool:
    return len(values) >= 3 and values[-1] > values[1] + tol


def _linear_in(thetas: Sequence[float]) -> Callable[[Sequence[float], float], bool]:
    def linear(values: Sequence[float], tol: float) -> bool:
        # on the straight line through the first and last knot (within tol everywhere), and not flat
        (t0, t1), (v0, v1) = (thetas[0], thetas[-1]), (values[0], values[-1])
        if len(values) < 3 or t1 == t0 or v1 - v0 <= tol:
            return False
        return all(abs(v - (v0 + (v1 - v0) * (t - t0) / (t1 - t0))) <= tol for t, v in zip(thetas, values, strict=True))

    return linear


SHAPE_CLAIMS: dict[str, str] = {
    "zero": "is 0 at θ = 0 (P = Q)",
    "saturates": "jumps at the first θ > 0, then stays level (saturates)",
    "grows": "keeps growing after the first θ > 0",
    "linear": "grows along a straight line in θ",
}


def shape_claims(thetas: Sequence[float], values: Sequence[float], tol: float) -> dict[str, bool]:
    """Which of SHAPE_CLAIMS hold for a curve given by its values at θ (sorted), two values within `tol` being
    equal. "zero" is only claimed about a grid that starts at θ = 0."""
    if len(thetas) != len(values) or not values:
        raise ConfigError("a curve needs one value per θ")
    rules: dict[str, Callable[[Sequence[float], float], bool]] = {
        "zero": _starts_at_zero, "saturates": _saturates, "grows": _keeps_growing, "linear": _linear_in(thetas),
    }  # fmt: skip
    return {name: rule(values, tol) for name, rule in rules.items() if name != "zero" or thetas[0] == 0}


@dataclass(frozen=True)
class ClaimCheck:
    claim: str  # a key of SHAPE_CLAIMS
    sketched: bool  # the sketch has this shape
    true: bool  # the truth has it

    @property
    def right(self) -> bool:
        return self.sketched == self.true


@dataclass(frozen=True)
class CurveScore:
    """A sketch of one divergence scored against a sweep: the sketch at its knots and on the grid, the curve it
    was scored against (and what that curve is), the mean absolute error on the grid, the shape claims, and the
    error of the best sketch these knots allow (the truth at the knots, joined by straight lines)."""

    name: str
    thetas: list[float]
    knots: list[float]
    sketch: list[float]
    sketch_grid: list[float]
    reference: list[float]
    source: str
    error: float
    best_error: float
    claims: list[ClaimCheck]

    @property
    def claims_right(self) -> int:
        return sum(check.right for check in self.claims)


def score_sketch(
    name: str, thetas: Sequence[float], knots: Sequence[float], sketch: Sequence[float],
    truth: Sequence[float], estimates: Sequence[float],
) -> CurveScore:  # fmt: skip
    """Score a sketch (values at `knots`, θ values of the grid `thetas`) of divergence `name` against the sweep's
    `truth` and `estimates` on that grid."""
    if len(thetas) != len(truth) or len(thetas) != len(estimates):
        raise ConfigError("the truth and the estimates need one value per θ")
    missing = [k for k in knots if k not in thetas]
    if missing:
        raise ConfigError(f"the knots must be θ values of the grid; {missing[0]:g} is not")
    reference, source = reference_curve(truth, estimates)
    grid = sketch_on_grid(knots, sketch, thetas)
    at_knots = [reference[list(thetas).index(k)] for k in knots]
    low, high = sketch_range(name, thetas)
    tol = SHAPE_TOLERANCE * (high - low)
    sketched, true = shape_claims(knots, sketch, tol), shape_claims(knots, at_knots, tol)
    return CurveScore(
        name=name,
        thetas=list(thetas),
        knots=list(knots),
        sketch=[float(v) for v in sketch],
        sketch_grid=grid,
        reference=reference,
        source=source,
        error=mean_absolute_error(grid, reference),
        best_error=mean_absolute_error(sketch_on_grid(knots, at_knots, thetas), reference),
        claims=[ClaimCheck(claim, sketched[claim], true[claim]) for claim in sketched],
    )


def sweep_grid(thetas: Sequence[float]) -> tuple[list[int], list[float]]:
    """The θ grid a quiz uses from a sweep's θ (which a command line may give in any order, even twice): the index
    of the first occurrence of each distinct θ in increasing order, and the knots on that grid."""
    first: dict[float, int] = {}
    for i, theta in enumerate(thetas):
        first.setdefault(float(theta), i)
    order = [first[theta] for theta in sorted(first)]
    grid = sorted(first)
    return order, [grid[i] for i in knot_indices(len(grid))]


def score_sweep(result: SweepResult, sketches: Mapping[str, Sequence[float]]) -> list[CurveScore]:
    """Every sketch ({divergence name: values at the knots of `sweep_grid`}) scored against a SweepResult."""
    order, knots = sweep_grid(result.thetas)
    thetas = [float(result.thetas[i]) for i in order]
    return [
        score_sketch(name, thetas, knots, values, [result.truth[name][i] for i in order],
                     [result.estimates[name][i] for i in order])  # fmt: skip
        for name, values in sketches.items()
    ]


# ---------------------------------------------------------------------------------------------- generators

# (name, what it means) of each outcome, judged on d₀ and d_T, the distance to P at the start and at the end.
OUTCOMES: dict[str, str] = {
    "reaches P": "ends at P: d_T within the reach tolerance",
    "partway": "moves towards P but ends between: neither at P nor near its start",
    "stalls": "ends about where it started: d_T ≥ ¾·d₀",
    "moves away": "ends further from P than it started: d_T > 1.1·d₀",
}
REACH_SHARE = 0.1  # "reaches P": d_T ≤ 10% of d₀ ...
NOISE_FLOOR_FACTOR = 2.0  # ... or, for the MLP generator, at most twice the W1 between two samples of P itself
STALL_SHARE = 0.75
AWAY_SHARE = 1.1


def outcome(start: float, end: float, reach: float) -> str:
    """Which of OUTCOMES a run whose distance to P went from `start` to `end` had (`reach`: the tolerance of
    "reaches P")."""
    if end <= reach:
        return "reaches P"
    if end > AWAY_SHARE * start:
        return "moves away"
    if end >= STALL_SHARE * start:
        return "stalls"
    return "partway"


def distances_to_target(run: DynamicsResult | Toy2dResult) -> tuple[dict[str, list[float]], float]:
    """Each loss's distance to P along a generator run, and the reach tolerance of "reaches P" for it.

    Shift generator (a DynamicsResult: `theta` per loss): |θ_t|, which is W1(P, Q_θ) exactly; the tolerance is
    REACH_SHARE·|θ₀|. MLP generator (a Toy2dResult: `w1` per loss): the exact empirical W1 of each frame; the
    tolerance also allows NOISE_FLOOR_FACTOR times the W1 between two samples of P (`w1_reference`)."""
    if hasattr(run, "theta"):
        paths = {name: [abs(t) for t in values] for name, values in run.theta.items()}
        return paths, REACH_SHARE * abs(run.config.theta0)
    paths = {name: list(values) for name, values in run.w1.items()}
    start = max(values[0] for values in paths.values())
    return paths, max(REACH_SHARE * start, NOISE_FLOOR_FACTOR * run.w1_reference)


@dataclass(frozen=True)
class OutcomeCheck:
    loss: str
    predicted: str | None  # a key of OUTCOMES, None when the learner left it open
    actual: str
    start: float  # distance to P at the start and the end
    end: float

    @property
    def right(self) -> bool:
        return self.predicted == self.actual


def score_outcomes(run: DynamicsResult | Toy2dResult, predictions: Mapping[str, str | None]) -> list[OutcomeCheck]:
    """Each predicted loss ({loss name: a key of OUTCOMES or None}) against what the run did."""
    paths, reach = distances_to_target(run)
    checks = []
    for loss, predicted in predictions.items():
        if loss not in paths:
            raise ConfigError(f"loss {loss!r} is not in this run")
        if predicted is not None and predicted not in OUTCOMES:
            raise ConfigError(f"unknown outcome {predicted!r}; choose from {', '.join(OUTCOMES)}")
        start, end = paths[loss][0], paths[loss][-1]
        checks.append(OutcomeCheck(loss, predicted, outcome(start, end, reach), start, end))
    return checks


__all__ = [
    "AWAY_SHARE",
    "EVEN_KNOTS",
    "NOISE_FLOOR_FACTOR",
    "OUTCOMES",
    "QUIZ_DIVERGENCES",
    "REACH_SHARE",
    "SHAPE_CLAIMS",
    "SHAPE_TOLERANCE",
    "SKETCH_STEP",
    "STALL_SHARE",
    "ClaimCheck",
    "CurveScore",
    "OutcomeCheck",
    "distances_to_target",
    "knot_indices",
    "mean_absolute_error",
    "outcome",
    "reference_curve",
    "score_outcomes",
    "score_sketch",
    "score_sweep",
    "shape_claims",
    "sketch_on_grid",
    "sketch_range",
    "sweep_grid",
]
