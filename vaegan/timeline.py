"""A WGAN's training timeline: what its EMA generator drew for 16 fixed latents as training went on, and (with a
classifier and held-out digits) its Fréchet distance, precision and recall at the same iterations.

* `TimelineRecorder` is what `vaegan.train.wgan.train_wgan` calls after every iteration (it records every
  `timeline_every` iterations and at the end) and writes `run_dir/timeline.safetensors` atomically after each
  record. It draws no random numbers from the training RNG and runs the EMA generator in eval mode without
  autograd, so recording changes nothing a run computes. On resume it drops what was recorded after the state it
  resumes from (a killed run may have recorded past its last checkpoint) and records those iterations again, so
  an interrupted and resumed run ends with the same timeline as an uninterrupted one.
* `TimelineScorer` gives the numbers `python cli.py eval wgan` prints for that generator (same held-out split,
  same latents, same n, k and seed); the real-vs-real floor is measured once.
* `export_sidecar` writes a small copy next to an exported model (`wgan.safetensors` -> `wgan_timeline.safetensors`,
  at most `SIDECAR_MAX_FRAMES` frames, all metric points), which the app's Samples page animates.
* `timeline_from_grids` builds a timeline (images only) from a run's `samples/iter_*.png` grids, for runs made
  before timelines existed. The 16 images are the first 16 of each 64-image grid, the same latents and the same
  8-bit quantisation the recorder uses.

Images are stored as uint8 (0-255 for [-1, 1], as the PNG grids quantise them): 48 KB per frame of 16 RGB 32x32
images.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_dumps
from torch import nn

from vaegan.errors import CheckpointError, DataError
from vaegan.metrics import generated_images, score_images, split_halves
from vaegan.runtime import device_of, eval_mode
from vaegan.storage import atomic_write_bytes

TIMELINE_FILE = "timeline.safetensors"
TIMELINE_IMAGES = 16
SIDECAR_MAX_FRAMES = 32  # 32 frames of 16 RGB 32x32 images: 1.6 MB
FORMAT = "vaegan-timeline"
FORMAT_VERSION = "1"
METRICS = ("fid", "precision", "recall")
GRID_NAME = re.compile(r"iter_(\d+)\.png")


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 0-255, quantised exactly as `vaegan.images.make_grid_image` quantises a PNG grid."""
    return ((images.detach().float().cpu() + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)


def from_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 0-255 -> float32 in [-1, 1], the range every image function of vaegan draws."""
    return images.float() / 255.0 * 2.0 - 1.0


def sidecar_path(model_path: str | Path) -> Path:
    """Where an exported model's timeline lives: `wgan.safetensors` -> `wgan_timeline.safetensors` beside it."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}_timeline.safetensors")


# --------------------------------------------------------------------------------------------- the timeline


@dataclass
class Timeline:
    """Frames (an iteration and 16 images each) and metric points (an iteration and FD / precision / recall)."""

    iterations: list[int]
    images: torch.Tensor  # (T, 16, C, H, W) uint8
    latents: torch.Tensor | None = None  # (16, D) the fixed z the images were drawn from, when known
    metric_iterations: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # name -> one value per metric iteration
    info: dict[str, Any] = field(default_factory=dict)  # how it was made: source, seed, every, n, k, data, floor

    def __len__(self) -> int:
        return len(self.iterations)

    def frame(self, index: int) -> torch.Tensor:
        """The images of frame `index` as float32 (16, C, H, W) in [-1, 1]."""
        return from_uint8(self.images[index])

    @property
    def floor(self) -> dict[str, float]:
        """The real-vs-real scores the timeline's metrics were recorded beside (what a perfect generator would score
        at the same n), by metric name; empty for a timeline without scores."""
        return {name: self.info[f"real_vs_real_{name}"] for name in METRICS if f"real_vs_real_{name}" in self.info}

    def until(self, iteration: int) -> Timeline:
        """The records up to and including `iteration`."""
        keep = [i for i, it in enumerate(self.iterations) if it <= iteration]
        keep_m = [i for i, it in enumerate(self.metric_iterations) if it <= iteration]
        return Timeline(
            [self.iterations[i] for i in keep],
            self.images[keep] if keep else self.images[:0],
            self.latents,
            [self.metric_iterations[i] for i in keep_m],
            {name: [values[i] for i in keep_m] for name, values in self.metrics.items()},
            dict(self.info),
        )

    def thinned(self, max_frames: int) -> Timeline:
        """At most `max_frames` frames spread evenly over the run (first and last kept); every metric point."""
        if len(self) <= max_frames:
            return self
        keep = sorted({int(i) for i in np.linspace(0, len(self) - 1, max(2, max_frames)).round()})
        return Timeline([self.iterations[i] for i in keep], self.images[keep], self.latents,
                        list(self.metric_iterations), {k: list(v) for k, v in self.metrics.items()},
                        dict(self.info))  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Atomically write the timeline as one safetensors file (tensors + JSON metadata, no pickle)."""
        tensors = {
            "iterations": torch.tensor(self.iterations, dtype=torch.int64),
            "images": self.images.contiguous(),
            "metric_iterations": torch.tensor(self.metric_iterations, dtype=torch.int64),
        }
        if self.latents is not None:
            tensors["latents"] = self.latents.float().contiguous()
        for name, values in self.metrics.items():
            tensors[f"metric.{name}"] = torch.tensor(values, dtype=torch.float64)
        metadata = {"format": FORMAT, "format_version": FORMAT_VERSION, "info": json.dumps(self.info)}
        path = Path(path)
        atomic_write_bytes(path, safetensors_dumps(tensors, metadata=metadata))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Timeline:
        """Read a timeline file; anything else (missing, corrupt, another kind of file) is one CheckpointError."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"no timeline at {path}")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                metadata = dict(f.metadata() or {})
                tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - not a dict
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CheckpointError(f"{path} is not a valid safetensors file (corrupt or truncated?): {reason}") from exc
        if metadata.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a vaegan training timeline")
        try:
            iterations = tensors["iterations"].tolist()
            images = tensors["images"]
            if images.dtype != torch.uint8 or images.dim() != 5 or images.shape[0] != len(iterations):
                raise ValueError(f"images of shape {tuple(images.shape)} for {len(iterations)} iterations")
            metrics = {name[len("metric."):]: t.tolist() for name, t in tensors.items() if name.startswith("metric.")}
            metric_iterations = tensors["metric_iterations"].tolist()
            if any(len(v) != len(metric_iterations) for v in metrics.values()):
                raise ValueError("metric lists of different lengths")
            info = json.loads(metadata.get("info", "{}"))
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"{path} has an unreadable timeline: {exc}") from exc
        return cls(iterations, images, tensors.get("latents"), metric_iterations, metrics, info)


