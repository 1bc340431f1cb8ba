"""The largest counts and sizes the library accepts from a user, as named constants, and the one check for them.

Every number a user types that sets how much is allocated or recorded (images in a grid, rows of a table, θ values,
iterations, model widths, batch sizes, ...) is checked against one of these before anything is allocated, so an
absurd value ends as one `ConfigError` line that states the limit, never as an out-of-memory crash. Counts whose
work is done in fixed-size chunks (importance samples K) do not grow memory, only run time, and are bounded all the
same: a typo of a few zeros must end in a message, not in a run that would take years.

The limits are far above every setting the project uses (the defaults, the reference recipes, the app's widgets),
and small enough that the largest accepted value fits in the memory of an ordinary machine.
"""

from __future__ import annotations

import re

from vaegan.errors import ConfigError

# --- images written or shown at once
MAX_GRID_IMAGES = 10_000  # images in one PNG grid (`sample wgan --n`): a 100 x 100 grid of 32x32 images
MAX_TABLE_SIDE = 256  # rows or columns of a strip / interpolation table (--dims, eps count, --steps)
MAX_TABLE_IMAGES = 4_096  # rows x columns of one table
MAX_LATENTS = 4_096  # latents a ranking averages over (`explore rank --n`)

# --- training length and model size
MAX_EPOCHS = 10_000
MAX_ITERS = 1_000_000  # generator iterations, critic steps of a sweep, θ steps of a dynamics run
MAX_CRITIC_STEPS = 1_000  # critic steps per generator step
MAX_BATCH_SIZE = 65_536
MAX_LATENT_DIM = 2_048
MAX_HIDDEN = 8_192  # VAE MLP width / conv channels
MAX_CHANNELS = 512  # WGAN and classifier channel widths (the widest layer has 4x), classifier features and classes
MAX_CRITIC_PARAMS = 2**26  # weights of one critic ensemble (all members together): 256 MB of float32
MAX_ACTIVATIONS = 2**27  # floats of one ensemble forward pass (members x points x width): 512 MB of float32

# --- what a divergence run records
MAX_THETAS = 1_001  # θ values of one sweep
MAX_RECORDED_VALUES = 2**23  # numbers kept for snapshots, heat maps and frames (they all go into one JSON file)
MAX_EXACT_W1_POINTS = 4_096  # points per set of the exact (Hungarian, O(n^3)) W1 of the 2-D toy GANs

# --- evaluation
MAX_IMPORTANCE_SAMPLES = 100_000  # K of log p(x) per image (`eval vae --k`, `train vae --eval-k`): 20x the 5,000 of
# the IWAE paper's evaluation, hours for the whole test set on a CPU

# --- everything else
MAX_SEED = 2**32 - 1  # seeds are mixed into other seeds (RealBatches: seed * 1_000_003 + epoch) within 64 bits
MAX_THREADS = 256
MAX_TIME_BUDGET = 30 * 24 * 3600.0  # seconds (`train wgan --time-budget`): 30 days


def check_count(name: str, value: int, limit: int, *, minimum: int = 1) -> int:
    """`value` itself when minimum <= value <= limit, else a ConfigError that names the setting and the limit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum:,}, got {value:,}")
    if value > limit:
        raise ConfigError(f"{name} = {value:,} is over the limit of {limit:,} (vaegan.limits)")
    return value


def check_importance_samples(k: int) -> int:
    """K of an importance-sampled log p(x): 1..MAX_IMPORTANCE_SAMPLES."""
    return check_count("k (importance samples per image)", k, MAX_IMPORTANCE_SAMPLES)


def check_seed(seed: int, name: str = "seed") -> int:
    """A seed every RNG of the project accepts: a whole number in 0..MAX_SEED."""
    return check_count(name, seed, MAX_SEED, minimum=0)


def parse_duration(text: str, flag: str = "--time-budget") -> float:
    """'90s', '30m', '2h', '1h30m' or a plain number of seconds -> seconds, at most MAX_TIME_BUDGET."""
    text = text.strip().lower()
    match = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not text or match is None or not any(match.groups()):
        raise ConfigError(f"{flag} {text[:40]!r}: expected a duration such as 90s, 30m, 2h or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ConfigError(f"{flag} {text!r} must be longer than 0 s")
    if not total <= MAX_TIME_BUDGET:  # also catches a number so long that it became inf
        raise ConfigError(f"{flag} {text[:40]!r} is longer than the limit of {MAX_TIME_BUDGET / 86400:g} days")
    return total

# --- how far a Fréchet distance can be trusted (vaegan.fidelity)
MAX_BOOTSTRAP_RESAMPLES = 10_000  # B of a bootstrap interval (`eval wgan --bootstrap`): 50x the usual 200
MAX_KID_SUBSETS = 10_000  # subsets KID averages over
MAX_NEAREST = 64  # nearest training digits shown per sample

# --- drawings (vaegan.divergences.drawn)
MAX_DRAWING_CODE_CHARS = 2_000  # a drawing's URL code: two 41x41 bit masks compress to a few hundred characters
MAX_DRAWING_SEEDS = 31  # independent critics per divergence of a drawing (the t-table goes to 30 degrees of freedom)

# --- the gap between the ELBO and log p(x) (vaegan.gap)
MAX_GAP_REPEATS = 256  # independent sets of K importance samples behind one standard error

# --- the 2-D VAE trained on the VAE page (vaegan.vae2d)
MAX_VAE2D_DIGITS = 70_000  # training or held-out digits: all of MNIST
MAX_VAE2D_GRID_SIDE = 64  # the decoded manifold is side x side digits of 28x28
MAX_VAE2D_BETA = 1_000.0  # the KL weight; far above any β that still encodes anything
