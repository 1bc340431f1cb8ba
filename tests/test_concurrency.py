"""Concurrent app sessions: the pages share their models (`st.cache_resource`), so every library call a page makes
on a model must be safe from many threads at once.

Every model-touching call of every page (Home, Samples, Latent space, Interpolation, VAE, Divergences) runs first
serially, then from 16 threads at once, each call many times in a shuffled order; the outputs must be identical,
bit for bit. While the threads run, nothing may write a shared model's `training` flag (a mode flip in one thread
changes what BatchNorm does in another's forward pass), the global torch RNG must not move (a page that drew from
it would show another session's numbers) and no shared parameter may change.

What this found: `eval_mode` wrote every module's mode on entry and exit, even on a model already in eval mode,
and the VAE page's `DecodedImages(vae)` wrapper started in training mode, so `eval_mode` on it left the *shared*
VAE in training mode after the first traversal. Both are fixed (`vaegan.runtime.eval_mode` switches only modules
that are training; `DecodedImages` takes the VAE's mode). Building a critic ensemble (the Divergences page's "train
your own critics") drew its throw-away initial weights from the global torch RNG; it now uses a private stream.
And a thread that has not set torch's intra-op thread count computes matrix products that differ in the last bit
from another thread's: every page run sets it (`demo.common.inference_only`), and so do the threads here.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from torch import nn

from vaegan.checkpoint import load_model, save_model
from vaegan.classifier import ClassifierConfig, DigitClassifier, label_images, predict_digits
from vaegan.divergences import SweepConfig, run_sweep, theta_range
from vaegan.images import png_bytes, unit_to_signed
from vaegan.latent import (
    generate,
    interpolate_latent,
    interpolation_rows,
    perturbation_strip,
    rank_latent_dims,
    sample_latents,
    semantic_rank,
)
from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo
from vaegan.vae import VAE, DecodedImages, VAEConfig, neg_elbo
from vaegan.wgan import Generator, WGANConfig

THREADS = 16
REPEATS = 2  # each call this many times in the concurrent phase

Call = Callable[[], object]


def lively_generator() -> Generator:
    """A tiny generator whose images vary (as in tests/test_app.py), with BatchNorm: the layer a mode flip breaks."""
    generator = Generator(WGANConfig(latent_dim=16, width=8))
    with torch.no_grad():
        for module in generator.modules():
            if isinstance(module, torch.nn.ConvTranspose2d):
                module.weight.mul_(4.0)
    return generator


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, nn.Module]:
    """The models as the app holds them: loaded once from files (eval mode, checkpoint_info) and then shared."""
    folder: Path = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    save_model(lively_generator(), folder / "wgan.safetensors")
    classifier = DigitClassifier(ClassifierConfig(width=4, feature_dim=8))
    with torch.no_grad():  # non-trivial batch-norm statistics, so that train-mode BatchNorm would give other digits
        classifier.train()(torch.rand(64, 3, 32, 32) * 2 - 1)
    save_model(classifier, folder / "classifier.safetensors")
    save_model(VAE(VAEConfig(latent_dim=8, hidden=32)), folder / "vae.safetensors")
    return {
        "generator": load_model(folder / "wgan.safetensors", kind="wgan-generator"),
        "classifier": load_model(folder / "classifier.safetensors", kind="digit-classifier"),
        "vae": load_model(folder / "vae.safetensors", kind="vae"),
    }


def page_calls(models: dict[str, nn.Module]) -> dict[str, Call]:
    """Every library call the pages make on a shared model, with the arguments a page would pass."""
    generator, classifier, vae = models["generator"], models["classifier"], models["vae"]
    latent_dim = generator.latent_dim
    strip_eps = [float(e) for e in range(-5, 5)]
    digits = (torch.rand(300, 784, generator=torch.Generator().manual_seed(1)) < 0.2).float()

    def z(seed: int, index: int = 0) -> torch.Tensor:
        return sample_latents(8, latent_dim, seed)[index]

    def edited() -> torch.Tensor:
        moved = z(3, 2).clone()
        moved[4] += 2.5
        return generate(generator, moved[None])

    tiny_sweep = SweepConfig(thetas=theta_range(0.0, 2.0, 3), iters=10, eval_size=256, snapshot_eval_size=128,
                             heatmap_thetas=(1.0,), heatmap_every=5, heatmap_size=7)  # fmt: skip

    def sweep() -> list[float]:
        result = run_sweep(tiny_sweep)
        return [v for name in tiny_sweep.divergences for v in result.estimates[name]]

    return {
        # Home
        "home strip": lambda: generate(generator, sample_latents(12, latent_dim, seed=2024)),
        # Samples
        "samples grid": lambda: generate(generator, sample_latents(36, latent_dim, 5)),
        "samples digits": lambda: predict_digits(classifier, generate(generator, sample_latents(36, latent_dim, 5))),
        "samples png": lambda: png_bytes(generate(generator, sample_latents(16, latent_dim, 7))),
        # Latent space
        "latent candidates": lambda: generate(generator, sample_latents(8, latent_dim, 3)),
        "latent ranking": lambda: rank_latent_dims(generator, z(3, 2)),
        "latent edit": edited,
        "latent strip": lambda: perturbation_strip(generator, z(3, 2), [4], strip_eps),
        "latent strip labels": lambda: label_images(
            classifier, perturbation_strip(generator, z(3, 2), [4], strip_eps)[0]
        ),
        "latent semantic": lambda: semantic_rank(generator, classifier, z(3, 2)[None], [e for e in strip_eps if e]),
        # Interpolation
        "interpolation": lambda: interpolation_rows(generator, z(0), z(1), 9, "slerp"),
        "interpolation norms": lambda: interpolate_latent(z(0), z(1), 9, "lerp").norm(dim=-1),
        # VAE
        "vae reconstructions": lambda: unit_to_signed(vae.reconstruct(digits[:16])),
        "vae -elbo of shown": lambda: neg_elbo(vae, digits[:16], rng=torch.Generator().manual_seed(0)),
        "vae prior samples": lambda: vae.sample(32, torch.Generator().manual_seed(2)),
        "vae kl per dim": lambda: vae.kl_per_dim(digits),
        "vae traversal": lambda: perturbation_strip(DecodedImages(vae), vae.encode(digits[3:4])[0][0], [0, 1],
                                                    [-3.0, 0.0, 3.0]),  # fmt: skip
        "vae -elbo": lambda: evaluate_neg_elbo(vae, digits[:100]),
        "vae log p(x)": lambda: evaluate_log_px(vae, digits[:100], 10),
        # Divergences ("train your own critics")
        "divergences sweep": sweep,
    }


def same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (tuple, list)):
        return isinstance(b, type(a)) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_every_page_call_gives_the_serial_result_from_many_threads_at_once(
    shared: dict[str, nn.Module], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.set_grad_enabled(False)  # what demo.common.inference_only does in every page run (per thread)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the app's VAEGAN_APP_THREADS default; 16 threads x torch's pool would only thrash
    try:
        _run_concurrently(shared, monkeypatch)
    finally:
        torch.set_num_threads(threads)
        torch.set_grad_enabled(True)


def _run_concurrently(shared: dict[str, nn.Module], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = page_calls(shared)
    serial = {name: call() for name, call in calls.items()}
    weights = {name: {k: v.clone() for k, v in model.state_dict().items()} for name, model in shared.items()}

    # Record every write of a shared module's `training` flag, from any thread (nn.Module.train and direct
    # assignment both go through __setattr__).
    shared_modules = {id(m) for model in shared.values() for m in model.modules()}
    writes: list[str] = []
    original_setattr = nn.Module.__setattr__

    def recording_setattr(self: nn.Module, name: str, value: object) -> None:
        if name == "training" and id(self) in shared_modules:
            writes.append(f"{type(self).__name__}.training = {value} in {threading.current_thread().name}")
        original_setattr(self, name, value)

    monkeypatch.setattr(nn.Module, "__setattr__", recording_setattr)
    rng_before = torch.get_rng_state()

    jobs = [name for name in calls for _ in range(REPEATS)]
    random.Random(0).shuffle(jobs)
    start = threading.Barrier(THREADS)

    def run(index: int) -> tuple[str, object]:
        # What demo.common.inference_only does at the start of every page run, in that run's thread: grad mode and
        # the intra-op thread count are per thread. A thread left at torch's default count (OpenMP's, 2 here) runs
        # its matrix products with another blocking and rounds differently in the last bit.
        torch.set_grad_enabled(False)
        torch.set_num_threads(1)
        if index < THREADS:  # the first wave (one job per pool thread) starts together
            start.wait(timeout=60)
        return jobs[index], calls[jobs[index]]()

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, range(len(jobs))))

    monkeypatch.undo()
    assert not writes, f"shared models had their mode written while serving: {writes[:5]}"
    assert torch.equal(torch.get_rng_state(), rng_before), "a page call drew from the global torch RNG"
    different = sorted({name for name, value in results if not same(value, serial[name])})
    assert not different, f"these calls gave other results when run concurrently: {different}"
    for name, model in shared.items():
        assert not any(m.training for m in model.modules()), f"the shared {name} was left in training mode"
        for key, value in model.state_dict().items():
            assert torch.equal(value, weights[name][key]), f"the shared {name}'s {key} changed"
