"""Plotly figures shared by the app's pages and the CLI's `--plot` files.

The one module of `vaegan/` that imports Plotly (the `app` extra: `pip install "vaegan[app]"`); the core never
imports it. Titles come from vaegan.vocabulary, so a loss is named the same in every figure, page and table.

(Over 400 lines because it is the one home of every figure: the sweep and its critics, the generators' animations
and curves, the score charts. One file keeps their colours, play controls and helpers shared.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

from vaegan.divergences import DIVERGENCE_TITLES, DynamicsResult, Toy2dResult
from vaegan.storage import atomic_write_bytes
from vaegan.vocabulary import LOSS_TITLES

if TYPE_CHECKING:
    from vaegan.divergences import SweepResult
    from vaegan.divergences.drawn_estimates import DrawnEstimates, DrawnSweep
    from vaegan.quiz import CurveScore



class BuiltFigure(go.Figure):
    """A figure built once and then only shown, many times (an animation the app caches for every session). Plotly
    answers every `to_dict` with a deep copy, and Streamlit asks for one on every rerun of every chart: for the
    five animations of the Training page that copy was most of a revisit. Here it is made once. Never change one."""

    def to_dict(self) -> dict[str, Any]:
        built = self.__dict__.get("_built_dict")
        if built is None:
            built = self.__dict__["_built_dict"] = super().to_dict()
        return built


# One colour per divergence, in every figure of a sweep.
DIVERGENCE_COLORS = {
    "hellinger": "#e11d48",
    "wasserstein": "#4f46e5",
    "jensen-shannon": "#059669",
    "total-variation": "#d97706",
    "kl": "#0891b2",
    "reverse-kl": "#7c3aed",
    "pearson": "#64748b",
}


def divergence_figure(
    result: SweepResult, names: Sequence[str] | None = None, height: int = 460, titled: bool = True
) -> go.Figure:
    """Estimate vs θ, one frame per snapshot of critic training (opening on the trained critics, ▶ replays), with
    the closed-form truth dashed beside it: the Divergences page's chart and `vaegan divergences sweep --plot`. A
    divergence with no closed form (NaN truth, e.g. H² of a shifted Swiss roll) gets no truth line but a note.
    `names`: the divergences shown (default: all of the sweep's); `titled`: a title above the legend (a page that
    has its own heading leaves it out)."""
    names, snap = list(result.config.divergences if names is None else names), result.snapshots
    figure = go.Figure()
    unknown = [name for name in names if any(math.isnan(t) for t in result.truth[name])]
    for name in names:  # truth first: static traces under the animated ones
        if name in unknown:
            continue
        truth = _finite_or_none(result.truth[name])
        infinite = any(v is None for v in truth)
        figure.add_scatter(
            x=result.thetas, y=truth, mode="lines", line=dict(color=_divergence_color(name), dash="dash", width=2),
            name=f"{DIVERGENCE_TITLES[name]}: truth" + (" (∞ for θ ≠ 0)" if infinite else ""), legendgroup=name,
        )  # fmt: skip
    first_animated = len(figure.data)
    last = len(snap.steps) - 1
    for name in names:
        figure.add_scatter(
            x=result.thetas, y=snap.estimates[name][last], mode="lines+markers",
            line=dict(color=_divergence_color(name), width=3), marker=dict(size=6),
            name=f"{DIVERGENCE_TITLES[name]}: critic's estimate", legendgroup=name,
        )  # fmt: skip
    figure.frames = [
        go.Frame(name=str(step), data=[go.Scatter(x=result.thetas, y=snap.estimates[name][k]) for name in names],
                 traces=list(range(first_animated, first_animated + len(names))))
        for k, step in enumerate(snap.steps)
    ]  # fmt: skip
    values = [v for name in names for row in snap.estimates[name] for v in row if math.isfinite(v)]
    values += [v for name in names for v in result.truth[name] if math.isfinite(v)]
    top = min(max(values + [1.0]) * 1.08, 12.0)  # KL/χ² estimates grow without bound on the lines: cap the view
    bottom = min(min(values + [0.0]) * 1.08, -0.05)
    frame_ms = max(40, 4000 // len(snap.steps))  # the whole animation takes about 4 s
    still = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    config = result.config
    title = f"{config.family}: estimates while {config.iters} {config.optimizer} steps train the critics"
    figure.update_layout(
        title=dict(text=title, y=0.98, yanchor="top") if titled else None,
        height=height + (60 if titled else 0), template="plotly_white",
        margin=dict(l=10, r=10, t=110 if titled else 40, b=130),
        xaxis=dict(title="θ (how far Q is moved)"),
        yaxis=dict(title="divergence (nats)", range=[bottom, top]),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        updatemenus=[dict(
            type="buttons", direction="left", x=0.0, y=-0.2, xanchor="left", yanchor="top", showactive=False,
            buttons=[
                # from the first frame: the chart opens on the last one, the trained critics
                dict(label="▶ replay", method="animate", args=[None, dict(
                    frame=dict(duration=frame_ms, redraw=False), transition=dict(duration=0), fromcurrent=False,
                    mode="immediate")]),
                dict(label="❚❚ pause", method="animate", args=[[None], still]),
            ],
        )],
        sliders=[dict(
            active=last, x=0.2, y=-0.13, len=0.8, xanchor="left", yanchor="top",
            currentvalue=dict(prefix="critic training step ", xanchor="right"),
            steps=[dict(label=str(step), method="animate", args=[[str(step)], still]) for step in snap.steps],
        )],
    )  # fmt: skip
    if unknown:
        figure.add_annotation(
            text=f"no closed form: {', '.join(unknown)} (no truth line drawn)", xref="paper", yref="paper",
            x=0.01, y=0.99, xanchor="left", yanchor="top", showarrow=False, bgcolor="rgba(255,255,255,0.8)",
            font={"size": 12, "color": "#475569"},
        )  # fmt: skip
    return figure


def support_outlines(family: str, theta: float, sigma: float) -> list[go.Scatter]:
    """Where P and Q_θ put their mass: the two unit segments, or the 1σ and 2σ circles of the Gaussians (nothing
    for the shifted 2-D targets)."""
    style = dict(mode="lines", line=dict(color="white", width=3), hoverinfo="skip", showlegend=False)
    if family == "lines":
        return [go.Scatter(x=[x, x], y=[0.0, 1.0], **style) for x in (0.0, theta)]
    if family != "gaussian":
        return []
    angles = [2 * math.pi * i / 64 for i in range(65)]
    return [
        go.Scatter(x=[centre + radius * math.cos(a) for a in angles],
                   y=[0.5 + radius * math.sin(a) for a in angles], **style)
        for centre in (0.0, theta) for radius in (sigma, 2 * sigma)
    ]  # fmt: skip


def critic_heatmap_figure(result: SweepResult, name: str, member: int, theta: float) -> go.Figure:
    """The critic V of one recorded θ (`member`: its index in snapshots.heatmap_thetas) on the grid, one frame per
    stored training step (a slider), the supports drawn on top."""
    snap = result.snapshots
    frames = [frame[member] for frame in snap.heatmaps[name]]
    last = len(frames) - 1
    limit = max(abs(v) for row in frames[last] for v in row) or 1.0

    def heat(grid: list[list[float]]) -> go.Heatmap:
        return go.Heatmap(z=grid, x=snap.grid_x, y=snap.grid_y, colorscale="RdBu_r", zmid=0.0, zmin=-limit,
                          zmax=limit, colorbar=dict(title="V"))  # fmt: skip

    figure = go.Figure([heat(frames[last]), *support_outlines(result.config.family, theta, result.config.sigma)])
    figure.frames = [
        go.Frame(name=str(step), data=[heat(frames[k])], traces=[0]) for k, step in enumerate(snap.heatmap_steps)
    ]
    animate = dict(frame=dict(duration=0, redraw=True), transition=dict(duration=0), mode="immediate")
    figure.update_layout(
        height=440, margin=dict(l=10, r=10, t=40, b=90),
        title=f"{DIVERGENCE_TITLES[name]} critic for θ = {theta:g}",
        xaxis=dict(title="x", constrain="domain"), yaxis=dict(title="y", scaleanchor="x", scaleratio=1),
        sliders=[dict(
            active=last, x=0.0, y=-0.12, len=1.0, xanchor="left", yanchor="top",
            currentvalue=dict(prefix="critic training step "),
            steps=[dict(label=str(step), method="animate", args=[[str(step)], animate]) for step in snap.heatmap_steps],
        )],
    )  # fmt: skip
    return figure


def score_histogram(values: list[float], marked: float, *, title: str, x_title: str, marked_name: str) -> go.Figure:
    """A histogram of a reference set's values with one value marked by a vertical line (a drawn digit's score)."""
    figure = go.Figure(go.Histogram(x=values, nbinsx=30, marker_color="#a5b4fc", name="reference"))
    figure.update_layout(
        height=230, margin=dict(l=10, r=10, t=40, b=10), title=title, xaxis_title=x_title, yaxis_title="digits",
        showlegend=False, bargap=0.05, **vertical_line(marked, "#e11d48", 3, marked_name),
    )  # fmt: skip
    return figure


def vertical_line(x: float, color: str, width: int, text: str | None = None) -> dict[str, list[dict]]:
    """Layout entries for a vertical line at x across the plot (and a label at its top): what `add_vline` draws,
    without its per-call figure updates, which cost more than the rest of a page's chart (the VAE page draws one on
    every drawing)."""
    shape = {"type": "line", "xref": "x", "yref": "y domain", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": color, "width": width}}  # fmt: skip
    labels = [] if text is None else [{"x": x, "xref": "x", "y": 1, "yref": "y domain", "text": text,
                                       "showarrow": False, "yanchor": "bottom"}]  # fmt: skip
    return {"shapes": [shape], "annotations": labels}


def metric_curves_figure(curves: dict[str, tuple[list[int], list[float]]], floor: dict[str, float],
                         marked: int) -> go.Figure:  # fmt: skip
    """FD (left axis) and precision / recall (right axis, 0-1) against training iterations, the real-vs-real floors
    (`Timeline.floor`: metric name -> score) dotted, the iteration on show marked."""
    styles = {"fid": ("Fréchet distance", "#4f46e5", "y"), "precision": ("precision", "#0d9488", "y2"),
              "recall": ("recall", "#d97706", "y2")}  # fmt: skip
    figure = go.Figure()
    for name, (iterations, values) in curves.items():
        label, colour, axis = styles.get(name, (name, "#64748b", "y2"))
        figure.add_scatter(x=iterations, y=values, name=label, mode="lines+markers", line={"color": colour},
                           yaxis=axis)  # fmt: skip
        if name in floor:
            figure.add_scatter(x=[iterations[0], iterations[-1]], y=[floor[name]] * 2,
                               name=f"{label}, real vs real", mode="lines", yaxis=axis,
                               line={"color": colour, "dash": "dot", "width": 1})  # fmt: skip
    figure.update_layout(**vertical_line(marked, "#e11d48", 2))
    figure.update_layout(
        height=300, margin=dict(l=10, r=10, t=30, b=10), title="scores of the EMA generator as it trained",
        # FD falls from hundreds to single digits: on a log axis the end of training, where the runs differ, is
        # readable next to its start.
        xaxis_title="generator iteration", yaxis=dict(title="Fréchet distance ↓ (log)", type="log"),
        yaxis2=dict(title="precision, recall ↑", overlaying="y", side="right", range=[0, 1], tickmode="linear",
                    tick0=0, dtick=0.2),
        legend=dict(orientation="h", y=-0.25), template="plotly_white",
    )  # fmt: skip
    return figure


def write_html(figure: go.Figure, path: Path) -> None:
    """A self-contained interactive HTML file (plotly.js inlined: opens offline)."""
    atomic_write_bytes(path, figure.to_html(include_plotlyjs=True).encode())


# ----------------------------------------------------------------------------------- training a generator
# The "Training a generator" page and `vaegan divergences train-generator --plot`. A run is a DynamicsResult (the shift
# generator: one θ per loss) or a Toy2dResult (an MLP generator per loss); see vaegan/divergences/dynamics.py and
# toy2d.py for what their fields hold.

LOSS_COLORS = {
    "wasserstein": "#4f46e5",
    "wasserstein-onesided": "#0891b2",
    "hellinger": "#e11d48",
    "js": "#059669",
    "js-nonsaturating": "#d97706",
}
ARROW_LENGTH = 0.6  # the longest arrow of a figure, in plot units: a vanishing gradient is a vanishing arrow
PLAIN = {"duration": 0, "redraw": True}


def loss_title(name: str) -> str:
    return LOSS_TITLES.get(name, name)


def _divergence_color(name: str) -> str:
    return DIVERGENCE_COLORS.get(name, "#64748b")


def _loss_color(name: str) -> str:
    return LOSS_COLORS.get(name, "#64748b")


def _finite_or_none(values: Sequence[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _play_controls(labels: Sequence[str], prefix: str, frame_ms: int) -> dict[str, Any]:
    """▶ / ❚❚ buttons and a step slider over the frames named `labels` (layout keys for update_layout)."""
    animate = {"frame": PLAIN, "transition": {"duration": 0}, "mode": "immediate"}
    return {
        "updatemenus": [{
            "type": "buttons", "direction": "left", "x": 0.0, "y": -0.2, "xanchor": "left", "yanchor": "top",
            "showactive": False, "pad": {"t": 0, "r": 6},
            "buttons": [
                {"label": "▶", "method": "animate", "args": [None, {**animate, "fromcurrent": True,
                                                                     "frame": {"duration": frame_ms, "redraw": True}}]},
                {"label": "❚❚", "method": "animate", "args": [[None], animate]},
            ],
        }],
        "sliders": [{
            "active": len(labels) - 1, "x": 0.22, "len": 0.78, "y": -0.14, "xanchor": "left", "yanchor": "top",
            "pad": {"t": 0, "b": 0}, "currentvalue": {"prefix": prefix, "font": {"size": 12}},
            "steps": [{"label": label, "method": "animate", "args": [[label], animate]} for label in labels],
        }],
    }  # fmt: skip


def _heat(grid: list[list[float]], xs: list[float], ys: list[float], limit: float) -> go.Heatmap:
    return go.Heatmap(z=grid, x=xs, y=ys, colorscale="RdBu_r", zmid=0.0, zmin=-limit, zmax=limit, showscale=False,
                      hovertemplate="x %{x:.2f}, y %{y:.2f}<br>V %{z:.3f}<extra>critic</extra>")  # fmt: skip


def _arrows(starts: Sequence[Sequence[float]], vectors: Sequence[Sequence[float]], scale: float,
            color: str) -> go.Scatter:  # fmt: skip
    """Segments from each start along scale·vector, one trace (None breaks the line), a dot at every tip."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for (x, y), (dx, dy) in zip(starts, vectors, strict=False):
        xs += [x, x + scale * dx, None]
        ys += [y, y + scale * dy, None]
    return go.Scatter(x=xs, y=ys, mode="lines+markers", line={"color": color, "width": 1.5},
                      marker={"size": [0, 4, 0] * len(starts), "color": color}, hoverinfo="skip",
                      name="−∂loss/∂sample", showlegend=False)  # fmt: skip


