"""Distributions a learner draws: ink on a canvas -> two point distributions P and Q in the plane, a short code that
carries them in a URL, and every divergence between them estimated by batched critics.

A drawing is two boolean masks on a GRID_SIDE x GRID_SIDE grid of cells of side CELL, centred on the origin (x to
the right, y up; row 0 is the top of the canvas). A mask is a distribution: every inked cell holds the same mass,
spread uniformly over the cell and blurred by a Gaussian of standard deviation `blur`, so a stroke has a width
and a density, not zero width. The masks, not the canvas picture, are what is estimated, encoded and shared, so a
drawing that travels through a URL gives the same points at the same seed.

Estimates (`estimate_drawing`, `sweep_drawing`) train one `CriticEnsemble` whose members are every (divergence,
θ, seed): one forward and one backward per step for all of them, with the bounds, penalty, optimizer and schedule
of the θ sweep (`SweepConfig`'s defaults). The seeds are independent critics (their own initial weights and data);
their spread gives each estimate a 95% Student-t interval. The exact empirical W1 (`targets.exact_w1`) is computed
on samples of P and Q drawn with the same random numbers, so a drawing and its copy moved by d are exactly d apart.

`DrawnTarget` is what the 2-D toy GAN (`toy2d`) trains towards when its target is a drawing: P's samples, a
generator that starts at Q's centre, and P's connected regions as its modes.
"""

from __future__ import annotations

import base64
import binascii
import math
import pickle
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import torch

from vaegan.divergences.bounds import (
    DIVERGENCE_TITLES,
    WASSERSTEIN,
    check_divergence_name,
    lower_bound,
)
from vaegan.divergences.critic import CriticConfig, CriticEnsemble, check_activations
from vaegan.divergences.engine import ProgressCallback, check_finite_members, rng_stream
from vaegan.divergences.optim import make_optimizer
from vaegan.divergences.sweep_config import SweepConfig, theta_range
from vaegan.divergences.targets import MODE_SHARE, exact_w1
from vaegan.errors import ConfigError, DataError
from vaegan.limits import (
    MAX_BATCH_SIZE,
    MAX_DRAWING_CODE_CHARS,
    MAX_DRAWING_SEEDS,
    MAX_EXACT_W1_POINTS,
    MAX_ITERS,
    MAX_THETAS,
    check_count,
    check_seed,
)
from vaegan.lipschitz import gradient_norms, interpolate
from vaegan.runtime import intra_op_threads
from vaegan.vocabulary import DRAWING_PRESETS, SLIDE_DIRECTIONS

Tensor = torch.Tensor
T = TypeVar("T")

GRID_SIDE = 41  # cells per axis: odd, so that the origin is a cell centre
CELL = 0.1  # side of a cell in the plane: the grid spans ±2.05
HALF_SIDE = GRID_SIDE * CELL / 2
BLUR = 0.05  # standard deviation of the Gaussian blur of every sample: half a cell
P_INK, Q_INK = "#ff3300", "#0099ff"  # canvas colours `Drawing.from_rgba` reads: no blue in P's, no red in Q's
INK_COVERAGE = 0.3  # a cell is inked when ink covers at least this fraction of it (fainter is antialiasing fringe)
CODE_VERSION = "d1"  # the first characters of every drawing code
# the divergences the lesson compares (reverse KL adds nothing a learner would see here)
DRAWN_DIVERGENCES = ("hellinger", "jensen-shannon", "total-variation", "kl", "pearson", "wasserstein")
SWEEP_DIVERGENCES = ("hellinger", "jensen-shannon", "wasserstein")  # the θ sweep's default: its time grows with each
_MASK_BITS = GRID_SIDE * GRID_SIDE
_CODE_BYTES = (2 * _MASK_BITS + 7) // 8

# 97.5% quantiles of Student's t with 1..30 degrees of freedom: a 95% interval from a handful of seeds
_T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
          2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
          2.045, 2.042)  # fmt: skip


# ------------------------------------------------------------------------------------------------- drawings


