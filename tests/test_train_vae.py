"""The VAE training loop: it learns, resumes exactly (and only a matching run), and stops cleanly on a NaN loss."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

from vaegan.checkpoint import load_state
from vaegan.data import BinarySplits
from vaegan.errors import ConfigError, TrainingError
from vaegan.likelihood import evaluate_neg_elbo
from vaegan.train import vae as train_module
from vaegan.train.common import Progress
from vaegan.train.vae import VAETrainConfig, train_vae
from vaegan.vae import VAEConfig


@pytest.fixture
def tiny_splits() -> BinarySplits:
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(1, 784, generator=g) * 0.3
    make = lambda n: torch.bernoulli(probs.expand(n, -1), generator=g)  # noqa: E731
    return BinarySplits(train=make(256), valid=make(64), test=make(64), dynamic=False, name="tiny")


def test_training_lowers_the_loss(tiny_splits: BinarySplits) -> None:
    cfg = VAEConfig(latent_dim=4, hidden=32)
    result = train_vae(cfg, tiny_splits, VAETrainConfig(epochs=3, batch_size=32, lr=3e-3))
    history = result.history
    assert len(history) == 3
    assert history[-1]["valid_neg_elbo"] < history[0]["valid_neg_elbo"]
    assert history[-1]["valid_neg_elbo"] == pytest.approx(evaluate_neg_elbo(result.model, tiny_splits.valid))
    assert result.steps == 3 and result.step_unit == "epochs" and result.dataset == "tiny"
    assert result.metrics["valid_neg_elbo"] == history[-1]["valid_neg_elbo"]


@pytest.mark.parametrize("arch", ["mlp", "conv"])  # conv: channels-last weights, whose moments must stay NHWC
def test_interrupted_and_resumed_run_matches_uninterrupted(
    tiny_splits: BinarySplits, tmp_path: Path, arch: str
) -> None:
    cfg = VAEConfig(arch=arch, latent_dim=4, hidden=32)
    straight = train_vae(cfg, tiny_splits, VAETrainConfig(epochs=3, batch_size=32), state_path=tmp_path / "a").model

    # "Interrupt" after one epoch: a run that only had time for epoch 1 leaves its state file behind...
    class KilledError(Exception):
        pass

    def die_after_first_epoch(report: Progress) -> None:
        if report.event == "epoch":
            raise KilledError

    with pytest.raises(KilledError):
        train_vae(cfg, tiny_splits, VAETrainConfig(epochs=3, batch_size=32), state_path=tmp_path / "b",
                  on_progress=die_after_first_epoch)  # fmt: skip
    # ... and a new process (fresh global RNG) resumes from it.
    torch.manual_seed(12345)
    result = train_vae(
        cfg, tiny_splits, VAETrainConfig(epochs=3, batch_size=32), state_path=tmp_path / "b", resume=True
    )
    resumed = result.model
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_resume_with_other_settings_is_refused(tiny_splits: BinarySplits, tmp_path: Path) -> None:
    cfg = VAEConfig(latent_dim=4, hidden=32)
    constant = {"schedule": "constant", "lr": 1e-3}
    train_vae(cfg, tiny_splits, VAETrainConfig(epochs=1, batch_size=32, **constant), state_path=tmp_path / "s")
    with pytest.raises(TrainingError, match="other settings.*batch_size 32 in the file, 16 now"):
        train_vae(cfg, tiny_splits, VAETrainConfig(epochs=2, batch_size=16, **constant), state_path=tmp_path / "s",
                  resume=True)  # fmt: skip
    # Under the constant schedule a larger --epochs extends the finished run instead.
    longer = VAETrainConfig(epochs=2, batch_size=32, **constant)
    history = train_vae(cfg, tiny_splits, longer, state_path=tmp_path / "s", resume=True).history
    assert [r["epoch"] for r in history] == [1, 2]
    # The data a state was trained on is part of what must match (the VAE used not to check it).
    other = BinarySplits(tiny_splits.train[:128], tiny_splits.valid, tiny_splits.test, dynamic=False, name="other")
    with pytest.raises(TrainingError, match="was trained on 'tiny'"):
        train_vae(cfg, other, longer, state_path=tmp_path / "s", resume=True)


def test_a_cosine_run_resumes_to_its_own_end_only(tiny_splits: BinarySplits, tmp_path: Path) -> None:
    """The default schedule is laid out over --epochs: stretching it would change every remaining step's rate."""
    cfg = VAEConfig(latent_dim=4, hidden=32)
    train_vae(cfg, tiny_splits, VAETrainConfig(epochs=2, batch_size=32), state_path=tmp_path / "s")
    with pytest.raises(TrainingError, match=r"cosine schedule laid out over 2 epochs.*resume with --epochs 2"):
        train_vae(cfg, tiny_splits, VAETrainConfig(epochs=3, batch_size=32), state_path=tmp_path / "s", resume=True)
    history = train_vae(cfg, tiny_splits, VAETrainConfig(epochs=2, batch_size=32), state_path=tmp_path / "s",
                        resume=True).history  # fmt: skip
    assert [r["epoch"] for r in history] == [1, 2]


