"""The latent lessons' speed: a principal-direction slider move on the Latent page and the VAE page's gap panel.

    python -m bench.latent_lessons [--repeats 10] [--part all|directions|gap]

Two tables, each with its baseline measured in the same run, on the shipped checkpoints (the run stops with a
message when they are missing), one torch thread (the app's setting):

1. **Direction slider** (target <= 150 ms server time). Streamlit's AppTest runs the real Latent page in this
   process, so a rerun's wall time is the server's time for that interaction. Rows: the library's one-dim strip
   (the page's existing per-dimension strip, baseline) and one principal-direction strip; a page rerun with nothing
   changed; a rerun after moving a per-dimension ε slider (the existing path); after moving the direction slider
   (a new direction each time: its strip is not cached yet) and its ε slider. Plus the one-off precomputation the
   page caches per model file (principal directions and the digit-change shares of every direction and axis).
2. **Gap panel** (target <= 2 s for the MLP VAE at K = 1,000; what the conv VAE affords). `vaegan.gap.vae_gap_report`
   (DEFAULT_REPEATS sets of K samples) for one test digit at each K, beside the baseline: the existing
   `log_px_importance` with the same total number of decoder passes (one set of K x repeats); and the VAE page rerun
   after choosing another digit at K = 1,000 (MLP), against a rerun with nothing changed.

Medians (and the slowest) over the repeats. The machine is shared: say "under load" when it is.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from pathlib import Path

from bench.app import timed

REPO_ROOT = Path(__file__).resolve().parents[1]
HOME = str(REPO_ROOT / "demo" / "Home.py")
SHIPPED = ("vae.safetensors", "vae_mlp.safetensors", "wgan.safetensors", "classifier.safetensors")
GAP_K = {"vae_mlp": (10, 100, 1000), "vae": (100, 200, 500, 1000)}


def row(name: str, times: list[float]) -> str:
    return f"| {name} | {1000 * statistics.median(times):,.1f} | {1000 * max(times):,.1f} | {len(times)} |"


def print_table(title: str, rows: list[tuple[str, list[float]]]) -> None:
    print(f"\n### {title}\n\n| what | median ms | slowest ms | runs |\n|---|---:|---:|---:|")
    for name, times in rows:
        print(row(name, times))


def direction_table(repeats: int) -> list[tuple[str, list[float]]]:
    import torch
    from streamlit.testing.v1 import AppTest
    from streamlit.testing.v1.element_tree import Widget

    from demo.common import inference_only
    from vaegan.checkpoint import load_model
    from vaegan.latent import direction_lesson, direction_strip, perturbation_strip, sample_latents

    inference_only()  # the pages' torch settings: one intra-op thread, no autograd
    generator = load_model(REPO_ROOT / "checkpoints" / "wgan.safetensors").eval()
    classifier = load_model(REPO_ROOT / "checkpoints" / "classifier.safetensors").eval()
    eps = [float(e) for e in range(-5, 5)]
    z = sample_latents(1, generator.latent_dim, 0)[0]
    lesson_times = timed(lambda: direction_lesson(generator, classifier), 1)
    lesson = direction_lesson(generator, classifier)
    unit = lesson.directions.directions[:1]

    at = AppTest.from_file(HOME, default_timeout=600)
    at.switch_page("views/latent.py")
    at.run()  # warms every cache: models, ranking, strips, the directions and their shares
    assert not at.exception, [e.value for e in at.exception]
    eps_key = next(n.key for n in at.main if isinstance(n, Widget) and n.key and n.key.startswith("eps"))
    values = iter([0.25 * (i % 8 + 1) * (-1) ** i for i in range(10 * repeats)])
    count = lesson.directions.directions.shape[0]
    directions = iter(range(1, count))  # each one new: its strip is computed, not read from the cache

    def move(key: str, source: object) -> Callable[[], None]:
        def action() -> None:
            at.main.get_by_key(key).set_value(next(source)).run()
            assert not at.exception, [e.value for e in at.exception]

        return action

    with torch.no_grad():
        return [
            ("library: one-dim strip, 10 images (`perturbation_strip`, baseline)",
             timed(lambda: perturbation_strip(generator, z, [0], eps), repeats)),
            ("library: one principal-direction strip, 10 images (`direction_strip`)",
             timed(lambda: direction_strip(generator, z, unit, eps), repeats)),
            ("Latent page rerun, nothing changed (baseline)", timed(at.run, repeats)),
            (f"Latent page rerun after moving the per-dim slider {eps_key} (existing path)",
             timed(move(eps_key, values), repeats)),
            ("Latent page rerun after moving the direction slider (a new direction: strip not cached)",
             timed(move("pc", directions), min(repeats, count - 1))),
            ("Latent page rerun after moving the direction's ε slider", timed(move("pc_eps", values), repeats)),
            ("once per model file (cached): directions + digit-change shares of 10 directions and "
             f"{generator.latent_dim} axes", lesson_times),
        ]  # fmt: skip


def gap_table(repeats: int) -> list[tuple[str, list[float]]]:
    import numpy as np
    import torch
    from streamlit.testing.v1 import AppTest

    from demo.common import inference_only
    from vaegan.checkpoint import load_model
    from vaegan.gap import DEFAULT_REPEATS, vae_gap_report
    from vaegan.likelihood import sample_binary_digits
    from vaegan.vae import log_px_importance

    inference_only()
    rows = []
    real = REPO_ROOT.parent / "shared" / "data" / "binarized_mnist.npz"
    for name, ks in GAP_K.items():
        model = load_model(REPO_ROOT / "checkpoints" / f"{name}.safetensors").eval()
        if real.exists():
            with np.load(real) as f:
                x = torch.from_numpy(f["test"][0]).float().reshape(784)
        else:
            x = sample_binary_digits(model, 1, seed=0)[0]
        arch = model.config.arch
        for k in ks:
            runs = max(1, repeats // (4 if arch == "conv" and k >= 500 else 1))
            rows.append((f"{name} ({arch}): one set of K x {DEFAULT_REPEATS} = {k * DEFAULT_REPEATS:,} samples, "
                         "`log_px_importance` (baseline)",
                         timed(lambda: log_px_importance(model, x, k * DEFAULT_REPEATS), runs)))  # noqa: B023
            rows.append((f"{name} ({arch}): gap report, K = {k:,}, {DEFAULT_REPEATS} repeats (`vae_gap_report`)",
                         timed(lambda: vae_gap_report(model, x, k=k), runs)))  # noqa: B023 - timed right here

    at = AppTest.from_file(HOME, default_timeout=600)
    at.switch_page("views/vae.py")
    at.query_params.update({"arch": "vae_mlp", "gap_k": "1000"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    digits = iter(range(1, repeats + 1))

    def next_digit() -> None:
        at.main.get_by_key("gap_digit").set_value(next(digits)).run()
        assert not at.exception, [e.value for e in at.exception]

    rows.append(("VAE page (vae_mlp), rerun, nothing changed (baseline)", timed(at.run, repeats)))
    rows.append(("VAE page (vae_mlp), rerun after choosing another digit, K = 1,000 (gap not cached)",
                 timed(next_digit, repeats)))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--part", choices=("all", "directions", "gap"), default="all", help="Which table to measure.")
    args = parser.parse_args()
    missing = [name for name in SHIPPED if not (REPO_ROOT / "checkpoints" / name).exists()]
    if missing:
        raise SystemExit(f"needs the shipped checkpoints; missing: {', '.join(missing)}")
    for name in ("VAEGAN_CHECKPOINTS", "VAEGAN_RESULTS"):
        os.environ.pop(name, None)
    real = REPO_ROOT.parent / "shared" / "data" / "binarized_mnist.npz"
    if real.exists():
        os.environ["VAEGAN_APP_DATA"] = str(real)
    print(f"shipped checkpoints; test digits: {real if real.exists() else 'model samples'}; "
          f"{os.cpu_count()} cores, one torch thread; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if args.part in ("all", "directions"):
        print_table("Principal-direction slider (target <= 150 ms)", direction_table(args.repeats))
    if args.part in ("all", "gap"):
        print_table("Gap panel (target <= 2 s for the MLP VAE at K = 1,000)", gap_table(args.repeats))
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
