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


def score_histogram(values: list[float], marked: float, *, title: str, x_title: str, marked_name: str) -> go.Figure:
    """A histogram of a reference set's values with one value marked by a vertical line (a drawn digit's score)."""
    figure = go.Figure(go.Histogram(x=values, nbinsx=30, marker_color="#a5b4fc", name="reference"))
    figure.add_vline(x=marked, line_color="#e11d48", line_width=3, annotation_text=marked_name,
                     annotation_position="top")  # fmt: skip
    figure.update_layout(
        height=230, margin=dict(l=10, r=10, t=40, b=10), title=title, xaxis_title=x_title, yaxis_title="digits",
        showlegend=False, bargap=0.05,
    )  # fmt: skip
    return figure


def metric_curves_figure(curves: dict[str, tuple[list[int], list[float]]], floor: dict[str, float],
                         marked: int) -> go.Figure:  # fmt: skip
    """FD (left axis) and precision / recall (right axis, 0-1) against training iterations, the real-vs-real floors
    dotted, the iteration on show marked."""
    styles = {"fid": ("Fréchet distance", "#4f46e5", "y"), "precision": ("precision", "#0d9488", "y2"),
              "recall": ("recall", "#d97706", "y2")}  # fmt: skip
    figure = go.Figure()
    for name, (iterations, values) in curves.items():
        label, colour, axis = styles.get(name, (name, "#64748b", "y2"))
        figure.add_scatter(x=iterations, y=values, name=label, mode="lines+markers", line={"color": colour},
                           yaxis=axis)  # fmt: skip
        if f"real_vs_real_{name}" in floor:
            figure.add_scatter(x=[iterations[0], iterations[-1]], y=[floor[f"real_vs_real_{name}"]] * 2,
                               name=f"{label}, real vs real", mode="lines", yaxis=axis,
                               line={"color": colour, "dash": "dot", "width": 1})  # fmt: skip
    figure.add_vline(x=marked, line_color="#e11d48", line_width=2)
    figure.update_layout(
        height=300, margin=dict(l=10, r=10, t=30, b=10), title="scores of the EMA generator as it trained",
        xaxis_title="generator iteration", yaxis=dict(title="Fréchet distance ↓", rangemode="tozero"),
        yaxis2=dict(title="precision, recall ↑", overlaying="y", side="right", range=[0, 1]),
        legend=dict(orientation="h", y=-0.25), template="plotly_white",
    )  # fmt: skip
    return figure


def write_html(figure: go.Figure, path: Path) -> None:
    """A self-contained interactive HTML file (plotly.js inlined: opens offline)."""
    from vaegan.checkpoint import atomic_write_bytes

    atomic_write_bytes(path, figure.to_html(include_plotlyjs=True).encode())
