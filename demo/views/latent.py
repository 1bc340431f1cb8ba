"""Latent space: edit one generated sample - or the z found for a digit you draw (GAN inversion) - with
per-dimension ε sliders; strips and a ranking of the dims."""

from __future__ import annotations

import hashlib

import plotly.graph_objects as go
import streamlit as st
import torch

from vaegan import precomputed
from vaegan.drawing import prepare_digit
from vaegan.figures import direction_share_figure
from vaegan.inversion import invert
from vaegan.latent import (
    LESSON_LATENTS,
    DirectionLesson,
    PrincipalDirections,
    direction_strip,
    generate,
    perturbation_strip,
    rank_latent_dims,
    sample_latents,
    semantic_rank,
)

from canvas import digit_canvas
from common import (
    CLASSIFIER_SLOT,
    WGAN_SLOT,
    inverted_latent,
    model_token,
    number_store,
    page_header,
    pick_one,
    require_model,
    share_hint,
    show_images,
    show_strip,
    try_load,
)

CANDIDATES = 8  # samples to pick from
TOP_DIMS = 6  # ε sliders for this many top-ranked dims (plus the one chosen below)
STRIP_EPS = [float(e) for e in range(-5, 5)]  # ε ∈ {-5, ..., 4}

page_header(
    "Latent space",
    "The generator turns a vector z of independent N(0, 1) coordinates into an image. Here you move single "
    "coordinates: z' = z + Σ_d ε_d e_d. Most dims do little on their own — the generator spreads a feature over "
    "many of them — but a few change the stroke, the slant or even the digit. The dims are **ranked by effect**: "
    "the root-mean-square pixel change between G(z + e_d) and G(z) for this sample (pixels in [−1, 1]).",
)
generator = require_model(WGAN_SLOT)
token = model_token(WGAN_SLOT)
latent_dim = generator.latent_dim

# ------------------------------------------------------------------------------------------ pick a sample
left, right = st.columns([1, 4], vertical_alignment="bottom")
seed = left.number_input("seed", 0, 1_000_000, 0, key="seed", bind="query-params")


def candidate_latent(latent_dim: int, seed: int, index: int) -> torch.Tensor:
    return sample_latents(CANDIDATES, latent_dim, seed)[index]


# The caches below take the real inputs: the generator (underscored: not hashed, `model_key` names its file) and
# the numbers that fix z (seed, sample index), from which z is drawn inside.
@st.cache_data(max_entries=32)
def candidate_images(_generator: torch.nn.Module, model_key: str, seed: int) -> torch.Tensor:
    """G(z) of the candidates: computed once per seed, so moving a slider costs one forward pass (the edit)."""
    return generate(_generator, sample_latents(CANDIDATES, _generator.latent_dim, seed))


candidates = candidate_images(generator, token, int(seed))
with right:
    show_strip(candidates, [f"#{i}" for i in range(CANDIDATES)], scale=2, row_width=680)
index = pick_one(st, "sample to edit (the numbers under the thumbnails)", list(range(CANDIDATES)), 0, "sample")

