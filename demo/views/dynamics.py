"""Training a generator: what each loss does to a generator, animated per loss (shift generator or 2-D toy GAN)."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import streamlit as st

from vaegan.divergences import (
    FAMILIES,
    GAN_LOSSES,
    TARGETS,
    DynamicsConfig,
    DynamicsResult,
    ProgressCallback,
    Toy2dConfig,
    Toy2dResult,
    dynamics_filename,
    generator_config,
    load_generator_run,
    train_generator,
)
from vaegan.errors import VaeganError
from vaegan.figures import (
    BuiltFigure,
    arrow_scale,
    estimate_figure,
    gradient_figure,
    loss_title,
    modes_figure,
    shift_animation,
    shift_arrow_scale,
    theta_figure,
    toy2d_animation,
    w1_figure,
)
from vaegan.vocabulary import DRAWN_TARGET

from common import file_stamp, page_header, pick_one, results_dir, share_hint, shown_path
from drawn_target import DRAWN_LOOK, DRAWN_TITLE, drawn_generator_run
from maths import generator_maths
from quiz_widgets import generator_quiz, quiz_switch

GENERATOR_TITLES = {"shift": "shift generator (one θ)", "mlp": "MLP generator (2-D toy GAN)"}
TARGET_TITLES = {
    "lines": "parallel lines",
    "gaussian": "Gaussian",
    "8gaussians": "ring of 8 Gaussians",
    "25gaussians": "grid of 25 Gaussians",
    "swissroll": "Swiss roll",
    "moons": "two moons",
    DRAWN_TARGET: DRAWN_TITLE,
}
DEFAULT_LOSSES = {"shift": list(DynamicsConfig().losses), "mlp": list(Toy2dConfig().losses)}
# One list for both generators (a keyed slider keeps its value when the generator changes), holding both defaults.
TRAIN_STEPS = sorted({50, 100, DynamicsConfig().steps, Toy2dConfig().steps})
DEFAULT_STEPS = {"shift": DynamicsConfig().steps, "mlp": Toy2dConfig().steps}
COLUMNS = 3  # animations per row

Run = DynamicsResult | Toy2dResult


@st.cache_resource(show_spinner=False, max_entries=40)
def cached_animation(_run: Run, run_id: int, loss: str, scale: float) -> tuple[Run, go.Figure]:
    """One loss's animation of a run, built once and shared by every rerun and session: building its frames is most
    of a revisit's time (bench/draw_divergences.py). Keyed by the run object's id; the cached value holds the run
    itself, so no other object can take that id while the figure is cached."""
    figure = toy2d_animation(_run, loss, scale) if isinstance(_run, Toy2dResult) else shift_animation(_run, loss, scale)
    return _run, BuiltFigure(figure)  # its dict made once, not per rerun


def animation(run: Run, loss: str, scale: float) -> go.Figure:
    return cached_animation(run, id(run), loss, scale)[1]


@st.cache_resource(show_spinner="Loading the run…", max_entries=16)
def load_run(path: str, stamp: tuple[int, int]) -> Run:
    del stamp  # only part of the cache key: a re-run precomputation is picked up without a restart
    return load_generator_run(path)


@st.cache_resource(show_spinner=False, max_entries=8)
def trained_run(generator: str, config_json: str, _progress: ProgressCallback | None = None) -> Run:
    """A run for these settings (the JSON of its config), trained on the first request and then shared by every
    session of this server."""
    data = json.loads(config_json)
    config = DynamicsConfig.from_dict(data) if generator == "shift" else Toy2dConfig.from_dict(data)
    return train_generator(config, progress=_progress)


quiz = quiz_switch()
page_header(
    "Training a generator",
    "The Divergences page asks what a critic *measures*; this one asks what a generator *learns* from it. A "
    "generator and a critic are trained against each other under each loss, all losses at once from the same "
    "start and the same noise, so the runs differ only by their loss. The **shift generator** is one number θ: "
    "Q_θ is P moved by θ, and θ follows the derivative of the loss. The **MLP generator** maps 2-D noise to points "
    "in the plane and must find a whole distribution — the 2-D toy GANs of the WGAN papers.",
)

left, middle, right = st.columns([3, 2, 2], vertical_alignment="bottom")
# The options are the CLI's names (and the URL's values: bound widgets store the shown text, so no format_func).
generator = pick_one(
    left, "generator", list(GENERATOR_TITLES), "shift", "gen",
    help="shift: one number θ, Q_θ = P moved by θ. mlp: a 2-D toy GAN, an MLP from 2-D noise to the plane.",
)  # fmt: skip
target = middle.selectbox(
    "target P", FAMILIES if generator == "shift" else (*TARGETS, DRAWN_TARGET), key="target", bind="query-params",
    help="shift: P = (0, U[0,1]) (lines, disjoint supports) or N((0, ½), σ²I) (gaussian). mlp: the toy targets; "
    "lines starts the generator off P's support, as the shift generator does.",
)  # fmt: skip
theta_optimizer = "sgd"
if generator == "shift":
    theta_optimizer = pick_one(
        right, "optimizer on θ", ["sgd", "adam"], "sgd", "theta_opt",
        help="SGD moves θ by exactly lr·dℓ/dθ; Adam divides by the gradient's running size.",
    )  # fmt: skip
losses = st.multiselect(
    "losses", list(GAN_LOSSES), default=DEFAULT_LOSSES[generator], key="losses", bind="query-params",
    help=" · ".join(f"{name}: {loss_title(name)}" for name in GAN_LOSSES),
)  # fmt: skip
st.caption(f"{GENERATOR_TITLES[generator]} · P: {TARGET_TITLES[target]}")

if target == DRAWN_TARGET:  # the learner's drawing (demo/drawn_target.py): trained on request, then cached
    result, source = drawn_generator_run(losses)
else:
    path = results_dir() / dynamics_filename(generator, target, theta_optimizer)
    result: Run | None = None
    if path.exists():
        try:
            result = load_run(str(path), file_stamp(path))
        except VaeganError as exc:
            st.error(f"`{shown_path(path)}` could not be read: {exc}")
        else:
            if isinstance(result, DynamicsResult) != (generator == "shift"):
                st.error(
                    f"`{shown_path(path)}` holds a run of the other generator: re-create it with the command below."
                )
                result = None
    custom_runs: dict[str, Run] = st.session_state.setdefault("dynamics_runs", {})

    # ---------------------------------------------------------------------------------------------- your own run
    with st.expander("Train your own", icon=":material/model_training:", expanded=result is None):
        c1, c2, c3 = st.columns([3, 1, 2], vertical_alignment="bottom")
        steps = c1.select_slider(
            "generator steps", TRAIN_STEPS, DEFAULT_STEPS[generator], key="gen_steps", bind="query-params"
        )
        seed = c2.number_input("seed", 0, 10_000, 0, key="gen_seed", bind="query-params")
        custom_config = generator_config(
            generator, target, losses=losses or DEFAULT_LOSSES[generator],
            theta_optimizer=theta_optimizer if generator == "shift" else None, steps=steps, seed=int(seed),
        )  # fmt: skip
        custom_key = f"{generator}:{json.dumps(custom_config.to_dict(), sort_keys=True)}"
        c1.caption(
            f"{len(custom_config.losses)} losses × {steps} generator steps ({custom_config.critic_steps} critic steps "
            f"each), seed {int(seed)}: the same batched engine as `vaegan divergences train-generator`. Runs are "
            "cached: the same settings train once for everyone on this server."
        )
        if c3.button("Train", type="primary", key="run"):
            bar = st.progress(0.0, text="training…")

            def on_progress(done: int, total: int, what: str) -> None:
                if done % 5 == 0 or done == total:
                    bar.progress(done / total, text=f"training on {what}: {done}/{total} generator steps")

            custom_runs[custom_key] = trained_run(generator, json.dumps(custom_config.to_dict()), on_progress)
            bar.empty()
        if custom_key in custom_runs:
            st.success("Showing your run below. Change any setting above to go back to the precomputed run.")

    if custom_key in custom_runs:
        result = custom_runs[custom_key]
        source = "your run in this session"
    elif result is not None:
        source = f"`{shown_path(path)}`, precomputed"
    else:
        st.info(
            f"No precomputed run of the {GENERATOR_TITLES[generator]} on the {TARGET_TITLES[target]}"
            f"{' with Adam on θ' if theta_optimizer == 'adam' else ''} yet: train one above, or from the command line "
            "(`vaegan divergences train-generator --all` makes every default run):",
            icon=":material/hourglass_empty:",
        )
        flags = f" --generator {generator} --target {target}"
        flags += " --optimizer adam" if theta_optimizer == "adam" else ""
        st.code(f"vaegan divergences train-generator{flags} --out {shown_path(path)}", language="bash")
        share_hint()
        st.stop()

shown = [name for name in (losses or result.config.losses) if name in result.config.losses]
missing = [name for name in losses if name not in result.config.losses]
if missing:
    st.caption(f"Not in this run: {', '.join(loss_title(n) for n in missing)} — train your own above to see them.")
if not shown:
    shown = list(result.config.losses)

if quiz and not generator_quiz(result, shown):  # predict first: the animations below give the answer away
    share_hint()
    st.stop()

# ------------------------------------------------------------------------------------------ the animations
st.subheader("Each loss, step by step")
if isinstance(result, Toy2dResult):
    scale = arrow_scale([result.arrows[name] for name in shown])
    figures = {name: animation(result, name, scale) for name in shown}
    what = (
        f"grey: {len(result.target_samples)} target points; coloured: the generator's points; black arrows: "
        f"−∂ℓ/∂y at the first {result.config.frame_arrows}, where the loss pushes each point (one scale for all "
        "charts, so a short arrow is a weak pull); colour: the critic V (red high, blue low)"
    )
else:
    scale = shift_arrow_scale(result, shown)
    figures = {name: animation(result, name, scale) for name in shown}
    what = (
        "white: P; coloured: Q_θ; the black arrow at Q is −dℓ/dθ, where the loss pushes θ (one scale for all "
        "charts); colour: the critic V (red high, blue low)"
    )
for row_start in range(0, len(shown), COLUMNS):
    for column, name in zip(st.columns(COLUMNS), shown[row_start : row_start + COLUMNS], strict=False):
        column.plotly_chart(figures[name], key=f"anim_{name}")
config = result.config
st.caption(
    f"Source: {source} · {config.steps} generator steps, {config.critic_steps} critic steps each · {what}. Press ▶ "
    "or drag a step slider."
)
generator_maths(config, shown)

# ---------------------------------------------------------------------------------------------- the curves
st.subheader("Where each loss takes the generator")
if isinstance(result, Toy2dResult):
    left, right = st.columns(2)
    left.plotly_chart(w1_figure(result, shown), key="w1_chart")
    if result.mode_count:
        right.plotly_chart(modes_figure(result, shown), key="modes_chart")
    st.dataframe(result.summary_rows(shown), hide_index=True)
    st.caption(
        f"Exact W1 between {config.frame_samples} generated points and a fixed sample of as many target points "
        f"(optimal matching). Two samples of the target itself are {result.w1_reference:.3f} apart: about what a "
        "perfect generator scores."
    )
    if config.target == DRAWN_TARGET:
        look = DRAWN_LOOK
    elif config.target == "lines":
        look = (
            "Here the generator starts as a blob off P's segment, so the supports are disjoint as for the shift "
            "generator. Under **squared Hellinger** and the **minimax JS** loss the discriminator separates them and "
            "goes flat around the generated points: short arrows, and the W1 curve barely falls. A **W1** critic is "
            "(nearly) 1-Lipschitz, so its slope reaches across the empty gap: a steady pull onto the segment. The "
            "**non-saturating** loss −log D(y), the practitioners' fix, keeps its gradient where the discriminator "
            "is sure, and gets there too."
        )
    else:
        look = (
            "The generator starts as a blob in the middle of the target, so the supports overlap from the first "
            "step and every loss has something to follow: all W1 curves fall. The losses differ in *which* parts of "
            "the target they find: "
            + ("compare the modes covered (a generator can lower its loss by sitting on a few modes) "
               if result.mode_count else "compare the points with the grey target ")
            + "and where the arrows still point at the end. For disjoint supports, where the losses part ways, pick "
            "the `lines` target."
        )  # fmt: skip
    st.markdown(f"**What to look at.** The arrows are the generator's only signal. {look}")
else:
    top_left, top_right = st.columns(2)
    top_left.plotly_chart(w1_figure(result, shown), key="w1_chart")
    top_right.plotly_chart(theta_figure(result, shown), key="theta_chart")
    bottom_left, bottom_right = st.columns(2)
    bottom_left.plotly_chart(gradient_figure(result, shown), key="grad_chart")
    bottom_right.plotly_chart(estimate_figure(result, shown), key="estimate_chart")
    st.dataframe(result.summary_rows(shown), hide_index=True)
    st.caption(
        f"θ₀ = {config.theta0:g}, {config.steps} {config.theta_optimizer.upper()} steps on θ at lr "
        f"{config.theta_lr:g}; W1(P, Q_θ) = |θ| exactly. Dashed: the closed-form divergence at θ_t."
    )
    if config.family == "lines":
        st.markdown(
            "**What to look at.** For every θ ≠ 0 the two lines are disjoint: H² = 2 and JS = log 2 whatever θ "
            "is. Under **squared Hellinger** and the **minimax JS** loss the critic soon separates the lines and is "
            "flat on Q's segment: dℓ/dθ collapses (the log chart) and θ stops where it is — the critic is right "
            "(dashed), the divergence simply has no slope. Under **W1** the critic keeps a slope of about 1 between "
            "the lines: a steady pull that walks θ to 0. The **non-saturating** loss −log D(y), the practitioners' "
            "fix, does not vanish where the discriminator is sure, so θ keeps moving as long as the critic has a "
            "slope at Q. With **SGD** a step is exactly lr·dℓ/dθ, so no gradient means a frozen θ; **Adam** "
            "(switch above) divides by the gradient's running size, so even a tiny gradient moves θ by about lr "
            "per step — in whatever direction the saturated critic happens to point."
        )
    else:
        st.markdown(
            "**What to look at.** The Gaussians overlap for every θ: each divergence is a smooth function of θ, "
            "so every loss has a gradient and pulls θ to 0. The saturation on the parallel lines comes from "
            "the disjoint supports, not from the losses themselves."
        )

share_hint()
