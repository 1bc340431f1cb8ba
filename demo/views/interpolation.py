"""Interpolation: latent (lerp / slerp) against a pixel cross-fade between two samples, side by side, animated."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch
from PIL import Image

from vaegan.latent import interpolate_latent, interpolation_rows, sample_latents

from common import (
    WGAN_SLOT,
    animated_gif,
    inverted_latent,
    model_token,
    page_header,
    pick_one,
    require_model,
    share_hint,
    show_strip,
    strip_pictures,
)

page_header(
    "Interpolation",
    "Two ways from sample A to sample B. **Through latent space**: walk z from z_A to z_B and decode every step — "
    "each frame lies on what the generator learned, so it should look like a digit. **Through data space**: "
    "cross-fade the pixels, (1 − t)·x_A + t·x_B — a double exposure that is no digit at all halfway. "
    "**lerp** walks the straight line between the z's; **slerp** follows the great circle between them. For "
    "z ~ N(0, I) in d dimensions almost all mass sits near ‖z‖ = √d, and the straight line's midpoint has norm "
    "≈ √(d/2) for independent endpoints: lerp passes through z's the generator rarely saw, slerp does not.",
)
generator = require_model(WGAN_SLOT)
latent_dim = generator.latent_dim

c1, c2, c3, c4 = st.columns([1, 1, 2, 2], vertical_alignment="bottom")
seed_a = c1.number_input("seed of A", 0, 1_000_000, 0, key="a", bind="query-params")
seed_b = c2.number_input("seed of B", 0, 1_000_000, 1, key="b", bind="query-params")
steps = c3.slider("steps", 3, 16, 9, key="steps", bind="query-params")
mode = pick_one(c4, "latent path", ["slerp", "lerp"], "slerp", "mode")

z_a = sample_latents(1, latent_dim, int(seed_a))[0]
inversion = inverted_latent(model_token(WGAN_SLOT))
if inversion is not None and st.toggle(
    "A = your drawn digit (the z the Latent page found for it)", value=False, key="from_drawn",
    help="Session only: the link of this page does not carry your drawing.",
):
    z_a = inversion["z"]
z_b = sample_latents(1, latent_dim, int(seed_b))[0]
latent_row, fade_row = interpolation_rows(generator, z_a, z_b, steps, mode)
t_values = [i / (steps - 1) for i in range(steps)]
captions = [f"t={t:.2f}" for t in t_values]

st.subheader(f"Through latent space ({mode})")
show_strip(latent_row, captions)
st.subheader("Through data space (pixel cross-fade)")
show_strip(fade_row, captions)

st.subheader("Side by side, animated")
left, right = st.columns([2, 3])
with left:
    frames = []
    for latent_frame, fade_frame in zip(
        strip_pictures(latent_row, scale=5), strip_pictures(fade_row, scale=5), strict=True
    ):
        frame = Image.new("RGB", (latent_frame.width * 2 + 16, latent_frame.height), "white")
        frame.paste(latent_frame, (0, 0))
        frame.paste(fade_frame, (latent_frame.width + 16, 0))
        frames.append(frame)
    st.image(animated_gif(frames), caption=f"left: latent {mode} · right: pixel cross-fade")
with right:
    # How far from the typical set each path wanders: ‖z_t‖ along lerp and slerp between the same endpoints.
    figure = go.Figure()
    for path_mode, color in (("lerp", "#d97706"), ("slerp", "#4f46e5")):
        norms = interpolate_latent(z_a, z_b, steps, path_mode).norm(dim=-1)
        figure.add_trace(
            go.Scatter(
                x=t_values,
                y=norms.tolist(),
                name=path_mode,
                mode="lines+markers",
                line=dict(color=color, width=4 if path_mode == mode else 2),
            )
        )
    figure.add_hline(y=latent_dim**0.5, line_dash="dot", annotation_text=f"√d = {latent_dim**0.5:.1f}")
    figure.update_layout(
        height=300,
        margin=dict(l=10, r=10, t=30, b=10),
        title="‖z_t‖ along the path",
        xaxis=dict(title="t"),
        yaxis=dict(title="norm of z_t", rangemode="tozero"),
    )
    st.plotly_chart(figure, key="norm_chart")

with torch.no_grad():
    cosine = torch.nn.functional.cosine_similarity(z_a, z_b, dim=0)
st.caption(f"angle between z_A and z_B: {torch.rad2deg(torch.arccos(cosine.clamp(-1, 1))):.0f}°")
share_hint()
