"""The VAE page's "gap" section: why the ELBO is only a bound, for one test digit or the learner's drawing.

One call from demo/views/vae.py (`gap_panel(...)`); the numbers are `vaegan.gap.vae_gap_report`, the charts
`vaegan.figures`. Its own module because the page is edited by several hands.
"""

from __future__ import annotations

import hashlib

import streamlit as st
import torch

from vaegan.drawing import DrawnDigit
from vaegan.figures import importance_weights_figure, log_px_curve_figure
from vaegan.gap import DEFAULT_REPEATS, GapReport, vae_gap_report
from vaegan.images import unit_to_signed
from vaegan.likelihood import sample_binary_digits
from vaegan.vocabulary import GAP_DEFAULT_K, GAP_K_CHOICES, GAP_SOURCES

from common import pick_one, strip_pictures

MODEL_SAMPLES = 100  # binarized model samples to choose from when there are no test digits


@st.cache_data(show_spinner="Importance sampling…", max_entries=64)
def _report(_vae: torch.nn.Module, model_key: str, _x: torch.Tensor, x_key: str, k: int) -> GapReport:
    """Cached by (model file, the digit's bytes, K): moving back to a K seen before costs nothing."""
    return vae_gap_report(_vae, _x, k=k, repeats=DEFAULT_REPEATS, seed=0)


@st.cache_data(max_entries=8)
def _model_samples(_vae: torch.nn.Module, model_key: str) -> torch.Tensor:
    return sample_binary_digits(_vae, MODEL_SAMPLES, seed=0)


def gap_panel(vae: torch.nn.Module, model_key: str, digits: torch.Tensor | None, drawn: DrawnDigit | None) -> None:
    """The section: pick a digit and K, then the weights, the curve log p̂_K, the ELBO and the gap."""
    with st.container(key="gap_panel"):
        st.header("Why the ELBO is only a bound")
        st.markdown(
            "For one digit x, each sample z ~ q(z|x) gets an importance weight w = p(x|z) p(z) / q(z|x). The **ELBO** "
            "is the mean of log w; the importance-sampled estimate log p̂_K = log (1/K) Σ w_k averages the weights "
            "*before* taking the log, and by Jensen's inequality it is never below the mean of the logs. As K grows "
            "its expectation rises towards log p(x), and what is left between the two is exactly how far the "
            "encoder's q(z|x) is from the true posterior:"
        )
        st.latex(r"\log p(x) - \mathrm{ELBO}(x) \;=\; \mathrm{KL}\big(q(z\mid x)\,\|\,p(z\mid x)\big) \;\ge\; 0")
        left, middle, right = st.columns([2, 2, 3])
        source = pick_one(left, "which digit", list(GAP_SOURCES), GAP_SOURCES[0], "gap_source")
        arch = vae.config.arch
        default_k = GAP_DEFAULT_K.get(arch, min(GAP_K_CHOICES))
        k = middle.select_slider(
            "largest K", list(GAP_K_CHOICES), default_k, key="gap_k", bind="query-params",
            help=f"The panel opens at K = {default_k} for this {arch} decoder: its cost is K × {DEFAULT_REPEATS} "
            "decoder passes, within about 2 s on one CPU thread (docs/app.md).",
        )  # fmt: skip
        pool = digits if digits is not None else _model_samples(vae, model_key)
        if source == GAP_SOURCES[1] and drawn is None:
            right.info("Draw a digit at the top of the page to read it here; until then a test digit is used.",
                       icon=":material/draw:")  # fmt: skip
        if source == GAP_SOURCES[1] and drawn is not None:
            x = drawn.binary.reshape(-1).float()
            what = "your drawing (binarized)"
        else:
            index = right.number_input(
                "test digit #" if digits is not None else "model sample #", 0, pool.shape[0] - 1, 0, key="gap_digit",
                bind="query-params",
            )  # fmt: skip
            x = pool[int(index)].reshape(-1).float()
            what = f"test digit #{int(index)}" if digits is not None else f"binarized model sample #{int(index)}"
        x_key = hashlib.sha1(x.numpy().tobytes()).hexdigest()
        report = _report(vae, model_key, x, x_key, int(k))

        picture_column, numbers_column = st.columns([1, 5])
        with picture_column, st.container(key="gap_digit_picture"):
            st.image(strip_pictures(unit_to_signed(x.view(1, 1, 28, 28)), scale=3), caption=[what], width=84)
        with numbers_column, st.container(key="gap_numbers"):
            columns = [column for _ in range(2) for column in st.columns(2)]  # 2 x 2: room for "value ± error"
            columns[0].metric(f"log p̂_K at K={report.k:,}", f"{report.log_px_at_k:.2f} ± {report.log_px_se_at_k:.2f}")
            columns[1].metric("ELBO (mean log w)", f"{report.elbo:.2f} ± {report.elbo_se:.2f}")
            columns[2].metric("gap: log p̂_K − ELBO", f"{report.gap:.2f} ± {report.gap_se:.2f}",
                              help="A lower bound on KL(q(z|x) ‖ p(z|x)) that tightens as K grows.")  # fmt: skip
            columns[3].metric("effective sample size", f"{report.ess:.1f} of {report.k:,}")
        left, right = st.columns(2)
        with left:
            st.plotly_chart(log_px_curve_figure(report.k_values, report.log_px, report.log_px_se, report.elbo,
                                                report.repeats), key="gap_curve")  # fmt: skip
        with right:
            st.plotly_chart(importance_weights_figure(report.normalised_log_weights.tolist(), report.ess),
                            key="gap_weights")  # fmt: skip
        st.caption(
            f"All numbers in nats, from {report.repeats} independent sets of K samples (fixed seed); ± is one standard "
            "error, the spread of the repeated estimates over √repeats (not the delta method, which trusts the "
            "variance of heavy-tailed weights). The gap shown is E[log p̂_K] − ELBO: it can only grow with K, and "
            "it stays below the true KL(q ‖ p(z|x)) by the bias of log p̂_K. The histogram is of one set's weights: "
            "when a handful of samples carry almost all the weight (a small effective sample size), q(z|x) is "
            "narrower than, or off-centre from, the true posterior — that mismatch is what the gap measures."
        )
