"""Distributions a learner draws: ink on a canvas -> two point distributions P and Q in the plane, and a short code
that carries them in a URL.

A drawing is two boolean masks on a GRID_SIDE x GRID_SIDE grid of cells of side CELL, centred on the origin (x to
the right, y up; row 0 is the top of the canvas). A mask is a distribution: every inked cell holds the same mass,
spread uniformly over the cell and blurred by a Gaussian of standard deviation `blur`, so a stroke has a width
and a density, not zero width. The masks, not the canvas picture, are what is estimated, encoded and shared, so a
drawing that travels through a URL gives the same points at the same seed.

`DrawnTarget` is what the 2-D toy GAN (`toy2d`) trains towards when its target is a drawing: P's samples, a
generator that starts at Q's centre, and P's connected regions as its modes. The critics' estimates between P and
Q are in `drawn_estimates`.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from vaegan.divergences.targets import MODE_SHARE
from vaegan.errors import ConfigError, DataError
from vaegan.limits import MAX_DRAWING_CODE_CHARS
from vaegan.vocabulary import DRAWING_PRESETS, SLIDE_DIRECTIONS

Tensor = torch.Tensor

GRID_SIDE = 41  # cells per axis: odd, so that the origin is a cell centre
CELL = 0.1  # side of a cell in the plane: the grid spans ±2.05
HALF_SIDE = GRID_SIDE * CELL / 2
BLUR = 0.05  # standard deviation of the Gaussian blur of every sample: half a cell
P_INK, Q_INK = "#ff3300", "#0099ff"  # canvas colours `Drawing.from_rgba` reads: no blue in P's, no red in Q's
INK_COVERAGE = 0.3  # a cell is inked when ink covers at least this fraction of it (fainter is antialiasing fringe)
CODE_VERSION = "d1"  # the first characters of every drawing code
_MASK_BITS = GRID_SIDE * GRID_SIDE
_CODE_BYTES = (2 * _MASK_BITS + 7) // 8


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


__all__ = [
    "BLUR",
    "CELL",
    "CODE_VERSION",
    "DEFAULT_PRESET",
    "DRAWING_PRESETS",
    "GRID_SIDE",
    "HALF_SIDE",
    "P_INK",
    "Q_INK",
    "SLIDE_DIRECTIONS",
    "Drawing",
    "DrawnTarget",
    "cell_centers",
    "ink_mask",
    "load_drawing",
    "preset",
    "sample_mask",
    "translate_mask",
]
