"""Predict, then reveal (`vaegan.quiz`) and the formulas of the maths sections (`vaegan.formulas`).

Truths come from `vaegan.divergences.exact_divergence` and straight lines are checked against numpy's own
interpolation; the outcome of a generator run is checked on runs trained here (tiny settings of tests/test_app.py).
"""

from __future__ import annotations

import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from vaegan.divergences import (
    DIVERGENCE_NAMES,
    F_DIVERGENCES,
    GAN_LOSSES,
    WASSERSTEIN,
    DynamicsConfig,
    Toy2dConfig,
    exact_divergence,
    run_dynamics,
    run_toy2d,
    theta_range,
)
from vaegan.errors import ConfigError
from vaegan.formulas import F_FORMULAS, GAN_LOSS_FORMULAS, GAUSSIAN_VALUES, KANTOROVICH_RUBINSTEIN, PENALTIES
from vaegan.quiz import (
    OUTCOMES,
    QUIZ_DIVERGENCES,
    knot_indices,
    outcome,
    reference_curve,
    score_outcomes,
    score_sketch,
    score_sweep,
    shape_claims,
    sketch_on_grid,
    sketch_range,
    sweep_grid,
)
from vaegan.vocabulary import PENALTIES as PENALTY_NAMES

THETAS = list(theta_range(0.0, 2.0, 21))
KNOTS = [THETAS[i] for i in knot_indices(len(THETAS))]


def truth(family: str, name: str, thetas: list[float] = THETAS) -> list[float]:
    return [exact_divergence(family, name, t) for t in thetas]


def score(family: str, name: str, sketch: list[float], knots: list[float] = KNOTS) -> float:
    values = truth(family, name)
    return score_sketch(name, THETAS, knots, sketch, values, values).error


# ------------------------------------------------------------------------------------------------ sketches


def test_knots_are_the_first_two_thetas_and_evenly_spaced_ones() -> None:
    assert knot_indices(21) == [0, 1, 5, 10, 15, 20]
    assert knot_indices(5) == [0, 1, 2, 3, 4]
    assert knot_indices(2) == [0, 1] and knot_indices(1) == [0]
    with pytest.raises(ConfigError):
        knot_indices(0)


def test_a_sketch_is_the_straight_lines_between_its_knots() -> None:
    rng = np.random.default_rng(0)
    knots, values = [0.0, 0.3, 1.1, 2.0], rng.uniform(0, 2, 4).tolist()
    thetas = np.linspace(-0.5, 2.5, 61).tolist()
    np.testing.assert_allclose(sketch_on_grid(knots, values, thetas), np.interp(thetas, knots, values), atol=1e-12)
    with pytest.raises(ConfigError):
        sketch_on_grid([0.0, 0.0], [1.0, 2.0], thetas)
    with pytest.raises(ConfigError):
        sketch_on_grid([0.0, 1.0], [1.0], thetas)


@pytest.mark.parametrize(("family", "name"), [("lines", "hellinger"), ("lines", WASSERSTEIN),
                                              ("gaussian", WASSERSTEIN)])  # fmt: skip
def test_the_true_curve_scores_zero(family: str, name: str) -> None:
    """H² of the lines is a step at the first θ > 0 and W1 = |θ| a line: both are straight between the knots."""
    at_knots = truth(family, name, KNOTS)
    assert score(family, name, at_knots) == 0.0


def test_the_true_curve_scores_zero_with_a_knot_at_every_theta() -> None:
    values = truth("gaussian", "hellinger")
    assert score("gaussian", "hellinger", values, knots=THETAS) == 0.0
    # with the page's knots the smooth curve is only approached: the best score is small but not 0
    result = score_sketch("hellinger", THETAS, KNOTS, truth("gaussian", "hellinger", KNOTS), values, values)
    assert 0 < result.error == result.best_error < 0.05


@pytest.mark.parametrize(("family", "name"), [("lines", "hellinger"), ("lines", WASSERSTEIN),
                                              ("gaussian", "hellinger"), ("gaussian", WASSERSTEIN)])  # fmt: skip
