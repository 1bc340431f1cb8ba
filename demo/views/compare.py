"""VAE vs GAN: samples of both, the same metrics on the same held-out digits, and a walk through each latent space."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from vaegan import precomputed
from vaegan.compare import (
    METRIC_NAMES,
    side_by_side_interpolation,
    vae_sample_images,
)
from vaegan.data import to_rgb32
from vaegan.errors import VaeganError
from vaegan.fidelity import (
    DEFAULT_RESAMPLES,
    SAMPLE_COUNTS,
    constant_features_note,
    held_out_distance,
    nearest_training_digits,
    summary_rows,
)
from vaegan.figures import fd_curve_figure
from vaegan.latent import generate, sample_latents

from common import (
    CLASSIFIER_SLOT,
    WGAN_SLOT,
    explain_missing,
    file_stamp,
    load_real_digits,
    model_token,
    number_store,
    page_header,
    pick_vae,
    real_digits_help,
    real_digits_key,
    real_digits_source,
    require_model,
    share_hint,
    show_images,
    show_strip,
    try_load,
)

METRIC_SEED = precomputed.COMPARE_SEED  # the CLI's default: `vaegan eval compare` prints these numbers
INTERPOLATION_STEPS = 9
MIN_HELD_OUT = 8  # two halves of n >= 4: precision/recall's k = 3 needs 3 other points in each set
NEAREST_SAMPLES = 6  # samples of each model in the nearest-training-digit panel (the first of the grids above)
NEAREST_COUNT = 3  # training digits shown beside each
SET_LABELS = {"floor": "real vs real (floor)", "vae": "VAE", "wgan": "WGAN-GP"}
SET_COLORS = {"floor": "#94a3b8", "vae": "#4f46e5", "wgan": "#0d9488"}

page_header(
    "VAE vs GAN",
    "Two ways to learn a distribution of digits. The **VAE** maximises a bound on log p(x): every training digit "
    "must be explained by some z, so it covers the data but blurs what it is unsure of (its samples here are the "
    "decoder's Bernoulli means, grey where it hesitates). The **WGAN** never sees a likelihood: its generator "
    "only has to fool a critic, which gives sharp strokes but no promise to cover every kind of digit. Below, "
    "both are scored the same way on the same held-out digits.",
)
slot, vae = pick_vae()
generator = require_model(WGAN_SLOT)

# ------------------------------------------------------------------------------------------------ samples
st.subheader("Samples")
c1, c2, c3 = st.columns(3)
count = c1.select_slider("samples of each", [16, 36, 64], 16, key="n", bind="query-params")
vae_seed = c2.number_input("VAE seed", 0, 1_000_000, 0, key="vae_seed", bind="query-params")
gan_seed = c3.number_input("WGAN seed", 0, 1_000_000, 0, key="gan_seed", bind="query-params")
nrow = math.isqrt(count)
left, right = st.columns(2)
with left, st.container(key="vae_samples"):
    show_images(vae_sample_images(vae, count, int(vae_seed)), nrow=nrow, scale=3,
                caption=f"VAE ({vae.config.arch}, {slot.filename}), seed {vae_seed}")  # fmt: skip
with right, st.container(key="gan_samples"):
    show_images(generate(generator, sample_latents(count, generator.latent_dim, int(gan_seed))), nrow=nrow, scale=3,
                caption=f"WGAN-GP generator, seed {gan_seed} (the Samples page's grid for that seed)")  # fmt: skip
st.caption(
    "The VAE's samples are its decoder's Bernoulli means, 28×28, padded to 32×32 (2 black pixels each side) and "
    "repeated to 3 channels exactly as `vaegan.data.to_rgb32` pads MNIST for the classifier; the metrics below "
    "score them in that form."
)


# ------------------------------------------------------------------------------------------------ metrics
def held_out_digits() -> tuple[torch.Tensor | None, str, str]:
    """(images (N, 3, 32, 32), what they are, cache key): VAEGAN_APP_HOLDOUT, else the VAE page's test digits."""
    spec = os.environ.get("VAEGAN_APP_HOLDOUT")
    if spec:
        first = Path(spec.split("+")[0].split("@")[0])
        try:
            return _load_holdout(spec, f"{spec}@{file_stamp(first)}"), f"`{spec}`", f"{spec}@{file_stamp(first)}"
        except VaeganError as exc:
            st.error(f"Could not read the held-out digits `{spec}` (VAEGAN_APP_HOLDOUT): {exc}")
            return None, "", ""
    digits = load_real_digits()
    if digits is None:
        return None, "", ""
    # The same fixed shuffle as the VAE page: some files group the digits by class.
    digits = precomputed.fixed_shuffle(digits)
    described = "the VAE page's binarized test digits, padded to 32×32×3 (set `VAEGAN_APP_HOLDOUT` to another spec)"
    return to_rgb32(digits.view(-1, 28, 28)), described, real_digits_key()