def arrow_scale(runs_arrows: Sequence[Sequence[Sequence[Sequence[float]]]]) -> float:
    """One scale for the arrows of several animations (side by side they must compare): the longest arrow of all
    of them becomes ARROW_LENGTH long."""
    longest = max((math.hypot(dx, dy) for frames in runs_arrows for frame in frames for dx, dy in frame), default=0)
    return ARROW_LENGTH / longest if longest > 0 else 1.0


def toy2d_animation(run: Toy2dResult, loss: str, scale: float, height: int = 430) -> go.Figure:
    """One loss of an MLP run: target points (grey), generated points, the critic's heat map and the arrows −∂ℓ/∂y
    at the first samples, one frame per recorded step (▶ / ❚❚, step slider)."""
    color = _loss_color(loss)
    critic, samples, arrows = run.critic[loss], run.samples[loss], run.arrows[loss]
    limit = max((abs(v) for grid in critic for row in grid for v in row), default=1.0) or 1.0
    target = go.Scatter(
        x=[p[0] for p in run.target_samples], y=[p[1] for p in run.target_samples], mode="markers",
        marker={"size": 3, "color": "rgba(30,30,30,0.45)"}, name="target P", hoverinfo="skip",
    )  # fmt: skip

    def frame_data(k: int) -> list[go.BaseTraceType]:
        k_arrows = len(arrows[k])
        return [
            _heat(critic[k], run.grid_x, run.grid_y, limit),
            go.Scatter(x=[p[0] for p in samples[k]], y=[p[1] for p in samples[k]], mode="markers",
                       marker={"size": 4, "color": color, "line": {"width": 0.5, "color": "white"}},
                       name="generated", hoverinfo="skip"),
            _arrows(samples[k][:k_arrows], arrows[k], scale, "#111827"),
        ]  # fmt: skip

    def caption(k: int) -> str:
        modes = f" · {run.modes[loss][k]}/{run.mode_count} modes" if run.mode_count and run.modes else ""
        return f"{loss_title(loss)}<br><sup>step {run.steps[k]} · W1 {run.w1[loss][k]:.3f}{modes}</sup>"

    last = len(run.steps) - 1
    figure = go.Figure([frame_data(last)[0], target, *frame_data(last)[1:]])
    figure.frames = [
        go.Frame(name=str(step), data=frame_data(k), traces=[0, 2, 3], layout={"title": {"text": caption(k)}})
        for k, step in enumerate(run.steps)
    ]
    _frame_layout(figure, caption(last), run.grid_x, run.grid_y, height)
    figure.update_layout(**_play_controls([str(s) for s in run.steps], "step ", 250))
    return figure


