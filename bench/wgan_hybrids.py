"""Where a generator's precision goes: the digits the classifier is unsure of (hybrids of two classes) against the
rest, beside real held-out digits scored the same way.

    python bench/wgan_hybrids.py                                   # the shipped generator, 8 evaluation seeds
    python bench/wgan_hybrids.py --ckpt a.safetensors --ckpt b.safetensors --seeds 4 --threshold 0.8

Each seed draws what `vaegan eval wgan --seed S` draws: n generated digits, a reference half of the held-out
digits and, as the baseline, the other half (the real-vs-real floor). `vaegan.metrics.precision_by_confidence`
splits each set's precision at the classifier's top softmax probability (`--threshold`). The last column is what
the ambiguous share costs: share x (precision of the confident - precision of the ambiguous), the precision the set
would gain if its ambiguous images scored like its confident ones. Rows are means over the seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch

from vaegan.checkpoint import load_model
from vaegan.data import load_rgb32
from vaegan.errors import VaeganError
from vaegan.metrics import generated_images, precision_by_confidence, split_halves
from vaegan.runtime import cpu_model

HELD_OUT = "../shared/data/mnist_test.npz@8000:10000"
MAX_SEEDS = 64


def split_row(classifier, reference: torch.Tensor, images: torch.Tensor, threshold: float) -> dict[str, float]:  # noqa: ANN001
    split = precision_by_confidence(classifier, reference, images, threshold=threshold)
    confident, ambiguous = split["precision_confident"], split["precision_ambiguous"]
    cost = split["ambiguous_share"] * (confident - ambiguous) if None not in (confident, ambiguous) else 0.0
    return {**split, "cost": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", action="append", help="WGAN generator files (default: the shipped one)")
    parser.add_argument("--holdout", default=HELD_OUT)
    parser.add_argument("--classifier", default="checkpoints/classifier.safetensors")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=8, help=f"evaluation seeds averaged (at most {MAX_SEEDS})")
    parser.add_argument("--threshold", type=float, default=0.9, help="top softmax probability below which a "
                        "digit counts as ambiguous")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if not 1 <= args.seeds <= MAX_SEEDS:
        sys.exit(f"--seeds must lie in 1..{MAX_SEEDS}, got {args.seeds}")
    torch.set_num_threads(args.threads)
    try:
        classifier = load_model(args.classifier, kind="digit-classifier")
        real = load_rgb32(args.holdout).images
        paths = args.ckpt or ["checkpoints/wgan.safetensors"]
        generators = {path: load_model(path, kind="wgan-generator") for path in paths}
        rows: dict[str, list[dict[str, float]]] = {"real vs real (baseline)": []}
        rows.update({path: [] for path in generators})
        for seed in range(args.seeds):
            reference, floor = split_halves(real, args.n, seed)
            rows["real vs real (baseline)"].append(split_row(classifier, reference, floor, args.threshold))
            for path, generator in generators.items():
                images = generated_images(generator, generator.latent_dim, args.n, seed)
                rows[path].append(split_row(classifier, reference, images, args.threshold))
    except VaeganError as error:
        sys.exit(str(error))

    print(f"Precision split by the classifier's confidence (ambiguous: top probability < {args.threshold}), "
          f"n={args.n}, mean of {args.seeds} evaluation seeds, held-out {args.holdout}; {cpu_model()}\n")  # fmt: skip
    header = ["set", "precision", "ambiguous share", "precision of the confident", "precision of the ambiguous", "cost"]
    print("| " + " | ".join(header) + " |\n|---|" + "---:|" * (len(header) - 1))
    for name, seeds in rows.items():

        def mean(key: str, seeds: list[dict[str, float]] = seeds) -> str:
            values = [row[key] for row in seeds if row[key] is not None]
            return f"{statistics.mean(values):.3f}" if values else "-"

        cells = [mean(key) for key in ("precision", "ambiguous_share", "precision_confident",
                                       "precision_ambiguous", "cost")]  # fmt: skip
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
