"""VAE: draw a digit and see what the model makes of it; reconstructions of real test digits, samples from the
prior, latent traversals, -ELBO and log p(x). An architecture picker chooses between the VAE files on disk."""

from __future__ import annotations

import hashlib

import plotly.graph_objects as go
import streamlit as st
import torch

from vaegan import precomputed
from vaegan.drawing import DrawnDigit, VAEReading, prepare_digit, read_with_vae
from vaegan.figures import score_histogram
from vaegan.images import unit_to_signed
from vaegan.latent import perturbation_strip
from vaegan.likelihood import share_below
from vaegan.vae import MNIST_SIDE, DecodedImages, neg_elbo

from canvas import digit_canvas
from common import (
    CLASSIFIER_SLOT,
    format_number,
    load_real_digits,
    model_token,
    number_store,
    page_header,
    pick_vae,
    real_digits_help,
    real_digits_key,
    share_hint,
    show_images,
    strip_pictures,
    try_load,
)
from gap_panel import gap_panel
from vae_playground import show_vae2d_playground

# A drawn digit's importance samples come from vaegan.precomputed.draw_k: a conv decoder pass costs far more than an
# MLP's on a CPU, and a drawing must be read within a fraction of a second (bench/app_draw.py).
REFERENCE_N = precomputed.REFERENCE_N  # test digits (or model samples) in the reference histograms
DRAW_EPS = [-3.0, -1.5, 0.0, 1.5, 3.0]  # traversal steps from a drawn digit
DRAW_DIMS = 3  # traversals along this many of the most active dims

page_header(
    "VAE on binarized MNIST",
    "A variational autoencoder learns an encoder q(z|x), a decoder p(x|z) and nothing else: training maximises the "
    "**ELBO** = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)) ≤ log p(x). The first term rewards faithful reconstructions, "
    "the second pulls every posterior towards the prior N(0, I) — which is why samples from the prior look like "
    "digits, and why the model switches off the latent dims it does not need.",
)
slot, vae = pick_vae()
token = model_token(slot)
info = vae.checkpoint_info

stored = {k: v for k, v in info.metrics.items() if "elbo" in k or "log_px" in k}
columns = st.columns(4)
columns[0].metric("latent dims", vae.latent_dim)
columns[1].metric("architecture", f"{vae.config.arch}, {vae.config.hidden} wide")
columns[2].metric("trained for", f"{info.steps} {info.step_unit}", help=info.dataset or None)
if "valid_neg_elbo" in stored:
    columns[3].metric(
        "−ELBO on validation", f"{stored['valid_neg_elbo']:.2f} nats", help="Stored in the checkpoint at training time."
    )


@st.cache_resource(max_entries=4)
def shuffled(_digits: torch.Tensor, data_key: str) -> torch.Tensor:
    """One fixed shuffle of the test digits, made once per digits file (a copy of every digit: not per rerun).
    Some files group the digits by class (the first 1000 would all be zeros), and every "first N digits" below
    should be a fair sample of the test set. Shared by every session and never written to."""
    return precomputed.fixed_shuffle(_digits)


digits = load_real_digits()
digits_key = real_digits_key()
if digits is not None:
    digits = shuffled(digits, digits_key)


@st.cache_data(show_spinner="Ranking latent dims…", max_entries=8)
def kl_per_dim(
    _vae: torch.nn.Module, model_key: str, _digits: torch.Tensor | None, data_key: str, n: int
) -> list[float]:
    """Mean KL(q(z_d|x) ‖ N(0, 1)) per latent dim d over n test digits (or n prior samples without digits).
    Cached by (model file, digits file, n): the underscored arguments are what those keys stand for."""
    return precomputed.kl_per_dim(number_store(), _vae, _digits, n)


kl = torch.tensor(kl_per_dim(vae, token, digits, digits_key, precomputed.KL_N))
ranked = torch.argsort(kl, descending=True)
active = int((kl > 0.01).sum())

# ------------------------------------------------------------------------------------------- draw a digit
st.header("Draw a digit")
st.markdown(
    "Your drawing is prepared the way MNIST's digits were: the digit's bounding box scaled into a 20×20 box, "
    "placed in the 28×28 field with its centre of mass in the middle, then binarized like the training data (one "
    "Bernoulli sample per pixel, grey level = probability, fixed seed). The VAE encodes that binary digit: its "
    "reconstruction, how likely the model finds it (−ELBO and log p(x), placed among "
    + ("real test digits" if digits is not None else "the model's own samples")
    + ") and latent traversals that start from it."
)


