"""What every page of the app shares: where files live, cached model loading that explains itself, image display.

(Over 400 lines: it is the one module the pages share, a set of small helpers, each used by several pages.)

Pages stay thin: they read widgets, call one function of `vaegan/`, and hand the tensors to `show_images` /
`show_strip`. Nothing here is maths: the test-digit helpers call `vaegan.data` (which finds, loads and downloads
them), and the classifier hook calls `vaegan.classifier`.

Environment variables (all optional):

* ``VAEGAN_CHECKPOINTS`` - folder with ``vae.safetensors`` (and ``vae_mlp.safetensors``, the reference MLP, when
  there is one), ``wgan.safetensors`` (and its ``wgan_timeline.safetensors``), ``classifier.safetensors``
  (default: ``checkpoints/`` of the repository), or a Hub folder ``hf://OWNER/REPO[/FOLDER][@REVISION]``. The tests
  point it at tiny random-weight models.
* ``VAEGAN_RESULTS`` - folder with the precomputed divergence sweeps (default: ``results/``).
* ``VAEGAN_APP_DATA`` - a dataset spec (any ``--data`` of the VAE; a lone ``.amat`` file is taken whole) whose
  test split the VAE page reconstructs. Without it the page looks for binarized MNIST in the download cache.
* ``VAEGAN_APP_HOLDOUT`` - a dataset spec of held-out 32x32 digits (any ``--data`` of ``eval wgan``) on which the
  "VAE vs GAN" page scores both models. Without it the page uses the VAE page's test digits, padded to 32x32.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
import torch
from PIL import Image

from vaegan.checkpoint import load_model, read_info
from vaegan.errors import CheckpointError, VaeganError
from vaegan.hub import is_hub_spec, resolve_folder
from vaegan.precomputed import FOLDER as PRECOMPUTED_FOLDER
from vaegan.precomputed import NumberStore
from vaegan.vocabulary import TRAIN_COMMANDS

REPO_ROOT = Path(__file__).resolve().parents[1]

# One intra-op thread: the app's forward passes are small (1-64 images), and there torch's thread pool costs more
# than it gives (docs/results.md#app). One thread per session also leaves the other cores to concurrent
# sessions.
APP_THREADS = int(os.environ.get("VAEGAN_APP_THREADS", "1"))

# On-screen size of one image cell. Digits are 28 or 32 pixels: upscaled with nearest-neighbour so every pixel is a
# crisp square instead of the browser's blur.
DISPLAY_SCALE = 4
# A strip of images fits this many pixels (the main column of the wide layout on a laptop screen); Streamlit puts
# about STRIP_GAP pixels between images.
STRIP_WIDTH = 880
STRIP_GAP = 10


# ------------------------------------------------------------------------------------------- where files live


def checkpoints_dir() -> Path:
    folder = os.environ.get("VAEGAN_CHECKPOINTS")
    if folder is not None and is_hub_spec(folder):  # hf://OWNER/REPO[/FOLDER][@REV]: its .safetensors files
        try:
            return _hub_folder(folder)
        except VaeganError as exc:
            st.error(f"**The checkpoints at `{folder}` could not be fetched.** {exc}", icon=":material/cloud_off:")
            st.stop()
    return Path(os.environ.get("VAEGAN_CHECKPOINTS", REPO_ROOT / "checkpoints"))


@st.cache_resource(show_spinner="Downloading the checkpoints from the Hub…")
def _hub_folder(spec: str) -> Path:
    # Once per server process (a failure is not cached): a Space restart picks up new commits of the repo.
    return resolve_folder(spec)


def results_dir() -> Path:
    return Path(os.environ.get("VAEGAN_RESULTS", REPO_ROOT / "results"))


def number_store() -> NumberStore:
    """The first-visit numbers `vaegan app precompute` stored under the results folder (vaegan.precomputed)."""
    return NumberStore(results_dir() / PRECOMPUTED_FOLDER)


def shown_path(path: Path) -> str:
    """A path as a user would type it from the repository root."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class ModelSlot:
    """One model file the app knows about."""

    kind: str  # registry kind in vaegan.checkpoint.MODEL_REGISTRY
    filename: str
    title: str
    train_args: str = ""  # flags the create command needs beyond --out (another architecture, say)

    @property
    def path(self) -> Path:
        return checkpoints_dir() / self.filename

    @property
    def create_command(self) -> str:
        command = TRAIN_COMMANDS.get(self.kind, "vaegan train ...")
        return f"{command}{' ' + self.train_args if self.train_args else ''} --out {shown_path(self.path)}"

    @property
    def name(self) -> str:
        """The file name without its suffix: how URLs and keys name the slot."""
        return Path(self.filename).stem