def _frame_layout(figure: go.Figure, title: str, xs: list[float], ys: list[float], height: int) -> None:
    figure.update_layout(
        title={"text": title, "x": 0.5, "xanchor": "center", "font": {"size": 14}},
        height=height, margin={"l": 10, "r": 10, "t": 56, "b": 110}, showlegend=False, template="plotly_white",
        xaxis={"range": [xs[0], xs[-1]], "constrain": "domain", "showgrid": False, "zeroline": False},
        yaxis={"range": [ys[0], ys[-1]], "scaleanchor": "x", "scaleratio": 1, "showgrid": False, "zeroline": False},
    )  # fmt: skip


def _supports(run: DynamicsResult, theta: float, color: str) -> list[go.Scatter]:
    """Where P (white) and Q_θ (the loss's colour) put their mass: unit segments, or 1σ and 2σ circles."""
    shapes = []
    for centre, line_color in ((0.0, "white"), (theta, color)):
        if run.config.family == "lines":
            xs, ys = [centre, centre], [0.0, 1.0]
        else:
            xs, ys = [], []
            for radius in (run.config.sigma, 2 * run.config.sigma):
                angles = [2 * math.pi * i / 48 for i in range(49)]
                xs += [centre + radius * math.cos(a) for a in angles] + [None]
                ys += [0.5 + radius * math.sin(a) for a in angles] + [None]
        shapes.append(go.Scatter(x=xs, y=ys, mode="lines", line={"color": line_color, "width": 4}, hoverinfo="skip"))
    return shapes


