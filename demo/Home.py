"""The app's entry point: `streamlit run demo/Home.py` (or `make demo`).

This file is the frame around every page: page config, the navigation menu, the sidebar. Each page is one file in
`demo/views/`; Streamlit runs this file on every rerun and then the selected page.

The folder is deliberately not called `pages/`: when a `pages/` folder sits beside the entry point, Streamlit starts
in its older folder-based mode and, for a session that opens a page's URL before any session has run this file,
runs that page without this frame (no page config, no menu titles).

Imports: the pages import the installed `vaegan` package (`pip install -e ".[app]"`, which `make demo` runs) and
their siblings here by plain name (`from common import ...`): Streamlit puts this file's folder on the module path.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.elements.widgets.number_input import NumberInputSerde

# Nothing here imports torch: on a cold start the first page can draw its title and text while the page's own
# imports (torch, the models) are still loading.
st.set_page_config(page_title="vaegan", page_icon="🧪", layout="wide")

PAGES_DIR = Path(__file__).parent / "views"
PAGES = [
    st.Page(PAGES_DIR / "home.py", title="Home", icon=":material/home:", default=True),
    st.Page(PAGES_DIR / "divergences.py", title="Divergences", icon=":material/show_chart:", url_path="divergences"),
    st.Page(
        PAGES_DIR / "dynamics.py", title="Training a generator", icon=":material/moving:", url_path="dynamics"
    ),
    st.Page(PAGES_DIR / "samples.py", title="Samples", icon=":material/grid_view:", url_path="samples"),
    st.Page(PAGES_DIR / "latent.py", title="Latent space", icon=":material/tune:", url_path="latent"),
    st.Page(
        PAGES_DIR / "interpolation.py", title="Interpolation", icon=":material/timeline:", url_path="interpolation"
    ),
    st.Page(PAGES_DIR / "vae.py", title="VAE", icon=":material/blur_on:", url_path="vae"),
    st.Page(PAGES_DIR / "compare.py", title="VAE vs GAN", icon=":material/compare:", url_path="compare"),
]

# Streamlit seeds a URL-bound number widget with int(value) before it checks the value is finite, and a ?seed=inf
# then crashes the page with an OverflowError; it already treats a ValueError there as "invalid: use the default".
# Until it does the same for an overflow, the integer parser turns one into the other.
_parse_number = NumberInputSerde.deserialize


def _deserialize_finite(self: NumberInputSerde, ui_value: float | None) -> float | None:
    try:
        return _parse_number(self, ui_value)
    except OverflowError as exc:
        raise ValueError(str(exc)) from exc


NumberInputSerde.deserialize = _deserialize_finite

# Digits are 28-32 pixels: whenever the browser scales an image, keep every pixel a crisp square.
st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }</style>")

page = st.navigation(PAGES)
page.run()
