"""Home: what the project shows, the model cards of the checkpoints on disk, and a way into every page."""

from __future__ import annotations

import streamlit as st

st.title("vaegan")
st.markdown(
    "**Learn how VAEs and GANs behave by poking at real, trained models.** Everything here runs on checkpoints "
    "that `vaegan train …` produced on this project's data; every number on these pages is computed live "
    "or read from the file that produced it."
)

# Imported after the first paint: on a cold start torch takes seconds to import, and the title and text above are
# already on screen meanwhile.
from vaegan.latent import generate, sample_latents  # noqa: E402

from common import SLOTS, WGAN_SLOT, checkpoints_dir, model_card, show_images, shown_path, try_load  # noqa: E402

generator = try_load(WGAN_SLOT)
if generator is not None:
    show_images(
        generate(generator, sample_latents(12, generator.latent_dim, seed=2024)),
        nrow=12,
        scale=3,
        caption="Twelve digits the WGAN-GP generator drew just now (seed 2024) — see Samples for more.",
    )

PAGE_LINKS = [
    (
        "views/divergences.py",
        "Divergences",
        ":material/show_chart:",
        "Why WGANs? Watch a critic estimate JS, KL, Hellinger and W1 between two distributions with disjoint "
        "supports: the f-divergences saturate, W1 = |θ| keeps growing.",
    ),
    (
        "views/dynamics.py",
        "Training a generator",
        ":material/moving:",
        "What a generator learns from each loss: one shifted θ stalls under JS and Hellinger and walks home under "
        "W1; 2-D toy GANs under every loss, with the critic, the gradient arrows and the exact W1.",
    ),
    (
        "views/samples.py",
        "Samples",
        ":material/grid_view:",
        "A grid of digits from the WGAN-GP generator for any seed, as a PNG; watch the generator learn, frame by "
        "frame, with its scores.",
    ),
    (
        "views/latent.py",
        "Latent space",
        ":material/tune:",
        "Edit one sample with per-dimension ε sliders — or draw a digit and let GAN inversion find its z; see which "
        "latent dims matter most.",
    ),
    (
        "views/interpolation.py",
        "Interpolation",
        ":material/timeline:",
        "Walk between two samples through latent space (lerp or slerp) versus a pixel cross-fade.",
    ),
    (
        "views/vae.py",
        "VAE",
        ":material/blur_on:",
        "Draw a digit: its reconstruction, −ELBO and log p(x) among the test digits', the classifier's reading; "
        "reconstructions of real test digits, samples, traversals. Conv or MLP.",
    ),
    (
        "views/compare.py",
        "VAE vs GAN",
        ":material/compare:",
        "Both models side by side: samples, Fréchet distance, precision and recall on the same held-out digits, "
        "a walk through each latent space.",
    ),
]

st.subheader("Pages")
for row_start in range(0, len(PAGE_LINKS), 3):
    columns = st.columns(3)
    for column, (path, label, icon, blurb) in zip(columns, PAGE_LINKS[row_start : row_start + 3], strict=False):
        with column.container(border=True):
            st.page_link(path, label=f"**{label}**", icon=icon)
            st.caption(blurb)

st.subheader("Checkpoints")
st.caption(
    f"From `{shown_path(checkpoints_dir())}/`. Each file is a self-describing `.safetensors`: its header holds the "
    "model's kind, config, training data and metrics, so the app rebuilds the model from the file alone."
)
for column, slot in zip(st.columns(len(SLOTS)), SLOTS, strict=True):
    with column:
        model_card(slot)

with st.expander("Run it yourself"):
    st.code(
        "make demo                      # this app, on http://localhost:8501\n"
        "vaegan train vae               # checkpoints/vae.safetensors\n"
        "vaegan train wgan              # checkpoints/wgan.safetensors (+ wgan_timeline.safetensors)\n"
        "vaegan eval compare            # the VAE vs GAN page's numbers\n"
        "vaegan --help                  # everything else",
        language="bash",
    )