VAE_SLOT = ModelSlot("vae", "vae.safetensors", "VAE")
VAE_MLP_SLOT = ModelSlot("vae", "vae_mlp.safetensors", "VAE (reference MLP)", train_args="--arch mlp")
WGAN_SLOT = ModelSlot("wgan-generator", "wgan.safetensors", "WGAN-GP generator")
CLASSIFIER_SLOT = ModelSlot("digit-classifier", "classifier.safetensors", "Digit classifier")
SLOTS = (VAE_SLOT, VAE_MLP_SLOT, WGAN_SLOT, CLASSIFIER_SLOT)
VAE_SLOTS = (VAE_SLOT, VAE_MLP_SLOT)  # the architecture picker's choices, in this order


# ------------------------------------------------------------------------------------------- model loading


def file_stamp(path: Path) -> tuple[int, int]:
    """(mtime in ns, size): part of every cache key, so a retrained checkpoint is picked up without a restart."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@st.cache_resource(show_spinner="Loading the model…", max_entries=16)
def _load_model_cached(path: str, kind: str, stamp: tuple[int, int]) -> torch.nn.Module:
    # A CheckpointError propagates and is not cached: fixing the file fixes the page on the next rerun.
    del stamp  # only part of the cache key
    return load_model(path, kind=kind)


def model_token(slot: ModelSlot) -> str:
    """A string that changes whenever the file does: the key under which derived results are cached."""
    return f"{slot.path}@{file_stamp(slot.path)}"


def try_load(slot: ModelSlot) -> torch.nn.Module | None:
    """The model, or None when the file is missing or unusable (no message: for optional models)."""
    inference_only()
    if not slot.path.exists():
        return None
    try:
        return _load_model_cached(str(slot.path), slot.kind, file_stamp(slot.path))
    except VaeganError:
        return None


def explain_missing(slot: ModelSlot, error: VaeganError | None = None) -> None:
    """The friendly version of a loading error: what is wrong and the one command that fixes it."""
    if error is None or not slot.path.exists():
        st.info(
            f"**No {slot.title} checkpoint yet** — this page needs `{shown_path(slot.path)}`. "
            "Train one from the repository root with:",
            icon=":material/model_training:",
        )
    else:
        st.error(
            f"**The {slot.title} checkpoint could not be loaded.** {error}\n\nRe-create it with:",
            icon=":material/broken_image:",
        )
    st.code(slot.create_command, language="bash", wrap_lines=True)


def pick_one(where: Any, label: str, options: Sequence[Any], default: Any, key: str, **kwargs: Any) -> Any:
    """A required segmented control bound to the URL (`where`: st or a column): its value, or `default` when the
    URL holds an empty value (`?key=`), for which Streamlit returns None even with required=True."""
    value = where.segmented_control(label, options, default=default, required=True, key=key, bind="query-params",
                                    **kwargs)  # fmt: skip
    return default if value is None else value


def inference_only() -> None:
    """Settings for this page run: no autograd graphs (pages never train) and APP_THREADS intra-op threads.

    Grad mode is per thread and Streamlit runs every page run in a thread of its own, so each run sets it again.
    The thread count is process-wide for threads that have not run parallel work yet (such as each new page-run
    thread); tests/test_app.py gives the test process its own value back after each test.
    """
    torch.set_grad_enabled(False)
    torch.set_num_threads(APP_THREADS)


def require_model(slot: ModelSlot) -> torch.nn.Module:
    """The loaded model, or a friendly message and the end of this page's run."""
    inference_only()
    if not slot.path.exists():
        explain_missing(slot)
        st.stop()
    try:
        return _load_model_cached(str(slot.path), slot.kind, file_stamp(slot.path))
    except VaeganError as exc:  # CheckpointError, or a ConfigError from a config the code no longer accepts
        explain_missing(slot, exc)
        st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def pick_vae(key: str = "arch") -> tuple[ModelSlot, torch.nn.Module]:
    """The architecture picker: one choice per VAE file that exists (its architecture from the file's header), the
    create command for each one that does not, then the chosen model (or a friendly message and the end of the
    page's run when there is none, or the chosen file is unusable)."""
    available = [slot for slot in VAE_SLOTS if slot.path.exists()]
    if not available:
        require_model(VAE_SLOT)  # says what is missing and stops
    # The options are the file names without suffix, not formatted labels: the URL holds the option's text, and
    # `?arch=vae_mlp` should keep meaning that file whatever architecture it is retrained with.
    choice = pick_one(
        st, "VAE checkpoint", [slot.name for slot in available], available[0].name, key,
        help="Each choice is one checkpoint file; its architecture is read from the file.",
    )  # fmt: skip
    st.caption(" · ".join(f"**{slot.name}**: {_vae_label(slot)}" for slot in available))
    for slot in VAE_SLOTS:
        if slot not in available:
            st.caption(f"`{slot.filename}` ({slot.title}) is not there yet; create it with `{slot.create_command}`.")
    slot = next((s for s in available if s.name == choice), available[0])
    return slot, require_model(slot)


