"""Publishing checkpoints on the Hugging Face Hub: a model card generated from the self-describing headers, and
`push`, which commits the file(s) and that card to a model repo in one commit.

* `model_card(path)` writes a Hub model card (YAML front matter + Markdown) from the header(s) alone.
* `push(path, repo_id)` creates the model repo if needed and commits the file(s) plus that card with `HfApi`.

huggingface_hub is imported only inside these calls, so importing this module stays light.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import vaegan
from vaegan.checkpoint import MODEL_REGISTRY, CheckpointInfo, load_model, read_info
from vaegan.errors import CheckpointError, HubError
from vaegan.hub import (
    CONFIG_FILE,
    PREFIX,
    check_name,
    client_info,
    first_line,
    hub_endpoint,
    is_hub_spec,
    is_network_error,
    offline,
)
from vaegan.images import png_bytes, unit_to_signed
from vaegan.latent import sample_images
from vaegan.version import __version__

DEFAULT_LICENSE = "mit"  # the project's license (LICENSE); the card names the training data's own terms too
SAMPLED_KINDS = ("vae", "wgan-generator")  # the kinds whose card shows a grid of samples


@dataclass(frozen=True)
class PushResult:
    """What `push` made: the repo, the commit, and the `hf://` spec of every uploaded checkpoint."""

    repo_url: str
    commit_url: str
    specs: tuple[str, ...]


# --------------------------------------------------------------------------------------------- model card

# What each kind is, for the card: tags, the Hub task, one sentence, and the command that uses the file.
_KIND_CARD: dict[str, dict[str, Any]] = {
    "vae": {
        "tags": ["vae", "variational-autoencoder"],
        "pipeline_tag": "unconditional-image-generation",
        "what": "A variational autoencoder (Bernoulli decoder, N(0, I) prior) trained on the negative ELBO.",
        "command": "vaegan eval vae --ckpt {spec}",
    },
    "wgan-generator": {
        "tags": ["gan", "wgan-gp", "dcgan"],
        "pipeline_tag": "unconditional-image-generation",
        "what": "The generator of a WGAN-GP (DCGAN architecture, 32×32×3 images); the exported weights are its EMA.",
        "command": "vaegan sample wgan --ckpt {spec}",
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
        "command": "vaegan eval wgan --classifier {spec}",
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


def sample_image_name(filename: str) -> str:
    """The name of the sample grid pushed beside a model file: `wgan.safetensors` -> `wgan_samples.png`."""
    return filename.removesuffix(".safetensors") + "_samples.png"


def sample_grid(path: str | os.PathLike[str], n: int = 16, seed: int = 0) -> bytes | None:
    """A PNG of `n` samples of a generator or a VAE file (latents or noise from `seed`), None for other kinds: the
    picture on the model card."""
    info = read_info(path)
    if info.kind not in SAMPLED_KINDS:
        return None
    model = load_model(path, kind=info.kind)
    if info.kind == "vae":  # VAE.sample and sample_images build no autograd graph
        images = unit_to_signed(model.sample(n, torch.Generator().manual_seed(seed)))
    else:
        images = sample_images(model, n, seed)
    return png_bytes(images, nrow=8)


def is_evaluation_metric(key: str, value: Any) -> bool:
    """A header metric measured on data the model did not train on (valid_*, test_*, holdout_*, heldout_*, or a
    sample-quality score), not a training loss or a count: what the card's model-index reports."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    held_out = key.startswith(("valid_", "test_", "holdout_", "heldout_")) and not key.endswith("_n")
    return held_out or key in ("fd", "fid", "precision", "recall")


def dataset_id(spec: str) -> str:
    """What the card calls a dataset spec: its Hub dataset id when it has one ("mnist" -> ylecun/mnist), else the
    name of its first file without folders or suffix (a local path means nothing on the Hub)."""
    names = _dataset_names(spec)
    if not names:
        return "unknown"
    return _HUB_DATASETS.get(names[0].lower()) or Path(names[0]).stem or names[0]


def eval_results(filename: str, info: CheckpointInfo) -> list[Any]:
    """The header's evaluation metrics as the card's model-index entries (the Hub shows them as the model's
    scores), on the held-out data the file names (else its training data)."""
    from huggingface_hub import EvalResult  # huggingface_hub only when a card is made (start-up stays light)

    dataset = dataset_id(info.extra.get("heldout") or info.extra.get("holdout") or info.dataset)
    task = _KIND_CARD.get(info.kind, {}).get("pipeline_tag") or "other"
    return [
        EvalResult(task_type=task, dataset_type=dataset, dataset_name=dataset, metric_type=key,
                   metric_name=f"{key} ({filename})", metric_value=value)
        for key, value in info.metrics.items()
        if is_evaluation_metric(key, value)
    ]  # fmt: skip


