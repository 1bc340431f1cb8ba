"""Checkpoints on the Hugging Face Hub: `hf://OWNER/REPO/PATH.safetensors[@REVISION]` wherever a path is accepted.

* `resolve_checkpoint(spec)` turns a spec into a local file (downloaded once into the Hub cache by
  `huggingface_hub.hf_hub_download`); a plain path comes back unchanged. `vaegan.checkpoint.load_model` and
  `read_info` call it first, so a Hub file then goes through exactly the checks of a local one.
* `resolve_folder(spec)` does the same for `hf://OWNER/REPO[/FOLDER][@REVISION]`: the folder's `.safetensors` files
  (the app's `VAEGAN_CHECKPOINTS`).
* `model_card(path)` writes a Hub model card (YAML front matter + Markdown) from the self-describing header;
  `push(path, repo_id)` creates the model repo if needed and commits the file(s) plus that card with `HfApi`.

huggingface_hub is imported only when a Hub spec is used, so the CLI and the app start as fast as before. This
module imports nothing heavy at the top (no torch): `vaegan.checkpoint` imports it.

The variables huggingface_hub reads once, when it is imported (`HF_HUB_OFFLINE`, `HF_ENDPOINT`, `HF_HUB_CACHE`,
`HF_HOME`), are read here again on every call and passed on explicitly: a long-lived process (the app, a test
session) that changes them gets what it set, not what was set when the library happened to be imported first.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaegan.errors import CheckpointError, HubError

PREFIX = "hf://"
SPEC_FORMAT = "hf://OWNER/REPO/PATH.safetensors[@REVISION]"
FOLDER_FORMAT = "hf://OWNER/REPO[/FOLDER][@REVISION]"

# Hub names: letters, digits, '-', '_', '.', not starting or ending with '-' or '.', no '--' or '..', at most 96.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
# `pathlib.Path("hf://a/b/c")` collapses the double slash to "hf:/a/b/c", and Typer hands `--ckpt` over as a Path:
# both spellings are the same spec.
_PREFIX_RE = re.compile(r"^hf://?")
_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's own reading of boolean variables


@dataclass(frozen=True)
class HubSpec:
    """A parsed `hf://` spec. `path` is the file (or, for a folder spec, the folder; '' for the repo root)."""

    repo_id: str
    path: str
    revision: str | None = None

    def __str__(self) -> str:
        return f"{PREFIX}{self.repo_id}" + (f"/{self.path}" if self.path else "") + (
            f"@{self.revision}" if self.revision else ""
        )


@dataclass(frozen=True)
class PushResult:
    """What `push` made: the repo, the commit, and the `hf://` spec of every uploaded checkpoint."""

    repo_url: str
    commit_url: str
    specs: tuple[str, ...]


# ------------------------------------------------------------------------------------------------- specs


def is_hub_spec(spec: str | os.PathLike[str]) -> bool:
    """True for `hf://...` (also in its `Path`-collapsed form `hf:/...`); no network, no import."""
    return _PREFIX_RE.match(os.fspath(spec)) is not None


def _check_name(what: str, name: str, spec: str, expected: str) -> None:
    if not _NAME.fullmatch(name) or "--" in name or ".." in name:
        raise HubError(
            f"{spec!r}: {what} {name!r} is not a valid Hub name (letters, digits, '-', '_', '.'; no leading or "
            f"trailing '-'/'.'); expected {expected}"
        )


def parse_spec(spec: str | os.PathLike[str], *, folder: bool = False) -> HubSpec:
    """Parse `hf://OWNER/REPO/PATH.safetensors[@REVISION]` (or, with `folder`, `hf://OWNER/REPO[/FOLDER][@REV]`)."""
    text = os.fspath(spec)
    expected = FOLDER_FORMAT if folder else SPEC_FORMAT
    match = _PREFIX_RE.match(text)
    if match is None:
        raise HubError(f"{text!r} is not a Hub spec; expected {expected}")
    rest = text[match.end() :]
    text = PREFIX + rest  # messages show the spec as typed, not Path's collapsed "hf:/"
    # The revision follows the one '@' (a branch such as refs/pr/1 may hold '/'; a file name here may not hold '@').
    rest, at, revision = rest.partition("@")
    if at and (not revision or "@" in revision):
        raise HubError(f"{text!r}: empty or repeated @REVISION; expected {expected}")
    parts = rest.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise HubError(f"{text!r} does not name a repo; expected {expected}")
    owner, name, *path_parts = parts
    _check_name("owner", owner, text, expected)
    _check_name("repo name", name, text, expected)
    if any(part in ("", ".", "..") for part in path_parts):
        raise HubError(f"{text!r}: empty, '.' or '..' path segment; expected {expected}")
    path = "/".join(path_parts)
    if not folder and not path.endswith(".safetensors"):
        raise HubError(f"{text!r} does not name a .safetensors file in the repo; expected {expected}")
    if folder and path.endswith(".safetensors"):
        raise HubError(f"{text!r} names a file, but a folder is expected here: {expected}")
    return HubSpec(repo_id=f"{owner}/{name}", path=path, revision=revision or None)


# -------------------------------------------------------------------------------------------- downloading


def offline() -> bool:
    """Offline mode, as huggingface_hub defines it (HF_HUB_OFFLINE, or the older TRANSFORMERS_OFFLINE)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    if value.strip().upper() in _TRUE:
        return True
    # Also when the library was imported in offline mode: from then on it refuses every request anyway.
    constants = sys.modules.get("huggingface_hub.constants")
    return bool(constants is not None and constants.HF_HUB_OFFLINE)


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or None