def cell_centers(mask: np.ndarray) -> Tensor:
    """(K, 2) plane coordinates of the inked cells, in row-major order (so a translated mask keeps its order)."""
    rows, cols = np.nonzero(mask)
    x = (cols - GRID_SIDE // 2) * CELL
    y = (GRID_SIDE // 2 - rows) * CELL
    return torch.tensor(np.stack((x, y), axis=-1), dtype=torch.get_default_dtype())


def sample_mask(mask: np.ndarray | Tensor, n: int, rng: torch.Generator, blur: float = BLUR) -> Tensor:
    """n points (n, 2) of the distribution of `mask` (or of its `cell_centers`): a uniformly chosen inked cell, a
    uniform point in it, plus N(0, blur²) noise. Drawn from `rng` only, in a fixed order, so equal seeds give equal
    points."""
    centers = mask if isinstance(mask, Tensor) else cell_centers(mask)
    if len(centers) == 0:
        raise DataError("nothing is drawn: ink at least one cell")
    which = torch.randint(len(centers), (n,), generator=rng)
    inside = (torch.rand(n, 2, generator=rng) - 0.5) * CELL
    return centers[which] + inside + blur * torch.randn(n, 2, generator=rng)


def translate_mask(mask: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """The mask moved by `cols` cells to the right and `rows` cells up (ink moved off the grid is lost)."""
    moved = np.zeros_like(mask)
    down = -rows  # rows are counted from the top
    if abs(cols) >= GRID_SIDE or abs(down) >= GRID_SIDE:
        return moved
    moved[max(0, down) : GRID_SIDE + min(0, down), max(0, cols) : GRID_SIDE + min(0, cols)] = mask[
        max(0, -down) : GRID_SIDE - max(0, down), max(0, -cols) : GRID_SIDE - max(0, cols)
    ]
    return moved


def _disk(cx: float, cy: float, radius: float) -> np.ndarray:
    centers = cell_centers(np.ones((GRID_SIDE, GRID_SIDE), dtype=bool)).numpy()
    inside = (centers[:, 0] - cx) ** 2 + (centers[:, 1] - cy) ** 2 <= radius**2 + 1e-9
    return inside.reshape(GRID_SIDE, GRID_SIDE)


def _ring(radius: float) -> np.ndarray:
    centers = cell_centers(np.ones((GRID_SIDE, GRID_SIDE), dtype=bool)).numpy()
    distance = np.hypot(centers[:, 0], centers[:, 1])
    return (np.abs(distance - radius) <= 0.6 * CELL).reshape(GRID_SIDE, GRID_SIDE)


@dataclass(frozen=True, eq=False)
class Drawing:
    """Two inked masks (GRID_SIDE, GRID_SIDE) of bool: P (the target) and Q (the moved or generated one)."""

    p: np.ndarray
    q: np.ndarray

    def __post_init__(self) -> None:
        for name in ("p", "q"):
            mask = np.asarray(getattr(self, name))
            if mask.shape != (GRID_SIDE, GRID_SIDE):
                raise DataError(f"a drawing's {name.upper()} must be a {GRID_SIDE}x{GRID_SIDE} mask, got {mask.shape}")
            if not mask.any():
                raise DataError(
                    f"nothing is drawn for {name.upper()} (blank or too faint): draw at least one stroke in "
                    f"{name.upper()}'s colour, or load a preset"
                )
            object.__setattr__(self, name, mask.astype(bool))
        # the cells' centres, computed once: every training step samples from them
        object.__setattr__(self, "_centers", {"p": cell_centers(self.p), "q": cell_centers(self.q)})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Drawing) and np.array_equal(self.p, other.p) and np.array_equal(self.q, other.q)

    def __hash__(self) -> int:
        return hash(self.code)

    # --- ink in, code in and out
    @classmethod
    def from_ink(cls, ink_p: np.ndarray, ink_q: np.ndarray) -> Drawing:
        """Ink pictures (H, W) in [0, 1] of P and Q (a canvas of any size) -> their masks: a cell is inked when ink
        covers at least INK_COVERAGE of it."""
        return cls(ink_mask(ink_p), ink_mask(ink_q))

    @classmethod
    def from_rgba(cls, image: np.ndarray) -> Drawing:
        """A canvas picture (H, W, 3|4) uint8 painted on black with P in red and Q in blue (`P_INK`, `Q_INK`) -> its
        masks. The red channel is P's ink and the blue one Q's, so the two never mix up, even where they overlap."""
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] not in (3, 4) or min(array.shape[:2]) < 1:
            raise DataError(f"expected an (H, W, 3 or 4) canvas image, got shape {array.shape}")
        alpha = array[..., 3].astype(np.float32) / 255 if array.shape[2] == 4 else 1.0
        return cls.from_ink(array[..., 0] / 255.0 * alpha, array[..., 2] / 255.0 * alpha)

    @property
    def code(self) -> str:
        """The drawing as a short URL-safe text: both masks as bits, zlib-compressed, base64 (urlsafe, no padding)."""
        bits = np.packbits(np.concatenate((self.p.ravel(), self.q.ravel())))
        return CODE_VERSION + base64.urlsafe_b64encode(zlib.compress(bits.tobytes(), 9)).decode().rstrip("=")

    @classmethod
    def from_code(cls, code: str) -> Drawing:
        """The drawing of `code` (see `code`), or a one-line DataError for anything else: too long, not base64, not
        zlib, the wrong size, or a blank mask. Never decompresses more than one drawing's bytes."""
        if not isinstance(code, str) or not code.startswith(CODE_VERSION):
            raise DataError(f"not a drawing code (it should start with {CODE_VERSION!r})")
        if len(code) > MAX_DRAWING_CODE_CHARS:
            raise DataError(f"a drawing code is at most {MAX_DRAWING_CODE_CHARS} characters, got {len(code)}")
        body = code[len(CODE_VERSION) :]
        try:
            packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, _CODE_BYTES + 1)  # at most one drawing: no zip bombs
        except (binascii.Error, ValueError, zlib.error) as exc:
            raise DataError("the drawing code is damaged (not base64-encoded zlib data)") from exc
        if len(raw) != _CODE_BYTES or not inflater.eof:
            raise DataError(f"the drawing code holds {len(raw)} bytes, not the {_CODE_BYTES} of a drawing")
        bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[: 2 * _MASK_BITS].astype(bool)
        return cls(bits[:_MASK_BITS].reshape(GRID_SIDE, GRID_SIDE), bits[_MASK_BITS:].reshape(GRID_SIDE, GRID_SIDE))

    # --- points
    def sample(self, which: str, n: int, rng: torch.Generator, blur: float = BLUR) -> Tensor:
        """n points (n, 2) of P (`which` = "p") or Q ("q")."""
        if which not in ("p", "q"):
            raise ConfigError(f"which must be 'p' or 'q', got {which!r}")
        return sample_mask(self._centers[which], n, rng, blur)

    def centroid(self, which: str) -> Tensor:
        """The mean (2,) of P or Q: the mean of its inked cells' centres."""
        return self._centers[which].mean(0)

    def direction(self, name: str) -> Tensor:
        """The unit vector (2,) of a slide direction (SLIDE_DIRECTIONS): `towards P` goes from Q's centroid to P's
        (to the right when they coincide)."""
        fixed = {"right": (1.0, 0.0), "left": (-1.0, 0.0), "up": (0.0, 1.0), "down": (0.0, -1.0)}
        if name not in SLIDE_DIRECTIONS:
            raise ConfigError(f"unknown direction {name!r}; choose from {', '.join(SLIDE_DIRECTIONS)}")
        if name in fixed:
            return torch.tensor(fixed[name])
        gap = self.centroid("p") - self.centroid("q")
        norm = float(gap.norm())
        return gap / norm if norm > CELL / 2 else torch.tensor([1.0, 0.0])


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Ink (H, W) in [0, 1] -> the (GRID_SIDE, GRID_SIDE) mask of the cells it covers by at least INK_COVERAGE."""
    # PIL only when a canvas is read (start-up and the trainers stay light)
    from PIL import Image

    array = np.nan_to_num(np.asarray(ink, dtype=np.float32), nan=0.0).clip(0.0, 1.0)
    if array.ndim != 2 or min(array.shape) < 1:
        raise DataError(f"expected an ink picture (H, W), got shape {array.shape}")
    coverage = np.asarray(Image.fromarray(array, mode="F").resize((GRID_SIDE, GRID_SIDE), Image.Resampling.BOX))
    return coverage >= INK_COVERAGE


def load_drawing(source: str) -> Drawing:
    """A drawing from what a user gives: a preset's name (DRAWING_PRESETS), a drawing's code (the app's ?draw=), or
    the path of a picture (PNG, ...) painted on black with P in red and Q in blue (`from_rgba`)."""
    # PIL only when a picture is read
    from PIL import Image, UnidentifiedImageError

    if source in DRAWING_PRESETS:
        return preset(source)
    if source.startswith(CODE_VERSION) and not source.lower().endswith((".png", ".jpg", ".jpeg", ".webp")):
        return Drawing.from_code(source)
    try:
        with Image.open(source) as picture:
            return Drawing.from_rgba(np.asarray(picture.convert("RGBA")))
    except FileNotFoundError as exc:
        raise DataError(f"no drawing {source!r}: give a preset ({', '.join(DRAWING_PRESETS)}), a drawing's code "
                        "from the app's link, or a picture file") from exc  # fmt: skip
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{source!r} is not a picture that can be read ({type(exc).__name__})") from exc


def preset(name: str) -> Drawing:
    """A drawing to start from (DRAWING_PRESETS): `lines`, the reference's parallel segments P = {0} x [0, 1] and
    Q = {1} x [0, 1]; `two blobs`; `ring vs centre`; `8 Gaussians vs one` (eight small disks on a circle and one
    at its centre)."""
    if name == "lines":
        p = np.zeros((GRID_SIDE, GRID_SIDE), dtype=bool)
        p[GRID_SIDE // 2 - 10 : GRID_SIDE // 2 + 1, GRID_SIDE // 2] = True  # x = 0, y from 0 to 1
        return Drawing(p, translate_mask(p, 10, 0))
    if name == "two blobs":
        return Drawing(_disk(-1.0, 0.0, 0.35), _disk(1.0, 0.0, 0.35))
    if name == "ring vs centre":
        return Drawing(_ring(1.4), _disk(0.0, 0.0, 0.35))
    if name == "8 Gaussians vs one":
        angles = np.arange(8) * 2 * math.pi / 8
        p = np.any([_disk(1.5 * math.cos(a), 1.5 * math.sin(a), 0.16) for a in angles], axis=0)
        return Drawing(p, _disk(0.0, 0.0, 0.25))
    raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(DRAWING_PRESETS)}")


DEFAULT_PRESET = DRAWING_PRESETS[0]


# ------------------------------------------------------------------------------------------- the estimates


@dataclass(frozen=True)
class DrawnConfig:
    """How the critics of a drawing are trained: the θ sweep's defaults (`SweepConfig`), `seeds` critics each."""

    divergences: tuple[str, ...] = DRAWN_DIVERGENCES
    seeds: int = 5  # independent critics per divergence (and per θ): the spread that gives the interval
    iters: int = SweepConfig.iters
    batch_size: int = SweepConfig.batch_size
    lr: float = SweepConfig.lr
    adam_betas: tuple[float, float] = SweepConfig.adam_betas
    width: int = SweepConfig.width
    depth: int = SweepConfig.depth
    penalty_weight: float = SweepConfig.penalty_weight  # one-sided, as the sweep's default
    penalty_every: int = SweepConfig.penalty_every
    eval_size: int = 4096  # fresh points per distribution and seed for the final estimate
    exact_points: int = 512  # points per distribution of the exact (Hungarian) W1
    heatmap_size: int = 41
    blur: float = BLUR
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.divergences or len(set(self.divergences)) != len(self.divergences):
            raise ConfigError("give each divergence at most once, and at least one")
        for name in self.divergences:
            check_divergence_name(name)
        check_count("seeds (critics per divergence)", self.seeds, MAX_DRAWING_SEEDS, minimum=2)
        check_count("iters", self.iters, MAX_ITERS)
        check_count("batch_size", self.batch_size, MAX_BATCH_SIZE)
        check_count("eval_size", self.eval_size, MAX_BATCH_SIZE)
        check_count("exact_points", self.exact_points, MAX_EXACT_W1_POINTS)
        check_count("heatmap_size", self.heatmap_size, 201)
        check_count("penalty_every", self.penalty_every, MAX_ITERS)
        check_seed(self.seed)
        if not (self.lr > 0 and self.penalty_weight >= 0 and 0 <= self.blur <= 1 and self.width >= 1
                and self.depth >= 1):  # fmt: skip
            raise ConfigError("lr must be > 0, penalty_weight >= 0, blur in [0, 1], width and depth >= 1")


@dataclass
class Interval:
    """An estimate from several critics: their mean and a 95% Student-t interval, and each critic's value."""

    mean: float
    low: float
    high: float
    values: list[float]

    @classmethod
    def of(cls, values: Sequence[float]) -> Interval:
        values = [float(v) for v in values]
        mean = sum(values) / len(values)
        spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        half = _T_975[min(len(values) - 1, len(_T_975)) - 1] * spread / math.sqrt(len(values))
        return cls(mean, mean - half, mean + half, values)


@dataclass
class DrawnEstimates:
    """Every divergence between a drawing's P and Q, the exact empirical W1, and one trained critic per divergence
    on a grid: heatmaps[name][row][col] is V at (grid_x[col], grid_y[row])."""

    code: str
    config: DrawnConfig
    estimates: dict[str, Interval]
    exact_w1: float
    grid_x: list[float]
    grid_y: list[float]
    heatmaps: dict[str, list[list[float]]]
    p_points: list[list[float]]  # the exact W1's samples, to draw
    q_points: list[list[float]]
    seconds: float = 0.0

    def rows(self) -> list[dict[str, float | str]]:
        """One row per divergence: the mean estimate, its 95% interval and the number of critics; then the exact W1."""
        rows: list[dict[str, float | str]] = [
            {"divergence": DIVERGENCE_TITLES[name], "estimate": round(e.mean, 4),
             "95% interval": f"[{e.low:.4f}, {e.high:.4f}]", "critics": len(e.values)}
            for name, e in self.estimates.items()
        ]  # fmt: skip
        rows.append({"divergence": "exact empirical W1", "estimate": round(self.exact_w1, 4), "95% interval": "—",
                     "critics": 0})  # fmt: skip
        return rows


@dataclass
class DrawnSweep:
    """The estimates between P and Q moved by θ along `direction` (a unit vector) for every θ: estimates[name][i]
    for thetas[i], and the exact empirical W1 at every θ."""

    code: str
    config: DrawnConfig
    direction: str
    vector: list[float]
    thetas: list[float]
    estimates: dict[str, list[Interval]]
    exact_w1: list[float]
    seconds: float = 0.0


def _independent_init(critic: CriticEnsemble, seed_of_member: Tensor, seeds: int, rng: torch.Generator) -> None:
    """nn.Linear's default init drawn once per seed and given to every member of that seed: the seeds are
    independent critics, while the members of one seed (its divergences and θ) start alike."""
    with torch.no_grad():
        for weight, bias in zip(critic.weights, critic.biases, strict=True):
            bound = 1.0 / math.sqrt(weight.shape[1])
            one_w = torch.rand((seeds, *weight.shape[1:]), generator=rng) * 2 * bound - bound
            one_b = torch.rand((seeds, *bias.shape[1:]), generator=rng) * 2 * bound - bound
            weight.copy_(one_w[seed_of_member])
            bias.copy_(one_b[seed_of_member])


def _train(drawing: Drawing, config: DrawnConfig, shifts: Tensor, seeds: int, progress: ProgressCallback | None,
           heat_grid: Tensor | None = None) -> tuple[Tensor, Tensor | None]:  # fmt: skip
    """Train one critic per (divergence, shift, seed), all in one ensemble, and evaluate them on fresh points.

    Returns the final bounds (divergences, shifts, seeds) and, with `heat_grid` (G, 2), seed 0's critic of each
    divergence at the first shift on it (divergences, G). Member m = (d·T + t)·S + s."""
    names, t_count = config.divergences, len(shifts)
    members = len(names) * t_count * seeds
    n = config.batch_size
    check_activations("this drawing's critics", members, max(2 * n, min(config.eval_size, 2048) * 2), config.width)
    member = torch.arange(members)
    seed_of, shift_of = member % seeds, (member // seeds) % t_count
    critic = CriticEnsemble(CriticConfig(members=members, width=config.width, depth=config.depth))
    _independent_init(critic, seed_of, seeds, rng_stream(config.seed, "drawn-init"))
    optimizer = make_optimizer("adam", critic.parameters(), config.lr, config.adam_betas)
    data = [rng_stream(config.seed, f"drawn-data-{s}") for s in range(seeds)]
    w1_members = [i for i, name in enumerate(names) if name == WASSERSTEIN]
    w1_index = torch.cat([member[d * t_count * seeds : (d + 1) * t_count * seeds] for d in w1_members]) \
        if w1_members else None  # fmt: skip
    block = t_count * seeds

    def batch(count: int, rngs: Sequence[torch.Generator]) -> tuple[Tensor, Tensor]:
        """P's and Q's points (members, count, 2): per seed its own points, Q moved by each member's shift."""
        p = torch.stack([drawing.sample("p", count, g, config.blur) for g in rngs])
        q = torch.stack([drawing.sample("q", count, g, config.blur) for g in rngs])
        return p[seed_of], q[seed_of] + shifts[shift_of][:, None, :]

    def bounds(v_p: Tensor, v_q: Tensor) -> Tensor:
        return torch.cat([lower_bound(name, v_p[d * block : (d + 1) * block], v_q[d * block : (d + 1) * block])
                          for d, name in enumerate(names)])  # fmt: skip

    labels = [f"{names[int(m) // block]}, shift {int(shift_of[m])}, seed {int(seed_of[m])}" for m in member]
    with torch.enable_grad():  # grad mode is per thread, and the app's page runs switch it off
        for step in range(config.iters):
            x, y = batch(n, data)
            v_p, v_q = critic(torch.cat((x, y), dim=1)).split(n, dim=1)
            loss = -bounds(v_p, v_q)
            if w1_index is not None and config.penalty_weight > 0 and step % config.penalty_every == 0:
                eps = torch.rand(len(w1_index), n, 1, generator=data[0])
                norms = gradient_norms(lambda z: critic(z, w1_index), interpolate(x[w1_index], y[w1_index], eps))
                penalty = torch.relu(norms - 1).square().mean(-1)  # one-sided (Petzka et al.), as the sweep's default
                loss = loss.index_add(0, w1_index, config.penalty_weight * config.penalty_every * penalty)
            check_finite_members(loss, labels, f"step {step + 1} of {config.iters}")
            optimizer.zero_grad()
            loss.sum().backward()  # a sum: each member's gradient is its own loss's gradient
            optimizer.lr = config.lr * 0.5 * (1.0 + math.cos(math.pi * step / config.iters))  # cosine, as the sweep
            optimizer.step()
            if progress is not None:
                progress(step + 1, config.iters, "drawing")
    evaluation = [rng_stream(config.seed, f"drawn-eval-{s}") for s in range(seeds)]
    x, y = batch(config.eval_size, evaluation)
    final = torch.cat([bounds(v_p, v_q) for v_p, v_q in [critic.evaluate(torch.cat((x, y), dim=1), 2048)
                                                        .split(config.eval_size, dim=1)]])  # fmt: skip
    if not bool(torch.isfinite(final).all()):
        raise ConfigError("a critic's estimate is not finite: lower the learning rate")
    heat = None
    if heat_grid is not None:
        first = torch.tensor([d * block for d in range(len(names))])  # shift 0, seed 0 of each divergence
        heat = critic.evaluate(heat_grid.expand(len(first), -1, -1), members=first)
    return final.reshape(len(names), t_count, seeds), heat


def _exact_pair(drawing: Drawing, config: DrawnConfig, n: int) -> tuple[Tensor, Tensor]:
    """n points of P and of Q drawn with the same random numbers (common random numbers, as the sweep's families)."""
    return (drawing.sample("p", n, rng_stream(config.seed, "drawn-exact"), config.blur),
            drawing.sample("q", n, rng_stream(config.seed, "drawn-exact"), config.blur))  # fmt: skip


def estimate_drawing(drawing: Drawing, config: DrawnConfig | None = None, progress: ProgressCallback | None = None,
                     threads: int | None = 1) -> DrawnEstimates:  # fmt: skip
    """Every divergence of `config` between the drawing's P and Q (a 95% interval over `config.seeds` critics),
    the exact empirical W1, and each divergence's critic on a grid over the drawing. `threads` as in run_sweep."""
    config = config or DrawnConfig()
    start = time.perf_counter()
    axis = np.linspace(-HALF_SIDE, HALF_SIDE, config.heatmap_size)
    grid = torch.cartesian_prod(torch.tensor(axis[::-1].copy()), torch.tensor(axis)).flip(-1)
    grid = grid.to(torch.get_default_dtype())  # row-major, row 0 at the top (y = +HALF_SIDE) as on the canvas
    with intra_op_threads(threads):
        final, heat = _train(drawing, config, torch.zeros(1, 2), config.seeds, progress, grid)
        p, q = _exact_pair(drawing, config, config.exact_points)
        w1 = exact_w1(p, q)
    assert heat is not None
    size = config.heatmap_size
    return DrawnEstimates(
        code=drawing.code,
        config=config,
        estimates={name: Interval.of(final[d, 0].tolist()) for d, name in enumerate(config.divergences)},
        exact_w1=w1,
        grid_x=axis.tolist(),
        grid_y=axis[::-1].tolist(),
        heatmaps={name: heat[d].reshape(size, size).tolist() for d, name in enumerate(config.divergences)},
        p_points=p[:256].tolist(),
        q_points=q[:256].tolist(),
        seconds=time.perf_counter() - start,
    )


SWEEP_THETAS = theta_range(-2.0, 2.0, 21)
SWEEP_SEEDS = 3  # critics per (divergence, θ): 21 θ x 3 divergences x 3 seeds = 189 critics in one ensemble
SWEEP_ITERS = 100  # fewer steps than a single estimate: enough for the drawn shapes (bench/draw_divergences.py)
SWEEP_EXACT_POINTS = 256  # per distribution and θ (21 optimal assignments)
# Half the batch of a single estimate: 189 critics must train in a few seconds on two busy cores.
SWEEP_CONFIG = DrawnConfig(divergences=SWEEP_DIVERGENCES, seeds=SWEEP_SEEDS, iters=SWEEP_ITERS, batch_size=128,
                           eval_size=1024, exact_points=SWEEP_EXACT_POINTS)  # fmt: skip


def sweep_drawing(drawing: Drawing, direction: str = SLIDE_DIRECTIONS[0], thetas: Sequence[float] = SWEEP_THETAS,
                  config: DrawnConfig | None = None, progress: ProgressCallback | None = None,
                  threads: int | None = 1) -> DrawnSweep:  # fmt: skip
    """`estimate_drawing` between P and Q moved by every θ along `direction` (SLIDE_DIRECTIONS), all θ in one
    ensemble: each divergence and the exact empirical W1 as functions of θ. `config.seeds` critics per θ."""
    config = config or SWEEP_CONFIG
    check_count("the number of θ values", len(thetas), MAX_THETAS)
    if not all(math.isfinite(t) for t in thetas):
        raise ConfigError("θ values must be finite numbers")
    start = time.perf_counter()
    vector = drawing.direction(direction)
    shifts = torch.tensor(list(thetas), dtype=torch.get_default_dtype())[:, None] * vector
    with intra_op_threads(threads):
        final, _ = _train(drawing, config, shifts, config.seeds, progress)
        p, q = _exact_pair(drawing, config, config.exact_points)
        w1 = [exact_w1(p, q + shift) for shift in shifts]
    return DrawnSweep(
        code=drawing.code,
        config=config,
        direction=direction,
        vector=vector.tolist(),
        thetas=[float(t) for t in thetas],
        estimates={name: [Interval.of(final[d, t].tolist()) for t in range(len(thetas))]
                   for d, name in enumerate(config.divergences)},  # fmt: skip
        exact_w1=w1,
        seconds=time.perf_counter() - start,
    )


# ------------------------------------------------------------------------------- a generator's drawn target


def _regions(mask: np.ndarray) -> np.ndarray:
    """Labels (GRID_SIDE, GRID_SIDE) of the mask's 8-connected regions: 0 outside, 1..K inside."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if labels[start]:
            continue
        count += 1
        labels[start] = count
        stack = [start]
        while stack:
            r, c = stack.pop()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < GRID_SIDE and 0 <= cc < GRID_SIDE and mask[rr, cc] and not labels[rr, cc]:
                        labels[rr, cc] = count
                        stack.append((rr, cc))
    return labels


@dataclass
class DrawnTarget:
    """P of a drawing as a generator's target (toy2d): its samples, where the generator starts (Q's centroid), the
    plot box, and P's connected regions as its modes. A generated point is in a region when it falls in one of its
    cells or their neighbours (the blur and the cell's width reach that far)."""

    drawing: Drawing
    labels: np.ndarray = field(init=False)
    shares: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        regions = _regions(self.drawing.p)
        grown = np.zeros_like(regions)
        for dr in (-1, 0, 1):  # each cell takes a neighbouring region's label (ties: the larger label, rare)
            for dc in (-1, 0, 1):
                grown = np.maximum(grown, np.roll(np.roll(regions, dr, axis=0), dc, axis=1))
        self.labels = np.where(regions > 0, regions, grown)
        counts = np.bincount(regions.ravel(), minlength=regions.max() + 1)[1:]
        self.shares = counts / counts.sum()  # each region's share of P's mass

    @property
    def region_count(self) -> int:
        return len(self.shares)

    def sample(self, n: int, rng: torch.Generator) -> Tensor:
        return self.drawing.sample("p", n, rng)

    def start(self) -> Tensor:
        return self.drawing.centroid("q")

    @staticmethod
    def box() -> tuple[float, float, float, float]:
        return -HALF_SIDE, HALF_SIDE, -HALF_SIDE, HALF_SIDE

    def _region_of(self, samples: Tensor) -> np.ndarray:
        xy = samples.detach().cpu().double().numpy()
        cols = np.floor(xy[:, 0] / CELL + 0.5).astype(np.int64) + GRID_SIDE // 2
        rows = GRID_SIDE // 2 - np.floor(xy[:, 1] / CELL + 0.5).astype(np.int64)
        inside = (cols >= 0) & (cols < GRID_SIDE) & (rows >= 0) & (rows < GRID_SIDE)
        region = np.zeros(len(xy), dtype=np.int64)
        region[inside] = self.labels[rows[inside], cols[inside]]
        return region

    def regions_covered(self, samples: Tensor, share: float = MODE_SHARE) -> int:
        """How many regions hold at least max(1, share · n · (the region's share of P)) of the n samples."""
        counts = np.bincount(self._region_of(samples), minlength=self.region_count + 1)[1:]
        return int((counts >= np.maximum(1.0, share * len(samples) * self.shares)).sum())

    def quality(self, samples: Tensor) -> float:
        """The fraction of samples on P's ink (a region's cells or their neighbours)."""
        return float((self._region_of(samples) > 0).mean())


# ------------------------------------------------------------------------------------------------ the cache


class ResultCache(Generic[T]):
    """Results by key (a drawing's code and settings), least recently used first out, bounded both by
    `max_entries` and by `max_bytes` of their pickled sizes: what the app keeps for every session of a server.

    Thread-safe: sessions run in threads of one process. A key is computed once even when several threads ask for
    it at once (the others wait for it); different keys compute in parallel. A result is shared by every caller
    of its key and must be treated as read-only. A failed computation stores nothing."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[str, tuple[T, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._entries

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: str, compute: Callable[[], T]) -> T:
        """The result of `key`, computed by `compute()` the first time (and again once it has been evicted)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:  # another thread computed it while this one waited
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
            try:
                result = compute()
                size = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
                with self._lock:
                    if size <= self.max_bytes:
                        self._entries[key] = (result, size)
                        while len(self._entries) > self.max_entries or \
                                sum(v[1] for v in self._entries.values()) > self.max_bytes:  # fmt: skip
                            self._entries.popitem(last=False)
                return result
            finally:
                with self._lock:
                    self._computing.pop(key, None)


__all__ = [
    "BLUR",
    "CELL",
    "DEFAULT_PRESET",
    "DRAWING_PRESETS",
    "DRAWN_DIVERGENCES",
    "SWEEP_CONFIG",
    "SWEEP_DIVERGENCES",
    "GRID_SIDE",
    "HALF_SIDE",
    "P_INK",
    "Q_INK",
    "SLIDE_DIRECTIONS",
    "SWEEP_THETAS",
    "Drawing",
    "DrawnConfig",
    "DrawnEstimates",
    "DrawnSweep",
    "DrawnTarget",
    "Interval",
    "ResultCache",
    "estimate_drawing",
    "ink_mask",
    "load_drawing",
    "preset",
    "sample_mask",
    "sweep_drawing",
    "translate_mask",
]
