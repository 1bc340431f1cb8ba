"""Self-describing safetensors files: weights + the metadata needed to rebuild the model from the file alone.

(Over 400 lines because one file format is read and written in one place: most of it is the checks a file
passes before it is trusted, listed below.)

Two kinds of file live here:

* **model files** (`save_model` / `load_model`): the weights of one model plus, in the safetensors header
  metadata, its kind, its config as JSON, the dataset, the number of training steps, metrics and the package
  version. `load_model(path)` returns a ready model with no other argument.
* **training-state files** (`save_state` / `load_state`): any nested structure of dicts, lists and tensors
  (models, optimizers, RNG states, counters) for exact resume. Tensors go into the safetensors body; the
  structure goes into the metadata as JSON. Nothing is ever unpickled.

Every write is atomic (temporary file in the same folder, fsync, rename, fsync of the folder), so a crash, a full
disk or `kill -9` mid-write leaves the previous file intact; a failed write is one `WriteError` line.

Reading checks the file before trusting it: the header (its length, its JSON, every tensor's dtype, shape and
byte range) is validated by `read_header` before any tensor is loaded, the metadata must have the types the
format says, the config must be one the model class accepts (types and `vaegan.limits`), and every weight must
have the shape and the kind of dtype the model needs and hold only finite numbers. Anything else is one
`CheckpointError` line, never a traceback and never a silently broken model. Floating-point weights of another
width (fp16, bf16, fp64) are cast to the model's dtype; that is how `--half` files load.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import struct
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_dumps

from vaegan.errors import CheckpointError, ConfigError
from vaegan.hub import as_repo_spec, resolve_checkpoint
from vaegan.storage import atomic_write_bytes
from vaegan.version import __version__
from vaegan.vocabulary import DEFAULT_CHECKPOINTS, TRAIN_COMMANDS  # noqa: F401 - re-exported

FORMAT_VERSION = "1"

# kind -> (module, class). Imported lazily so that this module does not depend on every model module.
# A model class takes its config dataclass as the only constructor argument and exposes it as `.config`;
# the config class is the model class's `config_class` attribute.
MODEL_REGISTRY: dict[str, tuple[str, str]] = {
    "vae": ("vaegan.vae", "VAE"),
    "wgan-generator": ("vaegan.wgan", "Generator"),
    "wgan-critic": ("vaegan.wgan", "Critic"),
    "digit-classifier": ("vaegan.classifier", "DigitClassifier"),
}

# What `steps` counts for each kind, for files written before the unit was stored in the header.
DEFAULT_STEP_UNITS: dict[str, str] = {
    "vae": "epochs",
    "wgan-generator": "generator iterations",
    "wgan-critic": "generator iterations",
    "digit-classifier": "optimizer steps",
}

@dataclass(frozen=True)
class CheckpointInfo:
    """What a model file says about itself."""

    kind: str
    config: dict[str, Any]
    dataset: str = ""
    steps: int = 0
    step_unit: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    path: str = ""


def _open_checked(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
        raise CheckpointError(f"cannot open {str(path)[:200]!r}: {exc}") from exc
    if not exists:
        raise CheckpointError(f"no checkpoint at {path}")
    if is_dir:
        raise CheckpointError(f"{path} is a folder, not a .safetensors file")
    return path


# The safetensors header: an 8-byte little-endian length N, then N bytes of JSON. The safetensors library itself
# refuses headers over 100 MB; the same bound here means a corrupt length never makes us read a huge block.
MAX_HEADER_BYTES = 100_000_000
# safetensors dtype names -> (torch dtype, bytes per element)
SAFETENSORS_DTYPES: dict[str, tuple[torch.dtype, int]] = {
    "BOOL": (torch.bool, 1),
    "U8": (torch.uint8, 1),
    "I8": (torch.int8, 1),
    "I16": (torch.int16, 2),
    "I32": (torch.int32, 4),
    "I64": (torch.int64, 8),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "F32": (torch.float32, 4),
    "F64": (torch.float64, 8),
}


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it."""

    dtype: torch.dtype
    shape: tuple[int, ...]


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, TensorEntry], dict[str, str]]:
    """Validate a safetensors header without loading any tensor: (tensor entries by name, metadata).

    Checked: the length prefix (present, not absurd, inside the file), the JSON, the metadata (strings to
    strings), and for every tensor a known dtype, a shape of whole numbers and a byte range inside the data
    block that matches the shape. Every failure is one CheckpointError line naming the file.
    """
    path = _open_checked(path)

    def bad(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a valid safetensors file (corrupt or truncated?): {reason}")

    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise bad(f"{size} bytes is too short to hold a header")
            (length,) = struct.unpack("<Q", prefix)
            if length > min(MAX_HEADER_BYTES, size - 8):
                limit = "the file" if length > size - 8 else f"the {MAX_HEADER_BYTES:,}-byte limit"
                raise bad(f"the header claims {length:,} bytes, more than {limit} ({size:,} bytes in all)")
            raw = f.read(length)
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"the header is not valid JSON ({str(exc)[:100]})") from exc
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("the header's __metadata__ is not a map of strings")
    data_bytes = size - 8 - length
    entries: dict[str, TensorEntry] = {}
    for name, entry in header.items():
        shown = repr(name[:80])
        if not isinstance(entry, dict) or entry.get("dtype") not in SAFETENSORS_DTYPES:
            raise bad(f"tensor {shown} has no known dtype")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise bad(f"tensor {shown} has an invalid shape {str(shape)[:80]}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_bytes
        ):
            raise bad(f"tensor {shown} has byte offsets {str(offsets)[:80]} outside the {data_bytes:,}-byte data")
        dtype, itemsize = SAFETENSORS_DTYPES[entry["dtype"]]
        if offsets[1] - offsets[0] != math.prod(shape) * itemsize:
            raise bad(f"tensor {shown}: {offsets[1] - offsets[0]} bytes do not hold shape {shape} of {entry['dtype']}")
        entries[name] = TensorEntry(dtype, tuple(shape))
    return entries, metadata


