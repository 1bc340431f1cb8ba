"""Training generators under each divergence: the shift generator's fate under each loss (W1 walks to P, H² and
minimax JS stall, the non-saturating loss moves), the exact empirical W1 against brute force, and the 2-D toy GANs
(WGAN-GP covers the ring, runs are reproducible by seed, results survive JSON)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.nn.functional import logsigmoid

from vaegan.divergences import (
    GAN_LOSSES,
    DynamicsConfig,
    DynamicsResult,
    exact_divergence,
    generator_loss,
    lower_bound,
    run_dynamics,
)
from vaegan.divergences.dynamics import GanLoss
from vaegan.errors import ConfigError


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: a second intra-op thread only adds synchronisation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------- the losses


def test_nonsaturating_loss_is_minus_log_d_and_keeps_its_gradient_where_minimax_saturates() -> None:
    """-log D(y) with D = sigmoid(V), written independently of the package's activation; and at a confident
    discriminator (V(y) very negative) the minimax JS gradient vanishes while the non-saturating one does not."""
    v_p = torch.tensor([2.0, 3.0])
    v_q = torch.tensor([-12.0, -9.0], requires_grad=True)
    nonsat, minimax = GAN_LOSSES["js-nonsaturating"], GAN_LOSSES["js"]
    with torch.no_grad():
        assert float(generator_loss(nonsat, v_p, v_q)) == pytest.approx(float(-logsigmoid(v_q).mean()), rel=1e-6)
        assert float(generator_loss(minimax, v_p, v_q)) == pytest.approx(float(lower_bound("jensen-shannon", v_p, v_q)))
    (g_minimax,) = torch.autograd.grad(generator_loss(minimax, v_p, v_q), v_q)
    (g_nonsat,) = torch.autograd.grad(generator_loss(nonsat, v_p, v_q), v_q)
    assert float(g_minimax.abs().max()) < 1e-4  # ½ sigmoid(V)/N: the minimax generator has nothing to follow
    torch.testing.assert_close(g_nonsat, torch.full((2,), -0.5), atol=1e-3, rtol=0)  # -(1 - D)/N ≈ -1/N
    # W1's minimax loss differs from the WGAN generator loss -E_q[V] by E_p[V], a constant for the generator.
    w1 = generator_loss(GAN_LOSSES["wasserstein"], v_p, v_q).detach()
    assert float(w1) == pytest.approx(float(v_p.mean() - v_q.detach().mean()))


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown loss"):
        DynamicsConfig(losses=("wasserstein", "kl-gan"))
    with pytest.raises(ConfigError, match="twice"):
        DynamicsConfig(losses=("js", "js"))
    with pytest.raises(ConfigError, match="θ optimizer"):
        DynamicsConfig(theta_optimizer="rmsprop")
    with pytest.raises(ConfigError, match="unknown family"):
        DynamicsConfig(family="circles")
    with pytest.raises(ConfigError, match="penalty"):
        GanLoss("hellinger-gp", "?", "hellinger", penalty="two-sided")
    with pytest.raises(ConfigError, match="non-saturating"):
        GanLoss("hellinger-ns", "?", "hellinger", nonsaturating=True)


# ------------------------------------------------------------------------------------------ shift generator


@pytest.fixture(scope="module")
def default_shift_run() -> DynamicsResult:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_dynamics(DynamicsConfig())
    finally:
        torch.set_num_threads(threads)


def test_shift_generator_under_each_loss(default_shift_run: DynamicsResult) -> None:
    """Arjovsky et al.'s parallel lines, SGD on θ from θ₀ = 1.5, default steps, seed 0: W1 brings θ to 0; the H²
    and minimax JS critics are flat on Q's support, so θ stalls with no gradient; the non-saturating loss moves."""
    run, last = default_shift_run, 50
    theta = run.final_theta()
    assert abs(theta["wasserstein"]) < 0.05
    for name in ("hellinger", "js"):
        assert theta[name] >= 1.0, (name, theta)
        assert max(abs(g) for g in run.grads[name][-last:]) < 1e-3, name
        assert run.estimates[name][-1] == pytest.approx(exact_divergence("lines", GAN_LOSSES[name].divergence, 1.0),
                                                        abs=0.02)  # the critic is right: the divergence is maximal
    assert abs(theta["js-nonsaturating"]) < 0.1


