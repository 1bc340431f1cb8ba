"""Divergences: critics estimating f-divergences and W1 between two distributions, animated over training."""

from __future__ import annotations

import json

import streamlit as st

from vaegan.divergences import (
    DIVERGENCE_NAMES,
    DIVERGENCE_TITLES,
    FAMILIES,
    REFERENCE_SETTING,
    WASSERSTEIN,
    ProgressCallback,
    SweepConfig,
    SweepResult,
    custom_sweep_config,
    result_filename,
    run_sweep,
)
from vaegan.errors import VaeganError
from vaegan.figures import critic_heatmap_figure, divergence_figure
from vaegan.vocabulary import FAMILY_TITLES

from common import file_stamp, page_header, pick_one, results_dir, share_hint, shown_path
from drawn_target import drawing_section
from maths import divergence_maths
from quiz_widgets import divergence_quiz, quiz_switch

DEFAULT = SweepConfig()
REFERENCE = REFERENCE_SETTING


@st.cache_resource(show_spinner="Loading the sweep…", max_entries=8)
def load_result(path: str, stamp: tuple[int, int]) -> SweepResult:
    del stamp  # only part of the cache key: a re-run sweep is picked up without a restart
    return SweepResult.load(path)


@st.cache_resource(show_spinner=False, max_entries=16)
def trained_sweep(config_json: str, _progress: ProgressCallback | None = None) -> SweepResult:
    """A sweep for these settings (the JSON of a SweepConfig), trained on the first request and then shared."""
    return run_sweep(SweepConfig.from_dict(json.loads(config_json)), progress=_progress)


quiz = quiz_switch()
LESSON = (
    "With the *parallel lines* the supports are disjoint for every θ ≠ 0, "
    "so the squared **Hellinger distance saturates at 2** (and JS at log 2, TV at 1) however small θ is — a "
    "critic can separate the lines perfectly — while **W1 = |θ| keeps growing**: it measures how far mass has "
    "to move, and its gradient with respect to θ never vanishes. That is the gradient a GAN's generator needs."
)
page_header(
    "Divergences: why WGANs",
    "Two distributions in the plane: **P** fixed at x = 0 and **Q_θ**, the same shape moved to x = θ. For each "
    "θ a small neural **critic** V is trained to maximise a variational lower bound of a divergence — the "
    "f-GAN bound E_P[g(V)] − E_Q[f*(g(V))] for Hellinger, JS, TV, KL…, or E_P[V] − E_Q[V] with a gradient "
    "penalty for the Wasserstein-1 distance." + ("" if quiz else " " + LESSON),
)

left, middle, right = st.columns([2, 3, 3], vertical_alignment="bottom")
family = pick_one(
    left, "distributions", FAMILIES, "lines", "family",
    help="lines: P and Q_θ are vertical unit segments at x = 0 and x = θ (disjoint supports). gaussian: "
    "N((0, ½), σ²I) and N((θ, ½), σ²I) (overlapping supports).",
)  # fmt: skip
reference = middle.toggle(
    "reference's under-trained critics",
    key="reference",
    bind="query-params",
    help=f"{REFERENCE.optimizer.upper()} at lr {REFERENCE.lr:g} for {REFERENCE.iters} steps, a "
    f"{REFERENCE.depth}×{REFERENCE.width} {REFERENCE.activation} critic: the course this project started from.",
)
right.caption(f"P and Q_θ: {FAMILY_TITLES[family]}")

path = results_dir() / result_filename(family, reference)
result: SweepResult | None = None
if path.exists():
    try:
        result = load_result(str(path), file_stamp(path))
    except VaeganError as exc:
        st.error(f"`{shown_path(path)}` could not be read: {exc}")
custom_runs: dict[str, SweepResult] = st.session_state.setdefault("custom_runs", {})

# --------------------------------------------------------------------------------------- your own sweep
with st.expander("Train your own critics", icon=":material/model_training:", expanded=result is None):
    st.caption(
        "Runs the same vectorized engine as `vaegan divergences sweep`: one critic per θ, all θ trained together in "
        "one batched network. Runs are cached: the same settings train once for everyone on this server."
    )
    c1, c2, c3 = st.columns(3)
    train_names = c1.multiselect(
        "divergences", DIVERGENCE_NAMES, default=["hellinger", WASSERSTEIN], key="train", bind="query-params",
    )  # fmt: skip
    iters = c2.select_slider(
        "critic steps", sorted({20, 50, 100, 300, 600, DEFAULT.iters}), DEFAULT.iters, key="iters", bind="query-params"
    )
    n_thetas = c3.select_slider("θ values in [0, 2]", [5, 11, 21], 21, key="n_theta", bind="query-params")
    optimizer = pick_one(c1, "optimizer", ["adam", "sgd"], "adam", "opt")
    lr = c2.select_slider(
        "learning rate", sorted({1e-3, 3e-3, 1e-2, 5e-2, DEFAULT.lr}), DEFAULT.lr, key="lr", bind="query-params"
    )
    custom_config = custom_sweep_config(family, tuple(train_names), n_thetas, iters, optimizer, lr)
    custom_key = json.dumps(custom_config.to_dict(), sort_keys=True)
    n_critics = len(custom_config.divergences) * n_thetas
    c1.caption(
        f"{len(custom_config.divergences)} divergence(s) × {n_thetas} θ = **{n_critics} critics**, "
        f"{iters} {optimizer} steps each at lr {lr:g}."
    )
    if c3.button("Train", type="primary", key="run", disabled=not train_names):
        bar = st.progress(0.0, text="training critics…")

        def on_progress(done: int, total: int, name: str) -> None:
            if done % 10 == 0 or done == total:
                bar.progress(done / total, text=f"training the {DIVERGENCE_TITLES[name]} critics: {done}/{total} steps")

        custom_runs[custom_key] = trained_sweep(custom_key, on_progress)
        bar.empty()
    use_custom = custom_key in custom_runs
    if use_custom:
        st.success("Showing your run below. Change any setting above to go back to the precomputed sweep.")

