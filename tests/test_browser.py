"""The app in a real browser: `streamlit run demo/Home.py` on a free port, driven by Playwright with Debian's chromium.

Every page is opened and screenshotted (to test-artifacts/, git-ignored), no page may show an exception box, the
PNG download is the grid on screen, moving a latent ε slider must change the edited image and the URL, and switching
the "Training a generator" page to the MLP generator must redraw its animations and update the URL. The
server runs on tiny random-weight checkpoints built by tests/test_app.py, so this test checks the app, not how well
the shipped models are trained.

Where chromium (or the playwright package) is missing the test skips, except under CI (the `CI` variable is set):
there .ci/run installs chromium and a missing browser is an error, so the test cannot silently stop running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.test_app import AppFiles, make_app_files

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# (url path, screenshot name, a heading the page must show). A deep link comes first: the first session of a fresh
# server must get the app's own navigation too, not a page run without its frame.
PAGES = [
    ("divergences", "divergences", "Divergences"),
    ("dynamics", "dynamics", "Training a generator"),
    ("samples", "samples", "Samples"),
    ("latent", "latent", "Latent space"),
    ("interpolation", "interpolation", "Interpolation"),
    ("vae", "vae", "VAE"),
    ("", "home", "vaegan"),
]


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}, and CI is set: the browser test must run in CI (.ci/run installs chromium)")
    pytest.skip(reason)


def chromium_path() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    unavailable("Debian's chromium is not installed (apt-get install chromium)")
    raise AssertionError("unreachable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f}s")


@contextlib.contextmanager
def serve_app(env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """`streamlit run demo/Home.py` with `env` on a free loopback port, until the block ends; yields its URL. A server
    that does not become healthy fails the test with its log."""
    port = free_port()
    log_path = log_dir / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "demo/Home.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=log,
                                   stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(url, process)
            yield url
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n--- streamlit log ---\n{log_path.read_text(errors='replace')}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    files: AppFiles = make_app_files(tmp_path_factory.mktemp("browser_app"))
    with serve_app({**os.environ, **files.env}, tmp_path_factory.mktemp("browser_log")) as url:
        yield url


def sync_playwright() -> Any:
    """Playwright's `sync_playwright()` context, or the skip (a failure under CI) when the package is missing."""
    try:
        from playwright.sync_api import sync_playwright as start  # only the browser tests need it (dev extra)
    except ImportError:
        unavailable("the playwright package is not installed (pip install -r requirements-dev.txt)")
    return start()


def move_slider_until_image_changes(page: Any, slider_key: str, image_key: str, presses: int,
                                    timeout_ms: int = 30_000) -> str:  # fmt: skip
    """Focus the first slider in the `slider_key` container, press → `presses` times and wait until the first image
    in the `image_key` container shows another picture; returns the picture it showed before."""
    before = page.locator(f".st-key-{image_key} img").first.get_attribute("src")
    page.locator(f".st-key-{slider_key}").get_by_role("slider").first.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"before => {{ const img = document.querySelector('.st-key-{image_key} img'); "
        "return img !== null && img.getAttribute('src') !== before; }",
        arg=before,
        timeout=timeout_ms,
    )
    return before


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, with the flags every browser check here uses."""
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)


# True once every Plotly chart has drawn its SVG and every image has loaded (both happen after the script ends).
DRAWN = """() => {
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    const images = [...document.querySelectorAll('[data-testid="stMain"] img')];
    return charts.every(c => c.querySelector('.main-svg')) && images.every(i => i.complete && i.naturalWidth > 0);
}"""


def wait_until_idle(page, heading: str, timeout: float = 90.0) -> None:  # noqa: ANN001 - playwright Page
    """Until the page shows `heading`, its script has finished (the app root's data-test-script-state) and every
    chart and image is drawn, for half a second in a row."""
    page.get_by_role("heading", name=heading).first.wait_for(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        state = page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        skeleton = page.locator('[data-testid="stAppSkeleton"]').count() > 0
        if state != "notRunning" or skeleton or not page.evaluate(DRAWN):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:  # a rerun starts within a few hundred ms of a change
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the page with heading {heading!r} was still running after {timeout:.0f}s")


def assert_no_exception(page, name: str) -> None:  # noqa: ANN001 - playwright Page
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        raise AssertionError(f"{name}: the page shows an exception:\n{boxes.first.inner_text()}")


def screenshot(page, name: str) -> None:  # noqa: ANN001 - playwright Page
    """The whole page: Streamlit scrolls inside its main container, not the document, so `full_page` alone would
    capture one viewport; grow the viewport to the content's height first."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 6000)})
    page.wait_for_timeout(500)  # charts redraw for the new size
    page.wait_for_function(DRAWN, timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    page.set_viewport_size({"width": width, "height": 1000})


def test_every_page_renders_in_chromium_and_a_latent_slider_changes_the_image(app_server: str) -> None:
    chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, name, heading in PAGES:
                page.goto(f"{app_server}/{path}")
                wait_until_idle(page, heading)
                assert_no_exception(page, name)
                navigation = page.locator('[data-testid="stSidebarNav"]')
                assert navigation.get_by_text("Latent space").count() == 1, f"{name}: not the app's own navigation"
                assert page.locator('[data-testid="stAlertContainer"]').filter(has_text="Traceback").count() == 0
                screenshot(page, f"browser_{name}.png")

            # The download is the grid on screen: 36 samples of 32 px in 6 rows, 2 px padding, shown 4x.
            page.goto(f"{app_server}/samples")
            wait_until_idle(page, "Samples")
            with page.expect_download() as download:
                page.get_by_role("button", name="Download PNG").click()
            with Image.open(download.value.path()) as png:
                assert png.format == "PNG" and png.size == (4 * (6 * 34 + 2),) * 2, (png.format, png.size)

            # The interactive path: move the first ε slider of the latent page with the keyboard.
            page.goto(f"{app_server}/latent")
            wait_until_idle(page, "Latent space")
            edited = page.locator(".st-key-edited img").first
            before = move_slider_until_image_changes(page, "eps_sliders", "edited", presses=4)
            wait_until_idle(page, "Latent space")
            assert_no_exception(page, "latent after moving a slider")
            assert edited.get_attribute("src") != before
            assert "eps" in page.url, f"the slider's value should be in the URL, got {page.url}"
            screenshot(page, "browser_latent_after_slider.png")

            # Training a generator: switching to the MLP generator redraws the animations and goes into the URL.
            page.goto(f"{app_server}/dynamics")
            wait_until_idle(page, "Training a generator")
            first_title = page.locator('[data-testid="stPlotlyChart"] .gtitle').first
            before = first_title.text_content()
            assert "θ" in before, before  # the shift generator's frame title
            page.locator(".st-key-gen").get_by_text("mlp", exact=True).click()
            page.wait_for_function(
                "before => { const t = document.querySelector('[data-testid=\"stPlotlyChart\"] .gtitle'); "
                "return t !== null && t.textContent !== before; }",
                arg=before,
                timeout=60_000,
            )
            wait_until_idle(page, "Training a generator")
            assert_no_exception(page, "dynamics after switching the generator")
            assert "W1" in first_title.text_content()
            assert "gen=mlp" in page.url, f"the generator should be in the URL, got {page.url}"
            screenshot(page, "browser_dynamics_mlp.png")
        finally:
            browser.close()
