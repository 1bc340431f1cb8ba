"""Property tests (Hypothesis) of every parser a user feeds: each input either parses to a valid value or raises the
project's own error type (a `VaeganError`) - never another exception.

Covered: dataset specs (`PATH@a:b`, `A+B`) and their resolution to files, θ lists, ε lists, `--dims`,
`--time-budget` durations, raw pixel arrays of every dtype and shape, the query parameters of every app page, and
the checkpoint reader on random bytes and on mutated bytes of real files (a tiny model of every kind and, when
present, the shipped checkpoints). Runs are short by default (the `ci` profile in tests/conftest.py);
`VAEGAN_HYPOTHESIS=thorough pytest tests/test_fuzz.py` runs 1,000 examples per property.
"""

from __future__ import annotations

import contextlib
import json
import math
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cli import parse_duration
from tests.test_app import AppFiles, OpenPage, app_files, open_page  # noqa: F401 - fixtures of the app tests
from vaegan.checkpoint import load_model, load_state, read_info, save_model, save_state
from vaegan.classifier import ClassifierConfig, DigitClassifier
from vaegan.data import load_binary_mnist, load_rgb32, parse_spec, to_rgb32, to_unit_float
from vaegan.divergences import parse_thetas
from vaegan.errors import CheckpointError, ConfigError, DataError
from vaegan.latent import parse_dims, parse_eps
from vaegan.limits import MAX_TABLE_SIDE, MAX_THETAS, MAX_TIME_BUDGET
from vaegan.vae import VAE, VAEConfig
from vaegan.wgan import Critic, Generator, WGANConfig

REPO_ROOT = Path(__file__).resolve().parents[1]

# Text that looks like what users type into these options, mixed with anything at all.
SPEC_ALPHABET = "ab./_-@:+ 0123456789\\~\0é"
NUMBER_ALPHABET = "0123456789.:,-+eE infa" + "\u0663"  # an Arabic-Indic digit: Python's int/float accept it
user_text = st.one_of(st.text(max_size=60), st.text(SPEC_ALPHABET, max_size=40), st.text(NUMBER_ALPHABET, max_size=30))


# --------------------------------------------------------------------------------------------- data specs


@given(user_text)
def test_a_spec_parses_or_is_a_data_error(text: str) -> None:
    try:
        spec = parse_spec(text)
    except DataError:
        return
    assert spec.parts and all(part.source and part.text for part in spec.parts)
    for part in spec.parts:
        if part.rows is not None:
            for n in (1, 7, 10**6):
                try:
                    rows = part.rows.select(n, part.text)
                except DataError:
                    continue
                assert 0 <= rows.start < rows.stop <= n


@settings(max_examples=settings().max_examples // 2)
@given(user_text)
def test_resolving_any_spec_gives_data_or_a_data_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as root:
        for load in (load_binary_mnist, load_rgb32):
            with contextlib.suppress(DataError):
                load(text, Path(root), download_missing=False)


# --------------------------------------------------------------------------------------- number lists


@given(user_text)
def test_thetas_parse_to_finite_values_or_a_config_error(text: str) -> None:
    try:
        thetas = parse_thetas(text)
    except ConfigError:
        return
    assert len(thetas) <= MAX_THETAS and all(math.isfinite(t) for t in thetas)


@given(user_text)
def test_eps_parse_to_a_bounded_finite_list_or_a_config_error(text: str) -> None:
    try:
        eps = parse_eps(text)
    except ConfigError:
        return
    assert 1 <= len(eps) <= MAX_TABLE_SIDE and all(math.isfinite(e) for e in eps)


@given(user_text)
def test_dims_parse_to_a_bounded_list_of_ints_or_a_config_error(text: str) -> None:
    try:
        dims = parse_dims(text)
    except ConfigError:
        return
    assert 1 <= len(dims) <= MAX_TABLE_SIDE and all(isinstance(d, int) for d in dims)


@given(st.one_of(user_text, st.from_regex(r"\A(\d{1,400}(\.\d{1,5})?h)?(\d{1,5}m)?(\d{1,5}s?)?\Z")))
def test_durations_parse_to_a_bounded_positive_number_or_a_config_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ConfigError:
        return
    assert 0 < seconds <= MAX_TIME_BUDGET


# ----------------------------------------------------------------------------------------------- pixels

pixel_arrays = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.int16, np.int64, np.float16, np.float32, np.float64, np.bool_,
                           np.complex64, np.dtype("<U2")]),  # fmt: skip
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40),
)


