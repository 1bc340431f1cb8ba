"""The latent lessons in a real browser (tests/test_browser.py's set-up): on the Latent page the principal-direction
slider changes the edited image and the URL; on the VAE page the gap panel renders its numbers and charts, for both
VAE files. Section screenshots go to test-artifacts/ (git-ignored).

The server runs on the shipped checkpoints when they are there (so the screenshots show the real models), with the
real test digits of ../shared/data when present, and on tests/test_app.py's tiny random-weight models otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_app import make_app_files
from tests.test_browser import (
    ARTIFACTS,
    assert_no_exception,
    chromium_path,
    launch_chromium,
    move_slider_until_image_changes,
    serve_app,
    sync_playwright,
    wait_until_idle,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["vae.safetensors", "vae_mlp.safetensors", "wgan.safetensors", "classifier.safetensors"]
REAL_DIGITS = REPO_ROOT.parent / "shared" / "data" / "binarized_mnist.npz"


@pytest.fixture(scope="module")
def lessons_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "VAEGAN_DATA": str(tmp_path_factory.mktemp("no_downloads"))}
    if all((REPO_ROOT / "checkpoints" / name).exists() for name in SHIPPED):
        for name in ("VAEGAN_CHECKPOINTS", "VAEGAN_RESULTS", "VAEGAN_APP_DATA"):
            env.pop(name, None)
        if REAL_DIGITS.exists():
            env["VAEGAN_APP_DATA"] = str(REAL_DIGITS)
    else:
        env.update(make_app_files(tmp_path_factory.mktemp("lessons_app")).env)
    with serve_app(env, tmp_path_factory.mktemp("lessons_log")) as url:
        yield url


def section_screenshot(page, key: str, name: str) -> None:  # noqa: ANN001 - playwright Page
    """One keyed container, whole: the viewport is grown to the page's height first (Streamlit scrolls inside its
    main container), as tests/test_browser.py's `screenshot` does."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(800)  # charts redraw for the new size
    page.locator(f".st-key-{key}").screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_the_direction_slider_changes_the_image_and_the_gap_panel_renders(lessons_server: str) -> None:
    chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lessons_server}/latent")
            wait_until_idle(page, "Latent space", timeout=240)
            assert_no_exception(page, "latent")
            edited = page.locator(".st-key-direction_edited img").first
            strip_before = page.locator(".st-key-direction_strip img").first.get_attribute("src")
            before = move_slider_until_image_changes(page, "pc", "direction_edited", presses=2, timeout_ms=60_000)
            wait_until_idle(page, "Latent space")
            assert_no_exception(page, "latent after moving the direction slider")
            assert edited.get_attribute("src") != before
            assert page.locator(".st-key-direction_strip img").first.get_attribute("src") != strip_before
            assert "pc=2" in page.url, f"the direction should be in the URL, got {page.url}"
            assert page.locator(".st-key-directions").get_by_text("Principal directions: median").count() == 1
            section_screenshot(page, "directions", "browser_latent_directions.png")

            for arch in ("vae_mlp", "vae"):
                page.goto(f"{lessons_server}/vae?arch={arch}")
                wait_until_idle(page, "Why the ELBO is only a bound", timeout=240)
                assert_no_exception(page, f"vae ({arch})")
                panel = page.locator(".st-key-gap_panel")
                assert panel.locator('[data-testid="stMetric"]').count() == 4
                assert panel.locator('[data-testid="stPlotlyChart"] .main-svg').count() >= 2
                assert panel.locator(".katex").count() >= 1  # the KL identity, typeset
                assert "effective sample size" in panel.inner_text()
                section_screenshot(page, "gap_panel", f"browser_gap_{arch}.png")
        finally:
            browser.close()