def _vae_label(slot: ModelSlot) -> str:
    try:
        config = read_info(slot.path).config
    except VaeganError:
        return f"`{slot.filename}` (unreadable)"
    return f"{config.get('arch', '?')}, {config.get('latent_dim', '?')} latent dims (`{slot.filename}`)"


def inverted_latent(model_key: str) -> dict | None:
    """The latest GAN inversion of this session (the Latent page's "find its z": z, image, target, pixel_rmse,
    steps), when it was made with the generator file `model_key` names; else None. Session state outlives a page
    change, so the Interpolation page reads the same one."""
    inversion = st.session_state.get("inverted")
    return inversion if inversion is not None and inversion.get("model") == model_key else None


def timeline_path() -> Path:
    """The WGAN's training-timeline sidecar, next to its checkpoint (`vaegan.timeline.sidecar_path`)."""
    from vaegan.timeline import sidecar_path

    return sidecar_path(WGAN_SLOT.path)


def model_card(slot: ModelSlot) -> None:
    """What a checkpoint says about itself: kind, config, data, training length, stored metrics."""
    with st.container(border=True):
        st.markdown(f"**{slot.title}** · `{slot.filename}`")
        if not slot.path.exists():
            st.caption("Not trained yet. Create it with:")
            st.code(slot.create_command, language="bash", wrap_lines=True)
            return
        try:
            info = read_info(slot.path)
        except CheckpointError as exc:
            st.error(str(exc))
            st.code(slot.create_command, language="bash", wrap_lines=True)
            return
        size_mb = slot.path.stat().st_size / 1e6
        config = ", ".join(f"{k}={v}" for k, v in info.config.items())
        lines = [
            f"- **config**: {config}",
            f"- **data**: {info.dataset or 'unknown'}",
            f"- **trained for**: {info.steps:,} {info.step_unit}",
            f"- **file**: {size_mb:.1f} MB, vaegan {info.version or '?'}",
        ]
        lines += [f"- **{name}**: {format_number(value)}" for name, value in info.metrics.items()]
        st.markdown("\n".join(lines))


def format_number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if math.isfinite(value) and abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


# ------------------------------------------------------------------------------------------------- images


def to_pil(images: torch.Tensor, nrow: int, *, scale: int = DISPLAY_SCALE, padding: int = 2) -> Image.Image:
    """A batch (B, C, H, W) in [-1, 1] as one grid image, upscaled `scale` times with nearest-neighbour."""
    from vaegan.images import make_grid_image

    grid = Image.fromarray(make_grid_image(images, nrow=nrow, padding=padding))
    if scale != 1:
        grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    return grid