def shift_animation(run: DynamicsResult, loss: str, scale: float, height: int = 430) -> go.Figure:
    """One loss of a shift run: P (white) and Q_θ (coloured) over the critic's heat map, and the arrow −dℓ/dθ at Q
    (where the generator loss pushes θ), one frame per stored critic snapshot (▶ / ❚❚, step slider)."""
    color = _loss_color(loss)
    steps, frames = run.heatmap_steps, run.heatmaps[loss]
    limit = max((abs(v) for grid in frames for row in grid for v in row), default=1.0) or 1.0
    limit = min(limit, 10.0)  # an f-divergence critic can grow very steep: keep the colours readable

    def frame_data(k: int) -> list[go.BaseTraceType]:
        t = steps[k]
        theta, grad = run.theta[loss][t], run.grads[loss][t]
        arrow = _arrows([(theta, 0.5)], [(-grad, 0.0)], scale, "#111827")
        return [_heat(frames[k], run.grid_x, run.grid_y, limit), *_supports(run, theta, color), arrow]

    def caption(k: int) -> str:
        t = steps[k]
        return (f"{loss_title(loss)}<br><sup>step {t} · θ {run.theta[loss][t]:.3f} · "
                f"dℓ/dθ {run.grads[loss][t]:.2g}</sup>")  # fmt: skip

    last = len(steps) - 1
    figure = go.Figure(frame_data(last))
    figure.frames = [
        go.Frame(name=str(step), data=frame_data(k), traces=list(range(4)), layout={"title": {"text": caption(k)}})
        for k, step in enumerate(steps)
    ]
    _frame_layout(figure, caption(last), run.grid_x, run.grid_y, height)
    figure.update_layout(**_play_controls([str(s) for s in steps], "step ", 250))
    return figure


def shift_arrow_scale(run: DynamicsResult, losses: Sequence[str]) -> float:
    return arrow_scale([[[(run.grads[name][t], 0.0)] for t in run.heatmap_steps] for name in losses])