def test_shift_record_rows_and_plain_sgd(default_shift_run: DynamicsResult) -> None:
    run, config = default_shift_run, default_shift_run.config
    rows = config.steps + 1
    for name in config.losses:
        assert len(run.theta[name]) == len(run.estimates[name]) == len(run.grads[name]) == len(run.truth[name]) == rows
        assert run.theta[name][0] == config.theta0
        # Plain SGD: every θ step moves θ by exactly -lr times the recorded gradient.
        for t in (0, 1, 100, rows - 2):
            assert run.theta[name][t + 1] == pytest.approx(run.theta[name][t] - config.theta_lr * run.grads[name][t],
                                                           abs=1e-6)
    assert run.truth["hellinger"][0] == 2.0 and run.truth["js"][0] == pytest.approx(math.log(2))
    assert run.truth["js-nonsaturating"][0] == pytest.approx(math.log(2))
    assert run.truth["wasserstein"] == [abs(t) for t in run.theta["wasserstein"]]
    assert run.heatmap_steps == list(range(0, config.steps + 1, config.heatmap_every))
    size = config.heatmap_size
    assert torch.tensor(run.heatmaps["js"]).shape == (len(run.heatmap_steps), size, size)
    assert len(run.grid_x) == len(run.grid_y) == size


def test_shift_json_round_trip(default_shift_run: DynamicsResult, tmp_path) -> None:  # noqa: ANN001 - pytest fixture
    run = default_shift_run
    text = run.to_json()
    assert len(text) < 1_000_000
    data = json.loads(text)
    assert data["format"] == "vaegan-divergence-dynamics/1" and data["family"] == "lines"
    assert data["losses"] == list(run.config.losses) and data["config"]["theta0"] == 1.5
    assert set(data["snapshots"]["heatmaps"]) == {"steps", "x", "y", "critic"}
    back = DynamicsResult.load(run.save(tmp_path / "dyn.json"))
    assert back.config == run.config and back.heatmap_steps == run.heatmap_steps
    assert back.theta["wasserstein"] == pytest.approx(run.theta["wasserstein"], rel=1e-5, abs=1e-9)
    (tmp_path / "bad.json").write_text('{"format": "vaegan-divergence-sweep/1"}')
    with pytest.raises(ConfigError, match="not a"):
        DynamicsResult.load(tmp_path / "bad.json")


def test_every_loss_moves_theta_when_the_supports_overlap() -> None:
    """Shifted Gaussians: every divergence is smooth in θ, so the f-divergence losses pull θ to 0 as well."""
    run = run_dynamics(DynamicsConfig(family="gaussian", steps=100, heatmap_every=50, heatmap_size=5))
    for name, theta in run.final_theta().items():
        assert abs(theta) < 0.2, (name, theta)
        assert run.truth[name][0] == pytest.approx(exact_divergence("gaussian", GAN_LOSSES[name].divergence, 1.5))


def test_a_member_follows_the_trajectory_it_follows_alone() -> None:
    small = dict(steps=12, critic_steps=3, batch_size=64, width=16, heatmap_every=6, heatmap_size=5)
    together = run_dynamics(DynamicsConfig(losses=("wasserstein", "js-nonsaturating"), **small))
    alone = run_dynamics(DynamicsConfig(losses=("js-nonsaturating",), **small))
    for key in ("theta", "estimates", "grads"):
        torch.testing.assert_close(torch.tensor(getattr(together, key)["js-nonsaturating"]),
                                   torch.tensor(getattr(alone, key)["js-nonsaturating"]), atol=1e-5, rtol=1e-4)
    assert together.theta["wasserstein"] != together.theta["js-nonsaturating"]
    adam = run_dynamics(DynamicsConfig(losses=("wasserstein",), theta_optimizer="adam", **small))
    theta = adam.theta["wasserstein"]
    assert abs(theta[1] - theta[0]) == pytest.approx(0.05, rel=1e-3)  # Adam's first step is lr·sign(gradient)
