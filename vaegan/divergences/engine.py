"""What the three trainers of this package share (the θ sweep, the shift generator, the 2-D toy GANs): their
progress callback, their seeded random streams, and their stop at the first non-finite loss."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import torch

from vaegan.errors import TrainingError

# (steps done, steps in total, what is being trained: a divergence, a family, a target)
ProgressCallback = Callable[[int, int, str], None]

NO_CHECKPOINTS = "these runs write no checkpoints: run again with a lower learning rate"


def rng_stream(seed: int, stream: str) -> torch.Generator:
    """An independent, reproducible random stream per purpose (init, data, eval, ...), so that e.g. changing the
    evaluation size does not change the training data."""
    return torch.Generator().manual_seed(zlib.crc32(f"{seed}/{stream}".encode()))


def check_finite_members(loss: torch.Tensor, members: Sequence[str], where: str) -> None:
    """Stop at the first step whose loss (one per ensemble member) is NaN/inf, naming the step and the member: past
    it the member's weights are NaN and every later number of it is meaningless."""
    loss = loss.detach()
    finite = torch.isfinite(loss)
    if not bool(finite.all()):
        member = int((~finite).nonzero()[0])
        raise TrainingError(f"{members[member]} diverged (loss {float(loss[member])}) at {where}; {NO_CHECKPOINTS}")


__all__ = ["NO_CHECKPOINTS", "ProgressCallback", "check_finite_members", "rng_stream"]
