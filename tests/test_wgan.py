"""WGAN-GP: shapes, the gradient penalty against independent computations, the two steps, EMA, exact resume."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import REPO_ROOT
from vaegan.checkpoint import load_model, load_state, read_info, save_model
from vaegan.data import ImageSet, load_rgb32
from vaegan.errors import ConfigError, TrainingError
from vaegan.lipschitz import interpolate
from vaegan.train.wgan import RealBatches, WGANTrainConfig, train_wgan
from vaegan.wgan import (
    Critic,
    Generator,
    StepOptions,
    WGANConfig,
    critic_step,
    ema_decay,
    generator_step,
    gradient_penalty,
    joint_step,
    top_k_share,
    update_ema,
)

TINY = WGANConfig(latent_dim=16, width=8)


def tiny_images(n: int = 48, seed: int = 0) -> ImageSet:
    """Blurry random blobs in [-1, 1]: enough structure for a few training steps, no data files needed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.rand(n, 3, 32, 32, generator=g), 5, 1, 2) * 2 - 1
    return ImageSet(images=x, labels=None, name=f"blobs{n}")


# ---------------------------------------------------------------------------------------------- models


@pytest.mark.parametrize("width", [4, 8])
def test_shapes_and_range(width: int) -> None:
    config = WGANConfig(latent_dim=10, width=width)
    generator, critic = Generator(config), Critic(config)
    images = generator(torch.randn(5, 10))
    assert images.shape == (5, 3, 32, 32)
    assert images.min() >= -1 and images.max() <= 1
    assert critic(images).shape == (5,)
    # width scales the layers: the 16x16 block has `width` channels
    assert generator.net[6].out_channels == width and critic.net[0].out_channels == width


def test_critic_width_sets_the_critic_alone_and_round_trips(tmp_path: Path) -> None:
    config = WGANConfig(latent_dim=10, width=4, critic_width=12)
    generator, critic = Generator(config), Critic(config)
    assert generator.net[6].out_channels == 4 and critic.net[0].out_channels == 12
    assert critic.net[4].out_channels == 48  # the 4x4 block: 4 x critic_width
    assert critic(generator(torch.randn(3, 10))).shape == (3,)
    loaded = load_model(save_model(generator, tmp_path / "g.safetensors"), kind="wgan-generator")
    assert loaded.config == config
    with pytest.raises(ConfigError, match="critic_width"):
        WGANConfig(critic_width=0)


def test_critic_has_no_batchnorm_and_generator_does() -> None:
    assert not any(isinstance(m, nn.BatchNorm2d) for m in Critic(TINY).modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in Generator(TINY).modules()) == 3


def test_features_then_rest_is_the_generator() -> None:
    generator = Generator(TINY).eval()
    z = torch.randn(4, 16)
    for layer in (0, 1, 2):
        h = generator.features(z, layer)
        assert h.shape[-1] == 4 * 2**layer
        torch.testing.assert_close(generator.from_features(h, layer), generator(z))
    with pytest.raises(ConfigError):
        generator.features(z, 3)


def test_bad_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        WGANConfig(width=0)


@pytest.mark.parametrize("half", [False, True])
def test_export_roundtrip(tmp_path: Path, half: bool) -> None:
    generator = Generator(TINY).eval()
    path = save_model(generator, tmp_path / "g.safetensors", dataset="blobs", steps=3, half=half)
    loaded = load_model(path, kind="wgan-generator")
    assert loaded.config == TINY and read_info(path).dataset == "blobs"
    z = torch.randn(3, 16)
    torch.testing.assert_close(loaded(z), generator(z), atol=2e-2 if half else 0, rtol=0)


# ------------------------------------------------------------------------------------ gradient penalty


class LinearCritic(nn.Module):
    """f(x) = <w, x>: the gradient is w at every point, so the penalty is (||w|| - 1)^2 in closed form."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


class SquareCritic(nn.Module):
    """f(x) = ||x||^2 / 2: the gradient at x_hat is x_hat itself, so the penalty is mean_i (||x_hat_i|| - 1)^2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).flatten(1).sum(1)


def test_penalty_of_a_linear_critic_is_closed_form() -> None:
    w = torch.randn(3, 32, 32) * 0.01
    real, fake = torch.randn(6, 3, 32, 32), torch.randn(6, 3, 32, 32)
    expected = (w.norm() - 1.0) ** 2
    torch.testing.assert_close(gradient_penalty(LinearCritic(w), real, fake), expected)


