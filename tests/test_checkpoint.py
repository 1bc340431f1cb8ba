"""Self-describing safetensors: round trips and every bad-file case gives one clear CheckpointError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vaegan.checkpoint import load_model, load_state, read_info, save_model, save_state
from vaegan.errors import CheckpointError
from vaegan.vae import VAE, VAEConfig


@pytest.fixture
def vae_file(tmp_path: Path) -> Path:
    model = VAE(VAEConfig(latent_dim=4, hidden=16))
    path = tmp_path / "vae.safetensors"
    return save_model(model, path, dataset="unit-test", steps=7, metrics={"valid_neg_elbo": 1.5})


def test_round_trip_rebuilds_the_model_from_the_file_alone(tmp_path: Path) -> None:
    model = VAE(VAEConfig(arch="conv", latent_dim=5, hidden=32)).eval()
    path = save_model(model, tmp_path / "m.safetensors", dataset="d", steps=3, metrics={"a": 1.0})
    loaded = load_model(path)
    assert isinstance(loaded, VAE) and loaded.config == model.config and not loaded.training
    z = torch.randn(2, 5)
    torch.testing.assert_close(loaded.decode(z), model.decode(z), rtol=0, atol=0)
    info = read_info(path)
    assert (info.kind, info.dataset, info.steps, info.metrics) == ("vae", "d", 3, {"a": 1.0})
    assert info.config == {"arch": "conv", "latent_dim": 5, "hidden": 32}
    assert VAE.from_pretrained(str(path)).config == model.config


def test_half_precision_file_loads_into_float32_model(tmp_path: Path) -> None:
    model = VAE(VAEConfig(latent_dim=4, hidden=16))
    full = save_model(model, tmp_path / "full.safetensors")
    half = save_model(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_model(half)
    assert next(loaded.parameters()).dtype == torch.float32
    z = torch.randn(3, 4)
    torch.testing.assert_close(loaded.decode(z), model.decode(z), atol=5e-2, rtol=1e-2)


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path: Path, vae_file: Path) -> None:
    before = vae_file.read_bytes()
    # A failing serialization must leave the existing file untouched.
    with pytest.raises(TypeError):
        save_state(vae_file, {"bad": object()})
    assert vae_file.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.safetensors"]


def test_missing_file_names_the_command_that_creates_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"vaegan train vae"):
        load_model(tmp_path / "nope.safetensors", kind="vae")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_model(tmp_path / "nope.safetensors")


def test_not_a_safetensors_file(tmp_path: Path) -> None:
    path = tmp_path / "random.safetensors"
    path.write_bytes(b"\x80\x04this is a pickle, not safetensors" * 10)
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_model(path)


def test_truncated_file(vae_file: Path) -> None:
    data = vae_file.read_bytes()
    vae_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_model(vae_file)


def test_safetensors_without_vaegan_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a vaegan model"):
        load_model(path)


def _rewrite_metadata(path: Path, **changes: str) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    metadata.update(changes)
    save_file(tensors, str(path), metadata=metadata)


def test_unknown_kind(vae_file: Path) -> None:
    _rewrite_metadata(vae_file, kind="banana")
    with pytest.raises(CheckpointError, match="unknown model kind 'banana'"):
        load_model(vae_file)


def test_wrong_kind_for_the_caller(vae_file: Path) -> None:
    with pytest.raises(CheckpointError, match="expected 'wgan-generator'"):
        load_model(vae_file, kind="wgan-generator")


def test_wrong_tensor_shapes(vae_file: Path) -> None:
    _rewrite_metadata(vae_file, config=json.dumps({"arch": "mlp", "latent_dim": 4, "hidden": 17}))
    with pytest.raises(CheckpointError, match=r"has shape \(16, 784\), the config needs \(17, 784\)"):
        load_model(vae_file)


def test_config_the_model_does_not_accept(vae_file: Path) -> None:
    _rewrite_metadata(vae_file, config=json.dumps({"arch": "mlp", "width": 3}))
    with pytest.raises(CheckpointError, match="does not accept"):
        load_model(vae_file)


def test_training_state_round_trip_keeps_structure(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.9))
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    state = {"opt": optimizer.state_dict(), "rng": torch.get_rng_state(), "step": 5, "name": "x", "none": None}
    loaded = load_state(save_state(tmp_path / "s.safetensors", state))
    assert loaded["step"] == 5 and loaded["name"] == "x" and loaded["none"] is None
    assert torch.equal(loaded["rng"], state["rng"])
    assert set(loaded["opt"]["state"]) == {0, 1}  # int keys survive
    assert loaded["opt"]["param_groups"][0]["betas"] == (0.5, 0.9)
    fresh = torch.optim.Adam(model.parameters(), lr=1e-3)
    fresh.load_state_dict(loaded["opt"])
    torch.testing.assert_close(fresh.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])


def test_model_file_is_not_a_training_state(vae_file: Path) -> None:
    with pytest.raises(CheckpointError, match="not a vaegan training-state file"):
        load_state(vae_file)


def test_shipped_files_describe_themselves_with_repo_relative_paths() -> None:
    """Provenance in a shipped file names commands and data as a user types them from the repository root: no
    machine's absolute paths (/tmp/..., /home/...)."""
    import re

    from safetensors import safe_open

    from tests.conftest import REPO_ROOT

    shipped = sorted((REPO_ROOT / "checkpoints").glob("*.safetensors"))
    assert shipped, "no shipped checkpoints found"
    for path in shipped:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        text = json.dumps(metadata).replace("\\\"", '"')
        assert not re.search(r'(^|[ ="\[,])/[A-Za-z]', text), f"{path.name} records an absolute path: {text[:300]}"
        if metadata.get("format") == "vaegan":  # model files (the timeline sidecar is a file of its own kind)
            assert read_info(path).step_unit, path.name
