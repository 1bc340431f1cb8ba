"""Samples: a grid from the WGAN-GP generator for a seed and a count; regenerate; download as PNG; and, when the
checkpoint has its training-timeline sidecar, what the generator drew as it trained, with its scores."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from vaegan.errors import VaeganError
from vaegan.figures import metric_curves_figure
from vaegan.images import png_bytes
from vaegan.latent import generate, sample_latents
from vaegan.timeline import Timeline, frame_index, metric_curves

from common import (
    WGAN_SLOT,
    animated_gif,
    classify,
    file_stamp,
    model_card,
    page_header,
    require_model,
    share_hint,
    show_images,
    shown_path,
    timeline_path,
    to_pil,
)

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

# ------------------------------------------------------------------------------------------ watch it learn
st.subheader("Watch it learn")


@st.cache_resource(show_spinner="Loading the training timeline…", max_entries=4)
def load_timeline(path: str, stamp: tuple[int, int]) -> Timeline:
    del stamp  # only part of the cache key: a new sidecar is picked up without a restart
    return Timeline.load(path)


@st.cache_data(max_entries=4)
def timeline_gif(_timeline: Timeline, key: str) -> bytes:
    """Every frame of the timeline as one looping GIF (`key`: the file and its stamp)."""
    return animated_gif([to_pil(_timeline.frame(i), 4, scale=3) for i in range(len(_timeline))], frame_ms=400,
                        bounce=False)  # fmt: skip


sidecar = timeline_path()
timeline = None
if not sidecar.exists():
    st.caption(
        f"No training timeline next to the checkpoint (`{shown_path(sidecar)}`). `vaegan train wgan` "
        "writes one beside the model it exports; `vaegan timeline from-grids RUN_DIR` builds one from an "
        "older run's sample grids."
    )
else:
    try:
        timeline = load_timeline(str(sidecar), file_stamp(sidecar))
    except VaeganError as exc:
        st.error(f"**The training timeline could not be read.** {exc}", icon=":material/broken_image:")
if timeline is not None and len(timeline):
    st.markdown(
        "The same 16 latents z decoded by the EMA generator at points of its training (the first 16 of the run's "
        "sample grids): noise first, then blobs, then strokes, then digits."
    )
    iteration = st.select_slider("training iteration", timeline.iterations, value=timeline.iterations[-1],
                                 key="train_iter", bind="query-params")  # fmt: skip
    shown_frame = frame_index(timeline, int(iteration))
    left, right = st.columns(2)
    with left, st.container(key="timeline_frame"):
        show_images(timeline.frame(shown_frame), nrow=4, scale=3,
                    caption=f"after {timeline.iterations[shown_frame]:,} generator iterations")  # fmt: skip
    with right:
        st.image(timeline_gif(timeline, f"{sidecar}@{file_stamp(sidecar)}"),
                 caption=f"all {len(timeline)} frames, {timeline.iterations[0]:,} to {timeline.iterations[-1]:,}")
    curves = metric_curves(timeline)
    if curves:
        st.plotly_chart(metric_curves_figure(curves, timeline.floor, timeline.iterations[shown_frame]),
                        key="timeline_chart")
        n = timeline.info.get("n")
        st.caption(
            f"FD and precision/recall on the digit classifier's features ({n} samples against {n} held-out "
            f"digits{', ' + timeline.info['holdout'] if timeline.info.get('holdout') else ''}), the numbers "
            "`vaegan eval wgan` gives each of these generators; dotted: real digits against real digits."
        )
    else:
        st.caption("This timeline holds images only (built from sample grids): no scores to plot.")

with st.expander("About this generator"):
    model_card(WGAN_SLOT)
share_hint()
