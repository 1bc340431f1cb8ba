"""Loading damaged or hostile checkpoints: NaN/inf weights, other dtypes, absurd header lengths, metadata that is not
JSON or not of the right types, configs over the limits. Each is one CheckpointError line naming the file (or a
documented cast), never a traceback and never a silently broken model; the app shows it as an error with the
command that re-creates the file."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_dumps

import vaegan.checkpoint as checkpoint
from tests.test_app import AppFiles, OpenPage, app_files, open_page  # noqa: F401 - fixtures of the app tests
from vaegan.checkpoint import load_model, load_state, read_info, save_model, save_state
from vaegan.errors import CheckpointError
from vaegan.wgan import Generator, WGANConfig

CONFIG = WGANConfig(latent_dim=4, width=2)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.safetensors"
    torch.manual_seed(0)
    save_model(Generator(CONFIG), path, steps=3, metrics={"w": 1.0})
    return path


def rewrite(
    source: Path,
    target: Path,
    tensors: Callable[[dict[str, torch.Tensor]], None] | None = None,
    metadata: Callable[[dict[str, str]], None] | None = None,
) -> Path:
    """A copy of a model file with its tensors and/or metadata edited in place by the given functions."""
    with safe_open(str(source), framework="pt") as f:
        values = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - not a dict
        meta = dict(f.metadata())
    if tensors is not None:
        tensors(values)
    if metadata is not None:
        metadata(meta)
    target.write_bytes(safetensors_dumps(values, metadata=meta))
    return target


def one_line_error(path: Path, pattern: str, loader: Callable[[Path], object] = load_model) -> str:
    with pytest.raises(CheckpointError, match=pattern) as info:
        loader(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


WEIGHT = "net.0.weight"


def _set(name: str, value: float, count: int = 3) -> Callable[[dict[str, torch.Tensor]], None]:
    def edit(values: dict[str, torch.Tensor]) -> None:
        values[name].view(-1)[:count] = value

    return edit


@pytest.mark.parametrize(("value", "what"), [(float("nan"), "3 NaN"), (float("inf"), "3 infinite"),
                                             (float("-inf"), "3 infinite")])  # fmt: skip
def test_non_finite_weights_are_refused(good: Path, tmp_path: Path, value: float, what: str) -> None:
    bad = rewrite(good, tmp_path / "bad.safetensors", tensors=_set(WEIGHT, value))
    one_line_error(bad, rf"tensor '{WEIGHT}' holds {what} values; the file is broken")


def test_a_batchnorm_statistic_that_is_nan_is_refused(good: Path, tmp_path: Path) -> None:
    bad = rewrite(good, tmp_path / "bad.safetensors", tensors=_set("net.1.running_var", float("nan"), 1))
    one_line_error(bad, r"tensor 'net.1.running_var' holds 1 NaN values")


def test_other_float_widths_are_cast_to_the_model_dtype(good: Path, tmp_path: Path) -> None:
    reference = load_model(good)

    def widen(values: dict[str, torch.Tensor]) -> None:
        for name, value in values.items():
            if value.is_floating_point():
                values[name] = value.double()

    wide = load_model(rewrite(good, tmp_path / "f64.safetensors", tensors=widen))
    for name, value in reference.state_dict().items():
        assert wide.state_dict()[name].dtype == value.dtype
        assert torch.equal(wide.state_dict()[name], value)
    half = tmp_path / "half.safetensors"
    save_model(reference, half, half=True)
    assert load_model(half).state_dict()[WEIGHT].dtype == torch.float32


def test_a_float64_weight_that_overflows_float32_is_refused(good: Path, tmp_path: Path) -> None:
    def huge(values: dict[str, torch.Tensor]) -> None:
        values[WEIGHT] = values[WEIGHT].double()
        values[WEIGHT].view(-1)[0] = 1e300

    one_line_error(rewrite(good, tmp_path / "huge.safetensors", tensors=huge), r"holds 1 infinite values")


@pytest.mark.parametrize(
    ("name", "dtype", "message"),
    [(WEIGHT, torch.int32, "is int32, the model needs float32"),
     ("net.1.num_batches_tracked", torch.float32, "is float32, the model needs int64"),
     (WEIGHT, torch.bool, "is bool, the model needs float32")],
)  # fmt: skip
def test_a_dtype_of_another_kind_is_refused(good: Path, tmp_path: Path, name: str, dtype: torch.dtype,
                                            message: str) -> None:  # fmt: skip
    def retype(values: dict[str, torch.Tensor]) -> None:
        values[name] = values[name].to(dtype)

    one_line_error(rewrite(good, tmp_path / "t.safetensors", tensors=retype), rf"tensor '{name}' {message}")


def _with_length(path: Path, target: Path, length: int) -> Path:
    data = path.read_bytes()
    target.write_bytes(struct.pack("<Q", length) + data[8:])
    return target


@pytest.mark.parametrize("length", [2**63, 2**64 - 1, 10**9, 0])
def test_an_absurd_header_length_is_refused(good: Path, tmp_path: Path, length: int) -> None:
    bad = _with_length(good, tmp_path / "len.safetensors", length)
    for loader in (load_model, read_info):
        one_line_error(bad, r"not a valid safetensors file|header", loader)


def test_a_header_over_the_size_limit_is_refused_before_it_is_read(good: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(checkpoint, "MAX_HEADER_BYTES", 100)
    one_line_error(good, r"the header claims [\d,]+ bytes, more than the 100-byte limit")


@pytest.mark.parametrize("content", [b"", b"\x01\x02", b"\xff" * 8, struct.pack("<Q", 4) + b"[1]]"])
def test_short_or_garbled_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "short.safetensors"
    path.write_bytes(content)
    one_line_error(path, r"not a valid safetensors file")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("config", "{not json", r"'config' is not valid JSON"),
        ("config", "[4, 2]", r"'config' is not a JSON object"),
        ("metrics", "NaN]", r"'metrics' is not valid JSON"),
        ("metrics", '"a string"', r"'metrics' is not a JSON object"),
        ("extra", "[" * 100_000 + "]" * 100_000, r"'extra' is not valid JSON"),
        ("steps", "-3", r"steps '-3' is not a count"),
        ("steps", "1e9", r"steps '1e9' is not a count"),
        ("config", json.dumps({"latent_dim": "4", "width": 2, "channels": 3}), r"'latent_dim' = '4' should be int"),
        ("config", json.dumps({"latent_dim": 4.5, "width": 2, "channels": 3}), r"'latent_dim' = 4.5 should be int"),
        ("config", json.dumps({"latent_dim": True, "width": 2, "channels": 3}), r"'latent_dim' = True should be int"),
        ("config", json.dumps({"latent_dim": 4, "width": 2, "depth": 3}), r"does not accept: unknown \['depth'\]"),
        ("config", json.dumps({"latent_dim": 4, "width": 10**6}), r"does not accept: width = 1,000,000 is over the"),
        ("config", json.dumps({"latent_dim": 4, "width": 3}), r"has shape .*, the config needs"),
        ("kind", "teleporter", r"unknown model kind 'teleporter'"),
        ("format", "other", r"not a vaegan model"),
    ],
)
def test_bad_metadata_is_one_line(good: Path, tmp_path: Path, key: str, value: str, message: str) -> None:
    def edit(meta: dict[str, str]) -> None:
        meta[key] = value

    bad = rewrite(good, tmp_path / "meta.safetensors", metadata=edit)
    one_line_error(bad, message)


def test_a_config_over_the_limits_allocates_nothing(
    good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def edit(meta: dict[str, str]) -> None:
        meta["config"] = json.dumps({"latent_dim": 10**7, "width": 10**5})

    built: list[object] = []
    monkeypatch.setattr(Generator, "__init__", lambda self, config=None: built.append(config))
    one_line_error(rewrite(good, tmp_path / "big.safetensors", metadata=edit), r"latent_dim = 10,000,000 is over")
    assert not built


def test_a_tensor_outside_the_file_is_refused(good: Path, tmp_path: Path) -> None:
    data = bytearray(good.read_bytes())
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header[WEIGHT]["data_offsets"][1] += 10**6
    raw = json.dumps(header).encode()
    path = tmp_path / "offsets.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(data[8 + length :]))
    one_line_error(path, rf"tensor '{WEIGHT}' has byte offsets")


def test_truncated_files_are_refused(good: Path, tmp_path: Path) -> None:
    data = good.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 20):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        one_line_error(path, r"not a valid safetensors file")


def test_a_state_with_nan_tensors_or_a_garbled_skeleton_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.safetensors"
    save_state(path, {"w": torch.ones(3), "it": 1})
    assert load_state(path)["it"] == 1
    nan = tmp_path / "nan.safetensors"
    save_state(nan, {"w": torch.tensor([1.0, float("nan")]), "it": 1})
    one_line_error(nan, r"holds 1 NaN values", load_state)
    for skeleton in ('{"__dict__": 5}', '{"__tensor__": ["x"]}', '{"__tensor__": "missing"}', "[" * 50_000):
        bad = rewrite(path, tmp_path / "skeleton.safetensors", metadata=lambda m, s=skeleton: m.update(state=s))
        one_line_error(bad, r"unreadable training state", load_state)


def test_the_app_shows_a_nan_checkpoint_as_an_error_with_the_fixing_command(
    open_page: OpenPage, app_files: AppFiles, tmp_path: Path  # noqa: F811 - the imported fixtures
) -> None:
    for name in ("vae.safetensors", "wgan.safetensors"):
        (tmp_path / name).write_bytes((app_files.checkpoints / name).read_bytes())
    nan = _set(WEIGHT, float("nan"))
    rewrite(app_files.checkpoints / "wgan.safetensors", tmp_path / "wgan.safetensors", tensors=nan)
    at = open_page("views/samples.py", env={"VAEGAN_CHECKPOINTS": str(tmp_path)})
    assert not at.exception
    assert len(at.error) == 1 and "holds 3 NaN values" in at.error[0].value
    assert any(code.value.startswith("vaegan train wgan") for code in at.code)