@st.cache_data(show_spinner="Scoring reference digits (once per model file)…", max_entries=8)
def reference_scores(
    _vae: torch.nn.Module, model_key: str, _digits: torch.Tensor | None, data_key: str, n: int, k: int
) -> dict[str, list[float]]:
    """Per-digit -ELBO and log p(x) of n test digits, or of n binarized model samples without test digits."""
    return precomputed.reference_scores(number_store(), _vae, _digits, n, k)


@st.cache_data(max_entries=64)
def read_drawing(
    _vae: torch.nn.Module, model_key: str, _digit: DrawnDigit, digit_key: str, dims: tuple[int, ...],
    _classifier: torch.nn.Module | None, classifier_key: str,
) -> VAEReading:
    """What the VAE reads in one drawn digit; cached by (model file, the binary digit's bytes, dims, classifier)."""
    return read_with_vae(_vae, _digit, k=precomputed.draw_k(_vae.config.arch), dims=dims, eps=DRAW_EPS,
                         classifier=_classifier)


canvas_column, seen_column, numbers_column = st.columns([3, 3, 4])
with canvas_column:
    ink = digit_canvas("vae")
digit = prepare_digit(ink) if ink is not None else None
if digit is None:
    seen_column.info("Draw a digit on the black square, or press **Example**.", icon=":material/draw:")
else:
    classifier = try_load(CLASSIFIER_SLOT)
    digit_key = hashlib.sha1(digit.binary.numpy().tobytes()).hexdigest()
    dims = tuple(int(d) for d in ranked[:DRAW_DIMS])
    classifier_key = model_token(CLASSIFIER_SLOT) if classifier is not None else "none"
    reading = read_drawing(vae, token, digit, digit_key, dims, classifier, classifier_key)
    with seen_column, st.container(key="drawn"):
        pictures = strip_pictures(unit_to_signed(torch.stack([digit.grey, digit.binary.view(28, 28),
                                                              reading.reconstruction[0]])), scale=4)  # fmt: skip
        st.image(pictures, caption=["your digit, 28×28", "binarized: the VAE's input", "its reconstruction"],
                 width=112)  # fmt: skip
        if reading.digit is not None and reading.reconstruction_digit is not None:
            (d, p), (r, q) = reading.digit, reading.reconstruction_digit
            st.markdown(f"The classifier reads **{d}** ({p:.2f}) in your digit and **{r}** ({q:.2f}) in its "
                        "reconstruction.")  # fmt: skip
            st.caption("Both padded to its 32×32×3 input as MNIST is (2 black pixels each side, grey copied to RGB).")
        else:
            st.caption("No digit classifier checkpoint: no reading of the digit.")
    with numbers_column, st.container(key="drawn_scores"):
        reference = reference_scores(vae, token, digits, digits_key, REFERENCE_N, reading.k)
        source = "test digits" if digits is not None else "samples of the model"
        left, right = st.columns(2)
        below = share_below(reading.neg_elbo, torch.tensor(reference["neg_elbo"]))
        left.metric("your digit's −ELBO (nats)", f"{reading.neg_elbo:.1f}",
                    help=f"Lower is better. {1 - below:.0%} of {REFERENCE_N} {source} score higher.")  # fmt: skip
        above = share_below(reading.log_px, torch.tensor(reference["log_px"]))
        right.metric(f"your digit's log p(x), K={reading.k}", f"{reading.log_px:.1f}",
                     help=f"Higher is better. {above:.0%} of {REFERENCE_N} {source} score lower.")  # fmt: skip
        st.plotly_chart(score_histogram(reference["log_px"], reading.log_px, title=f"log p(x) of {REFERENCE_N} "
                                        f"{source} and of yours", x_title="log p(x) (nats)",
                                        marked_name="yours"), key="drawn_histogram")  # fmt: skip
        st.caption(f"Your log p(x) is above {above:.0%} of these {source}; −ELBO: {below:.0%} of them score "
                   "lower (better) than yours. A digit unlike the training data gets a low log p(x).")  # fmt: skip
    st.markdown("**Latent traversals from your digit**: μ(x) + ε e_d along the most active dims.")
    show_images(reading.traversals, scale=3)
    st.caption(f"Columns: ε = {', '.join(f'{e:g}' for e in DRAW_EPS)} (ε = 0: the reconstruction). Rows: dims "
               + ", ".join(f"{d} (KL {kl[d]:.2f})" for d in dims) + ".")  # fmt: skip