# ------------------------------------------------------------------------------- or draw one and invert it
with st.expander("…or draw a digit and find the z that draws it (GAN inversion)", expanded=True):
    st.markdown(
        "The generator has no encoder, so z is *searched for*: Adam on z (the weights stay fixed) minimises the "
        "mean squared pixel difference between G(z) and your digit plus a small prior term ‖z‖²/2, from four "
        "random starts at once. Your drawing is scaled into MNIST's 20×20 box, centred in 28×28 and padded to the "
        "generator's 32×32×3 as its training digits were (grey, not binarized). The z found becomes the sample "
        "that the sliders and the strip below act on; the Interpolation page can start from it too."
    )
    canvas_column, result_column = st.columns([2, 3])
    with canvas_column:
        ink = digit_canvas("latent")
    drawn = prepare_digit(ink) if ink is not None else None
    with result_column:
        if st.button("Find its z", key="invert", type="primary", icon=":material/search:", disabled=drawn is None):
            bar = st.progress(0.0, text="Searching for z…")

            def report(done: int, total: int, loss: float) -> None:
                if done % 10 == 0 or done == total:
                    bar.progress(done / total, text=f"step {done} of {total}: loss {loss:.4f}")

            target = drawn.rgb32()[0]
            found = invert(generator, target, seed=0, on_progress=report)
            st.session_state["inverted"] = {"model": token, "z": found.z, "image": found.image, "target": target,
                                            "pixel_rmse": found.pixel_rmse, "steps": found.steps}  # fmt: skip
            bar.empty()
        inversion = inverted_latent(token)
        if inversion is not None:
            with st.container(key="inversion"):
                show_strip(torch.stack([inversion["target"], inversion["image"]]), ["your digit", "G(z found)"],
                           scale=4, row_width=300)  # fmt: skip
            st.caption(f"After {inversion['steps']} Adam steps: RMS pixel error {inversion['pixel_rmse']:.3f} "
                       f"(pixels in [−1, 1]), ‖z‖ = {inversion['z'].norm():.2f}.")  # fmt: skip
            use_drawn = st.toggle("edit this z below", value=True, key="use_drawn")
        elif drawn is None:
            st.info("Draw a digit (or press **Example**), then **Find its z**.", icon=":material/draw:")
        else:
            st.caption("Press **Find its z**: a few hundred optimisation steps, a few seconds.")
if inversion is not None and use_drawn:
    z, original = inversion["z"], inversion["image"]
    z_key = "drawn:" + hashlib.sha1(z.numpy().tobytes()).hexdigest()
else:
    z, z_key = candidate_latent(latent_dim, int(seed), int(index)), f"seed:{int(seed)}#{int(index)}"
    original = candidates[int(index)]


@st.cache_data(show_spinner="Ranking latent dims…", max_entries=32)
def ranked_dims(_generator: torch.nn.Module, model_key: str, _z: torch.Tensor, z_key: str) -> list[tuple[int, float]]:
    """(dim, effect) from the most to the least effective dim, for one z (`z_key` names it: a seed and an index,
    or a hash of an inverted z)."""
    return [(int(d), float(effect)) for d, effect in rank_latent_dims(_generator, _z)]


ranking = ranked_dims(generator, token, z, z_key)
top = [d for d, _ in ranking[:TOP_DIMS]]

# ---------------------------------------------------------------------------------------------- ε sliders
st.subheader("Edit it")
sliders, pictures = st.columns([3, 2])
with sliders:
    chosen_dim = st.number_input(
        "also edit dim", 0, latent_dim - 1, ranking[TOP_DIMS][0] if len(ranking) > TOP_DIMS else top[-1],
        key="dim", bind="query-params", help="Any latent dim, ranked or not: it gets a slider and the strip below.",
    )  # fmt: skip
    slider_dims = top + ([int(chosen_dim)] if int(chosen_dim) not in top else [])
    effect = dict(ranking)
    with st.container(key="eps_sliders"):
        eps = {
            d: st.slider(
                f"ε for dim {d} (rank {[r for r, _ in ranking].index(d) + 1}, effect {effect[d]:.3f})",
                -5.0, 5.0, 0.0, 0.25, key=f"eps{d}", bind="query-params",
            )  # fmt: skip
            for d in slider_dims
        }

    def reset() -> None:
        for d in slider_dims:
            st.session_state[f"eps{d}"] = 0.0

    st.button("Reset all ε to 0", on_click=reset, key="reset", icon=":material/restart_alt:")

edited_z = z.clone()
for d, value in eps.items():
    edited_z[d] += value
edited = generate(generator, edited_z[None])[0]
with pictures:
    left, right = st.columns(2)
    with left:
        show_images(original[None], nrow=1, caption="G(z), z found for your digit" if z_key.startswith("drawn")
                    else "G(z)", scale=6)  # fmt: skip
    with right, st.container(key="edited"):
        moved = {d: v for d, v in eps.items() if v != 0.0}
        show_images(edited[None], nrow=1, caption="G(z + Σ ε_d e_d)" if moved else "G(z) — move a slider", scale=6)
    st.caption(
        f"‖z‖ = {z.norm():.2f}, ‖z'‖ = {edited_z.norm():.2f}; typical ‖z‖ ≈ √{latent_dim} = {latent_dim**0.5:.1f}"
    )

