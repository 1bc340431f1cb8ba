"""The pieces every training loop shares: finite-loss check, resume rule, optimizer, RNG state, provenance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from vaegan.errors import TrainingError
from vaegan.train.common import (
    check_finite,
    check_resume,
    make_adam,
    numerics_of,
    portable_command,
    rng_state,
    run_identity,
    set_rng_state,
)
from vaegan.wgan import WGANConfig


def test_check_finite_names_the_value_the_place_and_the_state_file() -> None:
    check_finite({"loss": 1.0, "w": -2.0}, "epoch 1", None)
    expected = r"^loss became nan at epoch 3, step 7; try a lower --lr \(last good checkpoint: runs/s\.st at epoch 2;"
    with pytest.raises(TrainingError, match=expected):
        check_finite({"loss": math.nan, "ok": 0.0}, "epoch 3, step 7", "runs/s.st", "epoch 2")
    with pytest.raises(TrainingError, match=r"at epoch 1, step 2; try a lower --lr \(no checkpoint of this run yet"):
        check_finite({"loss": math.nan}, "epoch 1, step 2", "runs/s.st")
    with pytest.raises(TrainingError, match=r"w became inf at iteration 9.*writes no checkpoints"):
        check_finite({"w": math.inf}, "iteration 9", None)


@dataclass(frozen=True)
class _Config:
    lr: float = 1e-3
    epochs: int = 3


def test_check_resume_refuses_other_models_settings_and_data() -> None:
    identity = run_identity(_Config(), numerics_of(_Config(), ["epochs"]), "data.npz", 100)
    assert identity["numerics"] == {"lr": 1e-3}
    check_resume(identity, identity, "s")
    with pytest.raises(TrainingError, match="other settings .its model differ"):
        check_resume({**identity, "model_config": {"lr": 1.0, "epochs": 3}}, identity, "s")
    with pytest.raises(TrainingError, match="other settings .its training settings differ"):
        check_resume({**identity, "numerics": {"lr": 1.0}}, identity, "s")
    with pytest.raises(TrainingError, match=r"trained on 'other.npz' \(5 images\), not 'data.npz' \(100 images\)"):
        check_resume({**identity, "data": ["other.npz", 5]}, identity, "s")


def test_a_state_from_before_a_new_unset_model_field_still_resumes() -> None:
    """WGANConfig.critic_width came later: older states lack it, and None (not set) must match its absence."""
    identity = run_identity(WGANConfig(width=8), {"lr": 1e-3}, "data.npz", 100)
    assert identity["model_config"]["critic_width"] is None
    older = {**identity, "model_config": {k: v for k, v in identity["model_config"].items() if k != "critic_width"}}
    check_resume(older, identity, "s")
    with pytest.raises(TrainingError, match="critic_width None in the file, 16 now"):
        check_resume(identity, run_identity(WGANConfig(width=8, critic_width=16), {"lr": 1e-3}, "data.npz", 100), "s")


def test_make_adam_steps_like_plain_adam() -> None:
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = make_adam(a.parameters(), 1e-2, (0.5, 0.9)), torch.optim.Adam(b.parameters(), 1e-2, (0.5, 0.9))
    for model, opt in ((a, opt_a), (b, opt_b)):
        model(torch.ones(4, 3)).square().sum().backward()
        opt.step()
    torch.testing.assert_close(a.weight, b.weight)


def test_rng_state_round_trips() -> None:
    state = rng_state()
    first = torch.rand(3)
    set_rng_state(state)
    assert torch.equal(torch.rand(3), first)


def test_portable_command_has_no_absolute_paths(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    command = portable_command(
        ["train", "vae", "--data", f"{tmp_path}/d/a.npz+{tmp_path}/d/b.npz@0:10", f"--out={root}/c/v.st", "--x", "1"],
        root,
    )
    assert command == "train vae --data ../d/a.npz+../d/b.npz@0:10 --out=c/v.st --x 1"
    assert portable_command(["--name", "two words"], root) == "--name 'two words'"


def test_loaded_adam_moments_take_their_parameters_layout(tmp_path: Path) -> None:
    """A state file stores the moments contiguous; fused Adam pairs a parameter with its moments by memory, so a
    channels-last parameter must get NHWC moments back, or the resumed step differs from the uninterrupted one."""
    from vaegan.checkpoint import load_state, save_state
    from vaegan.train.common import load_optimizer_state, make_adam

    torch.manual_seed(0)
    start = torch.randn(4, 3, 2, 2)
    grads = [torch.randn(4, 3, 2, 2).contiguous(memory_format=torch.channels_last) for _ in range(2)]

    def fresh() -> tuple[torch.nn.Parameter, torch.optim.Optimizer]:
        param = torch.nn.Parameter(start.clone().contiguous(memory_format=torch.channels_last))
        return param, make_adam([param], 0.1)

    straight, optimizer = fresh()
    for grad in grads:
        straight.grad = grad.clone()
        optimizer.step()

    resumed, first = fresh()
    resumed.grad = grads[0].clone()
    first.step()
    save_state(tmp_path / "state.safetensors", {"optimizer": first.state_dict()})
    second = make_adam([resumed], 0.1)
    load_optimizer_state(second, load_state(tmp_path / "state.safetensors")["optimizer"])
    moments = second.state[resumed]
    assert all(moments[key].is_contiguous(memory_format=torch.channels_last) for key in ("exp_avg", "exp_avg_sq"))
    resumed.grad = grads[1].clone()
    second.step()
    assert torch.equal(straight, resumed)