@given(pixel_arrays)
def test_any_array_becomes_valid_pixels_or_a_data_error(x: np.ndarray) -> None:
    for convert, low in ((to_unit_float, 0.0), (to_rgb32, -1.0)):
        try:
            t = convert(x, "fuzz.npz, array 'X'")
        except DataError as exc:
            assert "\n" not in str(exc)
            continue
        assert t.dtype == torch.float32 and bool(torch.isfinite(t).all())
        assert float(t.min()) >= low and float(t.max()) <= 1.0


# ---------------------------------------------------------------------------------------------- the app

# The widget keys of every page (tests/test_app.py's WIDGET_CHANGES), plus keys no page has.
PAGE_KEYS = {
    "views/home.py": ["seed"],
    "views/divergences.py": [
        "family", "reference", "train", "iters", "n_theta", "opt", "lr", "show", "theta", "critic", "quiz",
        "draw_on", "draw",
    ],  # fmt: skip
    "views/samples.py": ["seed", "n"],
    "views/latent.py": ["seed", "sample", "dim", "eps0", "eps3", "eps15", "pc", "pc_eps"],
    "views/interpolation.py": ["a", "b", "steps", "mode"],
    "views/vae.py": ["n_rec", "digits", "n_samples", "sample_seed", "rows", "start", "n_eval", "k", "gap_source",
                      "gap_k", "gap_digit", "vae2d_beta", "vae2d_digits"],
    "views/dynamics.py": ["gen", "target", "theta_opt", "losses", "quiz"],
    "views/compare.py": ["arch", "n", "vae_seed", "gan_seed", "a", "b", "trust_n"],
}
query_values = st.one_of(
    st.text(max_size=20),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["true", "false", "lerp", "slerp", "gaussian", "kl", "hellinger,kl", "", "1e308", "-0",
                     "your drawing", "test digit", "1000"]),
    st.sampled_from(["1", "0", "on", "yes", " ON ", "TRUE", "no", "None"]),  # the quiz switch's spellings
)


