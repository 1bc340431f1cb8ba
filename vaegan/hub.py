"""Checkpoints on the Hugging Face Hub: `hf://OWNER/REPO/PATH.safetensors[@REVISION]` wherever a path is accepted.

* `resolve_checkpoint(spec)` turns a spec into a local file (downloaded once into the Hub cache by
  `huggingface_hub.hf_hub_download`); a plain path comes back unchanged. `vaegan.checkpoint.load_model` and
  `read_info` call it first, so a Hub file then goes through exactly the checks of a local one.
* `resolve_folder(spec)` does the same for `hf://OWNER/REPO[/FOLDER][@REVISION]`: the folder's `.safetensors` files
  (the app's `VAEGAN_CHECKPOINTS`).

Publishing (model cards and `push`) lives in `vaegan.publish`, which reads checkpoints: `vaegan.checkpoint` imports
this module, so this module imports neither.

huggingface_hub is imported only when a Hub spec is used, so the CLI and the app start as fast as before. This
module imports nothing heavy at the top (no torch).

The variables huggingface_hub reads once, when it is imported (`HF_HUB_OFFLINE`, `HF_ENDPOINT`, `HF_HUB_CACHE`,
`HF_HOME`), are read here again on every call and passed on explicitly: a long-lived process (the app, a test
session) that changes them gets what it set, not what was set when the library happened to be imported first.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaegan.errors import HubError
from vaegan.version import __version__

PREFIX = "hf://"
SPEC_FORMAT = "hf://OWNER/REPO/PATH.safetensors[@REVISION]"
FOLDER_FORMAT = "hf://OWNER/REPO[/FOLDER][@REVISION]"
REPO_FORMAT = "hf://OWNER/REPO[@REVISION]"
# What a repo written by `vaegan push` holds besides its weights: the file a whole-repo spec reads first (which file
# holds which kind of model), and the one whose downloads the Hub counts for a library it does not know.
CONFIG_FILE = "config.json"

# Hub names: letters, digits, '-', '_', '.', not starting or ending with '-' or '.', no '--' or '..', at most 96.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
# `pathlib.Path("hf://a/b/c")` collapses the double slash to "hf:/a/b/c", and Typer hands `--ckpt` over as a Path:
# both spellings are the same spec.
_PREFIX_RE = re.compile(r"^hf://?")
_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's own reading of boolean variables
_BARE_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[^@\s]+)?")


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


# ------------------------------------------------------------------------------------------------- specs


def is_hub_spec(spec: str | os.PathLike[str]) -> bool:
    """True for `hf://...` (also in its `Path`-collapsed form `hf:/...`); no network, no import."""
    return _PREFIX_RE.match(os.fspath(spec)) is not None


def check_name(what: str, name: str, spec: str, expected: str) -> None:
    """A Hub owner or repo name, or a one-line HubError that says what a valid one looks like."""
    if not _NAME.fullmatch(name) or "--" in name or ".." in name:
        raise HubError(
            f"{spec!r}: {what} {name!r} is not a valid Hub name (letters, digits, '-', '_', '.'; no leading or "
            f"trailing '-'/'.'); expected {expected}"
        )


def repo_spec(spec: str | os.PathLike[str]) -> HubSpec | None:
    """The parsed spec when `spec` names a whole repo (`hf://OWNER/REPO[@REVISION]`, no file), else None: such a
    spec loads the file its `config.json` names for the kind asked for (`resolve_checkpoint`)."""
    text = os.fspath(spec)
    match = _PREFIX_RE.match(text)
    if match is None or text[match.end() :].partition("@")[0].count("/") != 1:
        return None
    return parse_spec(text, folder=True)


def as_repo_spec(name: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """`OWNER/REPO[@REVISION]` as `hf://OWNER/REPO[@REVISION]` when it is not a local path, as
    `Model.from_pretrained("user/repo")` takes it; anything else unchanged."""
    text = os.fspath(name)
    if is_hub_spec(text) or text.endswith(".safetensors") or _BARE_REPO.fullmatch(text) is None:
        return name
    if Path(text).exists():
        return name
    return PREFIX + text


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
    check_name("owner", owner, text, expected)
    check_name("repo name", name, text, expected)
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


def hub_endpoint() -> str | None:
    """HF_ENDPOINT as it is now (None: huggingface.co); read on every call, see the module docstring."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or None


def _cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None  # the library's default (~/.cache/huggingface/hub)