def _cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None  # the library's default (~/.cache/huggingface/hub)


def _client_info() -> dict[str, str]:
    from vaegan import __version__

    return {"library_name": "vaegan", "library_version": __version__}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _is_network_error(exc: BaseException) -> bool:
    """Connection refused, DNS failure, timeout: whichever HTTP library this huggingface_hub version uses."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    for module_name, class_name in (("httpx", "TransportError"), ("requests.exceptions", "ConnectionError")):
        try:
            module = __import__(module_name, fromlist=[class_name])
        except ImportError:
            continue
        if isinstance(exc, getattr(module, class_name)):
            return True
    return False


def _download_error(exc: Exception, spec: HubSpec, is_offline: bool) -> HubError:
    """One line that says what failed and what to do, for every way a Hub download can fail."""
    from huggingface_hub import errors as hf

    endpoint = _endpoint() or "https://huggingface.co"
    revision = spec.revision or "main"
    if isinstance(exc, (hf.LocalEntryNotFoundError, hf.OfflineModeIsEnabled)):
        if is_offline:
            return HubError(
                f"{spec} is not in the local Hub cache and offline mode is on (HF_HUB_OFFLINE=1): run once with the "
                "network on (unset HF_HUB_OFFLINE) to download it, or pass a local .safetensors path"
            )
        return HubError(
            f"could not reach the Hub at {endpoint} for {spec}, and it is not in the local cache: check the network "
            "(or HF_ENDPOINT) and try again, or pass a local .safetensors path"
        )
    if isinstance(exc, hf.GatedRepoError):
        return HubError(f"{spec.repo_id} is a gated repo: accept its terms on the Hub, then log in (hf auth login)")
    if isinstance(exc, hf.RepositoryNotFoundError):
        return HubError(
            f"no model repo {spec.repo_id} on the Hub ({endpoint}, 404); a private repo needs a login "
            "(hf auth login, or HF_TOKEN)"
        )
    if isinstance(exc, hf.RevisionNotFoundError):
        return HubError(f"{spec.repo_id} has no revision {revision!r} on the Hub (404)")
    if isinstance(exc, hf.EntryNotFoundError):
        return HubError(f"{spec.repo_id} has no file {spec.path or '*.safetensors'} at revision {revision!r} (404)")
    if isinstance(exc, hf.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "an error"
        return HubError(f"the Hub answered {status} for {spec}: {_first_line(exc)}")
    if _is_network_error(exc):
        return HubError(f"could not reach the Hub at {endpoint} for {spec}: {_first_line(exc)}")
    if isinstance(exc, OSError):
        return HubError(f"could not store {spec} in the Hub cache ({_cache_dir() or 'default'}): {_first_line(exc)}")
    return HubError(f"downloading {spec} failed: {type(exc).__name__}: {_first_line(exc)}")


def resolve_checkpoint(spec: str | os.PathLike[str]) -> Path:
    """A local path for `spec`: a plain path as it is, an `hf://` file spec downloaded into the Hub cache.

    Offline (HF_HUB_OFFLINE=1) a cached file is used and nothing is requested; an uncached one is a HubError
    that says so. Online, when the Hub cannot be reached, huggingface_hub falls back to the cached file.
    """
    if not is_hub_spec(spec):
        return Path(spec)
    parsed = parse_spec(spec)
    is_offline = offline()
    from huggingface_hub import hf_hub_download

    try:
        local = hf_hub_download(
            parsed.repo_id,
            parsed.path,
            revision=parsed.revision,
            cache_dir=_cache_dir(),
            endpoint=_endpoint(),
            local_files_only=is_offline,
            **_client_info(),
        )
    except Exception as exc:  # every failure becomes one HubError line; the cause stays chained
        raise _download_error(exc, parsed, is_offline) from exc
    return Path(local)


def resolve_folder(spec: str | os.PathLike[str]) -> Path:
    """A local folder for `spec`: a plain path as it is, `hf://OWNER/REPO[/FOLDER][@REV]` as the cached snapshot
    of that folder's `.safetensors` files (only those are downloaded)."""
    if not is_hub_spec(spec):
        return Path(spec)
    parsed = parse_spec(spec, folder=True)
    is_offline = offline()
    from huggingface_hub import snapshot_download

    pattern = f"{parsed.path}/*.safetensors" if parsed.path else "*.safetensors"
    try:
        local = snapshot_download(
            parsed.repo_id,
            revision=parsed.revision,
            allow_patterns=[pattern],
            cache_dir=_cache_dir(),
            endpoint=_endpoint(),
            local_files_only=is_offline,
            **_client_info(),
        )
    except Exception as exc:
        raise _download_error(exc, parsed, is_offline) from exc
    return Path(local) / parsed.path if parsed.path else Path(local)


