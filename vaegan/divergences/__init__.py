"""Estimating divergences between two distributions with trained critics: squared Hellinger against Wasserstein-1.

Conventions (used everywhere in this package, written down only here)
--------------------------------------------------------------------
* P is the fixed distribution, Q_θ the moved one; samples x ~ P, y ~ Q. Logarithms are natural (nats).
* f-divergences follow Nowozin et al. 2016 ("f-GAN", Tables 1 and 6): D_f(P‖Q) = E_q[f(p/q)] with f convex,
  f(1) = 0. A critic V: R² -> R is mapped into the domain of the conjugate f* by the output activation g_f, and
      D_f(P‖Q) >= E_p[g_f(V(x))] - E_q[f*(g_f(V(y)))]      for every V,
  with equality at g_f(V) = f'(p/q). The table (f, g_f(v), f*(t)):
      kl               u log u                     v                    e^(t-1)
      reverse-kl       -log u                      -e^(-v)              -1 - log(-t)
      pearson (χ²)     (u - 1)²                    v                    t²/4 + t
      hellinger (H²)   (√u - 1)²                   1 - e^(-v)           t/(1 - t)
      total-variation  ½|u - 1|                    ½ tanh v             t   (|t| <= ½)
      jensen-shannon   ½[u log u - (u+1) log((u+1)/2)]  ½(log 2 - log(1 + e^-v))  -½ log(2 - e^(2t))
  So H² = ∫(√p - √q)² ∈ [0, 2], TV = ½∫|p - q| ∈ [0, 1] and JS = ½KL(P‖M) + ½KL(Q‖M) ∈ [0, log 2] with
  M = (P + Q)/2. (The f-GAN paper's JS row lacks the ½ and measures 2·JS; we halve f, g and f* consistently.)
  Disjoint supports give H² = 2, TV = 1, JS = log 2 and KL = reverse KL = χ² = ∞.
* Missing truths: math.inf where a divergence is infinite, math.nan where it has no closed form (the
  f-divergences between a 2-D toy target and its shifted copy); JSON has neither and writes null and "nan".
* Wasserstein-1 uses the Euclidean distance: W1(P, Q) = sup over 1-Lipschitz V of E_p[V] - E_q[V]. The Lipschitz
  constraint is relaxed into a penalty on ‖∇V‖ at points between the two samples (`lipschitz_penalty`).

Modules, each importing only those before it: `bounds` (the table, the bounds, the penalties), `targets` (the 2-D
targets, exact empirical W1, modes covered), `families` (the distributions P, Q_θ and their exact divergences),
`critic` (a batched ensemble of MLP critics), `optim` (torch's Adam and SGD written out, without torch.optim's
import of the compiler stack), `rounding` (significant digits for the result files), `engine` (what the trainers
share: progress, seeded streams, the stop at a non-finite loss), `sweep` (critics trained over θ, snapshots, JSON
results), `drawn` (distributions a learner draws: masks, points, their URL code), `dynamics` (a one-parameter shift
generator trained under each loss: which divergences give it a gradient), `toy2d` (MLP generators trained under each
loss on 2-D targets: frames), `generators` (the entry point for both generators and the app's precomputation),
`drawn_estimates` (every divergence of a drawing and its θ sweep), `drawn_cache` (a bounded cache of a drawing's
results for an app's sessions).
"""

from vaegan.divergences.bounds import (
    DIVERGENCE_NAMES,
    DIVERGENCE_TITLES,
    F_DIVERGENCES,
    PENALTIES,
    WASSERSTEIN,
    FDivergence,
    f_divergence_lower_bound,
    hellinger_lower_bound,
    lipschitz_penalty,
    lower_bound,
    one_sided_penalty,
    two_sided_penalty,
    wasserstein_dual_estimate,
)
from vaegan.divergences.critic import CriticConfig, CriticEnsemble
from vaegan.divergences.drawn import Drawing
from vaegan.divergences.drawn_estimates import (
    DrawnConfig,
    DrawnEstimates,
    DrawnSweep,
    estimate_drawing,
    sweep_drawing,
)
from vaegan.divergences.dynamics import (
    GAN_LOSSES,
    DynamicsConfig,
    DynamicsResult,
    GanLoss,
    critic_losses,
    generator_loss,
    generator_losses,
    run_dynamics,
)
from vaegan.divergences.engine import ProgressCallback, rng_stream
from vaegan.divergences.families import (
    FAMILIES,
    SHIFTED_TARGETS,
    SWEEP_FAMILIES,
    exact_divergence,
    heatmap_grid,
    noise,
    points,
)
from vaegan.divergences.generators import (
    GENERATORS,
    GeneratorConfig,
    GeneratorRun,
    drawn_generator_config,
    dynamics_filename,
    generator_config,
    load_generator_run,
    run_all_defaults,
    train_generator,
    write_all_defaults,
)
from vaegan.divergences.rounding import round_significant
from vaegan.divergences.sweep import (
    REFERENCE_SETTING,
    Snapshots,
    SweepConfig,
    SweepResult,
    TrainedCritics,
    custom_sweep_config,
    parse_thetas,
    result_filename,
    run_sweep,
    sweep_config,
    theta_range,
    train_critics,
)
from vaegan.divergences.targets import (
    MODE_RADIUS,
    MODE_SHARE,
    TARGETS,
    exact_w1,
    mode_centers,
    mode_quality,
    modes_covered,
    sample_target,
)
from vaegan.divergences.toy2d import TOY_LOSSES, Toy2dConfig, Toy2dResult, run_toy2d
from vaegan.lipschitz import gradient_norms, interpolate

__all__ = [
    "Drawing",
    "DrawnConfig",
    "DrawnEstimates",
    "DrawnSweep",
    "estimate_drawing",
    "sweep_drawing",
    "DIVERGENCE_NAMES",
    "DIVERGENCE_TITLES",
    "FAMILIES",
    "F_DIVERGENCES",
    "GAN_LOSSES",
    "GENERATORS",
    "MODE_RADIUS",
    "MODE_SHARE",
    "PENALTIES",
    "REFERENCE_SETTING",
    "SHIFTED_TARGETS",
    "SWEEP_FAMILIES",
    "TARGETS",
    "TOY_LOSSES",
    "WASSERSTEIN",
    "CriticConfig",
    "CriticEnsemble",
    "DynamicsConfig",
    "DynamicsResult",
    "FDivergence",
    "GanLoss",
    "GeneratorConfig",
    "GeneratorRun",
    "ProgressCallback",
    "Snapshots",
    "SweepConfig",
    "SweepResult",
    "Toy2dConfig",
    "Toy2dResult",
    "TrainedCritics",
    "critic_losses",
    "exact_divergence",
    "dynamics_filename",
    "drawn_generator_config",
    "exact_w1",
    "generator_config",
    "load_generator_run",
    "f_divergence_lower_bound",
    "generator_loss",
    "generator_losses",
    "gradient_norms",
    "heatmap_grid",
    "interpolate",
    "hellinger_lower_bound",
    "lipschitz_penalty",
    "lower_bound",
    "mode_centers",
    "mode_quality",
    "modes_covered",
    "noise",
    "one_sided_penalty",
    "parse_thetas",
    "points",
    "custom_sweep_config",
    "result_filename",
    "rng_stream",
    "round_significant",
    "run_sweep",
    "sweep_config",
    "run_all_defaults",
    "run_dynamics",
    "run_toy2d",
    "sample_target",
    "train_generator",
    "write_all_defaults",
    "theta_range",
    "train_critics",
    "two_sided_penalty",
    "wasserstein_dual_estimate",
]
