"""Draw a digit: the server time from a canvas change to the VAE page's outputs, and of the Latent page's inversion.

    python -m bench.app_draw [--repeats 20] [--inversions 5]

Streamlit's AppTest runs the real page scripts in this process, so a rerun's wall time is the server's time for
that interaction (the page script, widget state, element serialization; no network, no browser). A canvas change
is simulated as tests/test_app.py does: the component's value (the drawing's PNG) set in the session state, as
the browser sends it. Each repeat draws a *new* digit (an example digit's strokes moved by a random offset), so the
per-drawing cache never answers; the page's other caches (the model, the reference histogram) are warm, as for a
user who has the page open and draws.

Rows, each with its baseline in the same run:
1. **VAE page, canvas change -> reconstruction, scores, reading, traversals** (target: median <= 150 ms), for
   each VAE file present (conv `vae.safetensors`, K = 10; MLP `vae_mlp.safetensors`, K = 100). Baselines: a rerun
   with nothing changed (the page's fixed cost), and the library work alone (`prepare_digit` + `read_with_vae`,
   what the page computes for a drawing).
2. **Latent page, "Find its z"** (target <= 5 s). Baseline: `vaegan.inversion.invert` alone on the same target.

AppTest compiles the page scripts afresh on every run (a new ScriptCache per run); a `streamlit run` server
compiles each script once and keeps it. The bench gives AppTest one ScriptCache for all its runs, as the server
has, so that the times are the server's and not AppTest's.

Both use the pages' torch settings (VAEGAN_APP_THREADS, default one thread). Needs the shipped checkpoints/; the
VAE page's reference histogram uses test digits when ../shared/data/binarized_mnist.npz is there (VAEGAN_APP_DATA),
else samples of the model.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HOME = str(REPO_ROOT / "demo" / "Home.py")
SHARED_DIGITS = REPO_ROOT.parent / "shared" / "data" / "binarized_mnist.npz"

from bench.app import timed  # noqa: E402 - run as `python -m bench.app_draw` from the repository root


def new_drawing(rng: random.Random) -> list[list[tuple[float, float]]]:
    """One of the example digits, every stroke moved by the same random offset: a drawing no cache has seen."""
    from vaegan.drawing import EXAMPLE_DIGITS

    strokes = EXAMPLE_DIGITS[rng.choice(list(EXAMPLE_DIGITS))]
    dx, dy = rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)
    return [[(x + dx, y + dy) for x, y in stroke] for stroke in strokes]


def share_one_script_cache() -> None:
    """Let every AppTest run use one ScriptCache, as a real server does (see the module docstring)."""
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    shared = ScriptCache()
    app_test.ScriptCache = lambda: shared


def healthy(at) -> None:  # noqa: ANN001 - an AppTest
    assert not at.exception, [e.value for e in at.exception]


def vae_rows(arch_file: str, repeats: int, seed: int) -> list[tuple[str, list[float]]]:
    from streamlit.testing.v1 import AppTest

    from demo.canvas import DEFAULT_STROKE, component_value
    from demo.common import inference_only
    from vaegan.drawing import prepare_digit, read_with_vae, render_strokes
    from vaegan.vae import VAE

    at = AppTest.from_file(HOME, default_timeout=300)
    at.switch_page("views/vae.py")  # before a first run: the page itself, with its URL's arch
    at.query_params["arch"] = arch_file
    at.run()
    healthy(at)
    rng = random.Random(seed)
    at.session_state["vae_canvas_0"] = component_value(new_drawing(rng))
    at.run()  # warms the reference histogram (computed once per model and K)
    healthy(at)
    k = int(next(m.label for m in at.metric if "log p(x), K=" in m.label).rsplit("=", 1)[1])

    def draw() -> None:
        at.session_state["vae_canvas_0"] = component_value(new_drawing(rng))
        at.run()
        healthy(at)

    vae = VAE.from_pretrained(str(REPO_ROOT / "checkpoints" / f"{arch_file}.safetensors")).eval()
    inference_only()
    floor_rng = random.Random(seed + 1)

    def library() -> None:
        digit = prepare_digit(render_strokes(new_drawing(floor_rng), 280, DEFAULT_STROKE))
        read_with_vae(vae, digit, k=k, dims=tuple(range(min(5, vae.latent_dim))))

    name = f"{arch_file} ({vae.config.arch}, K={k})"
    return [
        (f"{name}: prepare_digit + read_with_vae alone (library)", timed(library, repeats)),
        (f"{name}: VAE page rerun, nothing changed (baseline)", timed(at.run, repeats)),
        (f"{name}: VAE page rerun after a new drawing", timed(draw, repeats)),
    ]


def inversion_rows(repeats: int, seed: int) -> list[tuple[str, list[float]]]:
    from streamlit.testing.v1 import AppTest

    from demo.canvas import DEFAULT_STROKE, component_value
    from demo.common import inference_only
    from vaegan.drawing import prepare_digit, render_strokes
    from vaegan.inversion import invert
    from vaegan.wgan import Generator

    at = AppTest.from_file(HOME, default_timeout=300)
    at.switch_page("views/latent.py").run()
    healthy(at)
    rng = random.Random(seed)

    def find_z() -> None:
        at.session_state["latent_canvas_0"] = component_value(new_drawing(rng))
        at.run()
        started = time.perf_counter()
        at.main.get_by_key("invert").click().run()
        healthy(at)
        assert at.session_state["inverted"]["steps"] > 0
        clicks.append(time.perf_counter() - started)

    clicks: list[float] = []
    timed(find_z, repeats)  # only the click's rerun counts, not drawing the digit

    generator = Generator.from_pretrained(str(REPO_ROOT / "checkpoints" / "wgan.safetensors")).eval()
    inference_only()
    floor_rng = random.Random(seed + 1)

    def library() -> None:
        digit = prepare_digit(render_strokes(new_drawing(floor_rng), 280, DEFAULT_STROKE))
        invert(generator, digit.rgb32()[0], seed=0)

    return [
        ("vaegan.inversion.invert alone (library, 300 steps x 4 starts)", timed(library, repeats)),
        ("Latent page rerun after pressing 'Find its z'", clicks),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="drawings per VAE file")
    parser.add_argument("--inversions", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", default="vae,vae_mlp", help="the VAE files to measure, in this order")
    args = parser.parse_args()
    needed = ("vae", "wgan", "classifier")
    missing = [n for n in needed if not (REPO_ROOT / "checkpoints" / f"{n}.safetensors").exists()]
    if missing:
        sys.exit(f"bench/app_draw.py needs the shipped checkpoints: missing {', '.join(missing)}")
    for name in ("VAEGAN_CHECKPOINTS", "VAEGAN_RESULTS"):
        os.environ.pop(name, None)
    if SHARED_DIGITS.exists():
        os.environ.setdefault("VAEGAN_APP_DATA", str(SHARED_DIGITS))
    import torch

    share_one_script_cache()
    digits = os.environ.get("VAEGAN_APP_DATA", "none (the histogram uses samples of the model)")
    print(f"torch {torch.__version__}; app threads {os.environ.get('VAEGAN_APP_THREADS', '1')}; test digits: {digits}")
    rows: list[tuple[str, list[float]]] = []
    for arch_file in args.files.split(","):
        if (REPO_ROOT / "checkpoints" / f"{arch_file}.safetensors").exists():
            rows += vae_rows(arch_file, args.repeats, args.seed)
    rows += inversion_rows(args.inversions, args.seed)

    print(f"\n{'measured':<72}{'n':>4}{'median ms':>11}{'p90 ms':>9}")
    for label, times in rows:
        ms = sorted(1000 * t for t in times)
        p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
        print(f"{label:<72}{len(ms):4d}{statistics.median(ms):11.1f}{p90:9.1f}")
    print("\ntargets: a canvas change -> VAE outputs <= 150 ms median; the inversion <= 5 s")


if __name__ == "__main__":
    main()
