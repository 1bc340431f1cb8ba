"""Runtime helpers: device resolution, thread settings and the eval-mode context every inference path uses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from vaegan.errors import ConfigError
from vaegan.runtime import device_of, eval_mode, resolve_device, run_in_processes, set_threads


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


def _write_pid(path: str, fail: bool) -> None:
    Path(path).write_text(str(os.getpid()))
    if fail:
        raise SystemExit(3)


@pytest.mark.parametrize("sequential", [False, True])
def test_run_in_processes_runs_each_set_in_its_own_process(tmp_path: Path, sequential: bool) -> None:
    paths = [str(tmp_path / f"{k}.txt") for k in range(3)]
    run_in_processes(_write_pid, [(path, False) for path in paths], sequential=sequential)
    pids = {Path(path).read_text() for path in paths}
    assert len(pids) == 3 and str(os.getpid()) not in pids


def test_run_in_processes_raises_when_a_child_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"1 of 2 processes failed \(exit codes \[3\]\)"):
        run_in_processes(_write_pid, [(str(tmp_path / "a"), False), (str(tmp_path / "b"), True)])
