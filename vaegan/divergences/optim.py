"""Adam and plain SGD for the critic ensembles, written out instead of taken from torch.optim.

Why not torch.optim: constructing the first torch.optim optimizer of a process imports torch._dynamo (its methods are
wrapped by `torch._disable_dynamo`, which imports the compiler stack on first use). That import takes longer than
the whole default sweep trains, so `vaegan divergences sweep` spent most of its time on it (docs/results.md#speed). The
update rules here are torch's own single-tensor ones (torch.optim.adam._single_tensor_adam and _single_tensor_sgd
for the options used: no weight decay, no AMSGrad, no momentum), op for op, so the numbers are the same bit for bit
(tests/test_divergences.py checks it against torch.optim).

The learning rate is a plain attribute: a schedule sets `optimizer.lr` before each step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from vaegan.errors import ConfigError
from vaegan.vocabulary import OPTIMIZERS  # torch-free list (vaegan.vocabulary), re-exported here

Tensor = torch.Tensor


class SGD:
    """θ ← θ - lr·∇ (torch.optim.SGD without momentum or weight decay)."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-self.lr)


class Adam:
    """torch.optim.Adam (Kingma & Ba 2015) without weight decay or AMSGrad, on any tensors that receive .grad."""

    def __init__(
        self, params: Iterable[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.params = list(params)
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.steps = 0  # one count for all tensors: each is updated at every step (the grads are never None here)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if any(p.grad is None for p in self.params):
            raise ConfigError("Adam.step: every tensor needs a gradient (a shared step count assumes so)")
        self.steps += 1
        beta1, beta2, step = self.beta1, self.beta2, float(self.steps)
        # The same Python-float arithmetic as torch's non-capturable path: bias corrections, step size, √ correction.
        step_size = self.lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        for p, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq, strict=True):
            grad = p.grad
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


def make_optimizer(name: str, params: Iterable[Tensor], lr: float, betas: tuple[float, float]) -> Adam | SGD:
    """`name` in OPTIMIZERS; betas are Adam's (SGD ignores them)."""
    if name == "adam":
        return Adam(params, lr, betas)
    if name == "sgd":
        return SGD(params, lr)
    raise ConfigError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")


__all__ = ["OPTIMIZERS", "SGD", "Adam", "make_optimizer"]