@st.cache_resource(show_spinner="Loading held-out digits…", max_entries=2)
def _load_holdout(spec: str, key: str) -> torch.Tensor:
    from vaegan.data import load_rgb32

    del key  # only part of the cache key
    return load_rgb32(spec, download_missing=False).images


@st.cache_data(show_spinner="Scoring both models on the held-out digits (once per set of model files)…",
               max_entries=8)  # fmt: skip
def comparison(
    _vae: torch.nn.Module, _generator: torch.nn.Module, _classifier: torch.nn.Module, models_key: str,
    _real: torch.Tensor, data_key: str, n: int, seed: int,
) -> dict:
    """`vaegan.compare.compare_models`, cached by the three model files and the held-out data (stored ahead of time
    by `vaegan app precompute` for the shipped files)."""
    return precomputed.comparison(number_store(), _vae, _generator, _classifier, _real, n, seed)


st.subheader("Scored the same way")
classifier = try_load(CLASSIFIER_SLOT)
real, real_description, real_key = held_out_digits()
if classifier is None:
    explain_missing(CLASSIFIER_SLOT)
elif real is None:
    real_digits_help()
elif real.shape[0] < MIN_HELD_OUT:
    st.info(f"Only {real.shape[0]} held-out digits: the metrics need at least {MIN_HELD_OUT}.")
else:
    n = precomputed.compare_n(real.shape[0])
    models_key = model_token(slot) + model_token(WGAN_SLOT) + model_token(CLASSIFIER_SLOT)
    result = comparison(vae, generator, classifier, models_key, real, real_key, n, METRIC_SEED)
    rows = {"real vs real (floor)": result["floor"], f"VAE ({vae.config.arch})": result["vae"],
            "WGAN-GP": result["wgan"]}  # fmt: skip
    table = pd.DataFrame({label: {name: round(row[key], 3) for key, name in METRIC_NAMES.items()}
                          for label, row in rows.items()}).T  # fmt: skip
    with st.container(key="comparison"):
        columns = st.columns(2)
        for column, key, label in ((columns[0], "vae", "VAE"), (columns[1], "wgan", "WGAN")):
            inner = column.columns(3)
            for box, (metric, name) in zip(inner, METRIC_NAMES.items(), strict=True):
                box.metric(f"{label} {name}", f"{result[key][metric]:.3f}")
        st.dataframe(table, key="comparison_table")
        figure = go.Figure()
        for label, key, colour in (("held-out digits", "floor", "#94a3b8"), ("VAE", "vae", "#4f46e5"),
                                   ("WGAN", "wgan", "#0d9488")):  # fmt: skip
            figure.add_bar(x=[str(d) for d in range(10)], y=result[key]["predicted_digit_counts"], name=label,
                           marker_color=colour)  # fmt: skip
        figure.update_layout(
            barmode="group", height=260, margin=dict(l=10, r=10, t=30, b=10), title="digits the classifier reads",
            xaxis=dict(type="category", title="digit"), yaxis=dict(title=f"count of {n}"),
        )  # fmt: skip
        st.plotly_chart(figure, key="digit_histogram")
    st.caption(
        f"n = {n} samples of each model and {n} held-out digits ({real_description}) against the same {n} "
        f"reference digits, on the digit classifier's features (k = 3 nearest neighbours, seed {METRIC_SEED}). "
        "FD: Fréchet distance, lower is better; precision: share of samples among real digits (fidelity); "
        "recall: share of real digits among the samples (diversity). The floor is what a perfect model would "
        "score at this n. The same numbers: `vaegan eval compare --data SPEC`."
    )

