"""Predict, then reveal, in a real browser: `?quiz=1` on the Divergences page hides the estimates until a sketch
is revealed, a slider moved with the keyboard changes the sketch, "Reveal" shows the score and the charts; "The
maths" renders its formulas with KaTeX (no KaTeX error box); the generator page's quiz takes a prediction per loss
and reveals the right/wrong table. Same server, chromium and skip rules as tests/test_browser.py (whose fixture
this reuses); screenshots go to test-artifacts/.
"""

from __future__ import annotations

from tests.test_browser import (  # noqa: F401 - app_server is a fixture
    ARTIFACTS,
    app_server,
    assert_no_exception,
    chromium_path,
    launch_chromium,
    screenshot,
    sync_playwright,
    wait_until_idle,
)

QUIZ_HEADING = "Predict, then reveal"


def open_maths(page) -> None:  # noqa: ANN001 - playwright Page
    """Open the "The maths" expander and check that its formulas are KaTeX and none failed to parse."""
    page.locator('[data-testid="stExpander"] summary').filter(has_text="The maths").click()
    maths = page.locator('[class*="st-key-maths_"]')
    maths.locator(".katex").first.wait_for(timeout=30_000)
    assert maths.locator(".katex").count() >= 5
    # KaTeX shows a formula it cannot parse as red source text in a .katex-error span instead of raising.
    assert page.locator(".katex-error").count() == 0, page.locator(".katex-error").first.inner_text()


def test_predict_then_reveal_in_chromium(app_server: str) -> None:  # noqa: F811
    chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{app_server}/divergences?quiz=1")
            wait_until_idle(page, QUIZ_HEADING)
            assert_no_exception(page, "divergences quiz")
            assert page.locator(".st-key-quiz input").is_checked(), "?quiz=1 switches the quiz on"
            estimates = page.get_by_role("heading", name="Estimates while the critics train")
            assert estimates.count() == 0, "the estimates must stay hidden until the reveal"
            assert page.get_by_text("saturates at 2").count() == 0, "the intro must not give the answer away"

            # A prediction: H² at the first θ > 0 pushed up with the keyboard (the second slider of the first row).
            page.wait_for_function(  # two curves of at least four knots each
                "() => document.querySelectorAll('.st-key-quiz_sketch input[type=range]').length >= 8",
                timeout=30_000,
            )
            thumb = page.locator(".st-key-quiz_sketch input[type=range]").nth(1)
            thumb.focus()
            for _ in range(10):
                page.keyboard.press("ArrowRight")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.st-key-quiz_sketch input[type=range]')]"
                ".some(s => parseFloat(s.value) > 0)",
                timeout=30_000,
            )
            wait_until_idle(page, QUIZ_HEADING)
            screenshot(page, "browser_quiz_divergences_sketch.png")

            page.locator(".st-key-quiz_reveal button").click()
            page.get_by_text("shape predictions right").wait_for(timeout=60_000)
            wait_until_idle(page, QUIZ_HEADING)
            assert_no_exception(page, "divergences after the reveal")
            metrics = page.locator('[data-testid="stMetric"]')
            assert metrics.filter(has_text="mean |sketch − truth|").count() == 2
            assert estimates.count() == 1, "the estimates chart appears after the reveal"
            assert " of " in metrics.filter(has_text="shape predictions right").inner_text()
            assert page.locator(".st-key-quiz_score").count() == 1  # the table of shapes (a canvas grid: no text)
            open_maths(page)
            screenshot(page, "browser_quiz_divergences_revealed.png")

            # The generator page: one prediction per loss, then the right/wrong table.
            page.goto(f"{app_server}/dynamics?quiz=1")
            wait_until_idle(page, QUIZ_HEADING)
            assert_no_exception(page, "dynamics quiz")
            assert page.get_by_role("heading", name="Each loss, step by step").count() == 0
            groups = page.locator(".st-key-quiz_predictions [role=radiogroup]")
            assert groups.count() >= 2
            for i in range(groups.count()):
                groups.nth(i).get_by_text("reaches P", exact=True).click()
                wait_until_idle(page, QUIZ_HEADING)
            page.locator(".st-key-quiz_reveal button").click()
            page.get_by_text("predictions right").wait_for(timeout=60_000)
            wait_until_idle(page, QUIZ_HEADING)
            assert_no_exception(page, "dynamics after the reveal")
            table = page.locator(".st-key-quiz_score")
            assert table.count() == 1
            assert page.get_by_role("heading", name="Each loss, step by step").count() == 1
            open_maths(page)
            screenshot(page, "browser_quiz_dynamics_revealed.png")
        finally:
            browser.close()