def _read_tensors(path: Path, names: list[str]) -> dict[str, torch.Tensor]:
    """The named tensors (the header was validated by `read_header`), any read failure as one CheckpointError."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {name: f.get_tensor(name) for name in names}
    except Exception as exc:  # safetensors raises its own error types plus OSError/ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is not a valid safetensors file (corrupt or truncated?): {reason}") from exc


def check_finite_tensor(path: Path | str, name: str, value: torch.Tensor) -> None:
    """A CheckpointError naming the tensor when a floating-point tensor holds NaN or infinite values."""
    if not value.is_floating_point():
        return
    finite = torch.isfinite(value)
    if not bool(finite.all()):
        nan = int(torch.isnan(value).sum())
        inf = int((~finite).sum()) - nan
        what = ", ".join(part for part in (f"{nan:,} NaN" if nan else "", f"{inf:,} infinite" if inf else "") if part)
        raise CheckpointError(f"{path}: tensor {name!r} holds {what} values; the file is broken (re-create it)")


# ------------------------------------------------------------------------------------------- model files


def _model_class(kind: str) -> type[torch.nn.Module]:
    if kind not in MODEL_REGISTRY:
        known = ", ".join(sorted(MODEL_REGISTRY))
        raise CheckpointError(f"unknown model kind {kind!r} (known kinds: {known})")
    module_name, class_name = MODEL_REGISTRY[kind]
    return getattr(importlib.import_module(module_name), class_name)


def kind_of(model: torch.nn.Module) -> str:
    """The registry kind of a model instance."""
    return kind_of_class(type(model))


def save_model(
    model: torch.nn.Module,
    path: str | os.PathLike[str],
    *,
    dataset: str = "",
    steps: int = 0,
    step_unit: str = "",
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Export `model` as a self-describing safetensors file (atomically). `half` stores floats as fp16."""

    kind = kind_of(model)
    tensors: dict[str, torch.Tensor] = {}
    for name, value in model.state_dict().items():
        value = value.detach().to("cpu")
        if half and value.is_floating_point():
            value = value.half()
        tensors[name] = value.contiguous().clone()
    metadata = {
        "format": "vaegan",
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": json.dumps(dataclasses.asdict(model.config)),
        "dataset": dataset,
        "steps": str(int(steps)),
        "step_unit": step_unit or DEFAULT_STEP_UNITS.get(kind, "steps"),
        "metrics": json.dumps(metrics or {}),
        "extra": json.dumps(extra or {}),
        "version": __version__,
    }
    path = Path(path)
    atomic_write_bytes(path, safetensors_dumps(tensors, metadata=metadata))
    return path


