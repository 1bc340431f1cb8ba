"""An ensemble of independent MLP critics evaluated with batched matrix products.

Member m has its own weights W_l[m] of shape (in, out); one `torch.baddbmm` per layer runs every member on its
own inputs, so a sweep over T values of θ costs one forward and one backward per step instead of T of each.
Members share nothing but the tensors that hold them: member m's output depends only on W[m] and its inputs, and
with a loss that *sums* the members' losses, member m's gradient is exactly what it would be if trained alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vaegan.errors import ConfigError
from vaegan.limits import MAX_ACTIVATIONS, MAX_CRITIC_PARAMS

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky-relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "softplus": nn.Softplus,
    "tanh": nn.Tanh,
}


@dataclass(frozen=True)
class CriticConfig:
    members: int = 1  # independent critics (one per θ in a sweep)
    in_dim: int = 2
    width: int = 64  # units per hidden layer
    depth: int = 2  # hidden layers: depth 3, width 256 is the reference 2-256-256-256-1
    activation: str = "relu"
    out_dim: int = 1  # 1 for a critic; 2 makes the same batched MLP a 2-D toy generator (toy2d)

    def __post_init__(self) -> None:
        if min(self.members, self.in_dim, self.width, self.depth, self.out_dim) < 1:
            raise ConfigError("critic members, in_dim, width, depth and out_dim must all be >= 1")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}")
        if self.parameter_count() > MAX_CRITIC_PARAMS:
            raise ConfigError(
                f"{self.members} critics of {self.depth}x{self.width} hold {self.parameter_count():,} weights, over "
                f"the limit of {MAX_CRITIC_PARAMS:,} (vaegan.limits.MAX_CRITIC_PARAMS): fewer θ or a smaller critic"
            )

    def parameter_count(self) -> int:
        dims = [self.in_dim] + [self.width] * self.depth + [self.out_dim]
        return self.members * sum(d_in * d_out + d_out for d_in, d_out in zip(dims, dims[1:], strict=False))


def check_activations(what: str, members: int, points: int, width: int) -> None:
    """Refuse a forward pass of `members` critics of `width` units on `points` points each that would not fit
    MAX_ACTIVATIONS floats (the batch a run chose, before anything is allocated)."""
    size = members * points * width
    if size > MAX_ACTIVATIONS:
        raise ConfigError(
            f"{what}: {members} critics x {points:,} points x {width} units = {size:,} activations, over the limit "
            f"of {MAX_ACTIVATIONS:,} (vaegan.limits.MAX_ACTIVATIONS): a smaller batch, fewer θ or a narrower critic"
        )


class CriticEnsemble(nn.Module):
    """`members` MLP critics in_dim -> width (× depth) -> 1: forward maps (members, N, in_dim) to (members, N).

    With out_dim > 1 the output keeps its last axis, (members, N, out_dim).
    """

    config_class = CriticConfig

    def __init__(self, config: CriticConfig) -> None:
        super().__init__()
        self.config = config
        dims = [config.in_dim] + [config.width] * config.depth + [config.out_dim]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(config.members, d_in, d_out)) for d_in, d_out in zip(dims, dims[1:], strict=False)
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.empty(config.members, 1, d_out)) for d_out in dims[1:])
        self.activation = ACTIVATIONS[config.activation]()
        # A private stream, not the global RNG: building critics (the app's "train your own critics", from any
        # session's thread) must not move the random numbers other code draws. Runs reset them from their seed.
        self.reset_parameters(torch.Generator().manual_seed(0))

    @torch.no_grad()
    def reset_parameters(self, rng: torch.Generator | None = None) -> None:
        """nn.Linear's default init (U(±1/√fan_in) for weights and biases), drawn once and copied to every member.

        Identical starting points make the members differ only by their data, so a member of a sweep and a critic
        trained alone from the same seed follow the same trajectory.
        """
        for weight, bias in zip(self.weights, self.biases, strict=True):
            bound = 1.0 / math.sqrt(weight.shape[1])
            one_w = torch.rand(weight.shape[1:], generator=rng) * 2 * bound - bound
            one_b = torch.rand(bias.shape[1:], generator=rng) * 2 * bound - bound
            weight.copy_(one_w.expand_as(weight))
            bias.copy_(one_b.expand_as(bias))

    def forward(self, x: torch.Tensor, members: torch.Tensor | None = None) -> torch.Tensor:
        """`members` (indices): run only those members, x then of shape (len(members), N, in_dim). Cheaper than
        running all when only some need a costly step (the W1 members' gradient penalty in a mixed ensemble)."""
        count = self.config.members if members is None else len(members)
        if x.dim() != 3 or x.shape[0] != count or x.shape[2] != self.config.in_dim:
            raise ConfigError(
                f"critic ensemble expects inputs of shape ({count}, N, {self.config.in_dim}), got {tuple(x.shape)}"
            )
        h = x
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if members is not None:
                weight, bias = weight[members], bias[members]
            h = torch.baddbmm(bias, h, weight)  # (M, N, in) @ (M, in, out) + (M, 1, out)
            if i < last:
                h = self.activation(h)
        return h.squeeze(-1) if self.config.out_dim == 1 else h

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, chunk: int = 4096, members: torch.Tensor | None = None) -> torch.Tensor:
        """forward without a graph, in chunks of samples so that wide critics on many points fit in memory."""
        return torch.cat([self(part, members) for part in x.split(chunk, dim=1)], dim=1)

    def member(self, index: int) -> CriticEnsemble:
        """A one-member ensemble holding a copy of member `index` (to look at or evaluate one critic alone)."""
        single = CriticEnsemble(CriticConfig(**{**self.config.__dict__, "members": 1}))
        with torch.no_grad():
            for mine, theirs in zip(self.parameters(), single.parameters(), strict=True):
                theirs.copy_(mine[index : index + 1])
        return single.to(next(self.parameters()).device)
