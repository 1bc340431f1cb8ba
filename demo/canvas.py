"""The "draw a digit" canvas the VAE and Latent pages share: a streamlit-drawable-canvas (Fabric.js; mouse, pen and
touch) with a stroke-width slider, a clear button and an example button.

It returns ink, (H, W) floats in [0, 1], and nothing else: turning ink into the models' 28x28 input is
`vaegan.drawing` (library code, tested there).

How the buttons work. The canvas keeps its drawing in the browser, keyed by its widget key. "Clear" and "Example"
give the canvas a new key (a fresh, empty component); "Example" also hands it the example's strokes as Fabric
paths to show. A fresh canvas sends nothing back until it is drawn on, so until then the page reads the example's
ink from `vaegan.drawing.render_strokes` of the same strokes; once you draw on top, the canvas's own picture (the
example plus your strokes) is what counts.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from vaegan.drawing import EXAMPLE_DIGITS, ink_from_rgba, render_strokes

CANVAS_SIDE = 280  # pixels; ten times MNIST's 28
DEFAULT_STROKE = 26  # about MNIST's stroke once a digit is scaled into its 20x20 box
EXAMPLES = list(EXAMPLE_DIGITS)


def _fabric_drawing(name: str, width: float) -> dict:
    """The example's strokes as Fabric.js paths (white, round caps) in canvas pixels, for `initial_drawing`.

    No left/top: Fabric then places each path at its own coordinates."""
    objects = []
    for stroke in EXAMPLE_DIGITS[name]:
        points = [(x * CANVAS_SIDE, y * CANVAS_SIDE) for x, y in stroke]
        path = [["M", *points[0]]] + [["L", *point] for point in points[1:]]
        objects.append({
            "type": "Path", "path": path, "stroke": "#ffffff", "strokeWidth": width, "fill": None,
            "strokeLineCap": "round", "strokeLineJoin": "round",
        })  # fmt: skip
    return {"objects": objects}


def component_value(strokes: list[list[tuple[float, float]]], width: float = DEFAULT_STROKE) -> dict:
    """What the browser's canvas component sends after a drawing of `strokes` (points in [0, 1]²): the Fabric JSON
    and its picture as a PNG data URL (white on black, CANVAS_SIDE²), as streamlit-drawable-canvas keeps it under
    its widget key. Tests and bench/app_draw.py set this in the session state to stand for a real drawing."""
    import base64
    import io

    from PIL import Image

    ink = (render_strokes(strokes, CANVAS_SIDE, width) * 255).round().astype(np.uint8)
    rgba = np.dstack([ink, ink, ink, np.full_like(ink, 255)])
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [], "background": "#000000"}, "data": url}, "backgroundFit": None}


def digit_canvas(prefix: str) -> np.ndarray | None:
    """The canvas and its controls; the ink drawn so far, or None before anything was drawn.

    `prefix` keeps the widgets and state of two pages' canvases apart."""
    from streamlit_drawable_canvas import st_canvas  # registers its component: only inside a Streamlit run

    generation_key, example_key = f"{prefix}_canvas_gen", f"{prefix}_canvas_example"
    st.session_state.setdefault(generation_key, 0)

    def clear() -> None:
        st.session_state[generation_key] += 1
        st.session_state[example_key] = None

    def example() -> None:
        shown = st.session_state.get(example_key)
        following = EXAMPLES[(EXAMPLES.index(shown[0]) + 1) % len(EXAMPLES)] if shown else EXAMPLES[0]
        st.session_state[generation_key] += 1
        st.session_state[example_key] = (following, float(st.session_state.get(f"{prefix}_stroke", DEFAULT_STROKE)))

    stroke = st.slider("stroke width (pixels)", 6, 50, DEFAULT_STROKE, key=f"{prefix}_stroke", bind="query-params")
    shown = st.session_state.get(example_key)
    with st.container(key=f"{prefix}_canvas"):
        result = st_canvas(
            stroke_width=stroke,
            stroke_color="#ffffff",
            background_color="#000000",  # light on dark, as MNIST's digits
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            drawing_mode="freedraw",
            initial_drawing=_fabric_drawing(*shown) if shown else None,
            return_image_data=True,
            key=f"{prefix}_canvas_{st.session_state[generation_key]}",
        )
    left, right = st.columns(2)
    left.button("Clear", on_click=clear, key=f"{prefix}_clear", icon=":material/ink_eraser:", width="stretch")
    right.button("Example", on_click=example, key=f"{prefix}_example", icon=":material/draw:", width="stretch",
                 help="Draws one of a few example digits (press again for the next); draw on top to change it.")
    st.caption("Draw with the mouse, a pen or a finger: light strokes on black, as MNIST's digits are.")
    picture = result.image_data
    if picture is not None:  # the canvas has sent its picture (it may be blank again: then there is no digit)
        return ink_from_rgba(picture)
    if shown:
        return render_strokes(EXAMPLE_DIGITS[shown[0]], CANVAS_SIDE, shown[1])
    return None
