"""Predict, then reveal, and "The maths", under AppTest (the tiny files and fixtures of tests/test_app.py).

With the switch off the pages show their charts at once, as before; with `?quiz=1` the charts wait behind a
prediction, and "Reveal" shows the score computed here independently (the sketch set to the closed form scores 0).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import AppFiles, OpenPage, app_files, assert_healthy, has_element, open_page  # noqa: F401
from vaegan.divergences import DynamicsConfig, DynamicsResult, SweepResult, exact_divergence
from vaegan.formulas import GAN_LOSS_FORMULAS, KANTOROVICH_RUBINSTEIN
from vaegan.quiz import knot_indices

QUIZ = "Predict, then reveal"
PAGE_CHARTS = [("views/divergences.py", "sweep_chart"), ("views/dynamics.py", "w1_chart")]


def subheaders(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def keyed(widgets: list, prefix: str) -> list:
    """The widgets (e.g. at.slider) whose key starts with `prefix`, in page order."""
    return [w for w in widgets if str(w.key or "").startswith(prefix)]


@pytest.mark.parametrize(("page", "chart"), PAGE_CHARTS)
def test_with_the_switch_off_the_page_shows_its_charts_and_no_quiz(open_page: OpenPage, page: str, chart: str) -> None:  # noqa: F811
    for query in ({}, {"quiz": "false"}, {"quiz": "banana"}, {"quiz": "0"}):
        at = open_page(page, query=query)
        assert_healthy(at)
        assert QUIZ not in subheaders(at) and has_element(at, chart), query
        assert not at.sidebar.toggle[0].value


@pytest.mark.parametrize(("page", "chart"), PAGE_CHARTS)
@pytest.mark.parametrize("value", ["1", "true", "on"])
def test_with_the_switch_on_the_charts_wait_for_a_prediction(
    open_page: OpenPage, page: str, chart: str, value: str  # noqa: F811
) -> None:
    at = open_page(page, query={"quiz": value})
    assert_healthy(at)
    assert at.sidebar.toggle[0].value
    assert QUIZ in subheaders(at) and not has_element(at, chart)
    assert has_element(at, "quiz_reveal") and not has_element(at, "quiz_retry")


def test_the_divergence_quiz_scores_the_sketch_against_the_closed_form(
    open_page: OpenPage, app_files: AppFiles  # noqa: F811
) -> None:
    result = SweepResult.load(app_files.results / "divergences.json")
    knots = [result.thetas[i] for i in knot_indices(len(result.thetas))]
    at = open_page("views/divergences.py", query={"quiz": "1"})
    assert "saturates at 2" not in "\n".join(m.value for m in at.markdown)  # the intro keeps the answer back
    for name in ("hellinger", "wasserstein"):
        sliders = keyed(at.slider, f"quiz_{name}_")
        assert len(sliders) == len(knots)
        for slider, knot in zip(sliders, knots, strict=True):  # the closed form at each knot
            slider.set_value(round(exact_divergence("lines", name, knot), 2))
    at.run()
    assert not has_element(at, "sweep_chart")  # moving the sliders reveals nothing
    at.main.get_by_key("quiz_reveal").click().run()
    assert_healthy(at)
    shown = metrics(at)
    # the lines' H² (a step at the first θ > 0) and W1 = |θ| are straight between the knots: the truth scores 0
    assert shown["squared Hellinger: mean |sketch − truth|"] == "0.000"
    assert shown["Wasserstein-1: mean |sketch − truth|"] == "0.000"
    assert shown["shape predictions right"] == "8 of 8"
    assert has_element(at, "sweep_chart") and "saturates at 2" in "\n".join(m.value for m in at.markdown)
    assert all(s.disabled for s in keyed(at.slider, "quiz_hellinger_"))  # the prediction is locked

    at.run()  # the reveal survives a rerun
    assert has_element(at, "sweep_chart") and metrics(at) == shown
    # ... and a visit to another page, which drops the sliders' own state: the prediction locked at the reveal
    # comes back with it
    at.switch_page("views/dynamics.py").run()
    at.switch_page("views/divergences.py")
    at.query_params["quiz"] = "1"
    at.run()
    assert_healthy(at)
    assert metrics(at) == shown
    assert [s.value for s in keyed(at.slider, "quiz_wasserstein_")] == [round(k, 2) for k in knots]
    at.main.get_by_key("quiz_retry").click().run()
    assert not has_element(at, "sweep_chart") and has_element(at, "quiz_reveal")


def test_a_flat_sketch_scores_its_distance_to_the_truth(open_page: OpenPage, app_files: AppFiles) -> None:  # noqa: F811
    result = SweepResult.load(app_files.results / "divergences.json")
    at = open_page("views/divergences.py", query={"quiz": "1"})
    at.main.get_by_key("quiz_reveal").click().run()  # the untouched sketch: 0 everywhere
    truth = [exact_divergence("lines", "wasserstein", t) for t in result.thetas]
    expected = sum(truth) / len(truth)
    assert metrics(at)["Wasserstein-1: mean |sketch − truth|"] == f"{expected:.3f}"
    assert float(metrics(at)["squared Hellinger: mean |sketch − truth|"]) > 1.0


def test_the_generator_quiz_reveals_each_loss(open_page: OpenPage, app_files: AppFiles) -> None:  # noqa: F811
    run = DynamicsResult.load(app_files.results / "dynamics_shift_lines.json")
    at = open_page("views/dynamics.py", query={"quiz": "1"})
    radios = keyed(at.radio, "quiz_")
    assert len(radios) == len(run.config.losses)
    for radio in radios:
        radio.set_value("stalls")
    at.run()
    assert not has_element(at, "w1_chart")
    at.main.get_by_key("quiz_reveal").click().run()
    assert_healthy(at)
    # "stalls": the distance |θ| to P ends at three quarters of its start or more, but not beyond 1.1 times it
    theta0 = abs(run.config.theta0)
    stalled = sum(0.75 * theta0 <= abs(t[-1]) <= 1.1 * theta0 and abs(t[-1]) > 0.1 * theta0 for t in run.theta.values())
    assert metrics(at)["predictions right"] == f"{stalled} of {len(radios)}"
    assert has_element(at, "w1_chart") and has_element(at, "quiz_score")


@pytest.mark.parametrize("page", ["views/divergences.py", "views/dynamics.py"])
def test_the_maths_is_rendered_from_the_library(open_page: OpenPage, page: str) -> None:  # noqa: F811
    at = open_page(page)
    assert "The maths" in [e.label for e in at.expander]
    formulas = [latex.value.strip("$\n") for latex in at.latex]  # st.latex wraps its body in $$ … $$
    if page == "views/divergences.py":
        assert KANTOROVICH_RUBINSTEIN in formulas
        assert any(r"\sqrt{u}-1" in f for f in formulas)  # the f-GAN table has the Hellinger row
    else:
        for loss in DynamicsConfig().losses:  # the losses the page shows by default
            assert any(f.endswith(GAN_LOSS_FORMULAS[loss]) for f in formulas), loss
