"""The VAE vs GAN page's trust section in a real browser (the server, chromium and helpers of tests/test_browser.py).

The section must draw its table, its FD-against-1/n chart with the FD∞ marks and both nearest-training-digit
panels without an exception; moving its n slider to the smallest n must redraw the chart and go into the URL.
Screenshots of the page and of the section go to test-artifacts/ (git-ignored).
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

HEADING = "VAE vs GAN"
CHART_TEXT = "() => [...document.querySelectorAll('.st-key-trust .legendtext')].map(t => t.textContent).join('|')"


def test_the_trust_section_draws_and_its_n_slider_redraws_it(app_server: str) -> None:  # noqa: F811
    chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{app_server}/compare")
            wait_until_idle(page, HEADING)
            assert_no_exception(page, "compare")
            assert page.get_by_role("heading", name="How far can these numbers be trusted?").count() == 1
            section = page.locator(".st-key-trust")
            assert section.locator('[data-testid="stDataFrame"]').count() == 1
            marks = page.evaluate(CHART_TEXT)
            assert marks.count("FD∞") == 3, marks  # one FD∞ star (and its value in the legend) per set
            assert page.locator(".st-key-nearest img").count() == 2
            screenshot(page, "browser_compare_trust.png")
            section.screenshot(path=str(ARTIFACTS / "browser_compare_trust_section.png"))

            thumb = page.locator(".st-key-trust_n").get_by_role("slider").first
            thumb.focus()
            page.keyboard.press("Home")
            page.wait_for_function(f"before => ({CHART_TEXT})() !== before", arg=marks, timeout=60_000)
            wait_until_idle(page, HEADING)
            assert_no_exception(page, "compare after moving the n slider")
            assert "trust_n=64" in page.url, f"the slider's value should be in the URL, got {page.url}"
            assert page.evaluate(CHART_TEXT).count("FD∞") == 3
        finally:
            browser.close()
