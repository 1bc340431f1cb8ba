"""Predict, then reveal: the quiz switch (`?quiz=1`) and the two quizzes that stand before the charts of the
Divergences and "Training a generator" pages. The scoring is `vaegan.quiz`; this module only asks and shows.

A quiz is keyed by the result it asks about (a hash of its config), so each sweep or run has its own sketch. A
reveal keeps the prediction it scored in the session state and locks the inputs (the score is of the prediction
made before seeing the truth), so it survives reruns and visits to other pages; "Try again" unlocks them and
hides the truth.
"""

from __future__ import annotations

import hashlib
import json

import streamlit as st

from vaegan.divergences import DIVERGENCE_TITLES, DynamicsResult, SweepResult, Toy2dResult
from vaegan.figures import loss_title, quiz_figure
from vaegan.quiz import (
    OUTCOMES,
    QUIZ_DIVERGENCES,
    SHAPE_CLAIMS,
    SHAPE_TOLERANCE,
    SKETCH_STEP,
    distances_to_target,
    score_outcomes,
    score_sweep,
    sketch_range,
    sweep_grid,
)

from common import url_switch

QUIZ_KEY = "quiz"
REVEALED = "quiz_revealed"  # session state: {quiz id: the prediction locked at its reveal, widget key -> value}


def quiz_switch() -> bool:
    """The "predict, then reveal" switch in the sidebar, bound to the URL (`?quiz=1`)."""
    return url_switch(
        st.sidebar, "Predict, then reveal", QUIZ_KEY,
        help="Quiz mode: before a chart shows the answer, you predict it; then reveal the truth and your score.",
    )  # fmt: skip


def _quiz_id(kind: str, config: dict) -> str:
    return kind + hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]


def _revealed() -> dict[str, dict[str, object]]:
    return st.session_state.setdefault(REVEALED, {})


def _lock(quiz_id: str, keys: list[str]) -> None:
    # The prediction is kept with the reveal: a widget's own state is dropped when the learner visits another page,
    # and the revealed score must stay the score of what was predicted.
    _revealed()[quiz_id] = {key: st.session_state.get(key) for key in keys}


def _locked(quiz_id: str) -> bool:
    """Whether this quiz is revealed; if so, its inputs get the prediction locked at the reveal back."""
    locked = _revealed().get(quiz_id)
    if locked is None:
        return False
    for key, value in locked.items():
        st.session_state[key] = value  # before the widgets exist: they start from it
    return True


def _reveal_buttons(quiz_id: str, done: bool, keys: list[str]) -> None:
    if done:
        st.button("Try again", key="quiz_retry", icon=":material/restart_alt:", on_click=_revealed().pop,
                  args=(quiz_id, None), help="Hides the truth and unlocks your prediction.")  # fmt: skip
    else:
        st.button("Reveal", key="quiz_reveal", type="primary", icon=":material/visibility:", on_click=_lock,
                  args=(quiz_id, keys))  # fmt: skip


# -------------------------------------------------------------------------------------------- divergences