# ------------------------------------------------------------------------------------------ trust
@st.cache_data(show_spinner="Classifier features of the compared sets…", max_entries=4)
def comparison_features(
    _vae: torch.nn.Module, _generator: torch.nn.Module, _classifier: torch.nn.Module, models_key: str,
    _real: torch.Tensor, data_key: str, n: int, seed: int,
) -> dict[str, torch.Tensor]:
    """Features (n, d) of the four sets `compare_models` scores, cached: the trust section cuts them to its n."""
    return precomputed.comparison_features(_vae, _generator, _classifier, _real, n, seed)


@st.cache_data(show_spinner="Bootstrap, KID and FD against n…", max_entries=16)
def trust_report(
    _vae: torch.nn.Module, _generator: torch.nn.Module, _classifier: torch.nn.Module, models_key: str,
    _real: torch.Tensor, data_key: str, n: int, m: int,
) -> dict:
    """`vaegan.fidelity.fidelity_report` of the first m rows of each set, cached by the models, the data, n and m
    (the largest m stored ahead of time by `vaegan app precompute`; the features are made only when needed)."""
    return precomputed.trust_report(
        number_store(), _vae, _generator, _classifier, _real, n, m,
        lambda: comparison_features(_vae, _generator, _classifier, models_key, _real, data_key, n, METRIC_SEED),
    )  # fmt: skip


@st.cache_resource(show_spinner="Loading training digits…", max_entries=2)
def _load_training(spec: str, key: str) -> torch.Tensor:
    from vaegan.data import load_binary_mnist

    del key  # only part of the cache key
    return load_binary_mnist(spec, download_missing=False, binarize="none").train


def training_digits() -> tuple[torch.Tensor | None, str]:
    """(training digits (N, 784) in [0, 1], what they are): VAEGAN_APP_TRAIN's train split, else that of the
    test digits' dataset; (None, why not) when neither has one."""
    spec = os.environ.get("VAEGAN_APP_TRAIN") or real_digits_source()
    if not spec:
        return None, "no dataset with a train split is set"
    first = Path(spec.split("+")[0].split("@")[0])
    try:
        return _load_training(spec, f"{spec}@{file_stamp(first) if first.exists() else ''}"), f"`{spec}`"
    except VaeganError as exc:
        return None, f"`{spec}` has no readable train split ({exc})"


def show_nearest(samples: torch.Tensor, training: torch.Tensor, label: str) -> None:
    """Each sample (first column) beside its nearest training digits in pixel space, with the distances."""
    indices, distances = nearest_training_digits(samples, training, NEAREST_COUNT)
    rows = [torch.cat([samples[i : i + 1], to_rgb32(training[indices[i]].view(-1, 28, 28))]) for i in
            range(samples.shape[0])]  # fmt: skip
    closest = ", ".join(f"{d:.1f}" for d in distances[:, 0].tolist())
    caption = f"{label}: sample, then its {NEAREST_COUNT} nearest training digits (distances to the closest: {closest})"
    show_images(torch.cat(rows), nrow=NEAREST_COUNT + 1, scale=2, caption=caption)


def show_trust(report: dict, m: int) -> None:
    """The report's rank warning, table and FD-against-1/n chart, and what the numbers mean."""
    with st.container(key="trust"):
        if report["rank_warning"]:
            st.warning(report["rank_warning"], icon=":material/warning:")
        st.dataframe(pd.DataFrame(summary_rows(report["sets"], SET_LABELS)).set_index("set"), key="trust_table")
        st.plotly_chart(fd_curve_figure(report, SET_LABELS, SET_COLORS), key="fd_curve")
    st.caption(
        f"n = {m} digits or samples per set, the first {m} of the sets scored above. **FD 95% CI**: the middle 95% "
        f"of FD over {DEFAULT_RESAMPLES} bootstrap resamples (rows drawn with replacement), shifted by the "
        "bootstrap's own bias so it is centred on FD at this n. **Floor**: two disjoint sets of held-out digits "
        "at the same n; a model whose interval overlaps the floor's is not distinguishable from real digits by "
        "this FD. **FD∞**: FD is biased upwards by about slope/n; the dashed lines fit FD(n) = FD∞ + slope/n "
        "(Chong & Forsyth 2020), FD∞ is their value at n = ∞ (noisy: it inherits FD's own spread). **KID**: "
        "unbiased (its mean is 0 for two samples of one distribution, whatever n), ± its sd over subsets. "
        + (constant_features_note(report) or "")
        + " At the largest n these are the numbers of `vaegan eval compare --data SPEC --bootstrap 200 --kid "
        "--fd-infinity` (smaller n: the first n of each set, not that command's own draw)."
    )