# ------------------------------------------------------------------------------------------ reconstructions
# The decoded pictures below are cached by their inputs: every rerun of this page (a drawing, any widget) would
# otherwise decode them again, which for the conv decoder costs more than reading a drawing (bench/app_draw.py).


@st.cache_data(max_entries=32)
def reconstructions(
    _vae: torch.nn.Module, model_key: str, _digits: torch.Tensor, data_key: str, n: int, seed: int
) -> tuple[torch.Tensor, float]:
    """Rows of 8 test digits each followed by a row of their reconstructions, and their mean -ELBO."""
    order = torch.randperm(_digits.shape[0], generator=torch.Generator().manual_seed(seed))
    chosen = _digits[order[:n]]
    # (rows, 8, C, H, W) with each row of originals followed by its reconstructions
    pairs = torch.stack([unit_to_signed(chosen), unit_to_signed(_vae.reconstruct(chosen))])
    pairs = pairs.view(2, -1, 8, 1, MNIST_SIDE, MNIST_SIDE).transpose(0, 1).reshape(-1, 8, 1, MNIST_SIDE, MNIST_SIDE)
    return pairs, float(neg_elbo(_vae, chosen, rng=torch.Generator().manual_seed(0)).mean())


@st.cache_data(max_entries=32)
def prior_samples(_vae: torch.nn.Module, model_key: str, n: int, seed: int) -> torch.Tensor:
    return unit_to_signed(_vae.sample(n, torch.Generator().manual_seed(seed)))


@st.cache_data(max_entries=32)
def traversal_strip(
    _vae: torch.nn.Module, model_key: str, _z0: torch.Tensor, start_key: str, dims: tuple[int, ...],
    eps: tuple[float, ...],
) -> torch.Tensor:
    """(dims, eps, C, H, W); `start_key` stands for the starting latent (data file and digit, or prior sample)."""
    return perturbation_strip(DecodedImages(_vae), _z0, list(dims), list(eps))


st.header("Reconstructions of test digits")
st.markdown(
    "Pairs of rows: real binarized test digits the model never saw, and under them the decoder's Bernoulli means "
    "at the posterior mean z = μ(x). Grey is uncertainty: a pixel at 0.5 is a coin flip for the model."
)
if digits is None:
    real_digits_help()
else:
    left, right = st.columns(2)
    n_reconstruct = left.slider("how many digits", 8, 48, 16, step=8, key="n_rec", bind="query-params")
    digits_seed = right.number_input("which digits (seed)", 0, 10_000, 0, key="digits", bind="query-params")
    pairs, mean_neg_elbo = reconstructions(vae, token, digits, digits_key, n_reconstruct, int(digits_seed))
    show_images(pairs, scale=3)
    st.caption(f"−ELBO of these {n_reconstruct} digits: {mean_neg_elbo:.2f} nats on average (one z sample each).")

# ------------------------------------------------------------------------------------------------- samples
st.header("Samples from the prior")
st.markdown("z ~ N(0, I), then the decoder's Bernoulli means: what the model thinks a digit is.")
left, right = st.columns(2)
n_samples = left.slider("how many samples", 8, 64, 32, step=8, key="n_samples", bind="query-params")
sample_seed = right.number_input("seed", 0, 10_000, 0, key="sample_seed", bind="query-params")
show_images(prior_samples(vae, token, n_samples, int(sample_seed)), nrow=8, scale=3)

# ---------------------------------------------------------------------------------------- latent traversals
st.header("Latent traversals")
st.markdown(
    "Each row moves one latent dim of a digit's posterior mean by ε and decodes. The dims are ranked by their "
    "**average KL** to the prior over test digits: a dim with KL ≈ 0 has q(z_d|x) = p(z_d) for every x, so it "
    "carries no information and moving it changes nothing (posterior collapse of that unit)."
)
left, right = st.columns([2, 3])
with left:
    n_rows = st.slider(
        "dims to show", 1, min(10, vae.latent_dim), min(5, vae.latent_dim), key="rows", bind="query-params"
    )
    source_index = st.number_input(
        "start from test digit #" if digits is not None else "start from prior sample #",
        0,
        (digits.shape[0] if digits is not None else 100) - 1,
        0,
        key="start",
        bind="query-params",
    )
    st.caption(f"**{active} of {vae.latent_dim}** dims have an average KL above 0.01 nats.")
