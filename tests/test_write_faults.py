"""Faults during writes: a write that fails midway leaves the previous file intact and readable.

For every kind of file the project writes - model, training state, sweep / dynamics / 2-D toy results JSON, PNG,
HTML plot - a good file is written first, then a second write is made to fail at each
step of `vaegan.storage.atomic_write_bytes` (the write itself after half the bytes, as on a full disk; the
fsync; the rename). Each time the error is one `WriteError` line naming the file, the old file still loads with
its own loader and holds its old content, and no temporary file is left behind. The binarized-MNIST cache, written
only when it is missing, must never be left half-written (and an old half-written one is rebuilt). One more test
kills a writer process with SIGKILL in the middle of its writes.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import vaegan.storage as storage
from cli import main as cli_main
from vaegan.checkpoint import load_model, load_state, save_model, save_state
from vaegan.divergences import (
    DynamicsConfig,
    DynamicsResult,
    SweepConfig,
    SweepResult,
    Toy2dConfig,
    Toy2dResult,
    run_dynamics,
    run_sweep,
    run_toy2d,
    theta_range,
)
from vaegan.errors import WriteError
from vaegan.images import save_png
from vaegan.wgan import Generator, WGANConfig

REPO_ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ the file kinds
# Each kind: write(path, version) writes a file whose content depends on `version`; read(path) loads it with the
# project's own loader and returns something that tells the versions apart.


def _model(path: Path, version: int) -> None:
    torch.manual_seed(version)
    save_model(Generator(WGANConfig(latent_dim=4, width=2)), path, steps=version)


def _read_model(path: Path) -> object:
    return load_model(path).checkpoint_info.steps


def _state(path: Path, version: int) -> None:
    save_state(path, {"iteration": version, "weights": torch.full((64, 64), float(version))})


def _read_state(path: Path) -> object:
    state = load_state(path)
    return state["iteration"], float(state["weights"][0, 0])


_TINY_SWEEP = dict(thetas=theta_range(0.0, 1.0, 2), iters=2, eval_size=64, snapshot_eval_size=32, heatmap_size=5)


def _sweep(path: Path, version: int) -> None:
    run_sweep(SweepConfig(**_TINY_SWEEP, seed=version)).save(path)


def _read_sweep(path: Path) -> object:
    return SweepResult.load(path).config.seed


def _dynamics(path: Path, version: int) -> None:
    config = DynamicsConfig(steps=2, critic_steps=1, batch_size=16, width=4, heatmap_size=5, seed=version)
    run_dynamics(config).save(path)


def _read_dynamics(path: Path) -> object:
    return DynamicsResult.load(path).config.seed


def _toy2d(path: Path, version: int) -> None:
    config = Toy2dConfig(steps=1, critic_steps=1, batch_size=16, width=4, frame_every=1, frame_samples=8,
                         frame_arrows=2, grid_size=3, seed=version)  # fmt: skip
    run_toy2d(config).save(path)


def _read_toy2d(path: Path) -> object:
    return Toy2dResult.load(path).config.seed


def _png(path: Path, version: int) -> None:
    save_png(path, torch.full((4, 3, 8, 8), -1.0 + version / 2))


def _read_png(path: Path) -> object:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.getpixel((3, 3))


def _html(path: Path, version: int) -> None:
    import plotly.graph_objects as go

    from vaegan.figures import write_html

    write_html(go.Figure(go.Scatter(x=[0, 1], y=[version, version])), path)


def _read_html(path: Path) -> object:
    text = path.read_text()
    assert text.rstrip().endswith("</html>")  # a whole file, not a cut one
    start = text.index('"y":[') + len('"y":[')
    return text[start : text.index(",", start)]


KINDS: dict[str, tuple[str, Callable[[Path, int], None], Callable[[Path], object]]] = {
    "model": ("model.safetensors", _model, _read_model),
    "state": ("state.safetensors", _state, _read_state),
    "sweep json": ("divergences.json", _sweep, _read_sweep),
    "dynamics json": ("dynamics.json", _dynamics, _read_dynamics),
    "toy2d json": ("toy2d.json", _toy2d, _read_toy2d),
    "png": ("samples.png", _png, _read_png),
    "html plot": ("plot.html", _html, _read_html),
}


# ---------------------------------------------------------------------------------------------- the faults


class _FailingFile:
    """A file object that writes the first half of what it is given, then fails as a full disk does."""

    def __init__(self, real: object) -> None:
        self.real = real

    def write(self, data: bytes) -> int:
        self.real.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.real.close()

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def _fail_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(storage.os, "fdopen", lambda fd, *a, **k: _FailingFile(real_fdopen(fd, *a, **k)))


def _fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(storage.os, "fsync", fsync)


def _fail_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(storage.os, "replace", replace)


FAULTS = {"write": _fail_write, "fsync": _fail_fsync, "rename": _fail_rename}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_write_leaves_the_previous_file_intact(
    kind: str, fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, write, read = KINDS[kind]
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path, 2)
    second = read(path)
    write(path, 1)  # a good write over an existing file: what the loader sees changes, so versions can be told apart
    before, old_bytes = read(path), path.read_bytes()
    assert before != second

    with monkeypatch.context() as patch:
        FAULTS[fault](patch)
        expected = rf"^could not write .*{path.name}: .*; the previous file there is unchanged$"
        with pytest.raises(WriteError, match=expected):
            write(path, 2)
    assert path.read_bytes() == old_bytes
    assert read(path) == before
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def _amat_files(folder: Path) -> None:
    from tests.conftest import write_amat

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in ("train", "valid", "test"):
        write_amat(folder / f"binarized_mnist_{split}.amat", (rng.random((20, 784)) < 0.5).astype(np.uint8))


@pytest.mark.parametrize("fault", FAULTS)
def test_the_binarized_mnist_cache_is_never_left_half_written(
    fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaegan.data import larochelle_folder, load_binary_mnist

    folder = larochelle_folder(tmp_path)
    _amat_files(folder)
    with monkeypatch.context() as patch:
        FAULTS[fault](patch)
        with pytest.raises(WriteError, match="binarized_mnist.npz"):
            load_binary_mnist("binarized-mnist", tmp_path, download_missing=False)
    amat = sorted(f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test"))
    assert sorted(p.name for p in folder.iterdir()) == amat
    first = load_binary_mnist("binarized-mnist", tmp_path, download_missing=False)
    assert (folder / "binarized_mnist.npz").exists()
    assert torch.equal(load_binary_mnist("binarized-mnist", tmp_path, download_missing=False).train, first.train)


def test_a_damaged_binarized_mnist_cache_is_rebuilt(tmp_path: Path) -> None:
    from vaegan.data import larochelle_folder, load_binary_mnist

    folder = larochelle_folder(tmp_path)
    _amat_files(folder)
    good = load_binary_mnist("binarized-mnist", tmp_path, download_missing=False)
    cache = folder / "binarized_mnist.npz"
    cache.write_bytes(cache.read_bytes()[:100])  # what a killed np.savez_compressed of older versions left
    assert torch.equal(load_binary_mnist("binarized-mnist", tmp_path, download_missing=False).train, good.train)


def test_a_failed_first_write_says_nothing_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_rename(monkeypatch)
    with pytest.raises(WriteError, match="nothing was written$"):
        _png(tmp_path / "new.png", 1)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_shows_a_failed_write_as_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, out = tmp_path / "wgan.safetensors", tmp_path / "samples.png"
    save_model(Generator(WGANConfig(latent_dim=4, width=2)), ckpt)
    _png(out, 1)
    old = out.read_bytes()
    _fail_write(monkeypatch)
    code = cli_main(["sample", "wgan", "--ckpt", str(ckpt), "--n", "4", "--out", str(out), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: could not write") and "No space left on device" in err and "\n" not in err
    assert out.read_bytes() == old


KILLED_WRITER = """
import sys, torch
from vaegan.checkpoint import save_state
path = sys.argv[1]
i = 0
while True:
    i += 1
    save_state(path, {"iteration": i, "weights": torch.full((2048, 1024), float(i))})
    print(i, flush=True)
"""


def test_a_writer_killed_mid_write_leaves_a_readable_file(tmp_path: Path) -> None:
    """SIGKILL at an arbitrary moment of a loop of 8 MB state writes: the file is always a whole state."""
    path = tmp_path / "state.safetensors"
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        for _ in range(3):  # a few whole writes, then kill during one of the next
            assert process.stdout is not None and process.stdout.readline(), "the writer died on its own"
        time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=30)
    state = load_state(path)
    assert state["iteration"] >= 3
    assert bool((state["weights"] == float(state["iteration"])).all())