def _curves(title: str, y_title: str, height: int = 360) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        title={"text": title, "font": {"size": 14}}, height=height, template="plotly_white",
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, xaxis_title="generator step", yaxis_title=y_title,
        # Under the axis title: with up to ten entries a legend beside the title would cover it.
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "xanchor": "left"},
    )  # fmt: skip
    return figure


def w1_figure(run: DynamicsResult | Toy2dResult, losses: Sequence[str]) -> go.Figure:
    """The exact W1 from the generated distribution to the target, per loss over training: for the shift generator
    |θ_t| (in closed form), for the MLP the exact W1 between the frame's samples and a fixed target sample, with the
    W1 between two target samples for scale."""
    figure = _curves("Exact W1 to the target", "W1")
    for name in losses:
        if isinstance(run, Toy2dResult):
            steps, values = run.steps, run.w1[name]
        else:
            steps, values = list(range(len(run.theta[name]))), [abs(t) for t in run.theta[name]]
        figure.add_scatter(x=steps, y=values, mode="lines", name=loss_title(name), line={"color": _loss_color(name)})
    if isinstance(run, Toy2dResult):
        figure.add_hline(y=run.w1_reference, line={"dash": "dot", "color": "#64748b"},
                         annotation_text="two samples of the target", annotation_position="top left")  # fmt: skip
    return figure


def theta_figure(run: DynamicsResult, losses: Sequence[str]) -> go.Figure:
    """θ_t per loss; P is at θ = 0."""
    figure = _curves("θ: where the generator is", "θ")
    for name in losses:
        figure.add_scatter(y=run.theta[name], mode="lines", name=loss_title(name), line={"color": _loss_color(name)})
    figure.add_hline(y=0.0, line={"dash": "dot", "color": "#64748b"}, annotation_text="P (θ = 0)",
                     annotation_position="bottom right")  # fmt: skip
    return figure


def gradient_figure(run: DynamicsResult, losses: Sequence[str]) -> go.Figure:
    """|dℓ/dθ| per loss on a log axis: the signal the generator gets (0 is drawn at the floor of the axis)."""
    figure = _curves("|dℓ/dθ|: the gradient θ gets", "|dℓ/dθ| (log)")
    floor = 1e-8
    for name in losses:
        values = [max(abs(g), floor) for g in run.grads[name]]
        figure.add_scatter(y=values, mode="lines", name=loss_title(name), line={"color": _loss_color(name)})
    figure.update_yaxes(type="log", exponentformat="power")
    return figure


def estimate_figure(run: DynamicsResult, losses: Sequence[str]) -> go.Figure:
    """The critic's estimate (solid) and the closed-form divergence at θ_t (dashed), per loss."""
    figure = _curves("The critic's estimate vs the truth D(θ_t)", "divergence")
    for name in losses:
        color = _loss_color(name)
        figure.add_scatter(y=run.estimates[name], mode="lines", name=f"{loss_title(name)}: critic",
                           line={"color": color})  # fmt: skip
        figure.add_scatter(y=_finite_or_none(run.truth[name]), mode="lines", name=f"{loss_title(name)}: truth",
                           line={"color": color, "dash": "dash"})  # fmt: skip
    return figure


def modes_figure(run: Toy2dResult, losses: Sequence[str]) -> go.Figure:
    figure = _curves(f"Modes covered (of {run.mode_count})", "modes")
    for name in losses:
        figure.add_scatter(x=run.steps, y=run.modes[name], mode="lines", name=loss_title(name),
                           line={"color": _loss_color(name), "shape": "hv"})  # fmt: skip
    figure.update_yaxes(range=[0, (run.mode_count or 1) + 0.5])
    return figure


def dynamics_figure(run: DynamicsResult | Toy2dResult) -> go.Figure:
    """The `--plot` file of `vaegan divergences train-generator`: the run's curves side by side (the page's charts
    under its animations): shift: θ_t, |dℓ/dθ| and estimate vs truth; MLP: exact W1 and, for the mixtures, modes
    covered."""
    from plotly.subplots import make_subplots  # only the CLI's --plot file needs subplots (heavier import)

    losses = list(run.config.losses)
    if isinstance(run, Toy2dResult):
        panels = [w1_figure(run, losses)] + ([modes_figure(run, losses)] if run.mode_count else [])
        title = f"MLP generator on {run.config.target}: {run.config.steps} steps"
    else:
        panels = [theta_figure(run, losses), gradient_figure(run, losses), estimate_figure(run, losses)]
        title = f"shift generator on {run.config.family}: {run.config.steps} {run.config.theta_optimizer} steps on θ"
    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.layout.title.text for p in panels])
    for col, panel in enumerate(panels, start=1):
        for trace in panel.data:
            trace.showlegend = col == 1
            figure.add_trace(trace, row=1, col=col)
        figure.update_xaxes(title_text="generator step", row=1, col=col)
        figure.update_yaxes(title_text=panel.layout.yaxis.title.text, type=panel.layout.yaxis.type, row=1, col=col)
    figure.update_layout(title=title, height=450, template="plotly_white")
    return figure


# ------------------------------------------------------------------------------------ predict, then reveal


