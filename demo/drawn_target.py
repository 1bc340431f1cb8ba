"""The learner's own P and Q, shared by the Divergences and "Training a generator" pages: a two-colour canvas with
presets, the drawing in the session and the URL (?draw=), and the cached library calls on it.

One canvas, two inks: P is painted red and Q blue on black, and `Drawing.from_rgba` reads red as P and blue as Q.
What the pages compute on is the drawing's masks (vaegan.divergences.drawn), never the canvas picture, so the same
link gives the same points. Results come from the library's caches (vaegan.divergences.drawn_cache: by drawing
code for every session of this server, bounded by entries and bytes), not st.cache_resource: a progress bar drawn
while the first session computes cannot be replayed from Streamlit's cache.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from vaegan.divergences import (
    DIVERGENCE_TITLES,
    TOY_LOSSES,
    ProgressCallback,
    Toy2dResult,
    generator_config,
    rng_stream,
)
from vaegan.divergences.drawn import CELL, DEFAULT_PRESET, GRID_SIDE, HALF_SIDE, P_INK, Q_INK, Drawing, preset
from vaegan.divergences.drawn_cache import cached_estimates, cached_generator_run, cached_sweep, generator_key
from vaegan.errors import VaeganError
from vaegan.figures import drawing_figure, drawn_critic_figure, drawn_sweep_figure
from vaegan.vocabulary import DRAWING_PRESETS, DRAWN_TARGET, SLIDE_DIRECTIONS

from common import pick_one

URL_KEY = "draw"  # the drawing's code in the URL
SESSION_KEY = "drawing_code"  # ... and in the session: both pages read it
CELL_PIXELS = 8  # canvas pixels per cell of the drawing's grid
CANVAS_SIDE = GRID_SIDE * CELL_PIXELS
TRAINED_KEYS = 16  # generator runs a session remembers having trained (and so shows without a button)
DRAWN_TITLE = "your drawing"


# ------------------------------------------------------------------------------------------ the drawing itself


def _load(drawing: Drawing) -> None:
    """Make `drawing` this session's (and the URL's), and give the canvas a fresh key that shows it."""
    st.session_state[SESSION_KEY] = drawing.code
    st.session_state["drawn_canvas_shown"] = drawing.code
    st.session_state["drawn_canvas_gen"] = st.session_state.get("drawn_canvas_gen", 0) + 1
    st.query_params[URL_KEY] = drawing.code


def current_drawing() -> Drawing:
    """This session's drawing: the URL's (?draw=) when it holds one, else the session's, else the default preset.
    A URL value that is not a drawing resets to the default with a one-line notice (never an exception)."""
    code = st.query_params.get(URL_KEY)
    if code is not None and code != st.session_state.get(SESSION_KEY):
        try:
            _load(Drawing.from_code(code))
        except VaeganError as exc:
            st.info(f"The drawing in the link could not be read ({exc}): showing the {DEFAULT_PRESET!r} preset.",
                    icon=":material/restart_alt:")  # fmt: skip
            _load(preset(DEFAULT_PRESET))
    if SESSION_KEY not in st.session_state:
        _load(preset(DEFAULT_PRESET))
    try:
        drawing = Drawing.from_code(st.session_state[SESSION_KEY])
    except VaeganError:  # the session's own code is always valid; this only guards a hand-edited session state
        drawing = preset(DEFAULT_PRESET)
        _load(drawing)
    if st.query_params.get(URL_KEY) != drawing.code:  # came from the other page: its link shares the drawing too
        st.query_params[URL_KEY] = drawing.code
    return drawing


def _fabric_cells(drawing: Drawing) -> dict:
    """The drawing's inked cells as Fabric.js rectangles, for the canvas's `initial_drawing`. They add up
    ('lighter'), so a cell in both P and Q shows magenta and is read back as both."""
    objects = []
    for mask, color in ((drawing.p, P_INK), (drawing.q, Q_INK)):
        for row, col in zip(*mask.nonzero(), strict=True):
            objects.append({
                "type": "Rect", "left": int(col) * CELL_PIXELS, "top": int(row) * CELL_PIXELS,
                "width": CELL_PIXELS, "height": CELL_PIXELS, "fill": color, "strokeWidth": 0,
                "originX": "left", "originY": "top", "globalCompositeOperation": "lighter",
            })  # fmt: skip
    return {"objects": objects, "background": "#000000"}


def drawing_canvas() -> Drawing:
    """The canvas with its ink picker and presets; the drawing it now shows (the session's until drawn on)."""
    from streamlit_drawable_canvas import st_canvas  # registers its component: only inside a Streamlit run

    drawing = current_drawing()
    ink = pick_one(st, "ink", ["P", "Q"], "P", "draw_ink",
                   help="P is red, Q is blue. Draw both on the one canvas.")  # fmt: skip
    stroke = st.slider("stroke width (pixels)", 4, 40, 16, key="draw_stroke")
    shown = st.session_state.get("drawn_canvas_shown", drawing.code)  # None after "Clear"
    with st.container(key="drawn_canvas"):
        result = st_canvas(
            stroke_width=stroke,
            stroke_color=P_INK if ink == "P" else Q_INK,
            background_color="#000000",
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            drawing_mode="freedraw",
            initial_drawing=_fabric_cells(Drawing.from_code(shown)) if shown else None,
            return_image_data=True,
            key=f"drawn_canvas_{st.session_state.get('drawn_canvas_gen', 0)}",
        )
    columns = st.columns(2)  # two per row: a narrow column cuts a longer name ("8 Gaussians vs one") short
    for index, name in enumerate(DRAWING_PRESETS):
        columns[index % 2].button(name, key=f"draw_preset_{name}", on_click=_load, args=(preset(name),),
                                  width="stretch")  # fmt: skip
    if st.button("Clear", key="draw_clear", icon=":material/ink_eraser:"):
        st.session_state["drawn_canvas_gen"] = st.session_state.get("drawn_canvas_gen", 0) + 1
        st.session_state["drawn_canvas_shown"] = None
        st.rerun()
    if st.session_state.get("drawn_canvas_shown") is None and result.image_data is None:
        st.info("Draw P (red) and Q (blue), or pick a preset.")
        return drawing
    picture = result.image_data
    if picture is not None:  # the canvas sent what it shows: the loaded drawing plus the strokes on top
        try:
            drawn = Drawing.from_rgba(picture)
        except VaeganError as exc:
            st.warning(f"{exc}. Until then the estimates below are of the last complete drawing.")
            return drawing
        if drawn != drawing:
            st.session_state[SESSION_KEY] = drawn.code
            st.query_params[URL_KEY] = drawn.code
            drawing = drawn
    st.caption(
        f"The canvas is the square ±{HALF_SIDE:g} of the plane, read as {GRID_SIDE}×{GRID_SIDE} cells of side "
        f"{CELL:g}: each inked cell holds the same mass, spread over the cell and blurred a little. The address bar "
        f"now holds this drawing ({len(drawing.code)} characters): copy it to share your counterexample."
    )
    return drawing


# ------------------------------------------------------------------------------------------ Divergences page


def _progress_bar(text: str) -> tuple[ProgressCallback, Any]:
    bar = st.progress(0.0, text=text)

    def on_progress(done: int, total: int, _what: str) -> None:
        if done % 10 == 0 or done == total:
            bar.progress(done / total, text=f"{text} {done}/{total} steps")

    return on_progress, bar


def drawing_section() -> None:
    """The Divergences page's "draw your own P and Q": the canvas, every estimate with its interval, the exact
    W1, a critic's heat map, and "slide Q" (the θ sweep of the drawing)."""
    st.subheader("Draw your own P and Q")
    if not st.toggle("draw your own", key="draw_on", bind="query-params",
                     help="A canvas for P and Q; every divergence between them, estimated by critics."):  # fmt: skip
        st.caption("Switch on to draw two distributions — or load the parallel lines, two blobs, a ring and its "
                   "centre — and see every divergence between them, then slide Q and train a generator towards P.")
        return
    left, right = st.columns([2, 3])
    with left:
        drawing = drawing_canvas()
    with right:
        on_progress, bar = _progress_bar("training the critics…")
        try:
            estimates = cached_estimates(drawing.code, on_progress)
        except VaeganError as exc:
            st.error(str(exc))
            return
        bar.empty()
        st.dataframe(estimates.rows(), hide_index=True, key="draw_table")
        st.caption(
            f"Each estimate is the mean of {estimates.config.seeds} independent critics (their own initial weights "
            "and data), with a 95% Student-t interval over them; a critic's bound is a lower bound, so an "
            "under-trained critic errs low, which the interval does not show. The exact empirical W1 is the optimal "
            f"matching of {estimates.config.exact_points} points of P and of Q. KL and χ² are infinite between "
            "disjoint shapes: their estimates only say how far the critics got."
        )
        name = st.selectbox("critic of", list(estimates.heatmaps), key="draw_critic",
                            format_func=lambda n: DIVERGENCE_TITLES[n])  # fmt: skip
        st.plotly_chart(drawn_critic_figure(estimates, name), key="draw_critic_chart")

    st.markdown("#### Slide Q")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    direction = pick_one(c1, "move Q", list(SLIDE_DIRECTIONS), SLIDE_DIRECTIONS[0], "slide",
                         help="Q moved by θ along this direction, for every θ at once.")  # fmt: skip
    swept: set[str] = st.session_state.setdefault("drawn_swept", set())
    key = f"{direction}:{drawing.code}"
    if c2.button("Sweep θ", type="primary", key="draw_sweep") or key in swept:
        on_progress, bar = _progress_bar("training a critic per θ…")
        sweep = cached_sweep(drawing.code, direction, on_progress)
        bar.empty()
        swept.add(key)
        st.plotly_chart(drawn_sweep_figure(sweep), key="draw_sweep_chart")
        st.caption(
            f"{len(sweep.thetas)} values of θ × {len(sweep.estimates)} divergences × {sweep.config.seeds} critics, "
            "trained together in one batched ensemble; bands are 95% intervals over the critics, dashed is the "
            "exact empirical W1. While the shapes do not overlap, H², JS and TV sit at their maxima whatever θ "
            "is, and W1 keeps measuring how far Q has to move."
        )


# ---------------------------------------------------------------------------------- Training a generator page


def drawn_generator_run(losses: list[str]) -> tuple[Toy2dResult, str]:
    """The MLP generator trained towards the drawing's P (from Q's centre) under `losses`: trained on a button
    press with a progress bar, then cached; the page stops here until there is a run."""
    drawing = current_drawing()
    p = drawing.sample("p", 300, rng_stream(0, "preview"))
    q = drawing.sample("q", 300, rng_stream(0, "preview"))
    left, right = st.columns([2, 3])
    left.plotly_chart(drawing_figure(p.tolist(), q.tolist(), HALF_SIDE, title="your drawing: P is the target",
                                     height=320), key="draw_preview")  # fmt: skip
    right.markdown(
        "The generator is trained towards your **P** (red) and starts as a small blob at the centre of your **Q** "
        "(blue); P's separate regions count as its modes. Change the drawing on the Divergences page (“draw your "
        "own”): it travels with you, and in the URL."
    )
    right.page_link("views/divergences.py", label="Draw on the Divergences page", icon=":material/draw:")
    config = generator_config("mlp", DRAWN_TARGET, losses=losses or TOY_LOSSES, drawing=drawing.code)
    key = generator_key(drawing.code, config.losses, config.seed)
    trained: list[str] = st.session_state.setdefault("drawn_trained", [])
    if key not in trained:
        if not right.button("Train towards your drawing", type="primary", key="draw_train"):
            right.info(f"{len(config.losses)} losses × {config.steps} generator steps: about half a minute.")
            st.stop()
        trained.append(key)
        del trained[:-TRAINED_KEYS]
    on_progress, bar = _progress_bar("training the generators…")
    run = cached_generator_run(key, on_progress)
    bar.empty()
    return run, f"{DRAWN_TITLE}, trained on this server"


DRAWN_LOOK = (
    "The generator starts at your Q and must reach your P. Where the two do not overlap, a saturated "
    "discriminator (**squared Hellinger**, **minimax JS**) can go flat around the generated points; a **W1** critic "
    "keeps a slope across the gap. Compare the arrows and the W1 curves, and, if P has several parts, how many of "
    "them each loss finds."
)
