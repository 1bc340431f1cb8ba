"""The VAE page's "Train a VAE now": a 2-D β-VAE (vaegan.vae2d). Shipped βs load instantly; other settings train
here, with a progress bar, in a few seconds. Shows the decoded manifold, the aggregate posterior, the ELBO's two
terms across βs and where the page's drawn digit lands."""

from __future__ import annotations

import json

import streamlit as st
import torch

from vaegan.drawing import DrawnDigit
from vaegan.errors import VaeganError
from vaegan.figures import elbo_terms_figure, latent_scatter_figure
from vaegan.vae2d import (
    ProgressCallback,
    Vae2dConfig,
    Vae2dResult,
    encode_digit,
    load_vae2d,
    shipped_vae2d_paths,
    split_digits,
    train_vae2d,
)
from vaegan.vocabulary import VAE2D_BETA_CHOICES, VAE2D_TRAIN_COUNTS

from common import (
    APP_THREADS,
    CLASSIFIER_SLOT,
    checkpoints_dir,
    file_stamp,
    load_real_digits,
    model_token,
    real_digits_key,
    real_digits_source,
    show_images,
    shown_path,
    try_load,
)


@st.cache_resource(show_spinner="Loading a shipped 2-D VAE…", max_entries=16)
def load_shipped(path: str, stamp: tuple[int, int]) -> Vae2dResult:
    del stamp  # only part of the cache key: a re-made file is picked up without a restart
    return load_vae2d(path)


@st.cache_resource(show_spinner=False, max_entries=16)
def trained(config_json: str, data_key: str, _digits: torch.Tensor, _classifier: torch.nn.Module | None,
            classifier_key: str, _progress: ProgressCallback | None = None) -> Vae2dResult:  # fmt: skip
    """A 2-D VAE for these settings on these digits, trained on the first request and then shared by every session
    (at most 16 kept). The underscored arguments are what data_key and classifier_key stand for."""
    config = Vae2dConfig.from_dict(json.loads(config_json))
    digits = split_digits(_digits, config, classifier=_classifier, source=real_digits_source() or "")
    return train_vae2d(config, digits, progress=_progress, threads=APP_THREADS)


def shipped_results() -> dict[float, Vae2dResult]:
    results = {}
    for beta, path in shipped_vae2d_paths(checkpoints_dir()).items():
        try:
            results[beta] = load_shipped(str(path), file_stamp(path))
        except VaeganError as exc:
            st.error(f"`{shown_path(path)}` could not be read: {exc}")
    return results