def _json_field(path: Path, metadata: dict[str, str], key: str, default: str) -> dict[str, Any]:
    """A metadata field that must hold a JSON object (config, metrics, extra)."""
    try:
        value = json.loads(metadata.get(key, default))
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path} has unreadable vaegan metadata: {key!r} is not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise CheckpointError(f"{path} has unreadable vaegan metadata: {key!r} is not a JSON object")
    return value


def _info_from_metadata(path: Path, metadata: dict[str, str]) -> CheckpointInfo:
    if metadata.get("format") != "vaegan" or "kind" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a vaegan model (no vaegan metadata)")
    steps_text = metadata.get("steps", "0")
    if not (steps_text.isascii() and steps_text.isdigit() and len(steps_text) <= 18):
        raise CheckpointError(f"{path} has unreadable vaegan metadata: steps {steps_text[:40]!r} is not a count")
    return CheckpointInfo(
        kind=metadata["kind"],
        config=_json_field(path, metadata, "config", "{}"),
        dataset=metadata.get("dataset", ""),
        steps=int(steps_text),
        step_unit=metadata.get("step_unit") or DEFAULT_STEP_UNITS.get(metadata["kind"], "steps"),
        metrics=_json_field(path, metadata, "metrics", "{}"),
        extra=_json_field(path, metadata, "extra", "{}"),
        version=metadata.get("version", ""),
        path=str(path),
    )


def read_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """Read only the header of a model file (fast: no tensor is loaded). `path` may be an hf:// spec."""
    path = _open_checked(resolve_checkpoint(path))
    _, metadata = read_header(path)
    return _info_from_metadata(path, metadata)


def _config_from_info(path: Path, config_cls: type, values: dict[str, Any]) -> Any:
    """The config dataclass of a file, its field types checked first: a string where a width should be would
    otherwise fail deep inside torch, and a width over `vaegan.limits` is refused before anything is allocated."""
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise CheckpointError(f"{path} has a config that {config_cls.__name__} does not accept: unknown {unknown[:3]}")
    for name, value in values.items():
        wanted = hints.get(name)
        if wanted is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif wanted is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        elif wanted in (str, bool):
            ok = isinstance(value, wanted)
        else:
            ok = True  # other field types are checked by the config itself
        if not ok:
            shown = repr(value)[:40]
            wanted_name = getattr(wanted, "__name__", "")
            raise CheckpointError(f"{path}: config field {name!r} = {shown} should be {wanted_name}")
    try:
        return config_cls(**values)
    except (TypeError, ConfigError) as exc:
        raise CheckpointError(f"{path} has a config that {config_cls.__name__} does not accept: {exc}") from exc


def _same_dtype_kind(stored: torch.dtype, wanted: torch.dtype) -> bool:
    """Floats load into floats (with a cast), integers into integers, bools into bools."""
    def kind(dtype: torch.dtype) -> str:
        return "bool" if dtype == torch.bool else ("float" if dtype.is_floating_point else "int")

    return kind(stored) == kind(wanted)