def test_penalty_uses_one_coefficient_and_one_norm_per_sample() -> None:
    real, fake = torch.randn(7, 3, 32, 32) * 0.02, torch.randn(7, 3, 32, 32) * 0.02
    torch.manual_seed(123)
    penalty = gradient_penalty(SquareCritic(), real, fake)
    torch.manual_seed(123)
    alpha = torch.rand(7)  # the same draw, made independently: ONE coefficient per sample
    expected = torch.stack(
        [((alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).norm() - 1.0) ** 2 for i in range(7)]
    ).mean()
    torch.testing.assert_close(penalty, expected)
    # The reference's per-channel norm would give a different number here: the test can tell the two apart.
    x_hat = alpha.view(-1, 1, 1, 1) * real + (1 - alpha.view(-1, 1, 1, 1)) * fake
    per_channel = ((x_hat.flatten(2).norm(dim=2) - 1.0) ** 2).mean()
    assert not torch.allclose(per_channel, expected)


def test_interpolate_lies_on_the_segment_with_one_coefficient_per_sample() -> None:
    real, fake = torch.randn(5, 3, 32, 32), torch.randn(5, 3, 32, 32)
    x_hat = interpolate(real, fake, torch.rand(5, 1, 1, 1))
    ratio = (x_hat - fake) / (real - fake)  # = alpha_i at every element of sample i
    spread = ratio.flatten(1).max(1).values - ratio.flatten(1).min(1).values
    assert spread.max() < 1e-3
    assert ((ratio.flatten(1)[:, 0] > 0) & (ratio.flatten(1)[:, 0] < 1)).all()


def test_penalty_of_the_real_critic_matches_a_per_sample_loop() -> None:
    critic = Critic(TINY)
    real, fake = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    torch.manual_seed(5)
    penalty = gradient_penalty(critic, real, fake)
    torch.manual_seed(5)
    alpha = torch.rand(4)
    terms = []
    for i in range(4):  # one image at a time: no batching tricks involved
        x = (alpha[i] * real[i] + (1 - alpha[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x).sum(), x)
        terms.append((grad.norm() - 1.0) ** 2)
    torch.testing.assert_close(penalty, torch.stack(terms).mean())


def test_penalty_is_differentiable_in_the_critic_weights() -> None:
    critic = LinearCritic(torch.full((3, 32, 32), 0.02))
    gradient_penalty(critic, torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)).backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    w = critic.w.detach()
    torch.testing.assert_close(critic.w.grad, 2 * (w.norm() - 1) * w / w.norm())


# ------------------------------------------------------------------------------------------------ steps


def _players() -> tuple[Generator, Critic, torch.optim.Optimizer, torch.optim.Optimizer]:
    torch.manual_seed(0)
    generator, critic = Generator(TINY), Critic(TINY)
    return (
        generator,
        critic,
        torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.9)),
        torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9)),
    )


def test_critic_step_updates_only_the_critic_and_reports_its_loss() -> None:
    generator, critic, _, opt_c = _players()
    g_before = [p.clone() for p in generator.parameters()]
    c_before = [p.clone() for p in critic.parameters()]
    real = tiny_images(8).images
    stats = critic_step(generator, critic, opt_c, real, StepOptions(gp_weight=10.0))
    assert all(torch.equal(a, b) for a, b in zip(g_before, generator.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(c_before, critic.parameters(), strict=True))
    torch.testing.assert_close(stats.loss, -stats.wasserstein + 10.0 * stats.penalty)


def test_a_lazy_step_skips_the_penalty_and_a_weighted_one_scales_it() -> None:
    real = tiny_images(8).images
    generator, critic, _, opt_c = _players()
    stats = critic_step(generator, critic, opt_c, real, StepOptions(gp_weight=10.0), penalty_weight=0.0)
    assert torch.isnan(stats.penalty) and torch.equal(stats.loss, -stats.wasserstein)
    generator, critic, _, opt_c = _players()
    stats = critic_step(generator, critic, opt_c, real, StepOptions(gp_weight=10.0), penalty_weight=40.0)
    torch.testing.assert_close(stats.loss, -stats.wasserstein + 40.0 * stats.penalty)


def test_lazy_training_applies_the_penalty_every_kth_critic_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaegan.train import wgan as loop

    weights: list[float] = []
    real_step = loop.critic_step

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        weights.append(args[6])
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "critic_step", spy)
    train_wgan(TINY, tiny_images(16), WGANTrainConfig(iters=3, batch_size=8, n_critic=2, gp_every=4, gp_weight=10.0))
    assert weights == [40.0, 0.0, 0.0, 0.0, 40.0, 0.0]


