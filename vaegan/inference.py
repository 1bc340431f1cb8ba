"""Running a trained model for inference: the two helpers the latent tools and the metrics share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """Eval mode (batch-norm running stats, no dropout) without autograd, then give the caller its mode back."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def device_of(module: nn.Module) -> torch.device:
    """Where the module's parameters live (CPU for a module without any)."""
    for tensor in module.parameters():
        return tensor.device
    return torch.device("cpu")