def show_images(
    images: torch.Tensor, *, nrow: int | None = None, caption: str | None = None, scale: int = DISPLAY_SCALE
) -> Image.Image:
    """Display a batch (B, C, H, W) in [-1, 1] as one grid; returns the PIL image (for downloads)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    picture = to_pil(images, nrow, scale=scale)
    st.image(picture, caption=caption)
    return picture


def show_strip(
    images: torch.Tensor, captions: Sequence[str], *, scale: int = DISPLAY_SCALE, row_width: int = STRIP_WIDTH
) -> None:
    """One row of separately captioned images (ε values, t values ... plus the classifier's digit when there is
    one), each shown at most `scale` times its size and small enough for the row to fit `row_width` pixels."""
    labels = digit_labels(images)
    if labels is not None:
        captions = [f"{c} · {label}" for c, label in zip(captions, labels, strict=True)]
    width = min(images.shape[-1] * scale, row_width // images.shape[0] - STRIP_GAP)
    st.image(strip_pictures(images, scale=scale), caption=list(captions), width=width)


def strip_pictures(images: torch.Tensor, *, scale: int = DISPLAY_SCALE) -> list[Image.Image]:
    return [to_pil(image[None], 1, scale=scale, padding=0) for image in images]


def animated_gif(frames: Sequence[Image.Image], *, frame_ms: int = 150, bounce: bool = True) -> bytes:
    """An endlessly looping GIF of `frames` (forth and back when `bounce`), for st.image."""
    sequence = list(frames) + (list(frames[-2:0:-1]) if bounce else [])
    buffer = io.BytesIO()
    sequence[0].save(buffer, format="GIF", save_all=True, append_images=sequence[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def classifier_for(images: torch.Tensor) -> torch.nn.Module | None:
    """The digit classifier when it can read `images`, else None.

    This is the one place that decides whether the classifier applies. It reads the WGAN's format, (N, 3, 32, 32)
    in [-1, 1]; other images (the VAE's 28x28 grey digits) get None, and so does every image while there is no
    classifier file.
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (3, 32, 32):
        return None
    return try_load(CLASSIFIER_SLOT)


def classify(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(predicted digit, its probability) per image, or None while no classifier applies."""
    from vaegan.classifier import predict_digits

    classifier = classifier_for(images)
    return None if classifier is None else predict_digits(classifier, images)


def digit_labels(images: torch.Tensor) -> list[str] | None:
    """Captions such as "7 (0.98)" for strips and interpolations, or None while no classifier applies."""
    from vaegan.classifier import label_images

    classifier = classifier_for(images)
    return None if classifier is None else label_images(classifier, images)


# ------------------------------------------------------------------------------------------- test digits
# The VAE page reconstructs real test digits. The app never needs them to start: vaegan.data.find_test_digits looks
# for a dataset the user pointed it at, then in vaegan's download cache, and otherwise the page offers to download
# only the 10,000-digit test split (vaegan.data.download_test_digits). Here are only the Streamlit parts.


def real_digits_source() -> str | None:
    """A dataset spec or `.amat` path holding test digits, or None when there is none on this machine."""
    from vaegan.data import find_test_digits

    return find_test_digits(os.environ.get("VAEGAN_APP_DATA"))


def real_digits_key() -> str:
    """Changes whenever the test digits would: a cache key for results computed on them."""
    source = real_digits_source()
    return f"{source}@{file_stamp(Path(source))}" if source else "none"


@st.cache_resource(show_spinner="Loading test digits…", max_entries=4)
def _load_real_digits_cached(source: str, data_root: str, key: str) -> torch.Tensor:
    # data_root is an input too: "binarized-mnist" means the cache under $VAEGAN_DATA, which may change between runs.
    from vaegan.data import load_test_digits

    del key  # only part of the cache key
    return load_test_digits(source, Path(data_root))


def load_real_digits() -> torch.Tensor | None:
    """Binarized test digits (N, 784) in {0, 1}, or None (with the reason on the page) when there are none."""
    from vaegan.data import default_data_root

    source = real_digits_source()
    if source is None:
        return None
    try:
        return _load_real_digits_cached(source, str(default_data_root()), real_digits_key())
    except VaeganError as exc:
        st.error(f"Could not read test digits from `{source}`: {exc}")
        return None


def real_digits_help() -> None:
    """What to do when there are no test digits: download the test split, or point the app at a dataset."""
    from vaegan.data import download_test_digits, larochelle_folder

    st.info(
        "**No test digits on this machine yet.** Download the 10,000 binarized-MNIST test digits (one 30 MB text "
        f"file, into `{larochelle_folder()}`), or start the app with `VAEGAN_APP_DATA=PATH.npz` "
        "(any dataset spec that `--data` accepts).",
        icon=":material/download:",
    )
    if st.button("Download the test digits", key="download_digits"):
        try:
            with st.spinner("Downloading…"):
                download_test_digits()
        except VaeganError as exc:
            st.error(str(exc))
        else:
            st.rerun()


# --------------------------------------------------------------------------------------------- page chrome


def page_header(title: str, intro: str) -> None:
    st.title(title)
    st.markdown(intro)


def share_hint() -> None:
    st.caption(
        ":material/link: Every setting on this page lives in the URL: copy the address bar to share exactly this view."
    )


URL_TRUE = ("true", "1", "on", "yes")  # what a switch in the URL may say for "on" (Streamlit itself reads only true)


def url_switch(where: Any, label: str, key: str, **kwargs: Any) -> bool:
    """A toggle bound to the URL (`where`: st, st.sidebar or a column). Streamlit reads only `?key=true` / `false`
    and drops any other value; here `?key=1`, `on` or `yes` also switch it on when a session opens with them, and
    every other value is off."""
    raw = st.query_params.get(key)
    if key not in st.session_state and raw is not None and raw.strip().lower() in URL_TRUE:
        st.session_state[key] = True  # read once, before the widget exists: afterwards the widget owns its value
    return bool(where.toggle(label, key=key, bind="query-params", **kwargs))
