""""The maths": the collapsed sections beside the divergence pages' charts, each formula rendered by `st.latex` from
`vaegan.formulas` (which restates the code's definitions), with a few words of prose between them."""

from __future__ import annotations

import streamlit as st

from vaegan.divergences import DynamicsConfig, SweepConfig, Toy2dConfig
from vaegan.figures import loss_title
from vaegan.formulas import (
    DISCRIMINATOR,
    DISJOINT_VALUES,
    F_DIVERGENCE,
    F_FORMULAS,
    F_GAN_BOUND,
    F_GAN_EQUALITY,
    GAME,
    GAN_LOSS_FORMULAS,
    GAUSSIAN_VALUES,
    HELLINGER,
    HELLINGER_DISJOINT,
    INTERPOLATES,
    JS_GRADIENTS,
    KANTOROVICH_RUBINSTEIN,
    MLP_GENERATOR,
    PENALTIES,
    SGD_STEP,
    SHIFT_GENERATOR,
    W1_CRITIC_LOSS,
)

TITLE = "The maths"
ICON = ":material/function:"


def f_table(columns: tuple[str, ...]) -> str:
    """Some columns of the f-GAN table (fields of `FFormula`) as one LaTeX array, a row per divergence."""
    heads = {"f": "f(u)", "activation": "g_f(v)", "conjugate": "f^*(t)", "conjugate_of_activation": "f^*(g_f(v))"}
    rows = [" & ".join([row.title, *(getattr(row, c) for c in columns)]) + r" \\" for row in F_FORMULAS.values()]
    head = " & ".join(["", *(heads[c] for c in columns)]) + r" \\ \hline "
    spacing = r"\def\arraystretch{1.35}"  # KaTeX's rows are tight for fractions
    return spacing + rf"\begin{{array}}{{{'l' * (len(columns) + 1)}}} " + head + " ".join(rows) + r" \end{array}"


def divergence_maths(config: SweepConfig) -> None:
    """What the Divergences page's estimates chart shows: the f-GAN bound and its table, H² and its value on
    disjoint supports, the Gaussian closed forms, Kantorovich–Rubinstein duality and the Lipschitz penalties."""
    with st.expander(TITLE, icon=ICON), st.container(key="maths_divergences"):
        st.markdown("**f-divergences and their variational bound** (Nowozin et al. 2016, f-GAN). For a convex f:")
        st.latex(F_DIVERGENCE)
        st.latex(F_GAN_BOUND)
        st.latex(F_GAN_EQUALITY)
        st.markdown(
            "A critic V outputs any real number v; the output activation g_f maps it into the domain of the "
            "conjugate f*. Each critic is trained to maximise the bound, and its value on fresh points is the "
            "estimate. The rows of the code (`vaegan.divergences.F_DIVERGENCES`, JS halved so that JS ≤ log 2):"
        )
        # two tables of two columns: the four side by side are wider than the page
        st.latex(f_table(("f", "activation")))
        st.latex(f_table(("conjugate", "conjugate_of_activation")))
        st.markdown("**Squared Hellinger distance**, and why it saturates on the parallel lines:")
        st.latex(HELLINGER)
        st.latex(HELLINGER_DISJOINT)
        st.latex(DISJOINT_VALUES)
        st.markdown(
            "The Gaussians N((0, ½), σ²I) and N((θ, ½), σ²I) overlap, and every divergence is a smooth function of "
            f"t = |θ|/σ (σ = {config.sigma:g} here):"
        )
        for formula in GAUSSIAN_VALUES.values():
            st.latex(formula)
        st.markdown(
            "**Wasserstein-1** and its Kantorovich–Rubinstein dual: the cheapest way to move P's mass onto Q, "
            "equal to the best 1-Lipschitz critic's difference of means."
        )
        st.latex(KANTOROVICH_RUBINSTEIN)
        st.latex(W1_CRITIC_LOSS)
        st.markdown("The Lipschitz constraint becomes a penalty on the critic's slope between the two samples:")
        st.latex(INTERPOLATES)
        st.latex(r"\text{two-sided (Gulrajani et al. 2017):}\quad " + PENALTIES["two-sided"])
        st.latex(r"\text{one-sided (Petzka et al. 2018):}\quad " + PENALTIES["one-sided"])
        every = (
            f", applied every {config.penalty_every} steps at {config.penalty_every}λ (the same on average)"
            if config.penalty_every > 1 else ""
        )  # fmt: skip
        st.caption(
            f"This sweep: the {config.penalty} penalty, λ = {config.penalty_weight:g}{every}. The W1 estimate is "
            "E_P[V] − E_Q[V] alone: the penalty is a training device, not part of the estimate."
        )


def generator_maths(config: DynamicsConfig | Toy2dConfig, losses: list[str]) -> None:
    """What the "Training a generator" page's animations show: the game, the generator, and the loss the generator
    minimises under each of `losses` (the minimax bound or the non-saturating −E log D)."""
    with st.expander(TITLE, icon=ICON), st.container(key="maths_generator"):
        st.markdown(
            "**The game.** The critic V maximises its bound B (the f-GAN bound of its divergence, or E_P[V] − E_Q[V] "
            "for W1) minus its penalty; the generator minimises its loss L_G, one step after every "
            f"{config.critic_steps} critic steps:"
        )
        st.latex(GAME)
        if isinstance(config, DynamicsConfig):
            st.latex(SHIFT_GENERATOR)
            if config.theta_optimizer == "sgd":
                st.latex(SGD_STEP + rf"\qquad(\text{{SGD}},\ \eta={config.theta_lr:g})")
            else:
                st.caption(f"Adam on θ (lr {config.theta_lr:g}): each step is divided by the gradient's running size.")
        else:
            st.latex(MLP_GENERATOR)
        st.markdown(
            "**Minimax** losses minimise the critic's own bound B; for W1 only −E_Q[V] depends on the generator. "
            "The **non-saturating** loss reads the JS critic as a discriminator D and minimises −E_Q[log D] instead:"
        )
        st.latex(DISCRIMINATOR)
        for loss in losses:
            st.latex(rf"\textbf{{{loss_title(loss)}}}:\quad " + GAN_LOSS_FORMULAS[loss])
        st.markdown(
            "Where the discriminator is sure that y is fake (D(y) → 0), the minimax JS loss pulls with ½D(y)∇V(y), "
            "which vanishes; the non-saturating one with (1 − D(y))∇V(y), which does not. The W1 critics are held "
            f"near slope 1 between the samples by their penalty (λ = {config.penalty_weight:g}):"
        )
        st.latex(JS_GRADIENTS)
        st.latex(INTERPOLATES)
        st.latex(r"\text{two-sided:}\quad " + PENALTIES["two-sided"])
        st.latex(r"\text{one-sided:}\quad " + PENALTIES["one-sided"])