# --------------------------------------------------------------------------------------------- model card

# What each kind is, for the card: tags, the Hub task, one sentence, and the command that uses the file.
_KIND_CARD: dict[str, dict[str, Any]] = {
    "vae": {
        "tags": ["vae", "variational-autoencoder"],
        "pipeline_tag": "unconditional-image-generation",
        "what": "A variational autoencoder (Bernoulli decoder, N(0, I) prior) trained on the negative ELBO.",
        "command": "python cli.py eval vae --ckpt {spec}",
    },
    "wgan-generator": {
        "tags": ["gan", "wgan-gp", "dcgan"],
        "pipeline_tag": "unconditional-image-generation",
        "what": "The generator of a WGAN-GP (DCGAN architecture, 32×32×3 images); the exported weights are its EMA.",
        "command": "python cli.py sample wgan --ckpt {spec}",
    },
    "wgan-critic": {
        "tags": ["gan", "wgan-gp", "dcgan"],
        "pipeline_tag": None,
        "what": "The critic of a WGAN-GP (DCGAN architecture, 32×32×3 images).",
        "command": None,
    },
    "digit-classifier": {
        "tags": ["image-classification", "digits"],
        "pipeline_tag": "image-classification",
        "what": "A small CNN digit classifier; vaegan scores generated digits on its features (Fréchet distance, "
        "precision/recall) and labels them.",
        "command": "python cli.py eval wgan --classifier {spec}",
    },
}
# Dataset specs that are Hub datasets (front matter `datasets:` must name Hub dataset ids; other specs, such as a
# local .npz, are described in the body only).
_HUB_DATASETS = {"mnist": "ylecun/mnist", "svhn": "ufldl-stanford/svhn"}


def _dataset_names(dataset: str) -> list[str]:
    """'a.npz@0:100+mnist' -> ['a.npz', 'mnist']: the parts of a joined, sliced dataset spec."""
    return [part.split("@")[0].strip() for part in dataset.split("+") if part.strip()]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (dict, list, tuple)):
        import json

        text = json.dumps(value)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: dict[str, Any], header: tuple[str, str]) -> list[str]:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| `{_cell(key)}` | {_cell(value)} |" for key, value in rows.items()]
    return lines


