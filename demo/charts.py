"""Plotly figures shared by the app's pages and the CLI's `--plot` files (front-end code: the library has none)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:
    from vaegan.divergences import SweepResult


def divergence_figure(result: SweepResult) -> go.Figure:
    """Estimate (markers) and truth (dashed) against θ, one colour per divergence."""
    figure = go.Figure()
    for i, name in enumerate(result.config.divergences):
        colour = f"hsl({(i * 137) % 360}, 65%, 45%)"
        figure.add_scatter(x=result.thetas, y=result.estimates[name], name=f"{name} estimate", mode="lines+markers",
                           line={"color": colour})  # fmt: skip
        truth = [None if t == float("inf") else t for t in result.truth[name]]
        figure.add_scatter(x=result.thetas, y=truth, name=f"{name} truth", mode="lines",
                           line={"color": colour, "dash": "dash"})  # fmt: skip
    config = result.config
    figure.update_layout(
        title=f"{config.family}: estimates after {config.iters} {config.optimizer} steps vs the truth",
        xaxis_title="θ",
        yaxis_title="divergence",
        template="plotly_white",
    )
    return figure


def write_html(figure: go.Figure, path: Path) -> None:
    """A self-contained interactive HTML file (plotly.js inlined: opens offline)."""
    from vaegan.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, figure.to_html(include_plotlyjs=True).encode())