# ------------------------------------------------------------------------------------------------- a strip
st.subheader(f"One dim, ε from −5 to 4: dim {int(chosen_dim)}")
st.caption("G(z + ε e_d) for ε ∈ {−5, …, 4}; ε = 0 is the sample itself.")


@st.cache_data(max_entries=64)
def strip_for(_generator: torch.nn.Module, model_key: str, _z: torch.Tensor, z_key: str, dim: int) -> torch.Tensor:
    return perturbation_strip(_generator, _z, [dim], STRIP_EPS)[0]


strip = strip_for(generator, token, z, z_key, int(chosen_dim))
show_strip(strip, [f"ε={e:g}" for e in STRIP_EPS])

# ------------------------------------------------------------------------------------- principal directions
# Directions from the Jacobian (PCA of how the image changes under small latent steps, E_z[J^T J]), not GANSpace's
# PCA of early-layer activations: on this generator the first block ends in BatchNorm and ReLU, and the feature-PCA
# directions regressed back to z come out far from orthogonal (cosines up to 0.85 between two of them) and cost
# about 10x as long to find; the Jacobian's eigenvectors are orthonormal and ranked by the pixel change they cause,
# the very quantity a strip shows. Found once per model file (cached for every session), so a slider move only
# generates the images it shows.
@st.cache_resource(show_spinner="Finding the principal directions (once per model)…", max_entries=4)
def directions_for(_generator: torch.nn.Module, model_key: str) -> PrincipalDirections:
    return precomputed.principal_directions(number_store(), _generator)  # stored by `vaegan app precompute`


@st.cache_resource(show_spinner="Reading digits along every direction and axis (once per model)…", max_entries=4)
def lesson_for(_generator: torch.nn.Module, _classifier: torch.nn.Module, models_key: str) -> DirectionLesson:
    return precomputed.direction_lesson(number_store(), _generator, _classifier)  # stored by `vaegan app precompute`


@st.cache_resource(max_entries=4)
def share_charts(_lesson: DirectionLesson, models_key: str) -> list[go.Figure]:
    """The shares' bar chart once per direction (that direction marked), all built with the lesson: building a
    Plotly figure (its validation) costs about 20 ms, too much of a slider move's budget. Never mutated."""
    shares, axes = _lesson.direction_share.tolist(), _lesson.axis_share.tolist()
    return [direction_share_figure(shares, axes, chosen) for chosen in range(len(shares))]


@st.cache_data(max_entries=128)
def direction_strip_for(
    _generator: torch.nn.Module, model_key: str, _z: torch.Tensor, z_key: str, _direction: torch.Tensor, index: int
) -> torch.Tensor:
    """G(z + ε v_index) for the strip's ε; `index` names the direction (of this model file's cached set)."""
    return direction_strip(_generator, _z, _direction[None], STRIP_EPS)[0]