# ---------------------------------------------------------------------------------------------- recording


class TimelineScorer:
    """FD / precision / recall of a generator against held-out digits: `evaluate_generator`'s numbers for the same
    (n, k, seed), with the real-vs-real floor measured once (it does not change as the generator trains)."""

    def __init__(self, classifier: nn.Module, holdout: torch.Tensor, *, n: int = 1000, k: int = 3, seed: int = 0,
                 data: str = "") -> None:  # fmt: skip

        self.classifier, self.n, self.k, self.seed, self.data = classifier, n, k, seed, data
        self.reference, floor = split_halves(holdout, n, seed)
        floor_scores = score_images(classifier, self.reference, floor, k)
        self.floor = {f"real_vs_real_{name}": floor_scores[name] for name in METRICS}

    def __call__(self, generator: nn.Module, latent_dim: int) -> dict[str, float]:

        scores = score_images(self.classifier, self.reference, generated_images(generator, latent_dim, self.n,
                                                                                 self.seed), self.k)  # fmt: skip
        return {name: float(scores[name]) for name in METRICS}

    def describe(self) -> dict[str, Any]:
        return {"n": self.n, "k": self.k, "metric_seed": self.seed, "holdout": self.data, **self.floor}


class TimelineRecorder:
    """Records the EMA generator every `every` iterations (and at the end) into `path`; see the module docstring."""

    def __init__(self, path: Path, every: int, latents: torch.Tensor, timeline: Timeline,
                 scorer: TimelineScorer | None = None) -> None:  # fmt: skip
        self.path, self.every, self.latents, self.timeline, self.scorer = path, every, latents, timeline, scorer

    @classmethod
    def open(
        cls,
        run_dir: str | Path | None,
        every: int,
        *,
        latents: torch.Tensor,
        start: int,
        generator: nn.Module,
        scorer: TimelineScorer | None = None,
        info: dict[str, Any] | None = None,
    ) -> TimelineRecorder | None:
        """The recorder of a run that starts (or resumes) at iteration `start`, or None without a run dir or with
        `every` = 0. An existing timeline is cut back to `start`; a fresh run records its untrained generator as
        iteration 0 right away."""
        if run_dir is None or every < 1:
            return None
        path = Path(run_dir) / TIMELINE_FILE
        described = {"source": "training", "every": every, **(info or {}), **(scorer.describe() if scorer else {})}
        if start > 0 and path.exists():
            timeline = Timeline.load(path).until(start)
            timeline.info.update(described)
        else:
            images = torch.empty(0, latents.shape[0], 0, 0, 0, dtype=torch.uint8)
            timeline = Timeline([], images, latents.float().cpu().clone(), info=described)
        recorder = cls(path, every, latents, timeline, scorer)
        recorder(start, generator)
        return recorder

    def __call__(self, iteration: int, generator: nn.Module, final: bool = False) -> None:
        """Record `generator` (the EMA) at `iteration` when it is due: a multiple of `every`, or the last one."""
        due = iteration % self.every == 0 or final
        if not due or (self.timeline.iterations and iteration <= self.timeline.iterations[-1]):
            return
        with eval_mode(generator):
            images = to_uint8(generator(self.latents.to(device_of(generator))))
        frames = self.timeline.images if len(self.timeline) else images[None][:0]
        self.timeline.images = torch.cat([frames, images[None]])
        self.timeline.iterations.append(iteration)
        if self.scorer is not None:
            for name, value in self.scorer(generator, self.latents.shape[1]).items():
                self.timeline.metrics.setdefault(name, []).append(value)
            self.timeline.metric_iterations.append(iteration)
        self.timeline.save(self.path)


