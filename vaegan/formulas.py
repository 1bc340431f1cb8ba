"""The formulas the divergence pages talk about, as LaTeX strings for `st.latex`: plain strings, no torch.

Each one restates a definition of `vaegan.divergences` (the f-GAN table and bounds in `bounds.py`, the exact
values in `families.py`, the generator losses in `dynamics.py`) in that package's conventions: D_f(P‖Q) =
E_q[f(p/q)], natural logarithms, the JS f halved so that JS ∈ [0, log 2]. Keyed by the same names as the code, so
tests/test_quiz.py can check that every divergence and loss a page offers has its formula.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FFormula:
    """One row of the f-GAN table: f, the output activation g_f, the conjugate f* (with its domain where it is not
    all of R) and f*(g_f(v)), the form the code evaluates."""

    title: str
    f: str
    activation: str
    conjugate: str
    conjugate_of_activation: str


F_FORMULAS: dict[str, FFormula] = {
    "kl": FFormula(
        r"\mathrm{KL}(P\,\|\,Q)",
        r"u \log u",
        r"v",
        r"e^{t-1}",
        r"e^{v-1}",
    ),
    "reverse-kl": FFormula(
        r"\mathrm{KL}(Q\,\|\,P)",
        r"-\log u",
        r"-e^{-v}",
        r"-1-\log(-t) \quad (t<0)",
        r"v-1",
    ),
    "jensen-shannon": FFormula(
        r"\mathrm{JS}",
        r"\tfrac12\left[u\log u-(u+1)\log\tfrac{u+1}{2}\right]",
        r"\tfrac12\left(\log 2-\log(1+e^{-v})\right)",
        r"-\tfrac12\log\left(2-e^{2t}\right) \quad (t<\tfrac12\log 2)",
        r"\tfrac12\left(\log(1+e^{v})-\log 2\right)",
    ),
    "total-variation": FFormula(
        r"\mathrm{TV}",
        r"\tfrac12\,|u-1|",
        r"\tfrac12\tanh v",
        r"t \quad (|t|\le\tfrac12)",
        r"\tfrac12\tanh v",
    ),
    "pearson": FFormula(
        r"\chi^2",
        r"(u-1)^2",
        r"v",
        r"\tfrac14 t^2+t",
        r"\tfrac14 v^2+v",
    ),
    "hellinger": FFormula(
        r"H^2",
        r"(\sqrt{u}-1)^2",
        r"1-e^{-v}",
        r"\frac{t}{1-t} \quad (t<1)",
        r"e^{v}-1",
    ),
}

F_DIVERGENCE = (
    r"D_f(P\,\|\,Q)=\mathbb{E}_{y\sim Q}\!\left[f\!\left(\frac{p(y)}{q(y)}\right)\right],"
    r"\qquad f \text{ convex},\ f(1)=0"
)
F_GAN_BOUND = (
    r"D_f(P\,\|\,Q)\;\ge\;\mathbb{E}_{x\sim P}\big[g_f(V(x))\big]-\mathbb{E}_{y\sim Q}\big[f^*\big(g_f(V(y))\big)\big]"
    r"\quad\text{for every critic } V,\qquad f^*(t)=\sup_u\,\big(tu-f(u)\big)"
)
F_GAN_EQUALITY = r"\text{equality where } g_f(V(x)) = f'\!\left(\frac{p(x)}{q(x)}\right)"
HELLINGER = r"H^2(P,Q)=\int\big(\sqrt{p}-\sqrt{q}\big)^2\,dx = 2-2\int\sqrt{p\,q}\,dx\;\in[0,2]"
HELLINGER_DISJOINT = (
    r"\operatorname{supp}P\cap\operatorname{supp}Q=\varnothing\;\Rightarrow\;p\,q=0\;\Rightarrow\;"
    r"H^2(P,Q)=\int p\,dx+\int q\,dx=2"
)
DISJOINT_VALUES = (
    r"\text{disjoint supports:}\quad H^2=2,\quad \mathrm{JS}=\log 2,\quad \mathrm{TV}=1,\quad"
    r"\mathrm{KL}(P\|Q)=\mathrm{KL}(Q\|P)=\chi^2=\infty,\quad W_1=|\theta|"
)
# The Gaussian family N((0, ½), σ²I) against N((θ, ½), σ²I), with t = |θ|/σ (families.exact_divergence).
GAUSSIAN_VALUES: dict[str, str] = {
    "hellinger": r"H^2=2\left(1-e^{-t^2/8}\right)",
    "kl": r"\mathrm{KL}(P\|Q)=\mathrm{KL}(Q\|P)=\tfrac12 t^2",
    "pearson": r"\chi^2=e^{t^2}-1",
    "total-variation": r"\mathrm{TV}=\operatorname{erf}\!\left(\frac{t}{2\sqrt2}\right)",
    "jensen-shannon": r"\mathrm{JS}=\log 2-\mathbb{E}_{z\sim\mathcal N(0,1)}\big[\log\big(1+e^{tz-t^2/2}\big)\big]",
    "wasserstein": r"W_1=|\theta|",
}
KANTOROVICH_RUBINSTEIN = (
    r"W_1(P,Q)=\inf_{\pi\in\Pi(P,Q)}\mathbb{E}_{(x,y)\sim\pi}\,\|x-y\|"
    r"=\sup_{\|V\|_{L}\le 1}\;\mathbb{E}_{x\sim P}[V(x)]-\mathbb{E}_{y\sim Q}[V(y)]"
)
INTERPOLATES = r"\hat x=\epsilon\,x+(1-\epsilon)\,y,\qquad x\sim P,\;y\sim Q,\;\epsilon\sim U[0,1]"
PENALTIES: dict[str, str] = {
    "two-sided": r"\lambda\,\mathbb{E}_{\hat x}\big[(\|\nabla V(\hat x)\|-1)^2\big]",
    "one-sided": r"\lambda\,\mathbb{E}_{\hat x}\big[\max(0,\|\nabla V(\hat x)\|-1)^2\big]",
}
W1_CRITIC_LOSS = (
    r"\min_V\;-\Big(\mathbb{E}_{x\sim P}[V(x)]-\mathbb{E}_{y\sim Q}[V(y)]\Big)+\text{penalty}(V)"
)

# ---------------------------------------------------------------------------------------- generator losses
GAME = r"\max_V\;B(V,\theta)-\text{penalty}(V)\qquad\text{and}\qquad\min_\theta\;\mathcal L_G(\theta)"
DISCRIMINATOR = r"D(y)=\sigma\big(V(y)\big)=\frac{1}{1+e^{-V(y)}}"
# What the generator minimises under each loss of dynamics.GAN_LOSSES (dynamics.generator_loss): the bound itself
# (minimax) or -E_q[log D] (non-saturating); y = G(z) is the generated sample.
GAN_LOSS_FORMULAS: dict[str, str] = {
    "wasserstein": r"\mathcal L_G=-\mathbb{E}_{y\sim Q_\theta}\big[V(y)\big]"
    r"\quad(\text{critic: two-sided penalty})",
    "wasserstein-onesided": r"\mathcal L_G=-\mathbb{E}_{y\sim Q_\theta}\big[V(y)\big]"
    r"\quad(\text{critic: one-sided penalty})",
    "hellinger": r"\mathcal L_G=\mathbb{E}_{x\sim P}\big[1-e^{-V(x)}\big]"
    r"-\mathbb{E}_{y\sim Q_\theta}\big[e^{V(y)}-1\big]",
    "js": r"\mathcal L_G=\log 2+\tfrac12\,\mathbb{E}_{x\sim P}\big[\log D(x)\big]"
    r"+\tfrac12\,\mathbb{E}_{y\sim Q_\theta}\big[\log\big(1-D(y)\big)\big]",
    "js-nonsaturating": r"\mathcal L_G=-\mathbb{E}_{y\sim Q_\theta}\big[\log D(y)\big]",
}
# The pull on a generated sample y of the two JS losses, from the derivatives of ½log(1 - D) and -log D in V.
JS_GRADIENTS = (
    r"\text{minimax: }\;-\nabla_y\mathcal L_G\propto\tfrac12\,D(y)\,\nabla V(y),\qquad"
    r"\text{non-saturating: }\;-\nabla_y\mathcal L_G\propto\big(1-D(y)\big)\,\nabla V(y)"
)
SHIFT_GENERATOR = (
    r"y=(\theta,u),\;u\sim U[0,1]"
    r"\quad(\text{Gaussians: } y=(\theta,\tfrac12)+\sigma z,\;z\sim\mathcal N(0,I_2))"
)
SGD_STEP = r"\theta\leftarrow\theta-\eta\,\frac{d\mathcal L_G}{d\theta}"
MLP_GENERATOR = (
    r"y=G_\theta(z),\;z\sim\mathcal N(0,I_2)\quad(\theta:\text{ the network's weights}),\qquad"
    r"\text{arrows: }-\frac{\partial\ell}{\partial y}"
)
