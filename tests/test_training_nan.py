"""NaN during training: every trainer stops with one line that names the iteration/step and the last good
checkpoint; a state with NaN weights is never written over the last good one; `--resume` from that checkpoint
works (the resumed run ends with the weights of a run that never failed).

NaNs are injected (a loss that turns NaN at a chosen step, an optimizer step that breaks the weights while the loss
stays finite), so each test knows exactly where the run must stop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cli import main as cli_main
from vaegan.checkpoint import load_state
from vaegan.data import BinarySplits, ImageSet
from vaegan.divergences import DynamicsConfig, SweepConfig, Toy2dConfig, run_dynamics, run_sweep, run_toy2d
from vaegan.divergences import dynamics as dynamics_module
from vaegan.divergences import sweep as sweep_module
from vaegan.divergences import toy2d as toy2d_module
from vaegan.errors import TrainingError
from vaegan.train import classifier as classifier_module
from vaegan.train import vae as vae_module
from vaegan.train import wgan as wgan_module
from vaegan.train.classifier import ClassifierTrainConfig, train_classifier
from vaegan.train.vae import VAETrainConfig, train_vae
from vaegan.train.wgan import WGANTrainConfig, train_wgan
from vaegan.vae import VAEConfig
from vaegan.wgan import WGANConfig

NAN = float("nan")


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


# ------------------------------------------------------------------------------------------------------ VAE

VAE_CFG = VAEConfig(latent_dim=4, hidden=16)
VAE_TRAIN = VAETrainConfig(epochs=3, batch_size=32)  # 256 images: 8 steps per epoch


@pytest.fixture
def splits() -> BinarySplits:
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(1, 784, generator=g) * 0.3
    make = lambda n: torch.bernoulli(probs.expand(n, -1), generator=g)  # noqa: E731
    return BinarySplits(train=make(256), valid=make(64), test=make(64), dynamic=False, name="tiny")


def nan_loss_at(monkeypatch: pytest.MonkeyPatch, module: object, name: str, call: int) -> None:
    """Make `module.name` (a loss function) return NaN on its `call`-th call while the model trains."""
    real = getattr(module, name)
    calls = {"n": 0}

    def patched(model, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        value = real(model, *args, **kwargs)
        if getattr(model, "training", True):
            calls["n"] += 1
            if calls["n"] == call:
                return value * NAN
        return value

    monkeypatch.setattr(module, name, patched)


def test_vae_nan_names_the_step_and_the_last_good_checkpoint_and_resume_works(
    splits: BinarySplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = train_vae(VAE_CFG, splits, VAE_TRAIN).model
    state = tmp_path / "state.safetensors"
    with monkeypatch.context() as patch:
        nan_loss_at(patch, vae_module, "neg_elbo", 8 + 3)  # epoch 2, step 3
        with pytest.raises(TrainingError) as info:
            train_vae(VAE_CFG, splits, VAE_TRAIN, state_path=state)
    assert str(info.value) == (
        f"loss became nan at epoch 2, step 3; try a lower --lr (last good checkpoint: {state} at epoch 1; "
        "--resume continues from it)"
    )
    assert load_state(state)["epoch"] == 1
    torch.manual_seed(999)  # a new process
    resumed = train_vae(VAE_CFG, splits, VAE_TRAIN, state_path=state, resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    _same_weights(resumed.model, straight)


def test_vae_nan_before_the_first_checkpoint_says_so(
    splits: BinarySplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nan_loss_at(monkeypatch, vae_module, "neg_elbo", 2)
    with pytest.raises(TrainingError, match=r"at epoch 1, step 2; try a lower --lr \(no checkpoint of this run yet"):
        train_vae(VAE_CFG, splits, VAE_TRAIN, state_path=tmp_path / "state.safetensors")
    assert not (tmp_path / "state.safetensors").exists()


def break_weights_at(monkeypatch: pytest.MonkeyPatch, module: object, step: int) -> None:
    """The `step`-th optimizer step made by `module.make_adam`'s optimizers writes NaN into the first weight after
    its update, while the loss of that step was finite."""
    real = module.make_adam
    count = {"n": 0}

    def make_adam(params, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        params = list(params)
        optimizer = real(params, *args, **kwargs)
        real_step = optimizer.step

        def broken_step(*a, **k):  # noqa: ANN002, ANN003, ANN202
            result = real_step(*a, **k)
            count["n"] += 1
            if count["n"] == step:
                with torch.no_grad():
                    params[0].view(-1)[0] = NAN
            return result

        optimizer.step = broken_step
        return optimizer

    monkeypatch.setattr(module, "make_adam", make_adam)


def test_vae_weights_broken_by_the_last_step_of_an_epoch_are_never_written(
    splits: BinarySplits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.safetensors"
    break_weights_at(monkeypatch, vae_module, 16)  # the last step of epoch 2: its loss was still finite
    with pytest.raises(TrainingError, match=r"at the end of epoch 2; .*last good checkpoint: .* at epoch 1"):
        train_vae(VAE_CFG, splits, VAE_TRAIN, state_path=state)
    assert load_state(state)["epoch"] == 1


def test_the_cli_shows_a_nan_as_one_line_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.npz"
    np.savez(data, X=(np.random.default_rng(0).random((100, 28, 28)) < 0.2).astype(np.uint8))
    run_dir, out = tmp_path / "run", tmp_path / "vae.safetensors"
    args = ["train", "vae", "--data", str(data), "--epochs", "2", "--latent-dim", "4", "--hidden", "16",
            "--batch-size", "32", "--device", "cpu", "--run-dir", str(run_dir), "--out", str(out)]  # fmt: skip
    with monkeypatch.context() as patch:
        nan_loss_at(patch, vae_module, "neg_elbo", 4 + 2)  # 80 training images: 3 steps per epoch
        assert cli_main(args) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert lines == [
        f"error: loss became nan at epoch 2, step 3; try a lower --lr (last good checkpoint: "
        f"{run_dir / 'state.safetensors'} at epoch 1; --resume continues from it)"
    ]
    assert not out.exists()
    assert cli_main([*args, "--resume"]) == 0
    assert out.exists()


# ----------------------------------------------------------------------------------------------------- WGAN

WGAN_CFG = WGANConfig(latent_dim=8, width=4)


def wgan_data() -> ImageSet:
    g = torch.Generator().manual_seed(0)
    return ImageSet(images=torch.rand(32, 3, 32, 32, generator=g) * 2 - 1, labels=None, name="tiny")


def wgan_train(**changes: object) -> WGANTrainConfig:
    settings = dict(iters=6, batch_size=8, n_critic=1, checkpoint_every=2, sample_every=100, log_every=1)
    return WGANTrainConfig(**{**settings, **changes})


def test_wgan_nan_names_the_iteration_and_the_last_good_checkpoint_and_resume_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = train_wgan(WGAN_CFG, wgan_data(), wgan_train(), run_dir=tmp_path / "straight")
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        nan_loss_at(patch, wgan_module, "generator_step", 5)
        with pytest.raises(TrainingError) as info:
            train_wgan(WGAN_CFG, wgan_data(), wgan_train(), run_dir=run_dir)
    state = run_dir / "state.safetensors"
    assert str(info.value) == (
        f"generator_loss became nan at iteration 5; try a lower --lr (last good checkpoint: {state} at iteration 4; "
        "--resume continues from it)"
    )
    assert load_state(state)["iteration"] == 4
    torch.manual_seed(999)
    resumed = train_wgan(WGAN_CFG, wgan_data(), wgan_train(), run_dir=run_dir, resume=True)
    _same_weights(resumed.model, straight.model)
    _same_weights(resumed.parts["critic"], straight.parts["critic"])


def test_wgan_weights_broken_between_loss_checks_are_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Losses are checked every 10 iterations here; the critic's weights break at iteration 3 and the next state
    # write (iteration 4) must refuse them.
    break_weights_at(monkeypatch, wgan_module, 2 * 3 - 1)  # critic and generator steps alternate: critic step 3
    with pytest.raises(TrainingError, match=r"weight .* became non-finite at iteration 4; .* at iteration 2;"):
        train_wgan(WGAN_CFG, wgan_data(), wgan_train(log_every=10), run_dir=tmp_path)
    assert load_state(tmp_path / "state.safetensors")["iteration"] == 2


# ----------------------------------------------------------------------------------------------- classifier


def test_classifier_nan_names_the_step_and_says_there_is_no_checkpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    g = torch.Generator().manual_seed(0)
    data = ImageSet(images=torch.rand(64, 3, 32, 32, generator=g) * 2 - 1, labels=torch.arange(64) % 10, name="t")
    real = classifier_module.F.cross_entropy
    calls = {"n": 0}

    def cross_entropy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        return real(*args, **kwargs) * (NAN if calls["n"] == 6 else 1.0)

    monkeypatch.setattr(classifier_module.F, "cross_entropy", cross_entropy)
    from vaegan.classifier import ClassifierConfig

    expected = r"^classifier loss became nan at epoch 2, step 2; try a lower --lr \(this run writes no checkpoints"
    with pytest.raises(TrainingError, match=expected):
        train_classifier(data, ClassifierConfig(width=2, feature_dim=8), ClassifierTrainConfig(epochs=2, batch_size=16))


# -------------------------------------------------------------------------------------- divergence critics


def nan_on_call(monkeypatch: pytest.MonkeyPatch, module: object, name: str, call: int) -> None:
    real = getattr(module, name)
    calls = {"n": 0}

    def patched(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        value = real(*args, **kwargs)
        if calls["n"] != call:
            return value
        if isinstance(value, tuple):
            return (value[0] * NAN, *value[1:])
        return value * NAN

    monkeypatch.setattr(module, name, patched)


def test_sweep_critics_stop_at_the_step_naming_the_divergence_and_theta(monkeypatch: pytest.MonkeyPatch) -> None:
    nan_on_call(monkeypatch, sweep_module, "lipschitz_penalty", 3)
    config = SweepConfig(divergences=("wasserstein",), thetas=(0.0, 1.0), iters=10, eval_size=64,
                         snapshot_eval_size=32, heatmap_size=5, penalty_every=1)  # fmt: skip
    expected = (r"^wasserstein: the critic of θ = 0 diverged \(loss nan\) at step 3 of 10; these runs write no "
                r"checkpoints: run again with a lower learning rate$")  # fmt: skip
    with pytest.raises(TrainingError, match=expected):
        run_sweep(config)


def test_dynamics_runs_stop_at_the_theta_step(monkeypatch: pytest.MonkeyPatch) -> None:
    nan_on_call(monkeypatch, dynamics_module, "critic_losses", 2 * 1 + 1)  # the critic step before θ step 2
    config = DynamicsConfig(losses=("wasserstein",), steps=5, critic_steps=1, batch_size=16, width=4, heatmap_size=5)
    with pytest.raises(TrainingError, match=r"^wasserstein: the critic diverged at θ step 2; .*write no checkpoints"):
        run_dynamics(config)


def test_toy2d_runs_stop_at_the_generator_step(monkeypatch: pytest.MonkeyPatch) -> None:
    nan_on_call(monkeypatch, toy2d_module, "critic_losses", 3)
    config = Toy2dConfig(losses=("js",), steps=4, critic_steps=1, batch_size=16, width=4, frame_every=2,
                         frame_samples=8, frame_arrows=2, grid_size=3)  # fmt: skip
    expected = r"^8gaussians, js: the critic diverged \(loss nan\) at generator step 3 of 4; these runs write no"
    with pytest.raises(TrainingError, match=expected):
        run_toy2d(config)


def test_a_damaged_resume_state_is_one_line(splits: BinarySplits, tmp_path: Path) -> None:
    """A state that matches the run but lacks a part (edited, or written by another version) cannot be resumed:
    one TrainingError line, not a KeyError traceback."""
    from vaegan.checkpoint import save_state

    state = tmp_path / "state.safetensors"
    train_vae(VAE_CFG, splits, VAE_TRAIN, state_path=state)  # the same run: a cosine run resumes to its own end
    content = load_state(state)
    del content["optimizer"]
    save_state(state, content)
    expected = r"state\.safetensors cannot be resumed: KeyError 'optimizer'; drop --resume"
    with pytest.raises(TrainingError, match=expected):
        train_vae(VAE_CFG, splits, VAE_TRAIN, state_path=state, resume=True)