# ------------------------------------------------------------------------------------- export and import


def export_sidecar(
    run_dir: str | Path, model_path: str | Path, max_frames: int = SIDECAR_MAX_FRAMES, until: int | None = None
) -> Path | None:
    """Copy the run's timeline, thinned to `max_frames` frames, next to the exported model; None without one.

    `until`: the exported model's iteration. A run that is still going (or was killed after its last state) has
    recorded past the state a model is exported from, and those records belong to other weights."""
    source = Path(run_dir) / TIMELINE_FILE
    if not source.exists():
        return None
    timeline = Timeline.load(source)
    if until is not None:
        timeline = timeline.until(until)
    return timeline.thinned(max_frames).save(sidecar_path(model_path))


def read_grid(path: str | Path, count: int, *, nrow: int = 8, side: int = 32, padding: int = 2) -> torch.Tensor:
    """The first `count` images of a PNG grid written by `vaegan.images.save_png` (`nrow` images of `side` pixels
    per row, `padding` pixels between and around them) as uint8 (count, 3, side, side)."""
    # PIL only when a frame is encoded (start-up stays light)
    from PIL import Image

    with Image.open(path) as picture:
        array = np.asarray(picture.convert("RGB"))
    height, width = array.shape[:2]
    rows, leftover = divmod(height - padding, side + padding)
    if width != nrow * (side + padding) + padding or leftover or rows * nrow < count:
        raise DataError(f"{path} is not a grid of {nrow} images of {side}x{side} per row holding {count} or more")
    tiles = []
    for index in range(count):
        top, left = padding + (index // nrow) * (side + padding), padding + (index % nrow) * (side + padding)
        tiles.append(torch.from_numpy(array[top : top + side, left : left + side].copy()).permute(2, 0, 1))
    return torch.stack(tiles)


def timeline_from_grids(
    run_dir: str | Path,
    *,
    count: int = TIMELINE_IMAGES,
    nrow: int = 8,
    latents: torch.Tensor | None = None,
    info: dict[str, Any] | None = None,
) -> Timeline:
    """A timeline (images, no metrics) from `run_dir/samples/iter_XXXXXX.png`, ordered by iteration."""
    folder = Path(run_dir) / "samples"
    grids = sorted(
        (int(match.group(1)), path)
        for path in (folder.iterdir() if folder.is_dir() else [])
        if (match := GRID_NAME.fullmatch(path.name))
    )
    if not grids:
        raise DataError(f"no sample grids (samples/iter_XXXXXX.png) in {run_dir}")
    images = torch.stack([read_grid(path, count, nrow=nrow) for _, path in grids])
    described = {"source": "sample grids", "run_dir": str(run_dir), **(info or {})}
    return Timeline([it for it, _ in grids], images, latents, info=described)


def frame_index(timeline: Timeline, iteration: int) -> int:
    """The index of the last frame at or before `iteration` (the first frame for an earlier one)."""
    index = 0
    for i, it in enumerate(timeline.iterations):
        if it <= iteration:
            index = i
    return index


def metric_rows(timeline: Timeline) -> list[dict[str, float | int | None]]:
    """One row per scored iteration: {"iteration", then each metric}, None where a metric was not measured there
    (`vaegan timeline show`; the same numbers the Samples page plots)."""
    return [{"iteration": it, **{name: float(values[i]) if np.isfinite(values[i]) else None
                                 for name, values in timeline.metrics.items()}}
            for i, it in enumerate(timeline.metric_iterations)]  # fmt: skip


def metric_curves(timeline: Timeline) -> dict[str, tuple[list[int], list[float]]]:
    """name -> (iterations, values) of every metric measured, finite values only (for plotting)."""
    curves = {}
    for name, values in timeline.metrics.items():
        points = [(it, v) for it, v in zip(timeline.metric_iterations, values, strict=True) if np.isfinite(v)]
        if points:
            curves[name] = ([it for it, _ in points], [v for _, v in points])
    return curves


