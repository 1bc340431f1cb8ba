"""Samples: a grid from the WGAN-GP generator for a seed and a count; regenerate; download as PNG."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from demo.common import WGAN_SLOT, classify, model_card, page_header, require_model, share_hint, show_images
from vaegan.images import png_bytes
from vaegan.latent import generate, sample_latents

page_header(
    "Samples",
    "The generator G maps noise z ~ N(0, I) to a 32×32 image. It was trained against a **critic** that "
    "estimates the Wasserstein-1 distance between real digits and G's output (WGAN-GP: the critic is kept "
    "≈ 1-Lipschitz by a gradient penalty); G learned to shrink that distance. A seed fixes the z's, so the same "
    "seed always shows the same digits.",
)
generator = require_model(WGAN_SLOT)


def next_seed() -> None:
    st.session_state["seed"] = int(st.session_state.get("seed", 0)) + 1


left, middle, right = st.columns([2, 3, 2], vertical_alignment="bottom")
seed = left.number_input("seed", 0, 1_000_000, 0, key="seed", bind="query-params")
count = middle.select_slider("how many", [16, 36, 64, 100], 36, key="n", bind="query-params")
right.button("New samples", icon=":material/casino:", on_click=next_seed, key="regenerate", type="primary")

z = sample_latents(count, generator.latent_dim, int(seed))
images = generate(generator, z)
nrow = math.isqrt(count)
picture = show_images(images, nrow=nrow, caption=f"{count} samples, seed {seed}")
st.download_button(
    "Download PNG",
    data=png_bytes(np.asarray(picture)),
    file_name=f"vaegan_wgan_seed{seed}_{count}.png",
    mime="image/png",
    icon=":material/download:",
    key="download",
)

prediction = classify(images)
if prediction is not None:
    digits, _ = prediction
    counts = np.bincount(digits.numpy(), minlength=10)
    figure = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=counts.tolist(), marker_color="#4f46e5"))
    figure.update_layout(
        height=220, margin=dict(l=10, r=10, t=30, b=10), title="which digits the classifier reads in this grid",
        xaxis=dict(type="category", title="digit"), yaxis=dict(title="count"),
    )  # fmt: skip
    st.plotly_chart(figure, key="digit_counts")
    st.caption(
        "A generator that covers the data spreads over all ten digits; one that piles onto a few has "
        "mode-collapsed."
    )

with st.expander("About this generator"):
    model_card(WGAN_SLOT)
share_hint()
