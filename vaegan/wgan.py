"""WGAN-GP for 32x32 RGB images: a DCGAN generator, a BatchNorm-free critic, the gradient penalty and one step
of each player.

Read top to bottom: config -> generator -> critic -> gradient penalty -> critic step -> generator step -> EMA.

The objective (Gulrajani et al., 2017) for a critic f and generator G with prior z ~ N(0, I):

    critic loss    = E[f(G(z))] - E[f(x)] + lambda * E[(||grad_x_hat f(x_hat)||_2 - 1)^2]
    generator loss = -E[f(G(z))]

where x_hat = a * x + (1 - a) * G(z) with ONE a ~ U(0, 1) per sample and the norm taken over the whole sample
(C x H x W). E[f(x)] - E[f(G(z))] is the critic's estimate of the Wasserstein-1 distance ("W estimate").
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from vaegan.augment import augment
from vaegan.checkpoint import FromPretrained
from vaegan.distributed import draw_shard, unwrap
from vaegan.errors import ConfigError
from vaegan.limits import MAX_CHANNELS, MAX_LATENT_DIM, check_count
from vaegan.lipschitz import interpolate, per_sample_grad_norm


@dataclass(frozen=True)
class WGANConfig:
    latent_dim: int = 100
    width: int = 64  # channels of the 16x16 layer; the 8x8 and 4x4 layers have 2x and 4x this many
    channels: int = 3
    critic_width: int | None = None  # the critic's 16x16 channels when they differ from the generator's (None: width)

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.width < 1 or self.channels < 1:
            raise ConfigError("latent_dim, width and channels must be positive")
        if self.critic_width is not None and self.critic_width < 1:
            raise ConfigError("critic_width must be positive (or None: the generator's width)")
        check_count("latent_dim", self.latent_dim, MAX_LATENT_DIM)
        check_count("width", self.width, MAX_CHANNELS)
        check_count("critic_width", self.critic_width or self.width, MAX_CHANNELS)
        check_count("channels", self.channels, MAX_CHANNELS)


# ------------------------------------------------------------------------------------------ networks


class Generator(FromPretrained, nn.Module):
    """z (B, latent_dim) -> images (B, channels, 32, 32) in [-1, 1]: 1x1 -> 4x4 -> 8x8 -> 16x16 -> 32x32."""

    config_class = WGANConfig

    def __init__(self, config: WGANConfig | None = None) -> None:
        super().__init__()
        self.config = config or WGANConfig()
        w, c, z = self.config.width, self.config.channels, self.config.latent_dim
        # Convolutions before BatchNorm carry no bias: BatchNorm's shift would cancel it.
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z, 4 * w, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(True),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(True),
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
            nn.ConvTranspose2d(w, c, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))

    def features(self, z: torch.Tensor, layer: int) -> torch.Tensor:
        """The activation after block `layer` (0: 4x4, 1: 8x8, 2: 16x16), for GANSpace-style feature PCA."""
        if layer not in (0, 1, 2):
            raise ConfigError(f"generator feature layer must be 0, 1 or 2, got {layer}")
        return self.net[: 3 * (layer + 1)](z.reshape(z.shape[0], -1, 1, 1))

    def from_features(self, h: torch.Tensor, layer: int) -> torch.Tensor:
        """The rest of the generator, from the activation `features(z, layer)` returns."""
        return self.net[3 * (layer + 1) :](h)


class Critic(nn.Module):
    """images (B, channels, 32, 32) -> one real score per image, (B,). No BatchNorm: the penalty is per sample."""

    config_class = WGANConfig

    def __init__(self, config: WGANConfig | None = None) -> None:
        super().__init__()
        self.config = config or WGANConfig()
        w, c = self.config.critic_width or self.config.width, self.config.channels
        self.net = nn.Sequential(
            nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 16x16
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 8x8
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 4x4
            nn.Conv2d(4 * w, 1, 4, 1, 0),  # 1x1
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).reshape(x.shape[0])


# ---------------------------------------------------------------------------------- gradient penalty


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, autocast_dtype: torch.dtype | None = None
) -> torch.Tensor:
    """E[(||grad f(x_hat)|| - 1)^2] with one interpolation coefficient a ~ U(0, 1) (global RNG) and one gradient
    norm over C x H x W per sample. `critic_step` calls exactly this.

    Under DDP `real` and `fake` are this rank's shard and a is its rows of the global batch's draw
    (`vaegan.distributed.draw_shard`).

    The inner gradient is taken unscaled even under fp16 loss scaling: the penalty keeps its norm near 1, so its
    entries (~1/sqrt(C*H*W)) sit well inside fp16's range, while scaling them by 2^16 overflows (the AMP notes'
    recipe, tried first, gave inf penalties). The outer backward is scaled as usual.
    """
    alpha = draw_shard(torch.rand, real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    x_hat = interpolate(real, fake.detach(), alpha).requires_grad_(True)
    with _autocast(real.device, autocast_dtype):
        hat_score = critic(x_hat).float()
    return ((per_sample_grad_norm(hat_score, x_hat, event_dims=3) - 1.0) ** 2).mean()


# ------------------------------------------------------------------------------------- training steps


@dataclass(frozen=True)
class StepOptions:
    """How a step runs: penalty weight, autocast dtype, batching of the critic passes, memory format."""

    gp_weight: float = 10.0
    autocast_dtype: torch.dtype | None = None  # None: fp32; torch.bfloat16 / torch.float16: autocast
    fused_critic_batch: bool = True  # one critic pass over [real; fake] instead of two
    channels_last: bool = False  # NHWC activations (oneDNN/cuDNN convolutions are faster in it)
    augment: str = "none"  # what the critic sees of real and fake images (vaegan.augment.AUGMENTATIONS)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


@dataclass
class CriticStats:
    """Detached scalars of one critic step (tensors: reading them with .item() is left to the caller)."""

    loss: torch.Tensor
    wasserstein: torch.Tensor  # E[f(real)] - E[f(fake)]
    penalty: torch.Tensor  # unweighted


def _autocast(device: torch.device, dtype: torch.dtype | None):  # noqa: ANN202 - a context manager
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def _backward(loss: torch.Tensor, scaler: torch.amp.GradScaler | None) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


def _step(optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()


def critic_step(
    generator: nn.Module,
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    options: StepOptions = StepOptions(),
    scaler: torch.amp.GradScaler | None = None,
    penalty_weight: float | None = None,
) -> CriticStats:
    """One critic update on a real batch and as many fresh fakes (z ~ N(0, I) from the global RNG).

    Under DDP, `critic` is the DistributedDataParallel critic and `real` this rank's shard of the global batch;
    z and the penalty's coefficients are this rank's rows of the global batch's draws, so the averaged gradient is
    the one a single process computes on the global batch (the DDP critic's two forward passes, [real; fake] and
    x_hat, feed one backward: its gradient hooks fire once per parameter, after the penalty's double backward).
    With `options.augment` the critic sees real and fake images (and the penalty their interpolates) through
    `vaegan.augment`, each side with its own transforms. `penalty_weight` overrides `options.gp_weight` for this
    step; 0 skips the penalty and its double backward entirely (lazy regularization applies the penalty every k-th
    step with weight k * lambda).
    """
    with torch.no_grad(), _autocast(real.device, options.autocast_dtype):
        fake = generator(draw_latents(generator, real.shape[0], real.device)).to(real.dtype)
    loss, stats, _ = critic_loss(critic, real, fake, options, penalty_weight)
    optimizer.zero_grad(set_to_none=True)
    _backward(loss, scaler)
    _step(optimizer, scaler)
    return stats


def draw_latents(generator: nn.Module, batch: int, device: torch.device) -> torch.Tensor:
    """z ~ N(0, I) for `batch` fakes, from the global RNG (under DDP: this rank's rows of the global batch)."""
    return draw_shard(torch.randn, batch, unwrap(generator).config.latent_dim, device=device)


def lazy_penalty_weight(critic_step_index: int, gp_weight: float, gp_every: int) -> float:
    """Lazy regularization: the penalty on every `gp_every`-th critic step (0, k, 2k, ...), weighted k * lambda."""
    return gp_weight * gp_every if critic_step_index % gp_every == 0 else 0.0


def critic_loss(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    options: StepOptions = StepOptions(),
    penalty_weight: float | None = None,
) -> tuple[torch.Tensor, CriticStats, torch.Tensor]:
    """The critic's loss E[f(fake)] - E[f(real)] + weight * penalty (the graph kept), its detached stats and the
    fakes' scores (graph kept: through them the generator gets its gradient in `joint_step`).

    With `options.augment` both sides get their own transforms, drawn after z (`vaegan.augment`); the penalty
    sees the fakes detached. `penalty_weight` overrides `options.gp_weight`; 0 skips the penalty.
    """
    batch = real.shape[0]
    weight = options.gp_weight if penalty_weight is None else penalty_weight
    if options.augment != "none":
        real = augment(real, options.augment).contiguous(memory_format=options.memory_format)
        fake = augment(fake, options.augment)
    fake = fake.contiguous(memory_format=options.memory_format)
    with _autocast(real.device, options.autocast_dtype):
        if options.fused_critic_batch:
            # The critic has no BatchNorm, so scoring real and fake together gives the same numbers as two passes,
            # with one larger convolution per layer. x_hat stays separate: in a joint graph the inner gradient
            # (create_graph) would be pushed back through the real and fake rows too, tripling its cost.
            real_score, fake_score = critic(torch.cat([real, fake])).float().split(batch)
        else:
            real_score, fake_score = critic(real).float(), critic(fake).float()
    wasserstein = real_score.mean() - fake_score.mean()
    if weight > 0:
        penalty = gradient_penalty(critic, real, fake, options.autocast_dtype)
        loss = -wasserstein + weight * penalty
    else:
        penalty, loss = torch.full((), float("nan"), device=real.device), -wasserstein
    stats = CriticStats(loss=loss.detach(), wasserstein=wasserstein.detach(), penalty=penalty.detach())
    return loss, stats, fake_score


def generator_step(
    generator: nn.Module,
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    device: torch.device,
    options: StepOptions = StepOptions(),
    scaler: torch.amp.GradScaler | None = None,
    keep: int | None = None,
) -> torch.Tensor:
    """One generator update: minimise -E[f(G(z))]. Returns the detached loss.

    With `keep` (top-k training, Sinha et al. 2020) only the `keep` fakes the critic scores highest enter the
    loss (the paper's reason: at the fakes it scores worst, the critic's gradient often points away from the
    nearest mode of the data). Under DDP each rank keeps the best of its own shard.

    Only the generator's optimizer steps, and the critic's weights do not change here. Under DDP `generator` is the
    DistributedDataParallel generator, `critic` the plain module (DDP would wait for critic gradients that the
    frozen critic never produces) and `batch_size` this rank's share.
    """
    z = draw_latents(generator, batch_size, device)
    # The critic's weights are frozen for this step: backward then skips their gradients (about a third of the
    # critic's backward cost) and leaves no stale .grad behind.
    critic.requires_grad_(False)
    try:
        with _autocast(device, options.autocast_dtype):
            fake = augment(generator(z), options.augment).contiguous(memory_format=options.memory_format)
            scores = critic(fake).float()
            if keep is not None and keep < scores.shape[0]:
                scores = scores.topk(keep).values
            loss = -scores.mean()
        optimizer.zero_grad(set_to_none=True)
        _backward(loss, scaler)
        _step(optimizer, scaler)
    finally:
        critic.requires_grad_(True)
    return loss.detach()


def joint_step(
    generator: nn.Module,
    critic: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_c: torch.optim.Optimizer,
    real: torch.Tensor,
    options: StepOptions = StepOptions(),
    penalty_weight: float | None = None,
) -> tuple[CriticStats, torch.Tensor]:
    """One simultaneous update of both players from one batch of fakes: a critic step and a generator step that
    share the generator's forward pass, the critic's pass over [real; fake] and one backward.

    The critic loss E[f(G(z))] - E[f(x)] (+ penalty) has, with respect to the generator's weights, exactly the
    gradient of E[f(G(z))] = -(generator loss): one backward gives the critic its gradient and the generator the
    negative of its own, which is flipped before its optimizer steps. Unlike `critic_step` then `generator_step`
    (alternating), the generator's gradient comes from the critic before this step's update, and one generator
    forward, one critic pass over the fakes and its backward are saved. fp32 only (no loss scaler), no top-k.
    Returns the critic's stats and the generator loss -E[f(G(z))], detached.
    """
    fake = generator(draw_latents(generator, real.shape[0], real.device)).to(real.dtype)
    loss, stats, fake_score = critic_loss(critic, real, fake, options, penalty_weight)
    opt_g.zero_grad(set_to_none=True)
    opt_c.zero_grad(set_to_none=True)
    loss.backward()
    for parameter in generator.parameters():  # d(critic loss)/d(generator) = -d(generator loss)/d(generator)
        if parameter.grad is not None:
            parameter.grad.neg_()
    opt_c.step()
    opt_g.step()
    return stats, -fake_score.detach().mean()


def top_k_share(epoch: int, smallest: float, decay: float = 0.99) -> float:
    """The share of fakes top-k training keeps in `epoch`: all at first, times `decay` per epoch, down to
    `smallest` (the paper's schedule; 1.0 keeps every fake, plain WGAN-GP)."""
    return max(smallest, decay**epoch)


# ------------------------------------------------------------------------------------------------- EMA


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BatchNorm statistics) are copied."""
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1.0 - decay)
    for ema_buffer, buffer in zip(ema.buffers(), model.buffers(), strict=True):
        ema_buffer.copy_(buffer)


def ema_decay(step: int, target: float) -> float:
    """Warm-up schedule min(target, (1 + t) / (10 + t)): early on the average forgets the random init quickly."""
    return min(target, (1.0 + step) / (10.0 + step))