def test_the_generator_step_leaves_no_gradient_on_the_critic() -> None:
    generator, critic, opt_g, _ = _players()
    generator_step(generator, critic, opt_g, 8, torch.device("cpu"))
    assert all(p.grad is None and p.requires_grad for p in critic.parameters())


def test_recipes_and_overrides() -> None:
    from vaegan.train.wgan import RECIPES, recipe

    model, train = recipe("reference", iters=10)
    assert model.width == 64 and train.n_critic == 5 and train.gp_every == 1 and train.iters == 10
    model, train = recipe("fast", width=8, n_critic=None)  # None keeps the recipe's value
    assert model.width == 8 and train.n_critic == RECIPES["fast"]["train"]["n_critic"]
    with pytest.raises(ConfigError, match="unknown recipe"):
        recipe("magic")
    with pytest.raises(ConfigError, match="unknown WGAN settings"):
        recipe("fast", colour=1)


def test_fused_critic_batch_equals_separate_passes() -> None:
    results = []
    for fused in (True, False):
        generator, critic, _, _ = _players()
        frozen = torch.optim.SGD(critic.parameters(), lr=0.0)  # keeps the gradients for comparison
        torch.manual_seed(1)
        stats = critic_step(generator, critic, frozen, tiny_images(8).images, StepOptions(fused_critic_batch=fused))
        results.append((stats, [p.grad.clone() for p in critic.parameters()]))
    (a, pa), (b, pb) = results
    torch.testing.assert_close(a.loss, b.loss, atol=1e-5, rtol=1e-5)
    for x, y in zip(pa, pb, strict=True):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4)


def test_channels_last_step_computes_the_same_gradients() -> None:
    grads = []
    for channels_last in (False, True):
        generator, critic, _, _ = _players()
        options = StepOptions(channels_last=channels_last)
        generator, critic = (m.to(memory_format=options.memory_format) for m in (generator, critic))
        frozen = torch.optim.SGD(critic.parameters(), lr=0.0)
        torch.manual_seed(1)
        real = tiny_images(8).images.contiguous(memory_format=options.memory_format)
        critic_step(generator, critic, frozen, real, options)
        grads.append([p.grad.clone() for p in critic.parameters()])
    for x, y in zip(*grads, strict=True):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_mixed_precision_steps_track_fp32(dtype: torch.dtype) -> None:
    """Autocast (bf16, or fp16 with a loss scaler) gives finite losses close to fp32's over a few steps."""
    losses = {}
    for precision in (None, dtype):
        generator, critic, _, opt_c = _players()
        scaler = torch.amp.GradScaler("cpu") if precision == torch.float16 else None
        torch.manual_seed(3)
        real = tiny_images(8).images
        losses[precision] = [
            critic_step(generator, critic, opt_c, real, StepOptions(autocast_dtype=precision), scaler).loss
            for _ in range(3)
        ]
    for a, b in zip(losses[None], losses[dtype], strict=True):
        assert torch.isfinite(b) and abs(a - b) < 0.02 * abs(a) + 0.02