def _as_paths(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str | os.PathLike[str]]:
    return [path] if isinstance(path, (str, os.PathLike)) else list(path)


def model_card(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, repo_id: str | None = None
) -> str:
    """A Hub model card (README.md) for one checkpoint, or for several that share a repo, from their headers alone.

    Front matter: `library_name: vaegan`, tags from the kinds and data, `datasets` where the training data is a
    Hub dataset, the Hub task. Body: what each file is, how to load it, its config, training, metrics and the
    command that made it. `repo_id` (OWNER/NAME) makes the usage examples exact `hf://` specs.
    """
    from vaegan.checkpoint import read_info  # here, not at the top: vaegan.checkpoint imports this module

    infos = [(Path(os.fspath(p)).name, read_info(p)) for p in _as_paths(path)]
    if not infos:
        raise CheckpointError("model_card needs at least one checkpoint")
    tags = {"vaegan", "pytorch", "safetensors"}
    datasets: list[str] = []
    pipeline_tags: list[str] = []
    for _, info in infos:
        kind = _KIND_CARD.get(info.kind, {"tags": [], "pipeline_tag": None})
        tags.update(kind["tags"])
        if kind["pipeline_tag"] and kind["pipeline_tag"] not in pipeline_tags:
            pipeline_tags.append(kind["pipeline_tag"])
        for name in _dataset_names(info.dataset):
            lowered = name.lower()
            tags.update(tag for tag in ("mnist", "svhn") if tag in lowered)
            hub_id = _HUB_DATASETS.get(lowered)
            if hub_id and hub_id not in datasets:
                datasets.append(hub_id)

    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(
        library_name="vaegan",
        tags=sorted(tags),
        datasets=datasets or None,
        # a generator's task wins over the classifier's when a repo holds both
        pipeline_tag=pipeline_tags[0] if pipeline_tags else None,
    )
    title = repo_id.split("/")[-1] if repo_id else infos[0][0].removesuffix(".safetensors")
    body = [f"# {title}", ""]
    body += [
        "Weights made with **vaegan**, a project that trains, measures and shows VAEs and GANs. Each file is a "
        "self-describing `.safetensors`: its header holds the model kind, config, training data, steps and "
        "metrics, so `load_model` rebuilds the model from the file alone (no pickle). This card is generated "
        "from those headers.",
        "",
        "| file | kind | what it is |",
        "|---|---|---|",
    ]
    for filename, info in infos:
        what = _KIND_CARD.get(info.kind, {}).get("what", info.kind)
        body.append(f"| `{filename}` | `{info.kind}` | {what} |")
    body += ["", "## Use it", "", "From a vaegan checkout (`pip install -r requirements.txt`):", "", "```python",
             "from vaegan.checkpoint import load_model", ""]
    for filename, info in infos:
        spec = f"{PREFIX}{repo_id}/{filename}" if repo_id else filename
        body.append(f'model = load_model("{spec}", kind="{info.kind}")')
    body += ["```", "", "```bash"]
    for filename, info in infos:
        command = _KIND_CARD.get(info.kind, {}).get("command")
        if command:
            body.append(command.format(spec=f"{PREFIX}{repo_id}/{filename}" if repo_id else filename))
    body += [
        "```",
        "",
        "With `HF_HUB_OFFLINE=1` a file downloaded once is loaded from the local Hub cache.",
    ]
    for filename, info in infos:
        body += ["", f"## `{filename}`", "", _KIND_CARD.get(info.kind, {}).get("what", f"A `{info.kind}` model."), ""]
        body += ["**Config**", "", *_table(info.config, ("field", "value")), ""]
        unit = "epochs" if info.kind == "vae" else "steps"
        training: dict[str, Any] = {"dataset": info.dataset or "unknown", unit: info.steps}
        training.update(info.extra.get("train_config", {}))
        body += ["**Training**", "", *_table(training, ("setting", "value")), ""]
        if info.extra.get("data_note"):
            body += [f"Data: {info.extra['data_note']}", ""]
        if info.metrics:
            body += ["**Metrics** (as stored in the header)", "", *_table(info.metrics, ("metric", "value")), ""]
        commands = info.extra.get("commands") or ([info.extra["command"]] if info.extra.get("command") else [])
        if commands:
            body += ["**Made by**", "", "```bash", *commands, "```", ""]
        provenance = {"vaegan version": info.version or "unknown"}
        for key in ("torch", "hardware", "train_seconds_total", "wall_seconds", "holdout", "heldout"):
            if key in info.extra:
                provenance[key] = info.extra[key]
        body += ["**Provenance**", "", *_table(provenance, ("what", "value")), ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body).rstrip() + "\n")
    return str(card)