with st.container(key="directions"):
    st.subheader("Principal directions: one direction, many dims at once")
    st.markdown(
        "Instead of one coordinate e_d, move along a **principal direction** v_i: the eigenvectors of E_z[JᵀJ] "
        "(J = ∂G/∂z), the directions in which a unit step changes the image most, averaged over "
        f"{LESSON_LATENTS} samples. Each "
        "v_i mixes all the dims. Compare its strip with the single dim's: one axis rarely carries one meaning, a "
        "direction often does."
    )
    classifier = try_load(CLASSIFIER_SLOT)
    models_key = token + model_token(CLASSIFIER_SLOT)
    lesson = lesson_for(generator, classifier, models_key) if classifier is not None else None
    principal = lesson.directions if lesson is not None else directions_for(generator, token)
    direction_sliders, direction_pictures = st.columns([3, 2])
    with direction_sliders:
        direction_index = st.slider("principal direction i (0: the largest pixel change)", 0,
                                    principal.directions.shape[0] - 1, 0, key="pc", bind="query-params")  # fmt: skip
        direction_eps = st.slider("ε along it (and along dim d, for comparison)", -5.0, 5.0, 2.0, 0.25, key="pc_eps",
                                  bind="query-params")  # fmt: skip
        direction = principal.directions[int(direction_index)]
        top_dims = direction.abs().argsort(descending=True)[:5].tolist()
        st.caption(
            f"v{int(direction_index)}: {float(principal.variance[int(direction_index)]):.3f} mean squared pixel change "
            f"per unit step; its largest weights are on dims {', '.join(str(d) for d in top_dims)} "
            f"({float(direction[top_dims].pow(2).sum()):.0%} of its squared length)."
        )
    axis = torch.eye(latent_dim)[int(chosen_dim)]
    moved_pair = generate(generator, torch.stack([z + direction_eps * direction, z + direction_eps * axis]))
    with direction_pictures:
        left, right = st.columns(2)
        with left, st.container(key="direction_edited"):
            show_images(moved_pair[:1], nrow=1, caption=f"G(z + {direction_eps:g} v{int(direction_index)})", scale=6)
        with right:
            show_images(moved_pair[1:], nrow=1, caption=f"G(z + {direction_eps:g} e{int(chosen_dim)})", scale=6)
    with st.container(key="direction_strip"):
        show_strip(direction_strip_for(generator, token, z, z_key, direction, int(direction_index)),
                   [f"v{int(direction_index)}, ε={e:g}" for e in STRIP_EPS])  # fmt: skip
    show_strip(strip, [f"e{int(chosen_dim)}, ε={e:g}" for e in STRIP_EPS])
    st.caption(f"Top: along principal direction v{int(direction_index)}; bottom: along dim {int(chosen_dim)} alone. "
               "Both are unit vectors, so each ε moves z equally far.")  # fmt: skip
    if lesson is not None:
        st.plotly_chart(share_charts(lesson, models_key)[int(direction_index)], key="direction_share_chart")
        best_axis = float(lesson.axis_share.max())
        st.caption(
            f"For each direction: the share of {lesson.n} samples whose predicted digit changes somewhere along "
            f"z + ε v, ε ∈ {{{', '.join(f'{e:g}' for e in lesson.eps)}}}. Principal directions: median "
            f"{float(lesson.direction_share.median()):.2f}; single axes: median "
            f"{float(lesson.axis_share.median()):.2f}, best {best_axis:.2f}."
        )
    else:
        st.caption("No digit classifier checkpoint: no count of how often a direction changes the digit.")

# ------------------------------------------------------------------------------------------------ ranking
def ranking_chart(
    pairs: list[tuple[int, float]], y_title: str, color: str, key: str, y_range: list[float] | None = None
) -> None:
    """A bar per dim (the 30 first of a ranking), the chosen dim in red."""
    shown = pairs[:30]
    figure = go.Figure(
        go.Bar(
            x=[str(d) for d, _ in shown],
            y=[value for _, value in shown],
            marker_color=["#e11d48" if d == int(chosen_dim) else color for d, _ in shown],
        )
    )
    figure.update_layout(
        height=260,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="latent dim", type="category"),
        yaxis=dict(title=y_title, range=y_range),
    )
    st.plotly_chart(figure, key=key)


st.subheader("Dims ranked by effect")
ranking_chart(ranking, "RMS pixel change", "#4f46e5", "ranking_chart")

# ------------------------------------------------------------------------------------- semantic ranking
if classifier is not None:
    st.subheader("Dims ranked by how often they change the digit")
    st.caption(
        "Pixel change is not meaning: a dim can move many pixels and keep a 7 a 7. Here the digit classifier reads "
        "G(z + ε e_d) for ε ∈ {−5, …, 4} (ε ≠ 0) and counts how often the predicted digit differs from the one "
        "of G(z)."
    )

    @st.cache_data(show_spinner="Reading digits along every dim…", max_entries=32)
    def semantic_ranking(
        _generator: torch.nn.Module, _classifier: torch.nn.Module, models_key: str, _z: torch.Tensor, z_key: str
    ) -> list[tuple[int, float]]:
        return semantic_rank(_generator, _classifier, _z[None], [e for e in STRIP_EPS if e != 0.0])

    semantic = semantic_ranking(generator, classifier, token + model_token(CLASSIFIER_SLOT), z, z_key)
    ranking_chart(semantic, "share of ε that change the digit", "#0d9488", "semantic_chart", [0, 1])
share_hint()
