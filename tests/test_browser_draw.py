"""Draw your own P and Q in a real browser: Playwright mouse strokes on the Divergences page's canvas, the estimates
and the θ sweep of the drawing, a generator trained towards it, and the shared URL opened in a new browser context.

The same server as tests/test_browser.py (tiny random-weight checkpoints; the drawing's critics and generator are
the library's, trained on the spot). Screenshots go to test-artifacts/ (git-ignored). Skips where chromium or
playwright is missing, except under CI, like tests/test_browser.py.
"""

from __future__ import annotations

import urllib.parse

import pytest

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
from vaegan.divergences.drawn import CELL, GRID_SIDE, Drawing, preset


def canvas_box(page) -> dict:  # noqa: ANN001 - playwright Page
    """The drawing canvas's box on the page (Fabric's upper canvas, the one that takes the mouse)."""
    canvas = page.locator(".st-key-drawn_canvas canvas").last
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100, box
    return box


def stroke(page, box: dict, points: list[tuple[float, float]]) -> None:  # noqa: ANN001 - playwright Page
    """A mouse stroke through `points` in plane coordinates (the canvas spans ±GRID_SIDE·CELL/2, y up)."""
    half = GRID_SIDE * CELL / 2

    def to_screen(x: float, y: float) -> tuple[float, float]:
        return box["x"] + (x + half) / (2 * half) * box["width"], box["y"] + (half - y) / (2 * half) * box["height"]

    page.mouse.move(*to_screen(*points[0]))
    page.mouse.down()
    for a, b in zip(points, points[1:], strict=False):
        for t in (0.25, 0.5, 0.75, 1.0):
            page.mouse.move(*to_screen(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])))
    page.mouse.up()


def drawing_in(url: str) -> Drawing:
    (code,) = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["draw"]
    return Drawing.from_code(code)


def test_draw_estimate_sweep_train_and_share(app_server: str) -> None:  # noqa: F811
    chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{app_server}/divergences?draw_on=true")
            wait_until_idle(page, "Divergences")
            assert drawing_in(page.url) == preset("lines")  # the default drawing, already in the URL

            # Clear the canvas, then draw a counterexample: a vertical P stroke (red) and a Q stroke (blue) to its right
            page.locator(".st-key-draw_clear").get_by_role("button").click()
            wait_until_idle(page, "Divergences")
            box = canvas_box(page)
            stroke(page, box, [(-0.8, -1.0), (-0.8, 1.0)])
            wait_until_idle(page, "Divergences")
            page.locator(".st-key-draw_ink").get_by_text("Q", exact=True).click()
            wait_until_idle(page, "Divergences")
            box = canvas_box(page)
            stroke(page, box, [(0.6, -1.0), (0.9, 0.0), (0.6, 1.0)])
            page.wait_for_function("() => new URL(location.href).searchParams.get('draw') !== null", timeout=30_000)
            wait_until_idle(page, "Divergences", timeout=120)
            assert_no_exception(page, "divergences after drawing")
            drawn = drawing_in(page.url)
            assert drawn != preset("lines")
            p_x = drawn.centroid("p")[0].item()
            q_x = drawn.centroid("q")[0].item()
            assert p_x == pytest.approx(-0.8, abs=0.15) and q_x == pytest.approx(0.7, abs=0.2), (p_x, q_x)
            # the estimates of the drawing are on screen
            page.locator('[data-testid="stDataFrame"]').filter(has_text="95% interval").wait_for(timeout=60_000)

            page.locator(".st-key-draw_sweep").get_by_role("button").click()  # slide Q: every θ at once
            page.locator(".st-key-draw_sweep_chart").wait_for(timeout=120_000)
            wait_until_idle(page, "Divergences", timeout=120)
            assert_no_exception(page, "divergences after the sweep")
            screenshot(page, "browser_draw_divergences.png")
            shared = page.url

            # A generator towards the drawing: the drawing goes to the other page with the session (the app's own
            # navigation; a new page load would be a new session, which the shared link below covers)
            page.locator('[data-testid="stSidebarNav"]').get_by_text("Training a generator").click()
            wait_until_idle(page, "Training a generator")
            page.locator(".st-key-gen").get_by_text("mlp", exact=True).click()
            wait_until_idle(page, "Training a generator")
            page.locator(".st-key-target").click()
            page.get_by_role("option", name="drawing").click()
            page.locator(".st-key-draw_train").wait_for(timeout=60_000)
            wait_until_idle(page, "Training a generator")
            assert drawing_in(page.url) == drawn  # the session's drawing, now in this page's URL too
            page.locator(".st-key-draw_train").get_by_role("button").click()
            page.locator(".st-key-anim_wasserstein").wait_for(timeout=180_000)
            wait_until_idle(page, "Training a generator", timeout=180)
            assert_no_exception(page, "dynamics after training towards the drawing")
            screenshot(page, "browser_draw_generator.png")

            # The shared link in a fresh browser context (no session, no cookies): the same drawing
            other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            other.goto(shared)
            wait_until_idle(other, "Divergences", timeout=120)
            assert_no_exception(other, "the shared link")
            assert drawing_in(other.url) == drawn
            # the estimates (cached by the first session's visit) are on screen; a table draws after the script ends
            other.locator('[data-testid="stDataFrame"]').filter(has_text="95% interval").wait_for(timeout=60_000)
            screenshot(other, "browser_draw_shared.png")
        finally:
            browser.close()