def quiz_figure(
    knots: Sequence[float],
    sketches: dict[str, Sequence[float]],
    scores: Sequence[CurveScore] = (),
    estimates: dict[str, Sequence[float]] | None = None,
    height: int = 400,
) -> go.Figure:
    """The learner's sketches (dotted, a marker per knot) and, once revealed (`scores` of `vaegan.quiz`), the
    curve each was scored against (dashed) and the critics' final estimates (`estimates`, thin) on the θ grid."""
    figure = go.Figure()
    for score in scores:
        figure.add_scatter(
            x=score.thetas, y=score.reference, mode="lines", line=dict(color=_divergence_color(score.name),
            dash="dash", width=2), name=f"{DIVERGENCE_TITLES[score.name]}: truth ({score.source})",
            legendgroup=score.name,
        )  # fmt: skip
        if estimates and score.name in estimates:
            figure.add_scatter(
                x=score.thetas, y=_finite_or_none(estimates[score.name]), mode="lines+markers", opacity=0.6,
                line=dict(color=_divergence_color(score.name), width=1), marker=dict(size=4),
                name=f"{DIVERGENCE_TITLES[score.name]}: critic's estimate", legendgroup=score.name,
            )  # fmt: skip
    for name, values in sketches.items():
        figure.add_scatter(
            x=list(knots), y=list(values), mode="lines+markers", line=dict(color=_divergence_color(name), dash="dot",
            width=3), marker=dict(size=10, symbol="diamond"), name=f"{DIVERGENCE_TITLES[name]}: your sketch",
            legendgroup=name,
        )  # fmt: skip
    figure.update_layout(
        height=height, template="plotly_white", margin=dict(l=10, r=10, t=40, b=40),
        xaxis=dict(title="θ (how far Q is moved)"), yaxis=dict(title="divergence (nats)", rangemode="tozero"),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )  # fmt: skip
    return figure


# ----------------------------------------------------------------------------------- how far FD can be trusted
# The VAE vs GAN page's trust section: FD against 1/n with the FD∞ fit of `vaegan.fidelity.frechet_curve`.


def fd_curve_figure(report: dict[str, Any], labels: dict[str, str], colors: dict[str, str]) -> go.Figure:
    """FD against 1/n for each set of a `vaegan.fidelity.fidelity_report` (markers), the fitted line
    FD∞ + slope/n dashed down to 1/n = 0, and FD∞ marked there: the bias of FD is the line's rise."""
    sizes = report["curve_n"]
    x = [1.0 / s for s in sizes]
    figure = go.Figure()
    for name, row in report["sets"].items():
        color, label = colors.get(name, "#64748b"), labels.get(name, name)
        figure.add_scatter(x=x, y=row["fid_curve"], mode="markers", marker=dict(color=color, size=8),
                           name=f"{label}: FD of n samples", legendgroup=name)  # fmt: skip
        line_x = [0.0, max(x)]
        figure.add_scatter(x=line_x, y=[row["fid_infinity"] + row["fid_slope"] * v for v in line_x], mode="lines",
                           line=dict(color=color, dash="dash"), name=f"{label}: FD∞ + slope/n",
                           legendgroup=name, showlegend=False)  # fmt: skip
        # FD∞ goes into the legend, not beside the star: stars of close FD∞ would overlap their labels
        figure.add_scatter(x=[0.0], y=[row["fid_infinity"]], mode="markers", legendgroup=name,
                           marker=dict(color=color, size=12, symbol="star"),
                           name=f"{label}: FD∞ {row['fid_infinity']:.2f}")  # fmt: skip
    ticks = [0.0, *x[::2]]
    figure.update_layout(
        height=380, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
        title="Fréchet distance against 1/n, extrapolated to infinitely many samples",
        xaxis=dict(title="1 / n (samples per set)", tickvals=ticks,
                   ticktext=["n = ∞", *(f"1/{s}" for s in sizes[::2])]),
        yaxis=dict(title="Fréchet distance ↓", zeroline=True), legend=dict(orientation="h", y=-0.3),
    )  # fmt: skip
    return figure


# ------------------------------------------------------------------------------------ drawn distributions

DRAWN_P_COLOR = "#dc2626"  # P in the figures of a drawing (the canvas paints P red and Q blue too)
DRAWN_Q_COLOR = "#0284c7"


def _drawn_points(p: Sequence[Sequence[float]], q: Sequence[Sequence[float]]) -> list[go.Scatter]:
    style = {"mode": "markers", "hoverinfo": "skip"}
    return [
        go.Scatter(x=[v[0] for v in p], y=[v[1] for v in p], name="P", **style,
                   marker={"size": 4, "color": DRAWN_P_COLOR, "line": {"width": 0.4, "color": "white"}}),
        go.Scatter(x=[v[0] for v in q], y=[v[1] for v in q], name="Q", **style,
                   marker={"size": 4, "color": DRAWN_Q_COLOR, "line": {"width": 0.4, "color": "white"}}),
    ]  # fmt: skip


def _square_layout(figure: go.Figure, title: str, half: float, height: int) -> None:
    figure.update_layout(
        title=title, height=height, template="plotly_white", margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={"range": [-half, half], "constrain": "domain", "title": "x"},
        yaxis={"range": [-half, half], "scaleanchor": "x", "scaleratio": 1, "title": "y"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0},
    )  # fmt: skip


def drawing_figure(p: Sequence[Sequence[float]], q: Sequence[Sequence[float]], half: float,
                   title: str = "your drawing: samples of P and Q", height: int = 380) -> go.Figure:  # fmt: skip
    """Points of a drawing's P (red) and Q (blue) on the square ±`half`."""
    figure = go.Figure(_drawn_points(p, q))
    _square_layout(figure, title, half, height)
    return figure