def client_info() -> dict[str, str]:
    """How vaegan introduces itself to the Hub (its user agent), for downloads and pushes alike."""

    return {"library_name": "vaegan", "library_version": __version__}


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message: Hub errors carry pages of server detail below it."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def is_network_error(exc: BaseException) -> bool:
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
    # huggingface_hub only when a Hub spec is used (start-up stays light)
    from huggingface_hub import errors as hf

    endpoint = hub_endpoint() or "https://huggingface.co"
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
        return HubError(f"the Hub answered {status} for {spec}: {first_line(exc)}")
    if is_network_error(exc):
        return HubError(f"could not reach the Hub at {endpoint} for {spec}: {first_line(exc)}")
    if isinstance(exc, OSError):
        return HubError(f"could not store {spec} in the Hub cache ({_cache_dir() or 'default'}): {first_line(exc)}")
    return HubError(f"downloading {spec} failed: {type(exc).__name__}: {first_line(exc)}")


def resolve_checkpoint(spec: str | os.PathLike[str], kind: str | None = None) -> Path:
    """A local path for `spec`: a plain path as it is, an `hf://` file spec downloaded into the Hub cache, and a
    whole-repo spec (`hf://OWNER/REPO[@REV]`) as the file its `config.json` names: the first file of `kind` when a
    kind is asked for, else the repo's main weights.

    Offline (HF_HUB_OFFLINE=1) a cached file is used and nothing is requested; an uncached one is a HubError
    that says so. Online, when the Hub cannot be reached, huggingface_hub falls back to the cached file.
    """
    if not is_hub_spec(spec):
        return Path(spec)
    whole = repo_spec(spec)
    if whole is not None:
        return _download(HubSpec(whole.repo_id, _weights_in_repo(whole, kind), whole.revision))
    return _download(parse_spec(spec))


def repo_config(spec: HubSpec) -> dict[str, Any]:
    """The repo's `config.json` (written by `vaegan push`): {"weights": main file, "files": {file: {"kind", ...}}}."""
    path = _download(HubSpec(spec.repo_id, CONFIG_FILE, spec.revision), missing=(
        f"{spec} has no {CONFIG_FILE} (it was not pushed by vaegan): name the file, {SPEC_FORMAT}"
    ))  # fmt: skip
    try:
        config = json.loads(path.read_text())
        if not isinstance(config, dict) or not isinstance(config.get("files"), dict):
            raise ValueError("no 'files' object")
        return config
    except (OSError, ValueError) as exc:
        raise HubError(
            f"{spec}: its {CONFIG_FILE} is not a vaegan repo config ({exc}); name the file, {SPEC_FORMAT}"
        ) from exc


def _weights_in_repo(spec: HubSpec, kind: str | None) -> str:
    config = repo_config(spec)
    files: dict[str, Any] = config["files"]
    if kind is None:
        weights = config.get("weights")
        if isinstance(weights, str) and weights in files:
            return weights
        raise HubError(f"{spec}: its {CONFIG_FILE} names no main weights; name the file, {SPEC_FORMAT}")
    for name, entry in files.items():
        if isinstance(entry, dict) and entry.get("kind") == kind:
            return name
    held = ", ".join(f"{name} ({entry.get('kind')})" for name, entry in files.items() if isinstance(entry, dict))
    raise HubError(f"{spec} holds no {kind!r} model (it holds: {held or 'nothing'})")


def _download(spec: HubSpec, missing: str | None = None) -> Path:
    """One file of a repo into the Hub cache (or from it, offline); every failure one HubError line (`missing`:
    the line for a file the repo does not have)."""
    is_offline = offline()
    # huggingface_hub only when a Hub spec is used (start-up stays light)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError  # (the same reason)

    try:
        local = hf_hub_download(
            spec.repo_id,
            spec.path,
            revision=spec.revision,
            cache_dir=_cache_dir(),
            endpoint=hub_endpoint(),
            local_files_only=is_offline,
            **client_info(),
        )
    except Exception as exc:  # every failure becomes one HubError line; the cause stays chained
        # (not in the local cache is also an EntryNotFoundError: that one is about the cache, not the repo)
        if missing is not None and isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError):
            raise HubError(missing) from exc
        raise _download_error(exc, spec, is_offline) from exc
    return Path(local)


def resolve_folder(spec: str | os.PathLike[str]) -> Path:
    """A local folder for `spec`: a plain path as it is, `hf://OWNER/REPO[/FOLDER][@REV]` as the cached snapshot
    of that folder's `.safetensors` files (only those are downloaded)."""
    if not is_hub_spec(spec):
        return Path(spec)
    parsed = parse_spec(spec, folder=True)
    is_offline = offline()
    # huggingface_hub only when a Hub spec is used (start-up stays light)
    from huggingface_hub import snapshot_download

    pattern = f"{parsed.path}/*.safetensors" if parsed.path else "*.safetensors"
    try:
        local = snapshot_download(
            parsed.repo_id,
            revision=parsed.revision,
            allow_patterns=[pattern],
            cache_dir=_cache_dir(),
            endpoint=hub_endpoint(),
            local_files_only=is_offline,
            **client_info(),
        )
    except Exception as exc:
        raise _download_error(exc, parsed, is_offline) from exc
    return Path(local) / parsed.path if parsed.path else Path(local)
