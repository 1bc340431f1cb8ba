"""The picture in README.md and on the docs' home page: one page of the app on the shipped checkpoints, in Debian's
chromium driven by Playwright (the browser test's own helpers: tests/test_browser.py), saved as a palette PNG.

    python -m bench.screenshot                          # docs/images/app.png: the Home page
    python -m bench.screenshot --page latent --out /tmp/latent.png

It starts `streamlit run demo/Home.py` on a free loopback port and stops it afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.test_browser import CHROMIUM_ARGS, REPO_ROOT, chromium_path, free_port, wait_for_health, wait_until_idle

# URL path -> the heading the page shows once it has rendered
HEADINGS = {"": "vaegan", "samples": "Samples", "latent": "Latent space", "vae": "VAE",
            "dynamics": "Training a generator", "divergences": "Divergences"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", default="", choices=sorted(HEADINGS), help="URL path of the page ('' = Home)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images" / "app.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=820)
    parser.add_argument("--colors", type=int, default=128, help="palette size of the PNG (smaller file)")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", "demo/Home.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_health(url, server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.goto(f"{url}/{args.page}")
            wait_until_idle(page, HEADINGS[args.page], timeout=180)
            raw = args.out.with_suffix(".raw.png")
            page.screenshot(path=str(raw))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    with Image.open(raw) as image:
        image.convert("RGB").quantize(colors=args.colors, method=Image.Quantize.MEDIANCUT).save(
            args.out, optimize=True
        )
    raw.unlink()
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
