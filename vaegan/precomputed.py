"""The app's first-visit numbers, computed once ahead of time so that no visitor waits for them.

Scoring the VAE's reference digits, measuring -ELBO and log p(x) on test digits and scoring both models on the "VAE
vs GAN" page take seconds to a minute on a CPU. A Space sleeps and cold-starts often, so `vaegan app precompute`
computes them once (at image build time, or locally) and writes one JSON file per number into
`results/precomputed/`. The pages ask `NumberStore.remember`, which returns a stored value when one was computed on
the same inputs, and computes it (as before) otherwise.

The key of a stored value is a fingerprint of everything it depends on: the models' weights (every parameter and
buffer, so a changed model file is scored again), the input tensors' bytes and the settings. Values never go stale:
other inputs give another fingerprint, and the page computes afresh.

The settings the pages use on a first visit live here too, so that the precompute command and the pages ask for
exactly the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vaegan.classifier import classifier_features
from vaegan.compare import compare_models, comparison_images
from vaegan.errors import ConfigError
from vaegan.fidelity import fidelity_report
from vaegan.latent import DirectionLesson, PrincipalDirections, lesson_directions
from vaegan.latent import direction_lesson as latent_direction_lesson
from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo, sample_binary_digits, score_digits
from vaegan.storage import atomic_write_bytes
from vaegan.version import __version__

FORMAT = "vaegan-precomputed"
FOLDER = "precomputed"  # under the results folder

# What the VAE page shows on a first visit.
REFERENCE_N = 300  # test digits (or model samples) in the reference histograms of a drawn digit
DRAW_K = {"mlp": 100, "conv": 10}  # importance samples per digit there, by architecture (a conv decoder costs more)
KL_N = 2000  # digits whose per-dimension KL ranks the latent dims
MEASURE_N = 500  # test digits of the live -ELBO / log p(x) measurement (its default)
MEASURE_K = 50  # importance samples there (its default)
# What the "VAE vs GAN" page scores: n samples of each model against n held-out digits, at this seed.
COMPARE_N = 1000
COMPARE_SEED = 0
SHUFFLE_SEED = 0  # the one fixed shuffle of the test digits (some files group them by class)


def fixed_shuffle(digits: torch.Tensor) -> torch.Tensor:
    """The test digits in one fixed random order, so that "the first n" is a fair sample of the test set."""
    return digits[torch.randperm(digits.shape[0], generator=torch.Generator().manual_seed(SHUFFLE_SEED))]


def draw_k(arch: str) -> int:
    """Importance samples for a drawn digit's log p(x) (and its reference digits) with this decoder."""
    return DRAW_K.get(arch, min(DRAW_K.values()))


