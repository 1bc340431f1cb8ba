"""The VAE page's "Train a VAE now" in a real browser (the app server and chromium of tests/test_browser.py): the
shipped 2-D VAEs show their manifold, posterior scatter and terms chart, the drawn example digit appears in the
scatter, the β slider goes into the URL and changes the model, and an unshipped β trains on the page with a progress
bar. The server runs the real shipped `vae2d_beta*.safetensors` (copied into the tiny app fixture), so the
screenshots (test-artifacts/browser_vae2d_*.png) show the shipped models; live training uses synthetic digits.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import numpy as np
import pytest

from tests.test_app import AppFiles, make_app_files
from tests.test_browser import (
    ARTIFACTS,
    REPO_ROOT,
    assert_no_exception,
    chromium_path,
    launch_chromium,
    serve_app,
    sync_playwright,
    wait_until_idle,
)
from tests.test_vae2d import synthetic_digits
from vaegan.vae2d import VAE2D_BETAS, vae2d_filename


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files: AppFiles = make_app_files(tmp_path_factory.mktemp("browser_vae2d"))
    for beta in VAE2D_BETAS:  # the real shipped 2-D VAEs over the fixture's tiny ones
        shutil.copyfile(REPO_ROOT / "checkpoints" / vae2d_filename(beta), files.checkpoints / vae2d_filename(beta))
    digits, _ = synthetic_digits(1_500)
    data = tmp_path_factory.mktemp("vae2d_digits") / "digits.npz"
    images = digits.view(-1, 28, 28).numpy().astype(np.uint8)
    np.savez(data, train=images[:10], valid=images[:10], test=images)
    env = {**os.environ, **files.env, "VAEGAN_APP_DATA": str(data)}
    with serve_app(env, tmp_path_factory.mktemp("browser_log")) as url:
        yield url


def section_screenshot(page, name: str) -> None:  # noqa: ANN001 - playwright Page
    """From the section's heading to the end of the page, the viewport grown to the whole page first."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 8000)})
    page.wait_for_timeout(800)  # charts redraw for the new size
    top = page.get_by_role("heading", name="Train a VAE now").bounding_box()
    bottom = page.locator(".st-key-vae2d_terms").bounding_box()
    assert top is not None and bottom is not None
    clip = {"x": 0, "y": top["y"] - 10, "width": width, "height": bottom["y"] + bottom["height"] - top["y"] + 20}
    page.screenshot(path=str(ARTIFACTS / name), clip=clip, full_page=True)
    page.set_viewport_size({"width": width, "height": 1000})


def metric(page, label: str) -> str:  # noqa: ANN001 - playwright Page
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_train_a_vae_now_in_chromium(app_server: str) -> None:
    chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{app_server}/vae")
            wait_until_idle(page, "Train a VAE now")
            assert_no_exception(page, "vae")
            page.get_by_role("button", name="Example").first.click()  # an example digit on the page's canvas
            page.locator(".st-key-vae2d_scatter").get_by_text("your digit").wait_for(timeout=60_000)
            wait_until_idle(page, "Train a VAE now")
            assert page.locator(".st-key-vae2d_manifold img").count() == 1
            assert "vae2d_beta1" in page.locator('[data-testid="stCaptionContainer"]').filter(
                has_text="Showing: shipped").first.inner_text()  # fmt: skip
            beta1 = metric(page, "held-out −ELBO")
            section_screenshot(page, "browser_vae2d_beta1.png")

            thumb = page.locator(".st-key-vae2d_beta").get_by_role("slider")
            thumb.focus()
            for _ in range(2):  # 1 -> 2 -> 4
                page.keyboard.press("ArrowRight")
            page.wait_for_function("() => location.search.includes('vae2d_beta=4')", timeout=30_000)
            wait_until_idle(page, "Train a VAE now")
            assert_no_exception(page, "vae at β = 4")
            assert metric(page, "held-out −ELBO") != beta1
            section_screenshot(page, "browser_vae2d_beta4.png")

            thumb.focus()
            for _ in range(4):  # 4 -> 2 -> 1 -> 0.5 -> 0.25: not shipped
                page.keyboard.press("ArrowLeft")
            page.get_by_text("is not trained yet").wait_for(timeout=30_000)
            wait_until_idle(page, "Train a VAE now")
            counts = page.locator(".st-key-vae2d_digits").get_by_role("slider")
            counts.focus()
            page.keyboard.press("Home")  # 500 training digits: the synthetic set holds 1,500 with the held-out ones
            page.wait_for_function("() => location.search.includes('vae2d_digits=500')", timeout=30_000)
            wait_until_idle(page, "Train a VAE now")
            page.locator(".st-key-vae2d_train button").click()
            try:
                page.get_by_text("trained now on this server").wait_for(timeout=180_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "browser_vae2d_failed.png"), full_page=True)
                raise
            wait_until_idle(page, "Train a VAE now", timeout=120)
            assert_no_exception(page, "vae after training β = 0.25")
            assert "vae2d_beta=0.25" in page.url
            section_screenshot(page, "browser_vae2d_trained.png")
        finally:
            browser.close()