def drawn_critic_figure(estimates: DrawnEstimates, name: str, height: int = 420) -> go.Figure:
    """One divergence's trained critic V on the drawing's grid (red high, blue low), P's and Q's points on top."""
    grid = estimates.heatmaps[name]
    limit = max(abs(v) for row in grid for v in row) or 1.0
    figure = go.Figure([_heat(grid, estimates.grid_x, estimates.grid_y, limit),
                        *_drawn_points(estimates.p_points, estimates.q_points)])  # fmt: skip
    _square_layout(figure, f"{DIVERGENCE_TITLES[name]} critic", max(estimates.grid_x), height)
    return figure


def drawn_sweep_figure(sweep: DrawnSweep, height: int = 460) -> go.Figure:
    """Each divergence's estimate against θ, Q moved by θ along the sweep's direction, with its 95% interval over
    the critics (a band), and the exact empirical W1 dashed: the Divergences page's chart, for a drawing."""
    figure = go.Figure()
    for name, intervals in sweep.estimates.items():
        color = _divergence_color(name)
        band_x = sweep.thetas + sweep.thetas[::-1]
        band_y = [i.high for i in intervals] + [i.low for i in intervals][::-1]
        figure.add_scatter(x=band_x, y=band_y, fill="toself", fillcolor=color, opacity=0.2, mode="none",
                           hoverinfo="skip", showlegend=False, legendgroup=name)  # fmt: skip
        figure.add_scatter(
            x=sweep.thetas, y=[i.mean for i in intervals], mode="lines+markers", line={"color": color, "width": 3},
            marker={"size": 6}, name=f"{DIVERGENCE_TITLES[name]}: critics' estimate", legendgroup=name,
        )  # fmt: skip
    figure.add_scatter(x=sweep.thetas, y=sweep.exact_w1, mode="lines",
                       line={"color": _divergence_color("wasserstein"), "dash": "dash", "width": 2},
                       name="exact empirical W1")  # fmt: skip
    values = [i.high for intervals in sweep.estimates.values() for i in intervals] + list(sweep.exact_w1)
    top = min(max(values + [1.0]) * 1.08, 12.0)  # KL/χ² grow without bound on disjoint drawings: cap the view
    figure.update_layout(
        height=height, template="plotly_white", margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis={"title": f"θ (Q moved {sweep.direction}; negative θ: the other way)"},
        yaxis={"title": "divergence (nats)", "range": [min(-0.05, min(values) * 1.08), top]},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )  # fmt: skip
    return figure


# ------------------------------------------------------------------------- latent lessons (issue 25)


def direction_share_figure(direction_share: Sequence[float], axis_share: Sequence[float], chosen: int,
                           top_axes: int = 10) -> go.Figure:  # fmt: skip
    """How often each principal direction changes the classifier's digit, beside the `top_axes` single latent axes
    that change it most often and a dotted line at the mean over all axes; the chosen direction in red."""
    order = sorted(range(len(axis_share)), key=lambda d: (-axis_share[d], d))[:top_axes]
    figure = go.Figure()
    figure.add_bar(
        x=[f"v{i}" for i in range(len(direction_share))], y=list(direction_share), name="principal directions",
        marker_color=["#e11d48" if i == chosen else "#0d9488" for i in range(len(direction_share))],
    )  # fmt: skip
    figure.add_bar(x=[f"e{d}" for d in order], y=[axis_share[d] for d in order], name=f"best {len(order)} axes",
                   marker_color="#4f46e5")  # fmt: skip
    mean = sum(axis_share) / max(1, len(axis_share))
    labels = [f"v{i}" for i in range(len(direction_share))] + [f"e{d}" for d in order]
    figure.add_scatter(x=labels, y=[mean] * len(labels), mode="lines", line={"color": "#64748b", "dash": "dot"},
                       name=f"mean of all {len(axis_share)} axes: {mean:.2f}")  # fmt: skip
    figure.update_layout(
        height=280, margin=dict(l=10, r=10, t=30, b=10), template="plotly_white", bargap=0.15,
        title="share of samples whose digit changes along the direction",
        xaxis=dict(type="category"), yaxis=dict(title="share of samples", range=[0, 1.05]),
        legend=dict(orientation="h", y=-0.2),
    )  # fmt: skip
    return figure


def importance_weights_figure(normalised_log_weights: Sequence[float], ess: float) -> go.Figure:
    """A histogram of the normalised log-weights log(w_i / sum w) of K importance samples, with the ESS in the
    title: a few weights near 0 (= log 1) and the rest far below is a proposal that misses the posterior."""
    k = len(normalised_log_weights)
    figure = go.Figure(go.Histogram(x=list(normalised_log_weights), nbinsx=40, marker_color="#a5b4fc"))
    figure.update_layout(
        height=260, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white", showlegend=False, bargap=0.05,
        title=f"K = {k:,} importance weights: effective sample size {ess:.1f} of {k:,}",
        xaxis_title="log(w_i / Σ w)  (0: one sample carries all the weight)", yaxis_title="samples",
        **vertical_line(-math.log(k), "#0d9488", 2, "all equal"),
    )  # fmt: skip
    return figure


