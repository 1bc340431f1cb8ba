"""Self-describing safetensors files: weights + the metadata needed to rebuild the model from the file alone.

Two kinds of file live here:

* **model files** (`save_model` / `load_model`): the weights of one model plus, in the safetensors header
  metadata, its kind, its config as JSON, the dataset, the number of training steps, metrics and the package
  version. `load_model(path)` returns a ready model with no other argument.
* **training-state files** (`save_state` / `load_state`): any nested structure of dicts, lists and tensors
  (models, optimizers, RNG states, counters) for exact resume. Tensors go into the safetensors body; the
  structure goes into the metadata as JSON. Nothing is ever unpickled.

Every write is atomic (temporary file in the same folder, fsync, rename), so a crash or `kill -9` mid-write
leaves the previous file intact.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_dumps

from vaegan.errors import CheckpointError
from vaegan.hub import resolve_checkpoint

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

# Where the shipped files live, relative to the repository root (the CLI's defaults and the app's slots).
DEFAULT_CHECKPOINTS: dict[str, str] = {
    "vae": "checkpoints/vae.safetensors",
    "wgan-generator": "checkpoints/wgan.safetensors",
    "digit-classifier": "checkpoints/classifier.safetensors",
}

# The command that creates each kind, quoted in "missing checkpoint" messages.
TRAIN_COMMANDS: dict[str, str] = {
    "vae": "python cli.py train vae",
    "wgan-generator": "python cli.py train wgan",
    "wgan-critic": "python cli.py train wgan",
    "digit-classifier": "python cli.py train classifier",
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


# --------------------------------------------------------------------------------------------- atomic I/O


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a weights file is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _open_checked(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a .safetensors file")
    return path


def _read_all(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read every tensor and the metadata, turning any parse failure into one CheckpointError line."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - not a dict
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors raises its own error types plus OSError/ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is not a valid safetensors file (corrupt or truncated?): {reason}") from exc
    return tensors, metadata


def _read_metadata_only(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return dict(f.metadata() or {})
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path} is not a valid safetensors file (corrupt or truncated?): {reason}") from exc


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
    from vaegan import __version__

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


def _info_from_metadata(path: Path, metadata: dict[str, str]) -> CheckpointInfo:
    if metadata.get("format") != "vaegan" or "kind" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a vaegan model (no vaegan metadata)")
    try:
        return CheckpointInfo(
            kind=metadata["kind"],
            config=json.loads(metadata.get("config", "{}")),
            dataset=metadata.get("dataset", ""),
            steps=int(metadata.get("steps", "0")),
            step_unit=metadata.get("step_unit") or DEFAULT_STEP_UNITS.get(metadata["kind"], "steps"),
            metrics=json.loads(metadata.get("metrics", "{}")),
            extra=json.loads(metadata.get("extra", "{}")),
            version=metadata.get("version", ""),
            path=str(path),
        )
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} has unreadable vaegan metadata: {exc}") from exc


def read_info(path: str | os.PathLike[str]) -> CheckpointInfo:
    """Read only the header of a model file (fast: no tensor is loaded). `path` may be an hf:// spec."""
    path = _open_checked(resolve_checkpoint(path))
    return _info_from_metadata(path, _read_metadata_only(path))


def load_model(
    path: str | os.PathLike[str],
    *,
    kind: str | None = None,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """Rebuild a model from a file alone. The returned model is in eval mode and has `.checkpoint_info`.

    `kind`, when given, is the kind the caller expects; another kind is an error (a VAE file handed to the
    GAN sampler, say). `path` may be `hf://OWNER/REPO/PATH.safetensors[@REVISION]` (see vaegan/hub.py).
    """
    path = resolve_checkpoint(path)  # a Hub spec becomes its cached file; every check below is the same
    if kind is not None and not Path(path).exists():
        raise CheckpointError(missing_checkpoint_hint(path, kind))
    path = _open_checked(path)
    tensors, metadata = _read_all(path)
    info = _info_from_metadata(path, metadata)
    if kind is not None and info.kind != kind:
        raise CheckpointError(f"{path} holds a {info.kind!r} model, expected {kind!r}")
    cls = _model_class(info.kind)
    config_cls = cls.config_class  # type: ignore[attr-defined]
    try:
        config = config_cls(**info.config)
    except TypeError as exc:
        raise CheckpointError(f"{path} has a config that {config_cls.__name__} does not accept: {exc}") from exc
    model = cls(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not match its {info.kind} config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for name, value in expected.items():
        if tuple(tensors[name].shape) != tuple(value.shape):
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {tuple(tensors[name].shape)}, "
                f"the config needs {tuple(value.shape)}"
            )
    model.load_state_dict(tensors)  # copies with a cast, so fp16 files load into fp32 models
    model.checkpoint_info = info  # type: ignore[attr-defined]
    return model.to(device).eval()


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
        return load_model(path, kind=kind_of_class(cls), device=device)


def kind_of_class(cls: type) -> str:
    for kind, (module_name, class_name) in MODEL_REGISTRY.items():
        if cls.__module__ == module_name and cls.__name__ == class_name:
            return kind
    raise CheckpointError(f"{cls.__name__} is not a registered model kind")


def missing_checkpoint_hint(path: str | os.PathLike[str], kind: str) -> str:
    """A one-line message that says which command creates the missing file."""
    command = TRAIN_COMMANDS.get(kind, "python cli.py train ...")
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
    """Read a file written by `save_state`."""
    path = _open_checked(path)
    tensors, metadata = _read_all(path)
    if metadata.get("format") != "vaegan-state":
        raise CheckpointError(f"{path} is not a vaegan training-state file")
    try:
        return _decode(json.loads(metadata["state"]), tensors)
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path} has an unreadable training state: {exc}") from exc