@pytest.mark.parametrize("level", [0.0, 0.5, 1.0, 2.0])
def test_a_flat_sketch_scores_worse_than_the_truth(family: str, name: str, level: float) -> None:
    values = truth(family, name)
    flat = score(family, name, [level] * len(KNOTS))
    expected = sum(abs(level - v) for v in values) / len(values)  # the flat sketch is `level` at every θ
    assert flat == pytest.approx(expected, abs=1e-12)
    assert flat > score(family, name, truth(family, name, KNOTS))  # 2 on the lines: wrong at θ = 0 only


def test_the_reference_is_the_closed_form_where_known_else_the_estimate() -> None:
    assert reference_curve([0.0, 2.0], [0.1, 1.9]) == ([0.0, 2.0], "closed form")
    mixed = "closed form where known, else the critics' estimates"
    assert reference_curve([0.0, math.nan], [0.1, 1.9]) == ([0.0, 1.9], mixed)
    assert reference_curve([math.nan, math.inf], [0.1, 1.9]) == ([0.1, 1.9], "critics' estimates")


def test_score_sweep_reads_a_sweep_result_and_checks_its_knots() -> None:
    result = SimpleNamespace(thetas=THETAS, truth={n: truth("lines", n) for n in QUIZ_DIVERGENCES},
                             estimates={n: truth("lines", n) for n in QUIZ_DIVERGENCES})  # fmt: skip
    scores = score_sweep(result, {n: truth("lines", n, KNOTS) for n in QUIZ_DIVERGENCES})
    assert [s.name for s in scores] == list(QUIZ_DIVERGENCES) and all(s.error == 0 for s in scores)
    assert all(check.right for s in scores for check in s.claims)
    with pytest.raises(ConfigError, match="knots"):
        score_sketch("hellinger", THETAS, [0.0, 0.05], [0.0, 1.0], result.truth["hellinger"], result.truth["hellinger"])
    with pytest.raises(ConfigError):
        sketch_range("kl", THETAS)


def test_a_sweep_whose_thetas_come_in_any_order_is_scored_on_its_sorted_grid() -> None:
    thetas = [2.0, 0.0, 1.0, 0.5, 1.0]  # a command line's --thetas: unsorted, one θ twice
    result = SimpleNamespace(thetas=thetas, truth={WASSERSTEIN: [abs(t) for t in thetas]},
                             estimates={WASSERSTEIN: [abs(t) for t in thetas]})  # fmt: skip
    order, knots = sweep_grid(thetas)
    assert order == [1, 3, 2, 0] and knots == [0.0, 0.5, 1.0, 2.0]
    (scored,) = score_sweep(result, {WASSERSTEIN: knots})
    assert scored.thetas == knots and scored.error == 0.0
    (flat,) = score_sweep(result, {WASSERSTEIN: [0.0] * 4})
    assert flat.error == pytest.approx((0 + 0.5 + 1 + 2) / 4)


def test_the_sketch_ranges_hold_the_truth() -> None:
    for name in QUIZ_DIVERGENCES:
        low, high = sketch_range(name, THETAS)
        for family in ("lines", "gaussian"):
            assert all(low <= v <= high for v in truth(family, name))


# -------------------------------------------------------------------------------------------- shape claims


def test_shape_claims_on_constructed_curves() -> None:
    tol = 0.1
    step = shape_claims(KNOTS, [0, 2, 2, 2, 2, 2], tol)
    assert step == {"zero": True, "saturates": True, "grows": False, "linear": False}
    line = shape_claims(KNOTS, KNOTS, tol)
    assert line == {"zero": True, "saturates": False, "grows": True, "linear": True}
    assert shape_claims(KNOTS, [0.0] * 6, tol) == {"zero": True, "saturates": False, "grows": False, "linear": False}
    bent = shape_claims(KNOTS, [t * t for t in KNOTS], tol)  # a parabola: grows, but not along a line
    assert bent == {"zero": True, "saturates": False, "grows": True, "linear": False}
    assert "zero" not in shape_claims([0.5, 1.0, 1.5], [1, 1, 1], tol)  # no θ = 0 on the grid: no claim about it