def compare_n(available: int) -> int:
    """Samples per model on the "VAE vs GAN" page: COMPARE_N, fewer when the held-out set is smaller."""
    return min(COMPARE_N, available // 2)


def _feed(digest: Any, part: object) -> None:
    if isinstance(part, nn.Module):
        for name, tensor in [*part.named_parameters(), *part.named_buffers()]:
            digest.update(name.encode())
            _feed(digest, tensor)
    elif isinstance(part, torch.Tensor):
        array = part.detach().cpu().contiguous()
        digest.update(f"{array.dtype}{tuple(array.shape)}".encode())
        digest.update(array.reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    digest.update(b"\x00")


def fingerprint(*parts: object) -> str:
    """A short hex digest of models (their weights), tensors (dtype, shape, bytes) and JSON-able settings."""
    digest = hashlib.sha256()
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class NumberStore:
    """Stored first-visit numbers in `folder` (results/precomputed): read by the pages, written by the command."""

    folder: Path

    def path(self, kind: str, key: str) -> Path:
        return self.folder / f"{kind}-{key}.json"

    def get(self, kind: str, key: str) -> Any | None:
        """The stored value, or None when there is none (or the file is not one of ours: it is then ignored)."""
        try:
            record = json.loads(self.path(kind, key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("fingerprint") != key:
            return None
        return record.get("value")

    def put(self, kind: str, key: str, value: Any, seconds: float, described: dict[str, Any]) -> Path:
        record = {"format": FORMAT, "kind": kind, "fingerprint": key, "inputs": described,
                  "seconds": round(seconds, 2), "vaegan": __version__, "value": value}  # fmt: skip
        path = self.path(kind, key)
        atomic_write_bytes(path, (json.dumps(record, indent=1) + "\n").encode())
        return path

    def remember(self, kind: str, inputs: Sequence[object], compute: Callable[[], Any]) -> Any:
        """The value stored for these inputs, else `compute()` (not stored: only the command writes)."""
        found = self.get(kind, fingerprint(kind, *inputs))
        return found if found is not None else compute()


# ------------------------------------------------------------------------------------ the pages' numbers
# Each returns plain lists and floats (JSON as stored, and what st.cache_data copies cheaply).


def reference_digits(vae: nn.Module, digits: torch.Tensor | None, n: int = REFERENCE_N) -> torch.Tensor:
    """The VAE page's reference set: the first n (shuffled) test digits, or n binarized samples of the model."""
    return digits[:n] if digits is not None else sample_binary_digits(vae, n, seed=0)


def kl_digits(vae: nn.Module, digits: torch.Tensor | None, n: int = KL_N) -> torch.Tensor:
    """What ranks the latent dims: n test digits, or n prior samples' Bernoulli means without test digits."""
    return digits[:n] if digits is not None else vae.sample(n, torch.Generator().manual_seed(0))


def _digits_key(digits: torch.Tensor | None, n: int) -> object:
    # Model samples are keyed by how they are drawn, not by their values: those differ in the last bits between
    # CPUs, and the stored numbers (shipped in results/) should be found on every machine.
    return digits[:n] if digits is not None else f"model samples, n={n}, seed=0"


def reference_scores(
    store: NumberStore, vae: nn.Module, digits: torch.Tensor | None, n: int, k: int
) -> dict[str, list[float]]:
    """Per-digit -ELBO and log p(x) (K = k) of the `reference_digits`."""

    def compute() -> dict[str, list[float]]:
        scores = score_digits(vae, reference_digits(vae, digits, n), k)
        return {name: values.tolist() for name, values in scores.items()}

    return store.remember("vae-reference-scores", (vae, _digits_key(digits, n), k), compute)


def kl_per_dim(store: NumberStore, vae: nn.Module, digits: torch.Tensor | None, n: int) -> list[float]:
    """Mean KL(q(z_d|x) ‖ N(0, 1)) per latent dim d over the `kl_digits`."""
    return store.remember("vae-kl-per-dim", (vae, _digits_key(digits, n)),
                          lambda: vae.kl_per_dim(kl_digits(vae, digits, n)).tolist())  # fmt: skip


def measure(store: NumberStore, vae: nn.Module, x: torch.Tensor, k: int) -> tuple[float, float]:
    """(-ELBO, log p(x) at K = k) of the digits x, with the CLI's fixed noise seeds."""
    value = store.remember("vae-measure", (vae, x, k), lambda: [evaluate_neg_elbo(vae, x), evaluate_log_px(vae, x, k)])
    return float(value[0]), float(value[1])


def comparison(
    store: NumberStore, vae: nn.Module, generator: nn.Module, classifier: nn.Module, real: torch.Tensor, n: int,
    seed: int = COMPARE_SEED,
) -> dict[str, Any]:
    """`vaegan.compare.compare_models` of the two models on the held-out images `real`."""
    return store.remember("compare", (vae, generator, classifier, real, n, seed),
                          lambda: compare_models(vae, generator, classifier, real, n=n, seed=seed))


def trust_report(
    store: NumberStore, vae: nn.Module, generator: nn.Module, classifier: nn.Module, real: torch.Tensor, n: int,
    m: int, features: Callable[[], dict[str, torch.Tensor]], seed: int = COMPARE_SEED,
) -> dict[str, Any]:
    """`vaegan.fidelity.fidelity_report` of the first m rows of the compared sets' classifier `features` (a callable,
    called only when nothing is stored: making them generates every sample again)."""

    def compute() -> dict[str, Any]:
        sets = features()
        others = {name: sets[name][:m] for name in ("floor", "vae", "wgan")}
        return json.loads(json.dumps(fidelity_report(sets["reference"][:m], others, seed=seed)))

    return store.remember("trust", (vae, generator, classifier, real, n, m, seed), compute)


def comparison_features(
    vae: nn.Module, generator: nn.Module, classifier: nn.Module, real: torch.Tensor, n: int, seed: int = COMPARE_SEED
) -> dict[str, torch.Tensor]:
    """Classifier features (n, d) of the four sets `compare_models` scores (reference, floor, vae, wgan)."""
    images = comparison_images(vae, generator, real, n=n, seed=seed)
    return {name: classifier_features(classifier, batch) for name, batch in images.items()}


def _directions_to_json(pcs: PrincipalDirections) -> dict[str, Any]:
    return {"directions": pcs.directions.tolist(), "variance": pcs.variance.tolist(), "scores": pcs.scores.tolist(),
            "method": pcs.method}  # fmt: skip


def _directions_from_json(data: dict[str, Any]) -> PrincipalDirections:
    return PrincipalDirections(torch.tensor(data["directions"]), torch.tensor(data["variance"]),
                               torch.tensor(data["scores"]), data["method"])  # fmt: skip


def principal_directions(store: NumberStore, generator: nn.Module) -> PrincipalDirections:
    """The Latent page's principal directions of the generator (`vaegan.latent.lesson_directions`)."""
    data = store.remember("latent-directions", (generator,),
                          lambda: _directions_to_json(lesson_directions(generator)[1]))  # fmt: skip
    return _directions_from_json(data)


def _lesson_json(generator: nn.Module, classifier: nn.Module) -> dict[str, Any]:
    lesson = latent_direction_lesson(generator, classifier)
    return {"directions": _directions_to_json(lesson.directions), "direction_share": lesson.direction_share.tolist(),
            "axis_share": lesson.axis_share.tolist(), "eps": list(lesson.eps), "n": lesson.n}  # fmt: skip


def direction_lesson(store: NumberStore, generator: nn.Module, classifier: nn.Module) -> DirectionLesson:
    """The Latent page's directions against single axes (`vaegan.latent.direction_lesson`)."""
    data = store.remember("latent-lesson", (generator, classifier), lambda: _lesson_json(generator, classifier))
    return DirectionLesson(_directions_from_json(data["directions"]), torch.tensor(data["direction_share"]),
                           torch.tensor(data["axis_share"]), tuple(data["eps"]), int(data["n"]))  # fmt: skip


# ------------------------------------------------------------------------------------------- the command


@dataclass(frozen=True)
class Written:
    kind: str
    model: str
    seconds: float
    path: Path


def precompute_app_numbers(
    store: NumberStore,
    vaes: dict[str, nn.Module],
    digits: torch.Tensor | None,
    *,
    generator: nn.Module | None = None,
    classifier: nn.Module | None = None,
    held_out: torch.Tensor | None = None,
    on_written: Callable[[Written], None] | None = None,
) -> list[Written]:
    """Compute and store every first-visit number of the VAE and "VAE vs GAN" pages for these models.

    `vaes` maps a name (shown in the report) to each VAE; `digits` are the binarized test digits (N, 784) the app
    reads (None: the pages fall back to the model's samples, and so does this); `held_out` are the "VAE vs GAN"
    page's images (N, 3, 32, 32) in [-1, 1], needed with the generator and the classifier to score that page.
    """
    from vaegan.data import to_rgb32  # the data package is heavy and only this command needs it here

    if digits is not None and digits.shape[0] == 0:
        raise ConfigError("no test digits to precompute on")
    shuffled = fixed_shuffle(digits) if digits is not None else None
    if held_out is None and shuffled is not None:
        held_out = to_rgb32(shuffled.view(-1, 28, 28))
    written: list[Written] = []

    def run(kind: str, name: str, inputs: Iterable[object], compute: Callable[[], Any], described: dict) -> None:
        inputs = tuple(inputs)
        started = time.perf_counter()
        value = compute()
        seconds = time.perf_counter() - started
        path = store.put(kind, fingerprint(kind, *inputs), value, seconds, {"model": name, **described})
        written.append(Written(kind, name, seconds, path))
        if on_written is not None:
            on_written(written[-1])

    if generator is not None:
        run("latent-directions", "generator", (generator,), lambda: _directions_to_json(
            lesson_directions(generator)[1]), {})  # fmt: skip
        if classifier is not None:
            run("latent-lesson", "generator", (generator, classifier),
                lambda: _lesson_json(generator, classifier), {})  # fmt: skip
    with torch.no_grad():
        for name, vae in vaes.items():
            source = "test digits" if shuffled is not None else "model samples"
            k = draw_k(vae.config.arch)
            run("vae-reference-scores", name, (vae, _digits_key(shuffled, REFERENCE_N), k),
                lambda vae=vae, k=k: reference_scores(store, vae, shuffled, REFERENCE_N, k),
                {"n": REFERENCE_N, "k": k, "digits": source})  # fmt: skip
            run("vae-kl-per-dim", name, (vae, _digits_key(shuffled, KL_N)),
                lambda vae=vae: kl_per_dim(store, vae, shuffled, KL_N), {"n": KL_N, "digits": source})  # fmt: skip
            if shuffled is not None:
                x = shuffled[: min(MEASURE_N, shuffled.shape[0])]
                run("vae-measure", name, (vae, x, MEASURE_K),
                    lambda vae=vae, x=x: [evaluate_neg_elbo(vae, x), evaluate_log_px(vae, x, MEASURE_K)],
                    {"n": x.shape[0], "k": MEASURE_K})  # fmt: skip
            if generator is not None and classifier is not None and held_out is not None and held_out.shape[0] >= 4:
                n = compare_n(held_out.shape[0])
                run("compare", name, (vae, generator, classifier, held_out, n, COMPARE_SEED),
                    lambda vae=vae, n=n: compare_models(vae, generator, classifier, held_out, n=n, seed=COMPARE_SEED),
                    {"n": n, "seed": COMPARE_SEED})  # fmt: skip
                run("trust", name, (vae, generator, classifier, held_out, n, n, COMPARE_SEED),
                    lambda vae=vae, n=n: trust_report(store, vae, generator, classifier, held_out, n, n,
                                                      lambda: comparison_features(vae, generator, classifier,
                                                                                  held_out, n)),
                    {"n": n, "m": n, "seed": COMPARE_SEED})  # fmt: skip
    return written