def divergence_quiz(result: SweepResult, lesson: str = "") -> bool:
    """Sketch H²(θ) and W1(θ) at a few θ, then reveal the truth with a score. True once revealed (the page then
    shows its charts), False while the learner is still predicting."""
    names = [name for name in QUIZ_DIVERGENCES if name in result.estimates]
    st.subheader("Predict, then reveal")
    if not names:
        st.info("This sweep has neither squared Hellinger nor W1 to predict: train one with them above.")
        return True
    quiz_id = _quiz_id("sweep", result.config.to_dict())
    done = _locked(quiz_id)
    thetas = list(result.thetas)
    order, knots = sweep_grid(thetas)  # the sorted, distinct θ: the order of the scores' curves
    st.markdown(
        "Before you see what the critics measure: **how do you expect each divergence to grow as Q_θ moves away "
        "from P?** Set your guess at a few values of θ (the chart joins them with straight lines), then press "
        "**Reveal**."
    )
    sketches: dict[str, list[float]] = {}
    keys: list[str] = []
    with st.container(key="quiz_sketch"):
        for name in names:
            low, high = sketch_range(name, thetas)
            st.markdown(f"**{DIVERGENCE_TITLES[name]}**, between {low:g} and {high:g}")
            columns = st.columns(len(knots))
            row = [f"quiz_{name}_{i}_{quiz_id}" for i in range(len(knots))]
            keys += row
            # no value: a slider starts at its low end, and a locked prediction comes back through its state
            sketches[name] = [
                float(column.slider(f"θ = {knot:g}", low, high, step=SKETCH_STEP, key=key, disabled=done))
                for column, knot, key in zip(columns, knots, row, strict=True)
            ]
    if not done:
        st.plotly_chart(quiz_figure(knots, sketches), key="quiz_chart")
        _reveal_buttons(quiz_id, done, keys)
        return False

    scores = score_sweep(result, sketches)
    estimates = {name: [result.estimates[name][i] for i in order] for name in names}
    st.plotly_chart(quiz_figure(knots, sketches, scores, estimates), key="quiz_chart")
    columns = st.columns(len(scores) + 1)
    for column, score in zip(columns, scores, strict=False):
        column.metric(
            f"{DIVERGENCE_TITLES[score.name]}: mean |sketch − truth|", f"{score.error:.3f}",
            help=f"Mean absolute error over the {len(score.thetas)} θ of the sweep, against the {score.source}. "
            f"The best these knots allow (the truth at the knots, joined by straight lines): {score.best_error:.3f}.",
        )  # fmt: skip
    checks = [(score, check) for score in scores for check in score.claims]
    columns[-1].metric("shape predictions right", f"{sum(c.right for _, c in checks)} of {len(checks)}")
    with st.container(key="quiz_score"):
        st.dataframe(
            [{"curve": DIVERGENCE_TITLES[score.name], "it…": SHAPE_CLAIMS[check.claim],
              "your sketch": "yes" if check.sketched else "no", "the truth": "yes" if check.true else "no",
              "": "✓" if check.right else "✗"} for score, check in checks],
            hide_index=True,
        )  # fmt: skip
    st.caption(
        "Each shape is judged the same way on your sketch and on the truth at the knots (two values closer than "
        f"{SHAPE_TOLERANCE:.0%} of the slider's range count as equal). The critics' estimates (thin) are what the "
        "chart below animates."
    )
    if lesson:
        st.markdown(lesson)
    _reveal_buttons(quiz_id, done, keys)
    return True


# ---------------------------------------------------------------------------------------------- generators


def generator_quiz(run: DynamicsResult | Toy2dResult, losses: list[str]) -> bool:
    """Predict where the generator ends under each loss, then reveal what the run did. True once revealed."""
    st.subheader("Predict, then reveal")
    quiz_id = _quiz_id("run", run.config.to_dict())
    done = _locked(quiz_id)
    _, reach = distances_to_target(run)
    shift = isinstance(run, DynamicsResult)
    distance = "|θ|, which is W1(P, Q_θ)" if shift else "the exact W1 between generated and target points"
    st.markdown(
        "Before you watch: **where does the generator end under each loss?** Its distance to P is "
        f"{distance}; it starts at d₀ = "
        + (f"|θ₀| = {abs(run.config.theta0):g}" if shift else "the W1 of its first frame")
        + " and ends at d_T."
    )
    st.caption(
        " · ".join(f"**{name}**: {meaning}" for name, meaning in OUTCOMES.items())
        + f" · the reach tolerance here is {reach:.3g}."
    )
    predictions: dict[str, str | None] = {}
    keys = {loss: f"quiz_{loss}_{quiz_id}" for loss in losses}
    with st.container(key="quiz_predictions"):
        for loss in losses:
            predictions[loss] = st.radio(
                loss_title(loss), list(OUTCOMES), index=None, horizontal=True, key=keys[loss], disabled=done,
            )  # fmt: skip
    if not done:
        _reveal_buttons(quiz_id, done, list(keys.values()))
        return False

    checks = score_outcomes(run, predictions)
    st.metric("predictions right", f"{sum(c.right for c in checks)} of {len(checks)}")
    with st.container(key="quiz_score"):
        st.dataframe(
            [{"loss": loss_title(c.loss), "your prediction": c.predicted or "—", "what happened": c.actual,
              "distance to P": f"{c.start:.3g} → {c.end:.3g}", "": "✓" if c.right else "✗"} for c in checks],
            hide_index=True,
        )  # fmt: skip
    _reveal_buttons(quiz_id, done, list(keys.values()))
    return True