def test_the_claims_are_right_exactly_where_the_sketch_has_the_truths_shape() -> None:
    lines_h2 = truth("lines", "hellinger")
    # the learner who expects H² to grow like W1 on the lines: wrong about saturation, growth and linearity
    wrong = score_sketch("hellinger", THETAS, KNOTS, KNOTS, lines_h2, lines_h2)
    assert {c.claim: c.right for c in wrong.claims} == {"zero": True, "saturates": False, "grows": False,
                                                        "linear": False}  # fmt: skip
    assert wrong.claims_right == 1
    # on the Gaussians the truth grows smoothly and is not straight: a line is right about growth only
    gauss = truth("gaussian", "hellinger")
    line = score_sketch("hellinger", THETAS, KNOTS, KNOTS, gauss, gauss)
    checks = {c.claim: (c.sketched, c.true) for c in line.claims}
    assert checks == {"zero": (True, True), "saturates": (False, False), "grows": (True, True), "linear": (True, False)}


# ---------------------------------------------------------------------------------------------- generators


def test_outcome_thresholds() -> None:
    assert outcome(1.5, 0.01, reach=0.15) == "reaches P"
    assert outcome(1.5, 0.6, reach=0.15) == "partway"
    assert outcome(1.5, 1.4, reach=0.15) == "stalls"
    assert outcome(1.5, 1.7, reach=0.15) == "moves away"
    assert set(OUTCOMES) == {"reaches P", "partway", "stalls", "moves away"}


def test_outcomes_of_a_shift_run_follow_its_final_theta() -> None:
    run = run_dynamics(DynamicsConfig(steps=6, critic_steps=1, batch_size=32, width=8, heatmap_every=3,
                                      heatmap_size=7))  # fmt: skip
    predictions = {name: "reaches P" for name in run.config.losses}
    checks = score_outcomes(run, predictions)
    for check in checks:
        theta = run.theta[check.loss]
        assert (check.start, check.end) == (abs(theta[0]), abs(theta[-1]))
        assert check.actual == outcome(abs(theta[0]), abs(theta[-1]), 0.1 * abs(run.config.theta0))
        assert check.right == (abs(theta[-1]) <= 0.15)
    with pytest.raises(ConfigError):
        score_outcomes(run, {"hellinger": "somewhere"})
    with pytest.raises(ConfigError):
        score_outcomes(run, {"not-a-loss": None})
    assert not any(c.right for c in score_outcomes(run, {name: None for name in run.config.losses}))


def test_outcomes_of_an_mlp_run_follow_its_exact_w1() -> None:
    run = run_toy2d(Toy2dConfig(steps=4, batch_size=32, width=8, frame_every=2, frame_samples=32, frame_arrows=8,
                                grid_size=7))  # fmt: skip
    checks = score_outcomes(run, {name: None for name in run.config.losses})
    reach = max(0.1 * max(w[0] for w in run.w1.values()), 2 * run.w1_reference)
    for check in checks:
        w1 = run.w1[check.loss]
        assert (check.start, check.end) == (w1[0], w1[-1])
        assert check.actual == outcome(w1[0], w1[-1], reach)


# ---------------------------------------------------------------------------------------------- formulas


def test_every_divergence_and_loss_the_pages_offer_has_its_formula() -> None:
    assert set(F_FORMULAS) == set(F_DIVERGENCES)
    assert set(DIVERGENCE_NAMES) <= set(F_FORMULAS) | {WASSERSTEIN} and "W_1" in KANTOROVICH_RUBINSTEIN
    assert set(GAN_LOSS_FORMULAS) == set(GAN_LOSSES)
    assert set(PENALTIES) == set(PENALTY_NAMES)
    assert set(GAUSSIAN_VALUES) == set(DIVERGENCE_NAMES) - {"reverse-kl"}  # KL's line gives both directions
    for row in F_FORMULAS.values():
        for text in (row.title, row.f, row.activation, row.conjugate, row.conjugate_of_activation):
            assert text and text.count("{") == text.count("}"), text
    for text in (*GAN_LOSS_FORMULAS.values(), *GAUSSIAN_VALUES.values(), *PENALTIES.values()):
        assert text.count("{") == text.count("}") and text.count(r"\big[") == text.count(r"\big]"), text


def test_the_quiz_and_the_formulas_import_no_torch() -> None:
    code = "import sys, vaegan.quiz, vaegan.formulas; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