def test_the_warm_up_takes_at_most_half_the_run() -> None:
    steps = 10  # per epoch
    one_epoch = VAETrainConfig(epochs=1)  # the default warm-up is one epoch: a 1-epoch run still decays
    rates = [one_epoch.lr_at(step, steps) for step in range(steps)]
    assert rates.index(max(rates)) == 4 and rates[-1] < 0.1 * max(rates)
    twenty = VAETrainConfig(epochs=20, lr=1.0)
    assert twenty.lr_at(0, steps) == pytest.approx(0.1) and twenty.lr_at(9, steps) == pytest.approx(1.0)
    assert twenty.lr_at(20 * steps - 1, steps) < 1e-3
    assert VAETrainConfig(schedule="constant", lr=0.5).lr_at(123, steps) == 0.5
    with pytest.raises(ConfigError, match="warmup_epochs"):
        VAETrainConfig(warmup_epochs=-1)


def test_the_cli_defaults_are_the_configs() -> None:
    """`vaegan train vae` leaves its settings unset (None: the config's default, no torch import at start-up), so
    the defaults it trains with are the library's."""
    import inspect

    from vaegan.cli.options import given
    from vaegan.cli.train import train_vae_command

    options = inspect.signature(train_vae_command).parameters
    default = VAETrainConfig()
    for name in ("epochs", "batch_size", "lr", "warmup_epochs"):
        assert options[name].default.default is None, name
    assert options["schedule"].default is None and options["seed"].default == default.seed
    unset = {name: None for name in ("epochs", "batch_size", "lr", "warmup_epochs", "schedule")}
    assert VAETrainConfig(seed=0, **given(**unset)) == default


def test_nan_loss_stops_with_a_clear_error(tiny_splits: BinarySplits, monkeypatch: pytest.MonkeyPatch) -> None:
    real = train_module.neg_elbo
    monkeypatch.setattr(train_module, "neg_elbo", lambda model, x, rng=None: real(model, x) * float("nan"))
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, step 1; try a lower --lr"):
        train_vae(VAEConfig(latent_dim=2, hidden=8), tiny_splits, VAETrainConfig(epochs=1, batch_size=32))


def test_dynamic_binarization_feeds_binary_batches(tiny_splits: BinarySplits, monkeypatch: pytest.MonkeyPatch) -> None:
    grey = BinarySplits(
        train=torch.rand(64, 784), valid=tiny_splits.valid, test=tiny_splits.test, dynamic=True, name="g"
    )
    seen: list[torch.Tensor] = []
    real = train_module.neg_elbo

    def spy(model, x, rng=None):  # noqa: ANN001, ANN202
        if model.training:
            seen.append(x)
        return real(model, x, rng)

    monkeypatch.setattr(train_module, "neg_elbo", spy)
    train_vae(VAEConfig(latent_dim=2, hidden=8), grey, VAETrainConfig(epochs=1, batch_size=32))
    assert seen and all(((b == 0) | (b == 1)).all() for b in seen)