st.subheader("How far can these numbers be trusted?")
if classifier is None or real is None or real.shape[0] < MIN_HELD_OUT:
    st.info("This section needs the digit classifier and held-out digits (see above).")
else:
    n = precomputed.compare_n(real.shape[0])
    counts = [c for c in SAMPLE_COUNTS if c < n] + [n]
    m = st.select_slider("samples per set (n)", counts, counts[-1], key="trust_n", bind="query-params")
    try:
        show_trust(trust_report(vae, generator, classifier, models_key, real, real_key, n, int(m)), int(m))
    except VaeganError as exc:  # e.g. KID needs 4 digits per set: a tiny held-out set
        st.info(f"Not enough held-out digits for this section: {exc}")

    st.markdown("**Nearest training digits** (memorisation check)")
    training, training_description = training_digits()
    if training is None:
        st.info(f"No training digits to compare with: {training_description}. Start the app with "
                "`VAEGAN_APP_TRAIN=SPEC` (any `--data` spec with a train split, e.g. binarized-mnist).")  # fmt: skip
    else:
        with st.container(key="nearest"):
            left, right = st.columns(2)
            with left:
                show_nearest(vae_sample_images(vae, NEAREST_SAMPLES, int(vae_seed)), training, "VAE")
            with right:
                gan_z = sample_latents(NEAREST_SAMPLES, generator.latent_dim, int(gan_seed))
                show_nearest(generate(generator, gan_z), training, "WGAN")
        st.caption(
            f"The first {NEAREST_SAMPLES} samples of each grid above and their {NEAREST_COUNT} nearest digits among "
            f"the {training.shape[0]:,} training digits of {training_description}, by Euclidean distance over the "
            "28×28 grey levels (each pixel in [0, 1]). Held-out digits sit at a median "
            f"{held_out_distance(real, training):.1f} from their nearest training digit. A copy of a training digit "
            "sits at ≈ 0 when both are the same kind of image; a grey sample (both models draw grey levels) and "
            "a binarized copy of it differ by noise alone, ≈ 3.8 for MNIST digits (2.6 to 4.5 for 95 % of them). "
            "For a sharp check, set `VAEGAN_APP_TRAIN` to grey training digits and `VAEGAN_APP_HOLDOUT` to grey "
            "held-out ones."
        )

# ------------------------------------------------------------------------------------------ interpolation
st.subheader("Walking through each latent space")
c1, c2 = st.columns(2)
a = c1.number_input("from sample #", 0, count - 1, 0, key="a", bind="query-params")
b = c2.number_input("to sample #", 0, count - 1, min(1, count - 1), key="b", bind="query-params")
vae_row, gan_row = side_by_side_interpolation(vae, generator, vae_seed=int(vae_seed), gan_seed=int(gan_seed),
                                              count=count, a=int(a), b=int(b), steps=INTERPOLATION_STEPS)  # fmt: skip
captions = [f"t={i / (INTERPOLATION_STEPS - 1):.2f}" for i in range(INTERPOLATION_STEPS)]
st.markdown(f"**VAE**: slerp from its sample #{a} to #{b}")
show_strip(vae_row, captions)
st.markdown(f"**WGAN**: slerp from its sample #{a} to #{b}")
show_strip(gan_row, captions)
st.caption(
    "Sample numbers count row by row in the grids above. Both walks follow the great circle between the two z "
    "(as the Interpolation page's slerp), each in its own model's latent space"
    + (", with the digit the classifier reads under each image." if classifier is not None else ".")
)
share_hint()