if custom_key in custom_runs:
    result = custom_runs[custom_key]
    source = "your run in this session"
elif result is not None:
    source = f"`{shown_path(path)}`, precomputed"
else:
    st.info(
        f"No precomputed sweep for {FAMILY_TITLES[family]}"
        f"{' with the reference settings' if reference else ''} yet: train one above, or from the command line:",
        icon=":material/hourglass_empty:",
    )
    flags = f" --family {family}" + (" --reference" if reference else "")
    st.code(f"vaegan divergences sweep{flags} --out {shown_path(path)}", language="bash")
    share_hint()
    st.stop()

config = result.config
names = st.multiselect(
    "divergences to show", list(result.estimates), default=list(result.estimates), key="show", bind="query-params",
)  # fmt: skip
if not names:  # nothing picked, or a picked one is not in this sweep (switching sweeps): show them all
    names = list(result.estimates)

# ------------------------------------------------------------------------------------- the animated sweep
snap = result.snapshots

if quiz and not divergence_quiz(result, LESSON):  # predict first: the charts below give the answer away
    share_hint()
    st.stop()

st.subheader("Estimates while the critics train")
st.plotly_chart(divergence_figure(result, names, titled=False), key="sweep_chart")
st.caption(
    f"Source: {source} · {len(result.thetas)} values of θ · {config.iters} {config.optimizer} steps at lr "
    f"{config.lr:g} ({config.lr_schedule}) · critic {config.depth}×{config.width} {config.activation} · "
    f"estimates on {config.snapshot_eval_size:,} fresh points per distribution while training. Press ▶ or drag "
    "the step slider; dashed lines are the closed-form values."
)
divergence_maths(config)

if reference and custom_key not in custom_runs:  # the text describes the reference sweep, not a custom run
    st.markdown(
        f"**Why the reference's Hellinger curve looks like a sigmoid.** These critics get {config.iters} steps "
        f"of plain {config.optimizer.upper()} at lr {config.lr:g}. That is far too little: press ▶ replay "
        "and watch the estimates still climbing when training stops. For small θ the two lines are close, the "
        "critic's output barely differs between them, and the bound stays far below its true value 2 — so the "
        "curve rises smoothly with θ instead of jumping to 2 at θ ≠ 0. The sigmoid is a picture of the "
        "optimizer, not of the divergence. Switch the toggle off for critics trained to convergence."
    )


# ------------------------------------------------------------------------------------------ the critic itself
st.subheader("What a critic looks like")
if not snap.heatmap_thetas or not snap.heatmap_steps:
    st.caption("This sweep stored no critic heat maps.")
else:
    left, right = st.columns([1, 3])
    with left:
        heat_theta = st.select_slider(
            "θ", snap.heatmap_thetas, value=snap.heatmap_thetas[min(2, len(snap.heatmap_thetas) - 1)],
            key="theta", bind="query-params",
        )  # fmt: skip
        heat_name = st.selectbox(
            "critic of", names, key="critic", bind="query-params"
        )
        st.caption(
            "Colour is the critic's raw output V(x, y) on the plane; the white marks show where P and Q_θ live. "
            "A **W1 critic** is (nearly) 1-Lipschitz: a ramp of slope ≈ 1 between the supports, so its value "
            "difference — the estimate — grows with the distance. An **f-divergence critic** only has to tell the "
            "two supports apart: any steep step does, which is why its estimate cannot see how far apart they are."
        )
    j = snap.heatmap_thetas.index(heat_theta)
    with right:
        st.plotly_chart(critic_heatmap_figure(result, heat_name, j, heat_theta), key="critic_chart")

# ------------------------------------------------------------------------------------------------ numbers
with st.expander("The numbers", icon=":material/table:"):
    st.dataframe(result.summary_rows(), hide_index=True)
    st.caption(
        f"Final estimates: each trained critic's bound on {config.eval_size:,} fresh points per distribution "
        "(not the training batches, on which a critic can overfit above the truth)."
    )

drawing_section()
share_hint()
