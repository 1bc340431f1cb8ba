"""App speed: the server time of a latent-slider change and the time to first render after `streamlit run`.

    python -m bench.app [--repeats 30] [--no-browser]

Two tables, each with a baseline measured in the same run:

1. **Slider path** (target <= 100 ms). Streamlit's AppTest runs the real page script in this process, so a
   rerun's wall time is the server's time for that interaction (script + widget state + element serialization;
   no network, no browser). Rows: one generator forward pass (the floor), a rerun with nothing changed (framework
   and page overhead with every cache warm), a rerun after moving one ε slider (the measured path), and a seed
   change on the Samples page (64 images) for comparison.
2. **First render** (target <= 3 s). `streamlit run demo/Home.py` in a fresh process on a free port; times until
   the health endpoint answers, until headless chromium shows the Home page's title (first render: the Home page
   draws its title and text before it imports torch), and until its script has finished (models loaded, samples
   drawn). The baseline is a fresh `python -c "import streamlit, torch"`: the imports every start pays.

Models: the shipped checkpoints/ when present, else full-size random-weight models (same shapes, same compute;
how well a model is trained does not change its speed). Say which in the output.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HOME = str(REPO_ROOT / "demo" / "Home.py")
CHROMIUM = "/usr/bin/chromium"


# ----------------------------------------------------------------------------------------------- models


def model_folders() -> tuple[dict[str, str], str]:
    """Environment for the app and a description: the real files when all are there, else random-weight ones."""
    needed = [REPO_ROOT / "checkpoints" / f for f in ("vae.safetensors", "wgan.safetensors")]
    if all(p.exists() for p in needed) and (REPO_ROOT / "results" / "divergences.json").exists():
        return {}, "shipped checkpoints/ and results/"
    import torch

    from vaegan.checkpoint import save_model
    from vaegan.divergences import SweepConfig, run_sweep, theta_range
    from vaegan.vae import VAE, VAEConfig
    from vaegan.wgan import Generator, WGANConfig

    root = Path(tempfile.mkdtemp(prefix="vaegan-bench-app-"))
    (root / "checkpoints").mkdir()
    torch.manual_seed(0)
    save_model(VAE(VAEConfig()), root / "checkpoints" / "vae.safetensors")
    save_model(Generator(WGANConfig()), root / "checkpoints" / "wgan.safetensors")
    tiny = SweepConfig(thetas=theta_range(0, 2, 5), iters=10, eval_size=256, heatmap_size=11)
    run_sweep(tiny).save(root / "results" / "divergences.json")
    env = {"VAEGAN_CHECKPOINTS": str(root / "checkpoints"), "VAEGAN_RESULTS": str(root / "results")}
    return env, f"full-size random-weight models in {root} (no shipped checkpoints yet)"


# -------------------------------------------------------------------------------------------- slider path


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def slider_table(repeats: int) -> list[tuple[str, list[float]]]:
    from streamlit.testing.v1 import AppTest
    from streamlit.testing.v1.element_tree import Widget

    from demo.common import WGAN_SLOT, _load_model_cached, file_stamp, inference_only
    from vaegan.latent import generate, sample_latents

    at = AppTest.from_file(HOME, default_timeout=300).run()
    at.switch_page("views/latent.py").run()  # warms every cache: model, ranking, strip
    assert not at.exception, [e.value for e in at.exception]
    sliders = [n for n in at.main if isinstance(n, Widget) and n.key and n.key.startswith("eps")]
    slider_key = sliders[0].key

    generator = _load_model_cached(str(WGAN_SLOT.path), WGAN_SLOT.kind, file_stamp(WGAN_SLOT.path))
    inference_only()  # the floor runs with the pages' torch settings (one intra-op thread, no autograd)
    z = sample_latents(1, generator.latent_dim, 0)
    generate(generator, z)

    values = [0.25 * (i % 8 + 1) * (-1) ** i for i in range(repeats)]
    position = iter(values)

    def move_slider() -> None:
        at.main.get_by_key(slider_key).set_value(next(position)).run()
        assert not at.exception

    samples = AppTest.from_file(HOME, default_timeout=300).run()
    samples.switch_page("views/samples.py").run()
    samples.main.get_by_key("n").set_value(64).run()
    seeds = iter(range(1, repeats + 1))

    return [
        ("one generator forward pass, 1 image (floor)", timed(lambda: generate(generator, z), repeats)),
        ("latent page rerun, nothing changed (baseline)", timed(lambda: at.run(), repeats)),
        (f"latent page rerun after moving slider {slider_key}", timed(move_slider, repeats)),
        ("samples page rerun after a seed change, 64 images", timed(
            lambda: samples.main.get_by_key("seed").set_value(next(seeds)).run(), repeats
        )),
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------- first render


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(url: str, since: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            if time.perf_counter() - since > 120:
                raise RuntimeError("streamlit did not start within 120 s") from None
            time.sleep(0.05)


def first_render(env: dict[str, str], browser: bool) -> list[tuple[str, float]]:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import streamlit, torch"], check=True, cwd=REPO_ROOT)
    rows = [("fresh `import streamlit, torch` (baseline)", time.perf_counter() - started)]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", "demo/Home.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true",
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        page = None
        if browser:  # started before the server, so its own start-up is not counted
            from playwright.sync_api import sync_playwright

            playwright = stack.enter_context(sync_playwright())
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            stack.callback(chromium.close)
            page = chromium.new_page()
        launched = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        stack.callback(process.wait, timeout=10)
        stack.callback(process.terminate)
        wait_for_health(url, launched)
        healthy = time.perf_counter()
        rows.append(("`streamlit run` until /_stcore/health answers", healthy - launched))
        if page is None:
            rows.append(("(no chromium: browser rows skipped)", float("nan")))
            return rows
        page.goto(url)
        page.get_by_role("heading", name="vaegan").first.wait_for(timeout=120_000)
        titled = time.perf_counter()
        page.wait_for_function(
            "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'",
            timeout=120_000,
        )
        done = time.perf_counter()
    rows.append(("browser opens Home until its title is on screen", titled - healthy))
    rows.append(("browser opens Home until its script has finished", done - healthy))
    rows.append(("`streamlit run` until Home's title is on screen (first render)", titled - launched))
    rows.append(("`streamlit run` until Home is complete (models loaded, drawn)", done - launched))
    return rows


# ------------------------------------------------------------------------------------------------- output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-browser", action="store_true", help="Skip the chromium rows of the first-render table.")
    args = parser.parse_args()

    env, description = model_folders()
    os.environ.update(env)
    print(f"models: {description}; torch threads {os.cpu_count()} cores")

    rows = slider_table(args.repeats)
    baseline = statistics.median(rows[1][1])
    print(f"\nSlider path: server time per interaction, {args.repeats} repeats (target: ≤ 100 ms)")
    print(f"{'':56s} {'median ms':>10s} {'p90 ms':>8s} {'vs baseline':>12s}")
    for name, times in rows:
        ordered = sorted(times)
        median = statistics.median(times)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        print(f"{name:56s} {1e3 * median:10.1f} {1e3 * p90:8.1f} {median / baseline:11.2f}x")

    render = first_render(env, browser=not args.no_browser and Path(CHROMIUM).exists())
    print("\nFirst render after start, one cold run (target: ≤ 3 s)")
    print(f"{'':60s} {'seconds':>8s} {'vs baseline':>12s}")
    for name, seconds in render:
        print(f"{name:60s} {seconds:8.2f} {seconds / render[0][1]:11.2f}x")


if __name__ == "__main__":
    main()
