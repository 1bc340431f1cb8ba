"""The names a user chooses among, and where the shipped files live: plain tuples, no torch.

The library's modules validate against these (each heavy module imports its list from here and keeps the old name
importable); the CLI offers them as choices and the app as widget options. Keeping them here, away from torch, is
what lets `vaegan --help` list every choice without importing torch (tests/test_cli_help.py).
"""

from __future__ import annotations

# --- runtime
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")  # vaegan.runtime.resolve_device

# --- data (vaegan.data)
SPLITS: tuple[str, ...] = ("train", "valid", "test")
BINARIZE_MODES: tuple[str, ...] = ("auto", "dynamic", "threshold", "none")

# --- models and their training (vaegan.vae, vaegan.train)
VAE_ARCHITECTURES: tuple[str, ...] = ("mlp", "conv")  # keys of vaegan.vae.ARCHITECTURES
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")  # the VAE's and the divergence sweep's
WGAN_RECIPES: tuple[str, ...] = ("fast", "reference")  # keys of vaegan.train.wgan.RECIPES
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")  # keys of vaegan.train.wgan.PRECISIONS
LR_DECAYS: tuple[str, ...] = ("none", "linear")
AUGMENTATIONS: tuple[str, ...] = ("none", "translation", "translation,cutout")  # vaegan.augment, the critic's

# --- latent space (vaegan.latent)
INTERPOLATION_MODES: tuple[str, ...] = ("lerp", "slerp")
RANK_METHODS: tuple[str, ...] = ("jacobian", "features")  # vaegan.latent.principal_directions

# --- divergences (vaegan.divergences)
FAMILIES: tuple[str, ...] = ("lines", "gaussian")  # every divergence in closed form (and the shift generator's)
SHIFTED_TARGETS: tuple[str, ...] = ("8gaussians", "25gaussians", "swissroll", "moons")  # toy2d targets, moved by θ
SWEEP_FAMILIES: tuple[str, ...] = FAMILIES + SHIFTED_TARGETS
TARGETS: tuple[str, ...] = ("8gaussians", "25gaussians", "swissroll", "moons", "lines")  # the MLP generator's P
GENERATORS: tuple[str, ...] = ("shift", "mlp")  # dynamics.py's one-parameter Q_θ, toy2d.py's MLP
TOY_LOSSES: tuple[str, ...] = ("js", "js-nonsaturating", "hellinger", "wasserstein", "wasserstein-onesided")
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")  # vaegan.divergences.optim: the critics' (and a sweep's)
THETA_OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")  # the shift generator's θ
PENALTIES: tuple[str, ...] = ("one-sided", "two-sided")  # Lipschitz penalties of a W1 critic

# How each name is shown (legends, menus, figure titles): one title per name, used by the CLI, figures and pages.
FAMILY_TITLES: dict[str, str] = {
    "lines": "parallel lines (disjoint supports)",
    "gaussian": "Gaussians (overlapping supports)",
}
LOSS_TITLES: dict[str, str] = {
    "wasserstein": "W1 (WGAN-GP)",
    "wasserstein-onesided": "W1, one-sided penalty",
    "hellinger": "squared Hellinger",
    "js": "JS, minimax GAN",
    "js-nonsaturating": "JS, non-saturating",
}

# --- the shipped files, relative to the repository root (the CLI's defaults and the app's slots)
DEFAULT_CHECKPOINTS: dict[str, str] = {
    "vae": "checkpoints/vae.safetensors",
    "wgan-generator": "checkpoints/wgan.safetensors",
    "digit-classifier": "checkpoints/classifier.safetensors",
}

# The VAE files the app's architecture picker offers, in its order (`vaegan app precompute` scores each).
APP_VAE_CHECKPOINTS = ("checkpoints/vae.safetensors", "checkpoints/vae_mlp.safetensors")

# The command that makes each kind of model file: what a missing-checkpoint message and the app tell the user to run.
TRAIN_COMMANDS: dict[str, str] = {
    "vae": "vaegan train vae",
    "wgan-generator": "vaegan train wgan",
    "wgan-critic": "vaegan train wgan",
    "digit-classifier": "vaegan train classifier",
}

# --- drawn distributions (vaegan.divergences.drawn)
DRAWING_PRESETS: tuple[str, ...] = ("lines", "two blobs", "ring vs centre", "8 Gaussians vs one")
SLIDE_DIRECTIONS: tuple[str, ...] = ("towards P", "right", "left", "up", "down")  # where "slide Q" moves Q
DRAWN_TARGET = "drawing"  # the MLP generator's target when it is the learner's drawing (not one of TARGETS)

# --- the gap between the ELBO and log p(x) (vaegan.gap; the VAE page's panel)
GAP_SOURCES: tuple[str, ...] = ("test digit", "your drawing")  # which digit the panel reads
GAP_K_CHOICES: tuple[int, ...] = (10, 100, 200, 500, 1000)  # the largest K of the panel's curve
# The K the panel opens with, per VAE architecture: what stays within about 2 s of server time on one CPU thread
# (bench/latent_lessons.py): the conv decoder costs about 50 times an MLP's per latent.
GAP_DEFAULT_K: dict[str, int] = {"mlp": 1000, "conv": 200}

# --- the 2-D VAE of the VAE page (vaegan.vae2d): the βs shipped as checkpoints/vae2d_beta{β}.safetensors
VAE2D_BETAS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 4.0)
VAE2D_BETA_CHOICES: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # the page's β slider
VAE2D_TRAIN_COUNTS: tuple[int, ...] = (500, 1_000, 2_000, 5_000, 9_000)  # the page's training-digit counts


def vae2d_filename(beta: float) -> str:
    """The file name of a β's 2-D VAE."""
    return f"vae2d_beta{beta:g}.safetensors"


def vae2d_checkpoint(beta: float) -> str:
    """The shipped file of a β, relative to the repository root."""
    return f"checkpoints/{vae2d_filename(beta)}"