def repo_config_for(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> dict[str, Any]:
    """The repo's `config.json`: which file holds which kind of model (the first file is the main one) and each
    one's config, so `Model.from_pretrained("OWNER/REPO")` finds its file (`vaegan.hub.repo_config` reads it). The
    Hub counts a repo's downloads by the requests for this file when it does not know the library."""
    infos = [(Path(os.fspath(p)).name, read_info(p)) for p in _as_paths(path)]
    if not infos:
        raise CheckpointError("a repo config needs at least one checkpoint")
    main_name, main = infos[0]
    return {
        "library_name": "vaegan",
        "vaegan_version": __version__,
        "weights": main_name,
        "kind": main.kind,
        "config": main.config,
        "files": {
            name: {"kind": info.kind, "config": info.config, "dataset": info.dataset, "steps": info.steps,
                   "metrics": info.metrics}
            for name, info in infos
        },
    }  # fmt: skip


def model_card(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    repo_id: str | None = None,
    license: str = DEFAULT_LICENSE,
    images: Sequence[str] = (),
) -> str:
    """A Hub model card (README.md) for one checkpoint, or for several that share a repo, from their headers alone.

    Front matter: `library_name: vaegan`, the license, tags from the kinds and data, `datasets` where the training
    data is a Hub dataset, the Hub task, and the header's metrics as `model-index`. Body: what each file is, its
    sample grid (`images`: names of the PNGs pushed beside the weights), how to load it, its config, training,
    metrics and the exact command that made it. `repo_id` (OWNER/NAME) makes the usage examples exact.
    """
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

    # huggingface_hub only when a card is made (start-up stays light)
    from huggingface_hub import ModelCard, ModelCardData

    title = repo_id.split("/")[-1] if repo_id else infos[0][0].removesuffix(".safetensors")
    data = ModelCardData(
        library_name="vaegan",
        license=license,
        tags=sorted(tags),
        datasets=datasets or None,
        # a generator's task wins over the classifier's when a repo holds both
        pipeline_tag=pipeline_tags[0] if pipeline_tags else None,
        model_name=title,
        eval_results=[result for filename, info in infos for result in eval_results(filename, info)] or None,
    )
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
    body += ["", "## Use it", "", 'From a vaegan checkout (`pip install -e ".[hub]"`):', "", "```python",
             "from vaegan import load_model", ""]
    for filename, info in infos:
        spec = f"{PREFIX}{repo_id}/{filename}" if repo_id else filename
        body.append(f'model = load_model("{spec}", kind="{info.kind}")')
    if repo_id:
        # each kind's class (the registry), where `from vaegan import` offers it (not the critic)
        classes = [MODEL_REGISTRY[info.kind][1] for _, info in infos if info.kind in MODEL_REGISTRY]
        by_repo = {cls: None for cls in classes if cls in vaegan.__all__}
        if by_repo:
            body += ["", f"# or by repo id: the repo's {CONFIG_FILE} says which file holds each kind",
                     f"from vaegan import {', '.join(sorted(by_repo))}"]
            body += [f'{cls.lower()} = {cls}.from_pretrained("{repo_id}")' for cls in by_repo]
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
        image = sample_image_name(filename)
        if image in images:
            body += [f"![16 samples of {filename}, seed 0]({image})", ""]
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
    body += ["## License", "", f"The weights: `{license}`. They were trained on the data named above, under its own "
             "terms: MNIST is CC BY-SA 3.0 (Yann LeCun and Corinna Cortes); SVHN is for non-commercial use only.", ""]
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body).rstrip() + "\n")
    return str(card)


# --------------------------------------------------------------------------------------------------- push


def _push_error(exc: Exception, repo_id: str) -> HubError:
    # huggingface_hub only when a push fails
    from huggingface_hub import errors as hf

    endpoint = hub_endpoint() or "https://huggingface.co"
    if isinstance(exc, hf.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return HubError(
                f"the Hub refused to write to {repo_id} ({status}): log in with a write token (hf auth login, "
                "HF_TOKEN, or --token) and check that you may write to that namespace"
            )
        if isinstance(exc, hf.RepositoryNotFoundError):
            return HubError(f"no model repo {repo_id} on the Hub ({endpoint}) and it could not be created (404)")
        return HubError(f"the Hub answered {status or 'an error'} while pushing to {repo_id}: {first_line(exc)}")
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return HubError(f"cannot push to {repo_id}: offline mode is on (unset HF_HUB_OFFLINE)")
    if is_network_error(exc):
        return HubError(f"could not reach the Hub at {endpoint} to push to {repo_id}: {first_line(exc)}")
    if isinstance(exc, ValueError):  # e.g. the Hub rejected the card's YAML
        return HubError(f"pushing to {repo_id} failed: {first_line(exc)}")
    return HubError(f"pushing to {repo_id} failed: {type(exc).__name__}: {first_line(exc)}")


def push(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    repo_id: str,
    private: bool = False,
    token: str | None = None,
    license: str = DEFAULT_LICENSE,
) -> PushResult:
    """Upload checkpoint file(s), their `config.json`, a sample grid of each generator or VAE and a generated
    README.md model card (with `license`) to the Hub model repo `repo_id`, in one commit.

    The repo is created if needed (`private` applies only then). Every file must be a vaegan model file: it is
    read (header checks) before anything is sent. `token` defaults to HF_TOKEN or the `hf auth login` token.
    """
    owner, _, name = repo_id.partition("/")
    if not owner or not name or "/" in name:
        raise HubError(f"repo {repo_id!r} is not OWNER/NAME")
    check_name("owner", owner, repo_id, "OWNER/NAME")
    check_name("repo name", name, repo_id, "OWNER/NAME")
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
    images = {sample_image_name(f.name): png for f in files if (png := sample_grid(f)) is not None}
    card = model_card(files, repo_id=repo_id, license=license, images=list(images))
    config = json.dumps(repo_config_for(files), indent=2).encode()

    # huggingface_hub only when pushing
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=hub_endpoint(), token=token, **client_info())
    operations = [CommitOperationAdd(path_in_repo=f.name, path_or_fileobj=str(f)) for f in files]
    operations += [CommitOperationAdd(path_in_repo=name, path_or_fileobj=png) for name, png in images.items()]
    operations.append(CommitOperationAdd(path_in_repo=CONFIG_FILE, path_or_fileobj=config))
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


__all__ = ["PushResult", "model_card", "push"]
