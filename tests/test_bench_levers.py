"""bench/wgan_levers.py: every lever can be named on its command line and gives a valid recipe; bench/wgan.py places
the lazy penalty as training does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from vaegan.train.wgan import recipe

ROOT = Path(__file__).resolve().parents[1]


def load_bench():  # noqa: ANN201 - a module loaded from its file (bench/ is scripts, not a package)
    spec = importlib.util.spec_from_file_location("wgan_levers", ROOT / "bench" / "wgan_levers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = load_bench()


@pytest.mark.parametrize("name", [name for name in BENCH.LEVERS if name != BENCH.BASELINE])
def test_each_lever_can_be_named_alone_and_makes_a_valid_recipe(name: str) -> None:
    assert BENCH.lever_names(name) == [BENCH.BASELINE, name]
    model, train = recipe("fast", **BENCH.LEVERS[name])
    for field, value in BENCH.LEVERS[name].items():
        assert getattr(model, field, None) == value or getattr(train, field, None) == value


def test_all_levers_together_parse_in_order_and_an_unknown_one_exits() -> None:
    levers = [name for name in BENCH.LEVERS if name != BENCH.BASELINE]
    assert BENCH.lever_names(" , ".join(levers)) == [BENCH.BASELINE, *levers]
    with pytest.raises(SystemExit, match="unknown lever"):
        BENCH.lever_names("width 24,no such lever")


def test_the_speed_bench_applies_the_lazy_penalty_as_training_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/wgan.py --gp-every k: the penalty (weight k * lambda) on critic steps 0, k, 2k, ..., alternating or
    simultaneous alike, as `train_wgan` places it."""
    import torch

    from vaegan.wgan import StepOptions, WGANConfig

    spec = importlib.util.spec_from_file_location("wgan_speed", ROOT / "bench" / "wgan.py")
    speed = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "wgan_speed", speed)  # its dataclass looks itself up there
    spec.loader.exec_module(speed)
    weights: list[float] = []
    real_critic_step, real_joint_step = speed.critic_step, speed.joint_step

    def spy_critic(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - passes through
        weights.append(args[6])
        return real_critic_step(*args, **kwargs)

    def spy_joint(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - passes through
        weights.append(args[6])
        return real_joint_step(*args, **kwargs)

    monkeypatch.setattr(speed, "critic_step", spy_critic)
    monkeypatch.setattr(speed, "joint_step", spy_joint)
    config, cpu = WGANConfig(latent_dim=8, width=4), torch.device("cpu")
    for simultaneous in (False, True):
        weights.clear()
        step = speed.build(speed.Variant("v", StepOptions(), simultaneous=simultaneous), config, 4, 1, cpu, 3)
        for _ in range(6):
            step()
        assert weights == [30.0, 0.0, 0.0, 30.0, 0.0, 0.0]