def load_model(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """Rebuild a model from a file alone. The returned model is in eval mode and has `.checkpoint_info`.

    `kind`, when given, is the kind the caller expects; another kind is an error (a VAE file handed to the
    GAN sampler, say). `path` may be `hf://OWNER/REPO/PATH.safetensors[@REVISION]`, or `hf://OWNER/REPO[@REVISION]`
    for the repo's file of that kind (see vaegan/hub.py).
    What is checked before the model is trusted: the module docstring.
    """
    path = resolve_checkpoint(path, kind)  # a Hub spec becomes its cached file; every check below is the same
    if kind is not None and not _open_checked_exists(path):
        raise CheckpointError(missing_checkpoint_hint(path, kind))
    path = _open_checked(path)
    entries, metadata = read_header(path)
    info = _info_from_metadata(path, metadata)
    if kind is not None and info.kind != kind:
        raise CheckpointError(f"{path} holds a {info.kind!r} model, expected {kind!r}")
    try:
        cls = _model_class(info.kind)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    config = _config_from_info(path, cls.config_class, info.config)  # type: ignore[attr-defined]
    model = cls(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(entries))
    unexpected = sorted(set(entries) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match its {info.kind} config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name, value in expected.items():
        entry = entries[name]
        if entry.shape != tuple(value.shape):
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {entry.shape}, the config needs {tuple(value.shape)}"
            )
        if not _same_dtype_kind(entry.dtype, value.dtype):
            raise CheckpointError(
                f"{path}: tensor {name!r} is {str(entry.dtype).removeprefix('torch.')}, the model needs "
                f"{str(value.dtype).removeprefix('torch.')}"
            )
    tensors = _read_tensors(path, list(expected))
    for name, value in expected.items():
        # The documented cast (fp16/bf16/fp64 -> the model's fp32), then the check: a float64 weight of 1e300
        # only becomes infinite in float32.
        tensors[name] = tensors[name].to(value.dtype)
        check_finite_tensor(path, name, tensors[name])
    model.load_state_dict(tensors)
    model.checkpoint_info = info  # type: ignore[attr-defined]
    return model.to(device).eval()


def _open_checked_exists(path: str | os.PathLike[str]) -> bool:
    try:
        return Path(path).exists()
    except (OSError, ValueError):
        return False


def save_result(
    result: Any, path: str | os.PathLike[str], *, command: str = "", half: bool = False, **extra: Any
) -> Path:
    """Export a `vaegan.train.common.TrainResult`: its model, with its steps, unit, data, metrics and provenance
    (the training config, total training seconds, `command` and any `extra` facts) in the header."""
    provenance = {"train_config": result.train_config, "train_seconds_total": round(result.seconds, 1)}
    if command:
        provenance["command"] = command
    return save_model(
        result.model,
        path,
        dataset=result.dataset,
        steps=result.steps,
        step_unit=result.step_unit,
        metrics=result.metrics,
        extra={**provenance, **result.extra, **extra},
        half=half,
    )


class FromPretrained:
    """`Model.from_pretrained(path)` for every registered model class, as in Hugging Face libraries."""

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Any:
        """A local file, an `hf://` spec, or a Hub repo id `OWNER/REPO[@REVISION]` (the repo's file of this class's
        kind, as its config.json names it)."""
        return load_model(as_repo_spec(path), kind=kind_of_class(cls), device=device)


def kind_of_class(cls: type) -> str:
    for kind, (module_name, class_name) in MODEL_REGISTRY.items():
        if cls.__module__ == module_name and cls.__name__ == class_name:
            return kind
    raise CheckpointError(f"{cls.__name__} is not a registered model kind")


def missing_checkpoint_hint(path: str | os.PathLike[str], kind: str) -> str:
    """A one-line message that says which command creates the missing file."""
    command = TRAIN_COMMANDS.get(kind, "vaegan train ...")
    return f"no checkpoint at {path}; create it with: {command} --out {path}"


# ---------------------------------------------------------------------------------- training-state files
# A nested structure is encoded as JSON where each tensor is replaced by {"__tensor__": name}; dicts are
# encoded as lists of [key, value] pairs so that int keys (optimizer state is keyed by int) survive.


def _encode(obj: Any, tensors: dict[str, torch.Tensor], prefix: str) -> Any:
    if isinstance(obj, torch.Tensor):
        name = f"t{len(tensors)}:{prefix}"
        tensors[name] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": name}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _encode(v, tensors, f"{prefix}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix} in a training state")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _decode(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Atomically write a nested training state (model/optimizer state_dicts, RNG states, counters)."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(state, tensors, "state")
    metadata = {"format": "vaegan-state", "format_version": FORMAT_VERSION, "state": json.dumps(skeleton)}
    path = Path(path)
    atomic_write_bytes(path, safetensors_dumps(tensors, metadata=metadata))
    return path


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a file written by `save_state`. Its tensors must be finite: states are written only from finite runs
    (the loops check before every write), so a NaN here means a damaged file."""
    path = _open_checked(path)
    entries, metadata = read_header(path)
    if metadata.get("format") != "vaegan-state":
        raise CheckpointError(f"{path} is not a vaegan training-state file")
    tensors = _read_tensors(path, list(entries))
    for name, value in tensors.items():
        check_finite_tensor(path, name, value)
    try:
        return _decode(json.loads(metadata["state"]), tensors)
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
        raise CheckpointError(f"{path} has an unreadable training state: {type(exc).__name__} {exc}") from exc
