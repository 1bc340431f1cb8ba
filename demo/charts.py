"""Plotly figures shared by the app's pages and the CLI's `--plot` files (front-end code: the library has none)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:
    from vaegan.divergences import SweepResult


def divergence_figure(result: SweepResult) -> go.Figure:
    """Estimate (markers) and truth (dashed) against θ, one colour per divergence. A divergence with no closed form
    (NaN truth, e.g. H² of a shifted Swiss roll) gets no truth line: the chart says "no closed form" instead."""
    figure = go.Figure()
    unknown: list[str] = []
    for i, name in enumerate(result.config.divergences):
        colour = f"hsl({(i * 137) % 360}, 65%, 45%)"
        figure.add_scatter(x=result.thetas, y=result.estimates[name], name=f"{name} estimate", mode="lines+markers",
                           line={"color": colour})  # fmt: skip
        if any(math.isnan(t) for t in result.truth[name]):
            unknown.append(name)
            continue
        truth = [None if math.isinf(t) else t for t in result.truth[name]]
        figure.add_scatter(x=result.thetas, y=truth, name=f"{name} truth", mode="lines",
                           line={"color": colour, "dash": "dash"})  # fmt: skip
    config = result.config
    figure.update_layout(
        title=f"{config.family}: estimates after {config.iters} {config.optimizer} steps vs the truth",
        xaxis_title="θ",
        yaxis_title="divergence",
        template="plotly_white",
    )
    if unknown:
        figure.add_annotation(
            text=f"no closed form: {', '.join(unknown)} (no truth line drawn)", xref="paper", yref="paper",
            x=0.01, y=0.99, xanchor="left", yanchor="top", showarrow=False, bgcolor="rgba(255,255,255,0.8)",
            font={"size": 12, "color": "#475569"},
        )  # fmt: skip
    return figure


def write_html(figure: go.Figure, path: Path) -> None:
    """A self-contained interactive HTML file (plotly.js inlined: opens offline)."""
    from vaegan.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, figure.to_html(include_plotlyjs=True).encode())