# --------------------------------------------------------------------------------------------------- push


def _push_error(exc: Exception, repo_id: str) -> HubError:
    from huggingface_hub import errors as hf

    endpoint = _endpoint() or "https://huggingface.co"
    if isinstance(exc, hf.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return HubError(
                f"the Hub refused to write to {repo_id} ({status}): log in with a write token (hf auth login, "
                "HF_TOKEN, or --token) and check that you may write to that namespace"
            )
        if isinstance(exc, hf.RepositoryNotFoundError):
            return HubError(f"no model repo {repo_id} on the Hub ({endpoint}) and it could not be created (404)")
        return HubError(f"the Hub answered {status or 'an error'} while pushing to {repo_id}: {_first_line(exc)}")
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return HubError(f"cannot push to {repo_id}: offline mode is on (unset HF_HUB_OFFLINE)")
    if _is_network_error(exc):
        return HubError(f"could not reach the Hub at {endpoint} to push to {repo_id}: {_first_line(exc)}")
    if isinstance(exc, ValueError):  # e.g. the Hub rejected the card's YAML
        return HubError(f"pushing to {repo_id} failed: {_first_line(exc)}")
    return HubError(f"pushing to {repo_id} failed: {type(exc).__name__}: {_first_line(exc)}")


def push(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    repo_id: str,
    private: bool = False,
    token: str | None = None,
) -> PushResult:
    """Upload checkpoint file(s) and a generated README.md model card to the Hub model repo `repo_id` in one commit.

    The repo is created if needed (`private` applies only then). Every file must be a vaegan model file: it is
    read (header checks) before anything is sent. `token` defaults to HF_TOKEN or the `hf auth login` token.
    """
    from vaegan.checkpoint import read_info

    owner, _, name = repo_id.partition("/")
    if not owner or not name or "/" in name:
        raise HubError(f"repo {repo_id!r} is not OWNER/NAME")
    _check_name("owner", owner, repo_id, "OWNER/NAME")
    _check_name("repo name", name, repo_id, "OWNER/NAME")
    files = [Path(os.fspath(p)) for p in _as_paths(path)]
    if not files:
        raise HubError("nothing to push: give at least one .safetensors file")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise HubError(f"two files with the same name would overwrite each other in {repo_id}: {sorted(names)}")
    for file in files:
        if is_hub_spec(file):
            raise HubError(f"{file} is already on the Hub; push a local file")
        read_info(file)  # a missing, corrupt or non-vaegan file fails here, before any request
    if offline():
        raise HubError(f"cannot push to {repo_id}: offline mode is on (unset HF_HUB_OFFLINE)")
    card = model_card(files, repo_id=repo_id)

    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=_endpoint(), token=token, **_client_info())
    operations = [CommitOperationAdd(path_in_repo=f.name, path_or_fileobj=str(f)) for f in files]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=card.encode()))
    try:
        repo_url = api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        # One commit for the weights and their card: the repo never shows a card that describes other files.
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=f"Upload {', '.join(names)} with vaegan",
            commit_description="Model card generated by vaegan from the safetensors header(s).",
        )
    except Exception as exc:
        raise _push_error(exc, repo_id) from exc
    return PushResult(
        repo_url=str(repo_url), commit_url=commit.commit_url, specs=tuple(f"{PREFIX}{repo_id}/{n}" for n in names)
    )