def test_a_time_budget_stops_on_time(tmp_path: Path) -> None:
    """A budgeted run times its epochs, fixes how many fit (stored in the state), lays the cosine schedule over them
    and ends within 10 % of the budget."""
    g = torch.Generator().manual_seed(1)
    probs = torch.rand(1, 784, generator=g) * 0.3
    make = lambda n: torch.bernoulli(probs.expand(n, -1), generator=g)  # noqa: E731
    splits = BinarySplits(train=make(2048), valid=make(256), test=make(64), dynamic=False, name="budget")
    budget = 6.0
    plans: list[int] = []
    lrs: list[float] = []

    def record(report: Progress) -> None:
        if report.event == "plan":
            plans.append(int(report.values["planned_iters"]))

    original = VAETrainConfig.lr_at

    def spy(self: VAETrainConfig, step: int, steps_per_epoch: int, epochs: int | None = None) -> float:
        lrs.append(original(self, step, steps_per_epoch, epochs))
        return lrs[-1]

    config = VAETrainConfig(epochs=1000, batch_size=64, time_budget=budget)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(VAETrainConfig, "lr_at", spy)
        started = time.perf_counter()
        result = train_vae(VAEConfig(latent_dim=4, hidden=64), splits, config, state_path=tmp_path / "state",
                           on_progress=record)  # fmt: skip
        took = time.perf_counter() - started
    assert abs(took - budget) < 0.1 * budget, took
    assert plans and 3 <= result.steps == result.extra["planned_epochs"] == len(result.history) < 1000
    assert load_state(tmp_path / "state")["planned_epochs"] == result.steps
    assert max(lrs) == pytest.approx(config.lr, rel=1e-6) and lrs[-1] < 0.05 * config.lr  # decayed to ~0 at the end


def test_a_budgeted_run_resumes_with_the_count_its_state_fixed(
    tiny_splits: BinarySplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both runs must plan the same count to be compared, so the planner is pinned; a resume then keeps the count the
    # state holds even though it re-plans after every epoch.
    monkeypatch.setattr(train_module, "planned_epochs", lambda cfg, per_epoch, so_far, done: 4)
    cfg = VAEConfig(latent_dim=4, hidden=32)
    config = VAETrainConfig(epochs=1000, batch_size=32, time_budget=3600.0)
    full = train_vae(cfg, tiny_splits, config, state_path=tmp_path / "full")

    class KilledError(Exception):
        pass

    def die_after_epoch_2(report: Progress) -> None:
        if report.event == "epoch" and report.done == 2:
            raise KilledError

    with pytest.raises(KilledError):
        train_vae(cfg, tiny_splits, config, state_path=tmp_path / "cut", on_progress=die_after_epoch_2)
    assert load_state(tmp_path / "cut")["planned_epochs"] == 4
    torch.manual_seed(999)  # a new process: another global RNG
    resumed = train_vae(cfg, tiny_splits, config, state_path=tmp_path / "cut", resume=True)
    assert full.steps == resumed.steps == 4 and [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_a_budget_is_part_of_the_run_but_older_states_without_one_resume(
    tiny_splits: BinarySplits, tmp_path: Path
) -> None:
    cfg = VAEConfig(latent_dim=4, hidden=32)
    train_vae(cfg, tiny_splits, VAETrainConfig(epochs=2, batch_size=32), state_path=tmp_path / "s")
    state = load_state(tmp_path / "s")
    assert "time_budget" not in state["numerics"]  # a run without a budget writes what older versions wrote
    with pytest.raises(TrainingError):
        train_vae(cfg, tiny_splits, VAETrainConfig(epochs=2, batch_size=32, time_budget=60.0),
                  state_path=tmp_path / "s", resume=True)  # fmt: skip
    with pytest.raises(ConfigError, match="time_budget"):
        VAETrainConfig(time_budget=float("nan"))