def log_px_curve_figure(k_values: Sequence[int], log_px: Sequence[float], log_px_se: Sequence[float],
                        elbo: float, repeats: int) -> go.Figure:  # fmt: skip
    """log p̂_K against K (log axis) with ±1 standard error bars over the repeats, and the ELBO as a flat line."""
    figure = go.Figure()
    figure.add_scatter(
        x=list(k_values), y=list(log_px), mode="lines+markers", name=f"log p̂_K (mean of {repeats})",
        line={"color": "#4f46e5"}, error_y=dict(type="data", array=list(log_px_se), visible=True),
    )  # fmt: skip
    figure.add_scatter(x=[k_values[0], k_values[-1]], y=[elbo, elbo], mode="lines", name="ELBO",
                       line={"color": "#e11d48", "dash": "dash"})  # fmt: skip
    figure.update_layout(
        height=260, margin=dict(l=10, r=10, t=40, b=10), template="plotly_white",
        title="log p(x) estimated with K samples, ±1 standard error",
        xaxis=dict(title="K", type="log", tickvals=list(k_values), ticktext=[f"{k:,}" for k in k_values]),
        yaxis_title="nats", legend=dict(orientation="h", y=-0.3),
    )  # fmt: skip
    return figure


# ------------------------------------------------------------------------------------- the 2-D VAE (VAE page)
# Plain lists in, so that this module needs nothing of vaegan.vae2d: a Vae2dResult's posterior and labels, and its
# terms_row() per β.

DIGIT_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                "#17becf")  # fmt: skip  # Plotly's D3 palette: ten colours told apart at a glance


def latent_scatter_figure(points: Sequence[Sequence[float]], labels: Sequence[int] | None, *,
                          drawn: Sequence[float] | None = None, drawn_std: Sequence[float] | None = None,
                          limit: float | None = None, title: str = "") -> go.Figure:  # fmt: skip
    """The aggregate posterior: one point per held-out digit (the mean of q(z|x)), one trace and colour per label;
    a drawn digit as a star with its ±1 σ box; dotted the square that the decoded manifold covers (±limit)."""
    figure = go.Figure()
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if labels is None:
        figure.add_scatter(x=xs, y=ys, mode="markers", name="held-out digits",
                           marker={"size": 4, "color": "#64748b", "opacity": 0.7})  # fmt: skip
    else:
        for digit in sorted(set(labels)):
            chosen = [i for i, label in enumerate(labels) if label == digit]
            colour = DIGIT_COLORS[digit % len(DIGIT_COLORS)]
            figure.add_scatter(x=[xs[i] for i in chosen], y=[ys[i] for i in chosen], mode="markers", name=str(digit),
                               marker={"size": 4, "opacity": 0.75, "color": colour})  # fmt: skip
    shapes = []
    if limit is not None:
        shapes.append({"type": "rect", "x0": -limit, "x1": limit, "y0": -limit, "y1": limit,
                       "line": {"color": "#94a3b8", "dash": "dot", "width": 1}})  # fmt: skip
    if drawn is not None:
        if drawn_std is not None:
            shapes.append({"type": "rect", "x0": drawn[0] - drawn_std[0], "x1": drawn[0] + drawn_std[0],
                           "y0": drawn[1] - drawn_std[1], "y1": drawn[1] + drawn_std[1],
                           "line": {"color": "#111827", "width": 1}})  # fmt: skip
        figure.add_scatter(x=[drawn[0]], y=[drawn[1]], mode="markers", name="your digit",
                           marker={"symbol": "star", "size": 18, "color": "#111827",
                                   "line": {"color": "white", "width": 1}})  # fmt: skip
    figure.update_layout(
        title={"text": title, "font": {"size": 14}}, height=420, template="plotly_white", shapes=shapes,
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, xaxis_title="z₁", yaxis={"title": "z₂", "scaleanchor": "x"},
        legend={"title": {"text": "digit"}, "itemsizing": "constant"},
    )  # fmt: skip
    return figure


def elbo_terms_figure(rows: Sequence[dict[str, float]], marked_beta: float | None = None) -> go.Figure:
    """The held-out ELBO's two terms against the β each model was trained with: reconstruction E_q[−log p(x|z)]
    (left) and KL(q(z|x) ‖ p(z)) (right), in nats; the β on show ringed. Each β is one category on the x axis
    (β = 0 has no place on a log axis)."""
    from plotly.subplots import make_subplots  # only this figure has two panels

    rows = sorted(rows, key=lambda row: row["β"])
    betas = [f"{row['β']:g}" for row in rows]
    figure = make_subplots(rows=1, cols=2, subplot_titles=("reconstruction, E_q[−log p(x|z)]", "KL(q(z|x) ‖ p(z))"),
                           horizontal_spacing=0.12)  # fmt: skip
    for col, (key, colour) in enumerate((("reconstruction", "#4f46e5"), ("KL", "#e11d48")), start=1):
        figure.add_scatter(x=betas, y=[row[key] for row in rows], mode="lines+markers", name=key, row=1, col=col,
                           line={"color": colour}, marker={"size": 8})  # fmt: skip
        if marked_beta is not None and f"{marked_beta:g}" in betas:
            i = betas.index(f"{marked_beta:g}")
            figure.add_scatter(x=[betas[i]], y=[rows[i][key]], mode="markers", showlegend=False, row=1, col=col,
                               marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"color": "#111827",
                                                                                     "width": 2}})  # fmt: skip
        figure.update_xaxes(title_text="β", type="category", row=1, col=col)
        figure.update_yaxes(title_text="nats per digit", row=1, col=col)
    figure.update_layout(height=300, template="plotly_white", showlegend=False,
                         margin={"l": 10, "r": 10, "t": 40, "b": 10})  # fmt: skip
    for annotation in figure.layout.annotations:
        annotation.font = {"size": 13}
    return figure