@pytest.mark.parametrize("page", PAGE_KEYS)
def test_any_query_parameters_render_every_page(page: str, open_page: OpenPage) -> None:  # noqa: F811
    keys = st.sampled_from([*PAGE_KEYS[page], "unknown", "embed", "page"])

    @settings(max_examples=max(3, settings().max_examples // 6), suppress_health_check=list(HealthCheck))
    @given(st.dictionaries(keys, query_values, max_size=5))
    def run(query: dict[str, str]) -> None:
        at = open_page(page, query=query)
        assert not at.exception, (query, [e.value for e in at.exception])

    run()


# ------------------------------------------------------------------------------------------ checkpoints


def _model_files() -> dict[str, bytes]:
    """Bytes of real model files: a tiny one of every kind, a training state, and the shipped checkpoints."""
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        models = {
            "vae": VAE(VAEConfig(latent_dim=2, hidden=4)),
            "generator": Generator(WGANConfig(latent_dim=2, width=1)),
            "critic": Critic(WGANConfig(latent_dim=2, width=1)),
            "classifier": DigitClassifier(ClassifierConfig(width=1, feature_dim=2)),
        }
        for name, model in models.items():
            path = Path(folder) / f"{name}.safetensors"
            save_model(model, path, steps=1, metrics={"x": 1.0})
            files[name] = path.read_bytes()
        state = Path(folder) / "state.safetensors"
        save_state(state, {"model": models["vae"].state_dict(), "epoch": 1, "history": [{"loss": 1.0}]})
        files["state"] = state.read_bytes()
    for name in ("classifier", "wgan"):  # small enough to mutate quickly; vae.safetensors is 3 MB
        shipped = REPO_ROOT / "checkpoints" / f"{name}.safetensors"
        if shipped.exists() and shipped.stat().st_size < 2_000_000 and shipped.read_bytes()[:8] != b"version ":
            files[f"shipped {name}"] = shipped.read_bytes()
    return files


MODEL_FILES = _model_files()


def _load_all(data: bytes) -> None:
    """Every reader on `data`: each returns a sane value or raises a VaeganError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.safetensors"
        path.write_bytes(data)
        for read in (read_info, load_state):
            try:
                read(path)
            except CheckpointError as exc:
                assert "\n" not in str(exc)
        try:
            model = load_model(path)
        except CheckpointError as exc:
            assert "\n" not in str(exc)
        else:
            assert not model.training
            assert all(bool(torch.isfinite(v).all()) for v in model.state_dict().values() if v.is_floating_point())


@given(st.binary(max_size=400))
def test_random_bytes_are_checkpoint_errors(data: bytes) -> None:
    _load_all(data)


@given(st.binary(max_size=300), st.integers(0, 2**64 - 1))
def test_random_headers_are_checkpoint_errors(header: bytes, length: int) -> None:
    _load_all(struct.pack("<Q", length) + header)
    _load_all(struct.pack("<Q", len(header)) + header)


@st.composite
def mutated_files(draw: st.DrawFn) -> bytes:
    data = bytearray(MODEL_FILES[draw(st.sampled_from(sorted(MODEL_FILES)))])
    (length,) = struct.unpack("<Q", data[:8])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["header byte", "any byte", "truncate", "insert", "length"]))
        if kind == "header byte":  # most structure lives in the header: hit it hardest
            data[draw(st.integers(0, min(len(data), 8 + length) - 1))] = draw(st.integers(0, 255))
        elif kind == "any byte":
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[:8] = struct.pack("<Q", draw(st.integers(0, 2**64 - 1)))
        if len(data) < 9:
            break
    return bytes(data)


@settings(max_examples=settings().max_examples * 3)
@given(mutated_files())
def test_mutated_real_files_load_sanely_or_are_checkpoint_errors(data: bytes) -> None:
    _load_all(data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


@given(st.sampled_from(["config", "metrics", "extra", "steps", "kind", "state", "format", "step_unit"]),
       st.one_of(json_values.map(lambda v: json.dumps(v, allow_nan=True)), st.text(max_size=40)),
       st.sampled_from(sorted(MODEL_FILES)))  # fmt: skip
def test_any_metadata_value_loads_sanely_or_is_a_checkpoint_error(key: str, value: str, source: str) -> None:
    from safetensors.torch import load as safetensors_loads
    from safetensors.torch import save as safetensors_dumps

    data = MODEL_FILES[source]
    (length,) = struct.unpack("<Q", data[:8])
    metadata = json.loads(data[8 : 8 + length])["__metadata__"]
    metadata[key] = value
    _load_all(safetensors_dumps(safetensors_loads(data), metadata=metadata))


# ---------------------------------------------------------------------------------------------- drawings


@st.composite
def drawing_codes(draw: st.DrawFn) -> str:
    """Codes near real ones: a preset's code with characters changed, cut or added, or any text after the prefix."""
    from vaegan.divergences.drawn import CODE_VERSION, preset
    from vaegan.vocabulary import DRAWING_PRESETS

    code = list(preset(draw(st.sampled_from(DRAWING_PRESETS))).code)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["change", "cut", "add"]))
        at = draw(st.integers(0, len(code)))
        if kind == "change" and at < len(code):
            code[at] = draw(st.sampled_from("ABCxyz019-_=+/!é"))
        elif kind == "cut":
            code = code[:at]
        else:
            code[at:at] = draw(st.text("AZaz09-_", max_size=6))
    return draw(st.sampled_from(["".join(code), CODE_VERSION + draw(st.text(max_size=40))]))


@given(st.one_of(drawing_codes(), user_text))
def test_a_drawing_code_decodes_to_a_drawing_or_a_data_error(code: str) -> None:
    from vaegan.divergences.drawn import GRID_SIDE, Drawing

    try:
        drawing = Drawing.from_code(code)
    except DataError as exc:
        assert "\n" not in str(exc)
        return
    assert drawing.p.shape == drawing.q.shape == (GRID_SIDE, GRID_SIDE) and drawing.p.any() and drawing.q.any()
    assert Drawing.from_code(drawing.code) == drawing


def test_any_drawing_in_the_url_renders_both_pages(open_page: OpenPage) -> None:  # noqa: F811
    @settings(max_examples=max(3, settings().max_examples // 6), suppress_health_check=list(HealthCheck))
    @given(st.one_of(drawing_codes(), query_values))
    def run(code: str) -> None:
        # the generator page reads the drawing without training (that waits for a button)
        for page, query in (("views/divergences.py", {"draw_on": "true", "draw": code}),
                            ("views/dynamics.py", {"gen": "mlp", "target": "drawing", "draw": code})):  # fmt: skip
            at = open_page(page, query=query)
            assert not at.exception, (page, code, [e.value for e in at.exception])

    run()