def show_vae2d_playground(drawn: DrawnDigit | None) -> None:
    """The section; `drawn` is the page's drawn digit (placed in the latent plane), or None."""
    st.header("Train a VAE now")
    st.markdown(
        "A VAE whose latent space is a **plane**, so you can see all of it: an MLP encoder and decoder "
        "(`vaegan.vae2d`) trained on binarized test digits with the **β-VAE** loss "
        "E_q[−log p(x|z)] + **β**·KL(q(z|x) ‖ N(0, I)). β = 1 is the ELBO; β = 0 drops the pull towards the prior "
        "(an autoencoder with noise: the codes spread far beyond the prior and its samples stop looking like "
        "digits); a large β squeezes every code towards N(0, I) and blurs the digits. The shipped βs load "
        "at once; any other setting trains here in seconds."
    )
    shipped = shipped_results()
    default_count = next(iter(shipped.values())).config.train_digits if shipped else Vae2dConfig().train_digits
    counts = sorted({*VAE2D_TRAIN_COUNTS, default_count})
    left, middle, right = st.columns([3, 3, 1], vertical_alignment="bottom")
    # The URL holds the shown text: ?vae2d_beta=2
    beta = left.select_slider("β (weight of the KL term)", VAE2D_BETA_CHOICES, 1.0, key="vae2d_beta",
                              bind="query-params", format_func=lambda b: f"{b:g}")  # fmt: skip
    # No format_func on the counts: the URL holds the shown text, and "5,000" would be an awkward URL value
    count = middle.select_slider("training digits", counts, default_count, key="vae2d_digits", bind="query-params")
    config = Vae2dConfig.for_digits(int(count), beta=float(beta))
    data_key = real_digits_key()
    classifier = try_load(CLASSIFIER_SLOT)
    classifier_key = model_token(CLASSIFIER_SLOT) if classifier is not None else "none"
    config_json = json.dumps(config.to_dict(), sort_keys=True)
    run_key = f"{config_json}|{data_key}|{classifier_key}"
    session_runs: dict[str, dict[str, float]] = st.session_state.setdefault("vae2d_runs", {})

    # A shipped file stands for its β and digit count; its other settings are shown with it.
    result: Vae2dResult | None = next((r for r in shipped.values() if (r.config.beta, r.config.train_digits)
                                       == (config.beta, config.train_digits)), None)  # fmt: skip
    source = ""
    if result is not None:
        path = shipped_vae2d_paths(checkpoints_dir())[config.beta]
        took = result.provenance.get("train_seconds_total")
        source = (f"shipped `{shown_path(path)}` (trained in {took} s on {result.provenance.get('cpu')}, "
                  f"{result.provenance.get('threads')} thread(s): `{result.provenance.get('command')}`)")  # fmt: skip
    pressed = right.button("Train", type="primary", key="vae2d_train", disabled=result is not None)
    if result is None and (pressed or run_key in session_runs):
        digits = load_real_digits()
        if digits is None:
            st.info("Training needs test digits: download them in **Reconstructions of test digits** above.",
                    icon=":material/download:")  # fmt: skip
        else:
            bar = st.progress(0.0, text="training…")

            def on_progress(done: int, total: int, what: str) -> None:
                if done % 25 == 0 or done == total:
                    bar.progress(done / total, text=f"training the 2-D VAE, {what}: step {done:,} of {total:,}")

            try:
                result = trained(config_json, data_key, digits, classifier, classifier_key, on_progress)
            except VaeganError as exc:
                st.warning(str(exc))
            bar.empty()
            if result is not None:
                session_runs[run_key] = {**result.terms_row(), "count": config.train_digits}
                source = f"trained now on this server in {result.seconds:.1f} s ({APP_THREADS} thread(s))"
    if result is None:
        st.info(f"β = {config.beta:g} with {config.train_digits:,} training digits is not trained yet: press "
                f"**Train** ({config.epochs} epochs, {config.held_out:,} digits held out).",
                icon=":material/model_training:")  # fmt: skip
    else:
        show_result(result, source, drawn)
    rows = [r.terms_row() for r in shipped.values() if r.config.train_digits == config.train_digits]
    shown_betas = {row["β"] for row in rows}
    rows += [{k: v for k, v in row.items() if k != "count"} for row in session_runs.values()
             if row["count"] == config.train_digits and row["β"] not in shown_betas]  # fmt: skip
    if rows:
        st.markdown(f"**The ELBO's two terms as β moves** (held-out digits, {config.train_digits:,} training digits; "
                    "shipped βs and those trained in this session). Their sum is the held-out −ELBO.")  # fmt: skip
        st.plotly_chart(elbo_terms_figure(rows, config.beta), key="vae2d_terms")


def show_result(result: Vae2dResult, source: str, drawn: DrawnDigit | None) -> None:
    config = result.config
    st.caption(f"Showing: {source}. Held-out digits: {config.held_out:,}; labels: {result.label_source}.")
    columns = st.columns(3)
    columns[0].metric("reconstruction, E_q[−log p(x|z)]", f"{result.reconstruction:.1f} nats")
    columns[1].metric("KL(q(z|x) ‖ p(z))", f"{result.kl:.2f} nats")
    columns[2].metric("held-out −ELBO", f"{result.neg_elbo:.1f} nats", help="Their sum, whatever β was trained with.")
    manifold_column, scatter_column = st.columns(2)
    side = config.grid_side
    with manifold_column, st.container(key="vae2d_manifold"):
        show_images(result.manifold.reshape(side * side, 1, 28, 28) * 2.0 - 1.0, nrow=side, scale=1,
                    caption=f"The decoder on a {side}×{side} grid over the prior's quantiles Φ⁻¹((i + ½)/{side}), "
                    f"z₁ from {result.grid[0]:.2f} (left) to {result.grid[-1]:.2f}, z₂ likewise from the bottom "
                    "up: equal prior mass between neighbours.")  # fmt: skip
    drawn_at = encode_digit(result.model, drawn.binary) if drawn is not None else None
    labels = None if result.labels is None else result.labels.tolist()
    figure = latent_scatter_figure(
        result.posterior.tolist(), labels, drawn=drawn_at[0] if drawn_at else None,
        drawn_std=drawn_at[1] if drawn_at else None, limit=result.grid[-1],
        title=f"where {config.held_out:,} held-out digits land (posterior means), β = {config.beta:g}",
    )  # fmt: skip
    with scatter_column:
        st.plotly_chart(figure, key="vae2d_scatter")
        if drawn_at is None:
            st.caption("Draw a digit on the canvas above: it appears here as a ★ at the mean of its q(z|x).")
        else:
            (z1, z2), (s1, s2) = drawn_at
            st.caption(f"Your digit lands at z = ({z1:.2f}, {z2:.2f}), σ = ({s1:.2f}, {s2:.2f}) (the box). The "
                       "dotted square is the manifold's grid.")  # fmt: skip
