"""Runtime helpers: device resolution, thread settings and the eval-mode context every inference path uses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vaegan.errors import ConfigError
from vaegan.runtime import device_of, eval_mode, resolve_device, set_threads


def test_device_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(ConfigError):
        resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_eval_mode_gives_the_mode_back_and_builds_no_graph() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train()
    with eval_mode(model):
        assert not model.training
        y = model(torch.ones(1, 2))
    assert model.training and not y.requires_grad
    model.eval()
    with eval_mode(model):
        pass
    assert not model.training


def test_device_of_and_threads() -> None:
    assert device_of(nn.Linear(1, 1)).type == "cpu"
    assert device_of(nn.ReLU()).type == "cpu"  # no parameters
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert set_threads(0) == 1  # 0 keeps what is in force
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError):
        set_threads(-1)