with right:
    top = ranked[: min(30, vae.latent_dim)]
    figure = go.Figure(go.Bar(x=[str(int(d)) for d in top], y=kl[top].tolist(), marker_color="#4f46e5"))
    figure.update_layout(
        height=240,
        margin=dict(l=10, r=10, t=30, b=10),
        title="average KL per latent dim (nats), most active first",
        xaxis=dict(title="latent dim", type="category"),
    )
    st.plotly_chart(figure, key="kl_chart")

if digits is not None:
    start_x = digits[int(source_index)][None]
    z0 = vae.encode(start_x)[0]
else:
    z0 = torch.randn(int(source_index) + 1, vae.latent_dim, generator=torch.Generator().manual_seed(0))[-1:]
eps_values = [-3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]
dims = [int(d) for d in ranked[:n_rows]]
start_key = f"{digits_key}#{int(source_index)}" if digits is not None else f"prior#{int(source_index)}"
strip = traversal_strip(vae, token, z0[0], start_key, tuple(dims), tuple(eps_values))
show_images(strip, scale=3)
st.caption(
    f"Columns: ε = {', '.join(f'{e:g}' for e in eps_values)} (ε = 0 is the reconstruction). Rows, top to bottom: "
    + ", ".join(f"dim {d} (KL {kl[d]:.2f} nats)" for d in dims)
    + "."
)

# ------------------------------------------------------------------------------------ -ELBO and log p(x)
st.header("How good is it? −ELBO and log p(x)")
st.markdown(
    "log p(x) = log E_q[p(x|z) p(z) / q(z|x)] is estimated by importance sampling with K samples from the encoder; "
    "it is ≥ ELBO for every K and approaches the true log-likelihood as K grows. The gap log p(x) − ELBO is "
    "KL(q(z|x) ‖ p(z|x)): how far the encoder is from the true posterior."
)
if stored:
    st.markdown(
        "Stored in the checkpoint: " + ", ".join(f"**{k}** = {format_number(v)}" for k, v in stored.items())
    )


@st.cache_data(show_spinner="Measuring on test digits…", max_entries=16)
def measure(
    _vae: torch.nn.Module, model_key: str, _digits: torch.Tensor, data_key: str, n: int, k: int
) -> tuple[float, float]:
    """-ELBO and log p(x) of the first n (shuffled) test digits; cached by (model file, digits file, n, k)."""
    return precomputed.measure(number_store(), _vae, _digits[:n], k)


if digits is None:
    st.caption("Live measurement needs test digits (see above).")
else:
    left, right = st.columns(2)
    sizes = sorted({n for n in (100, 500, 1000, 2000) if n < digits.shape[0]} | {min(2000, digits.shape[0])})
    n_eval = left.select_slider(
        "test digits", sizes, min(precomputed.MEASURE_N, sizes[-1]), key="n_eval", bind="query-params",
        help="N test digits (a fixed random subset). log p(x) costs N × K decoder passes.",
    )  # fmt: skip
    k_eval = right.select_slider("importance samples K", [1, 10, 50, 200], precomputed.MEASURE_K, key="k",
                                 bind="query-params")  # fmt: skip
    n_used = n_eval
    neg_elbo_value, log_px_value = measure(vae, token, digits, digits_key, n_used, k_eval)
    columns = st.columns(3)
    columns[0].metric("−ELBO (nats)", f"{neg_elbo_value:.2f}")
    columns[1].metric(f"log p(x), K={k_eval} (nats)", f"{log_px_value:.2f}")
    columns[2].metric("gap log p(x) − ELBO", f"{log_px_value + neg_elbo_value:.2f}")
    st.caption(
        f"On {n_used:,} test digits (a fixed random subset), with fixed noise seeds "
        "(vaegan.likelihood.evaluate_neg_elbo / evaluate_log_px, the numbers `vaegan eval vae` prints)."
    )

# ------------------------------------------------------------------------------ the gap, one digit at a time
gap_panel(vae, token, digits, digit)

# ------------------------------------------------------------------------------------- train a VAE now
show_vae2d_playground(digit)

share_hint()