def test_generator_step_updates_only_the_generator_and_reports_minus_the_mean_score() -> None:
    generator, critic, opt_g, _ = _players()
    before = copy.deepcopy(generator)
    c_before = [p.clone() for p in critic.parameters()]
    torch.manual_seed(2)
    expected = -critic(before(torch.randn(16, 16))).mean()  # the same z, drawn independently
    torch.manual_seed(2)
    loss = generator_step(generator, critic, opt_g, 16, torch.device("cpu"))
    torch.testing.assert_close(loss, expected.detach())
    assert all(torch.equal(a, b) for a, b in zip(c_before, critic.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(before.parameters(), generator.parameters(), strict=True))


def test_a_joint_step_is_a_critic_step_and_a_generator_step_against_the_critic_before_it() -> None:
    """Simultaneous updates: the critic moves as `critic_step` moves it, the generator as `generator_step` moves it
    against the critic as it was before the step, both on the same z (plain SGD, so the sign flip is visible)."""
    torch.manual_seed(0)
    generator, critic = Generator(TINY), Critic(TINY)
    ref_generator, ref_critic, critic_before = copy.deepcopy(generator), copy.deepcopy(critic), copy.deepcopy(critic)
    real = tiny_images(16).images

    def sgd(module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.SGD(module.parameters(), lr=0.05)

    torch.manual_seed(3)
    stats, g_loss = joint_step(generator, critic, sgd(generator), sgd(critic), real, penalty_weight=10.0)
    torch.manual_seed(3)  # z, then the penalty's coefficients: the draws of the joint step, in its order
    expected = critic_step(copy.deepcopy(ref_generator), ref_critic, sgd(ref_critic), real, penalty_weight=10.0)
    torch.manual_seed(3)
    expected_g_loss = generator_step(ref_generator, critic_before, sgd(ref_generator), 16, torch.device("cpu"))
    torch.testing.assert_close(stats.loss, expected.loss)
    torch.testing.assert_close(stats.penalty, expected.penalty)
    torch.testing.assert_close(g_loss, expected_g_loss)
    for moved, reference in ((critic, ref_critic), (generator, ref_generator)):
        for a, b in zip(moved.parameters(), reference.parameters(), strict=True):
            torch.testing.assert_close(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(generator.parameters(), Generator(TINY).parameters(),
                                                     strict=True))  # fmt: skip


def test_simultaneous_training_runs_resumes_exactly_and_needs_one_critic_step(tmp_path: Path) -> None:
    data = tiny_images(40)
    config = WGANTrainConfig(iters=5, batch_size=8, n_critic=1, gp_every=2, simultaneous=True, checkpoint_every=2)
    full = train_wgan(TINY, data, config, run_dir=tmp_path / "full")

    def crash_at_3(report) -> None:  # noqa: ANN001 - Progress
        if report.event == "step" and report.done == 3:
            raise _SimulatedCrashError

    with pytest.raises(_SimulatedCrashError):
        train_wgan(TINY, data, config, run_dir=tmp_path / "cut", on_progress=crash_at_3)
    resumed = train_wgan(TINY, data, config, run_dir=tmp_path / "cut", resume=True)
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    alternating = train_wgan(TINY, data, WGANTrainConfig(iters=5, batch_size=8, n_critic=1, gp_every=2))
    first_layer = "generator.net.0.weight"
    assert not torch.equal(_weights(alternating)[first_layer], a[first_layer])  # it is another update rule
    for bad in ({"n_critic": 2}, {"top_k": 0.5}, {"precision": "bf16"}):
        with pytest.raises(ConfigError, match="simultaneous"):
            WGANTrainConfig(simultaneous=True, **{"n_critic": 1, **bad})
    assert "simultaneous" not in WGANTrainConfig().numerics()  # states written before it existed still resume


def test_a_top_k_generator_step_scores_only_the_best_fakes() -> None:
    generator, critic, opt_g, _ = _players()
    before = copy.deepcopy(generator)
    torch.manual_seed(2)
    scores = critic(before(torch.randn(16, 16))).detach()  # the same z, drawn independently
    best_five = -scores.sort(descending=True).values[:5].mean()
    torch.manual_seed(2)
    loss = generator_step(generator, critic, opt_g, 16, torch.device("cpu"), keep=5)
    torch.testing.assert_close(loss, best_five)
    assert loss < -scores.mean()  # the kept fakes are the critic's favourites: minus their mean is lower


def test_the_top_k_share_falls_per_epoch_to_its_floor_and_one_switches_it_off() -> None:
    assert top_k_share(0, 0.5) == 1.0 and top_k_share(1, 0.5) == pytest.approx(0.99)
    assert top_k_share(10, 0.5) == pytest.approx(0.99**10) and top_k_share(500, 0.5) == 0.5
    assert all(top_k_share(epoch, 1.0) == 1.0 for epoch in (0, 7, 10**4))
    for share in (0.0, 1.5, -0.1):
        with pytest.raises(ConfigError, match="top_k"):
            WGANTrainConfig(top_k=share)
    # Plain runs keep their identity: states written before the setting existed still resume.
    assert "top_k" not in WGANTrainConfig().numerics() and "top_k" in WGANTrainConfig(top_k=0.5).numerics()


def test_top_k_training_keeps_the_best_fakes_in_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    kept: list[int | None] = []
    real_step = generator_step

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - passes through
        kept.append(args[7] if len(args) > 7 else kwargs.get("keep"))
        return real_step(*args, **kwargs)

    monkeypatch.setattr("vaegan.train.wgan.generator_step", spy)
    data = tiny_images(64)  # one batch of 64 per epoch and one critic step per iteration: a new epoch every step
    train_wgan(TINY, data, WGANTrainConfig(iters=4, batch_size=64, n_critic=1, top_k=0.5))
    assert kept == [64, 63, 63, 62]  # round(64 * 0.99^epoch)
    kept.clear()
    train_wgan(TINY, data, WGANTrainConfig(iters=2, batch_size=64, n_critic=1))
    assert kept == [None, None]


def test_warm_up_rises_linearly_then_hands_over_to_the_decay() -> None:
    from vaegan.train.wgan import learning_rate_scale

    plain = WGANTrainConfig(iters=100)
    assert [learning_rate_scale(plain, i, 100) for i in (0, 50, 99)] == [1.0, 1.0, 1.0]  # constant, no warm-up
    warm = WGANTrainConfig(iters=100, warmup_iters=4)
    assert [learning_rate_scale(warm, i, 100) for i in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    both = WGANTrainConfig(iters=100, warmup_iters=10, lr_decay="linear")
    for i in (0, 5, 9, 10, 60):
        assert learning_rate_scale(both, i, 100) == pytest.approx(min(1, (i + 1) / 10) * (1 - i / 100))
    budget = WGANTrainConfig(time_budget=60, warmup_iters=10)  # calibrating: no count yet, so no decay
    assert learning_rate_scale(budget, 4, None) == 0.5
    with pytest.raises(ConfigError, match="warmup_iters"):
        WGANTrainConfig(warmup_iters=-1)


def test_the_loop_steps_with_the_warmed_up_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[float, float]] = []
    real_step = generator_step

    def spy(generator, critic, optimizer, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - passes through
        seen.append((optimizer.param_groups[0]["lr"], spy.critic_optimizer.param_groups[0]["lr"]))
        return real_step(generator, critic, optimizer, *args, **kwargs)

    real_critic_step = critic_step

    def critic_spy(generator, critic, optimizer, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        spy.critic_optimizer = optimizer
        return real_critic_step(generator, critic, optimizer, *args, **kwargs)

    monkeypatch.setattr("vaegan.train.wgan.generator_step", spy)
    monkeypatch.setattr("vaegan.train.wgan.critic_step", critic_spy)
    config = WGANTrainConfig(iters=3, batch_size=16, n_critic=1, lr=1e-3, critic_lr=3e-3, warmup_iters=2)
    train_wgan(TINY, tiny_images(32), config)
    assert seen == [pytest.approx((5e-4, 1.5e-3)), pytest.approx((1e-3, 3e-3)), pytest.approx((1e-3, 3e-3))]


def test_ema_update_and_schedule() -> None:
    ema, model = Generator(TINY), Generator(TINY)
    expected = [0.9 * e + 0.1 * m for e, m in zip(ema.parameters(), model.parameters(), strict=True)]
    model.net[1].running_mean.fill_(3.0)
    update_ema(ema, model, 0.9)
    for e, x in zip(ema.parameters(), expected, strict=True):
        torch.testing.assert_close(e, x)
    assert torch.equal(ema.net[1].running_mean, model.net[1].running_mean)  # buffers copied, not averaged
    assert ema_decay(0, 0.999) == pytest.approx(0.1) and ema_decay(10**6, 0.999) == 0.999


# --------------------------------------------------------------------------------------------- training


def test_real_batches_are_a_pure_function_of_seed_and_position() -> None:
    images = torch.arange(20.0).view(20, 1, 1, 1)
    a, b = RealBatches(images, 6, seed=3), RealBatches(images, 6, seed=3)
    stream = [a(k) for k in range(7)]
    assert torch.equal(b(5), stream[5]) and torch.equal(b(1), stream[1])  # any order, same batches
    epoch0 = torch.cat(stream[:3]).flatten()
    assert len(set(epoch0.tolist())) == 18  # no repeats inside an epoch (the last 2 are dropped)
    with pytest.raises(ConfigError):
        RealBatches(images, 21, seed=0)


def _weights(result) -> dict[str, torch.Tensor]:  # noqa: ANN001 - TrainResult
    modules = {"ema": result.model, **result.parts}
    return {f"{name}.{k}": v for name in ("generator", "critic", "ema")
            for k, v in modules[name].state_dict().items()}  # fmt: skip


class _SimulatedCrashError(Exception):
    pass


def test_interrupted_and_resumed_run_ends_with_identical_weights(tmp_path: Path) -> None:
    data = tiny_images(40)
    config = WGANTrainConfig(iters=7, batch_size=8, n_critic=2, checkpoint_every=3, sample_every=3, log_every=2)
    full = train_wgan(TINY, data, config, run_dir=tmp_path / "full")

    def crash_at_5(report) -> None:  # noqa: ANN001 - Progress
        if report.event == "step" and report.done == 5:  # after the checkpoint at 3, before the one at 6
            raise _SimulatedCrashError

    with pytest.raises(_SimulatedCrashError):
        train_wgan(TINY, data, config, run_dir=tmp_path / "cut", on_progress=crash_at_5)
    assert load_state(tmp_path / "cut" / "state.safetensors")["iteration"] == 3
    resumed = train_wgan(TINY, data, config, run_dir=tmp_path / "cut", resume=True)
    a, b = _weights(full), _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.steps == 7 and [h["iteration"] for h in resumed.history] == [2, 4, 6, 7]
    assert sorted(p.name for p in (tmp_path / "cut" / "samples").iterdir()) == [
        "iter_000003.png", "iter_000006.png", "iter_000007.png"
    ]  # fmt: skip


def test_resume_refuses_other_settings_and_other_data(tmp_path: Path) -> None:
    data = tiny_images(16)
    config = WGANTrainConfig(iters=1, batch_size=8, n_critic=1)
    train_wgan(TINY, data, config, run_dir=tmp_path)
    with pytest.raises(TrainingError, match="other settings"):
        train_wgan(TINY, data, WGANTrainConfig(iters=2, batch_size=8, n_critic=1, lr=1e-3), run_dir=tmp_path,
                   resume=True)  # fmt: skip
    with pytest.raises(TrainingError, match="trained on"):
        train_wgan(TINY, tiny_images(24), WGANTrainConfig(iters=2, batch_size=8, n_critic=1), run_dir=tmp_path,
                   resume=True)  # fmt: skip
    # changing only when to stop is allowed
    assert train_wgan(TINY, data, WGANTrainConfig(iters=2, batch_size=8, n_critic=1), run_dir=tmp_path,
                      resume=True).steps == 2  # fmt: skip


def test_nan_loss_is_a_training_error() -> None:
    data = ImageSet(images=torch.full((8, 3, 32, 32), float("nan")), labels=None, name="nan")
    with pytest.raises(TrainingError, match="lower --lr"):
        train_wgan(TINY, data, WGANTrainConfig(iters=1, batch_size=8, n_critic=1))


def test_a_time_budget_stops_on_time(tmp_path: Path) -> None:
    """A budgeted run measures its speed, fixes its iteration count (stored in the state) and ends within 10 % of
    the budget."""
    data = tiny_images(32)
    budget = 8.0
    config = WGANTrainConfig(iters=100_000, batch_size=8, n_critic=1, time_budget=budget, calibration_iters=10,
                             checkpoint_every=50, sample_every=100_000, log_every=10)  # fmt: skip
    plans: list[float] = []

    def record(report) -> None:  # noqa: ANN001 - Progress
        if report.event == "plan":
            plans.append(report.values["planned_iters"])

    started = time.perf_counter()
    full = train_wgan(TINY, data, config, run_dir=tmp_path / "full", on_progress=record)
    took = time.perf_counter() - started
    assert abs(took - budget) < 0.1 * budget, took
    assert plans and full.steps == full.extra["planned_iters"] > 10
    assert load_state(tmp_path / "full" / "state.safetensors")["planned_iters"] == full.steps



def test_a_budgeted_run_resumes_with_the_count_its_state_fixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaegan.train import wgan as loop

    # Both runs must plan the same count to be compared, so the speed measurement is pinned; a resume must then
    # read the count from the state rather than plan again (the patched planner would refuse to be called twice).
    monkeypatch.setattr(loop, "planned_iterations", lambda cfg, per_iter, so_far, done: 40)
    data = tiny_images(32)
    config = WGANTrainConfig(iters=100_000, batch_size=8, n_critic=1, time_budget=3600.0, calibration_iters=5,
                             checkpoint_every=10, sample_every=10_000, log_every=5)  # fmt: skip
    full = train_wgan(TINY, data, config, run_dir=tmp_path / "full")

    class _StopError(Exception):
        pass

    def stop_at_25(report) -> None:  # noqa: ANN001 - Progress
        if report.event == "step" and report.done == 25:
            raise _StopError

    with pytest.raises(_StopError):
        train_wgan(TINY, data, config, run_dir=tmp_path / "cut", on_progress=stop_at_25)
    totals: list[int] = []
    resumed = train_wgan(TINY, data, config, run_dir=tmp_path / "cut", resume=True,
                         on_progress=lambda report: totals.append(report.total))  # fmt: skip
    assert full.steps == resumed.steps == 40 and totals[0] == 40  # the count came from the state
    a, b = _weights(full), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_config_validation() -> None:
    with pytest.raises(ConfigError):
        WGANTrainConfig(precision="fp8")
    with pytest.raises(ConfigError):
        WGANTrainConfig(n_critic=0)


def _cli(*args: str) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "cli.py"), "train", "wgan", *args]


@pytest.mark.slow
def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    """A real process killed with SIGKILL mid-run, then `--resume`: the exported file is bit-identical."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8))
    # The reference recipe: a constant learning rate, so a resume may change --iters (with the fast recipe's decay
    # the iteration count is part of the run's numbers), and the same settings as WGANTrainConfig's defaults.
    common = ["--data", str(tmp_path / "d.npz"), "--recipe", "reference", "--width", "4", "--latent-dim", "8",
              "--batch-size", "8", "--n-critic", "1", "--checkpoint-every", "5", "--sample-every", "1000",
              "--threads", "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    iters = "4000"  # far more than the run can finish before it is killed
    state = tmp_path / "cut" / "state.safetensors"
    proc = subprocess.Popen(
        _cli(*common, "--iters", iters, "--run-dir", str(tmp_path / "cut"), "--out", str(tmp_path / "cut.st")),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not state.exists():
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = int(load_state(state)["iteration"])
    assert 5 <= killed_at < int(iters)
    stop = killed_at + 7  # resume, then finish a few iterations past the last checkpoint
    resumed = subprocess.run(
        _cli(*common, "--iters", str(stop), "--run-dir", str(tmp_path / "cut"), "--out", str(tmp_path / "cut.st"),
             "--resume"), env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert read_info(tmp_path / "cut.st").steps == stop
    # The uninterrupted run, in this process with the same settings and thread count as the CLI's.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        straight = train_wgan(
            WGANConfig(latent_dim=8, width=4), load_rgb32(str(tmp_path / "d.npz")),
            WGANTrainConfig(iters=stop, batch_size=8, n_critic=1, checkpoint_every=5, sample_every=1000),
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    exported = load_model(tmp_path / "cut.st").state_dict()
    assert all(torch.equal(exported[k], v) for k, v in straight.model.state_dict().items())
    critic = load_state(state)["critic"]
    assert all(torch.equal(critic[k], v) for k, v in straight.parts["critic"].state_dict().items())


def test_a_run_state_exports_its_ema_generator(tmp_path: Path) -> None:
    from vaegan.checkpoint import save_result
    from vaegan.train.wgan import result_from_state

    config = WGANTrainConfig(iters=3, batch_size=8, n_critic=1, checkpoint_every=3)
    trained = train_wgan(TINY, tiny_images(16), config, run_dir=tmp_path)
    exported = result_from_state(tmp_path / "state.safetensors")
    assert exported.steps == 3 and exported.dataset == "blobs16" and exported.step_unit == "generator iterations"
    assert all(torch.equal(a, b) for a, b in zip(trained.model.state_dict().values(),
                                                 exported.model.state_dict().values(), strict=True))  # fmt: skip
    save_result(exported, tmp_path / "g.safetensors")
    assert read_info(tmp_path / "g.safetensors").steps == 3
