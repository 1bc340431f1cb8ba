"""WGAN-GP training speed: generator iterations/s of the reference loop vs the optimized step, in one run.

    python bench/wgan.py                       # width 16 (the shipped model), batch 64, CPU
    python bench/wgan.py --width 64 --device cuda
    python bench/wgan.py --width 24 --n-critic 1 --gp-every 4 --rounds 41 --only "+ channels_last,+ simultaneous"

Every variant runs the same architecture, batch size and n_critic on the same random "real" batch; variants are
timed round-robin (one iteration each, `--rounds` times) and the median is reported, so load from other processes
hits all of them alike. The baseline is the plain reference loop written out below: three separate critic passes,
fakes made with autograd on (then detached), the default (for-loop) Adam, fp32, NCHW, torch's default threads
(or --threads for every variant).

Achieved GFLOP/s = FLOPs of one iteration (counted by torch.utils.flop_counter, double backward included) / time,
printed next to the machine's measured fp32 and bf16 matmul peaks.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vaegan.train.common import make_adam  # noqa: E402
from vaegan.wgan import (  # noqa: E402
    Critic,
    Generator,
    StepOptions,
    WGANConfig,
    critic_step,
    generator_step,
    joint_step,
    lazy_penalty_weight,
)


@dataclass(frozen=True)
class Variant:
    name: str
    options: StepOptions | None  # None: the reference loop
    fused_adam: bool = False
    threads: int = 0  # 0: torch's default
    compile_generator: bool = False
    simultaneous: bool = False  # one joint_step per iteration (n_critic 1 only)


def reference_iteration(generator, critic, opt_g, opt_c, real, n_critic: int, gp_weight: float) -> None:  # noqa: ANN001
    """The textbook loop (Gulrajani et al., algorithm 1), written plainly, with the correct per-sample penalty."""
    batch, latent_dim = real.shape[0], generator.config.latent_dim
    for _ in range(n_critic):
        fake = generator(torch.randn(batch, latent_dim, device=real.device)).detach()
        alpha = torch.rand(batch, 1, 1, 1, device=real.device)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + gp_weight * penalty
        opt_c.zero_grad()
        loss.backward()
        opt_c.step()
    loss = -critic(generator(torch.randn(batch, latent_dim, device=real.device))).mean()
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()


def build(
    variant: Variant, config: WGANConfig, batch: int, n_critic: int, device: torch.device, gp_every: int = 1
) -> Callable[[], None]:
    torch.manual_seed(0)
    options = variant.options or StepOptions()
    generator = Generator(config).to(device=device, memory_format=options.memory_format)
    critic = Critic(config).to(device=device, memory_format=options.memory_format)
    if variant.fused_adam:
        opt_g = make_adam(generator.parameters(), 1e-4, (0.5, 0.9))
        opt_c = make_adam(critic.parameters(), 1e-4, (0.5, 0.9))
    else:
        opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4, betas=(0.5, 0.9))
        opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.5, 0.9))
    real = (torch.rand(batch, 3, 32, 32, device=device) * 2 - 1).contiguous(memory_format=options.memory_format)
    step_generator = torch.compile(generator) if variant.compile_generator else generator
    if variant.compile_generator:
        step_generator.config = generator.config  # type: ignore[attr-defined]
    scaler = torch.amp.GradScaler(device.type) if options.autocast_dtype == torch.float16 else None
    critic_steps = [0]  # the lazy penalty's position, counted over critic steps as the training loop counts them

    def penalty_weight() -> float:
        critic_steps[0] += 1
        return lazy_penalty_weight(critic_steps[0] - 1, options.gp_weight, gp_every)

    def one_iteration() -> None:
        if variant.options is None:
            reference_iteration(generator, critic, opt_g, opt_c, real, n_critic, options.gp_weight)
            return
        if variant.simultaneous:
            joint_step(step_generator, critic, opt_g, opt_c, real, options, penalty_weight())
            return
        for _ in range(n_critic):
            critic_step(step_generator, critic, opt_c, real, options, scaler, penalty_weight())
        generator_step(step_generator, critic, opt_g, batch, device, options, scaler)

    return one_iteration


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def count_flops(run: Callable[[], None]) -> float:
    """FLOPs of one call, with torch's own per-op formulas (conv, conv backward, matmul, ...).

    A bare dispatch mode rather than FlopCounterMode: the latter's module hooks break autograd.grad on a leaf
    (the penalty's x_hat) in this torch version.
    """
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import flop_registry

    class Counter(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            formula = flop_registry.get(func._overloadpacket)
            if formula is not None:
                Counter.total += formula(*args, **kwargs, out_val=out)
            return out

    with Counter():
        run()
    return float(Counter.total)


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int, threads: int) -> float:
    """Best-of-5 GFLOP/s of an n x n x n matmul."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(5):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    torch.set_num_threads(previous)
    return 2 * n**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="timed iterations per variant (median reported)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile on the generator")
    parser.add_argument("--only", default="", help="comma-separated variant names to run (baseline always runs)")
    parser.add_argument("--gp-every", type=int, default=1,
                        help="lazy penalty for the optimized variants: every k-th critic step, weight k * lambda")
    parser.add_argument("--threads", type=int, default=0, help="torch threads for every variant (0: torch default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = WGANConfig(width=args.width)
    fused = StepOptions(fused_critic_batch=True)
    variants = [
        Variant("baseline (reference loop)", None),
        Variant("+ no-grad fakes", dataclasses.replace(fused, fused_critic_batch=False)),
        Variant("+ one critic pass [real; fake]", fused),
        Variant("+ fused Adam", fused, fused_adam=True),
        Variant("+ channels_last", dataclasses.replace(fused, channels_last=True), fused_adam=True),
    ]
    if args.n_critic == 1:  # both players from one shared pass (vaegan.wgan.joint_step)
        variants.append(Variant("+ simultaneous", dataclasses.replace(fused, channels_last=True), True,
                                simultaneous=True))  # fmt: skip
    if device.type == "cpu":
        variants.append(Variant("+ bf16 autocast", dataclasses.replace(fused, autocast_dtype=torch.bfloat16), True))
        if torch.get_num_threads() > 1 and not args.threads:
            variants.append(Variant("+ 1 thread", fused, fused_adam=True, threads=1))
    else:
        variants.append(Variant("+ bf16 autocast", dataclasses.replace(fused, autocast_dtype=torch.bfloat16), True))
        variants.append(Variant("+ fp16 autocast", dataclasses.replace(fused, autocast_dtype=torch.float16), True))
        variants.append(Variant("+ bf16 + channels_last", dataclasses.replace(
            fused, autocast_dtype=torch.bfloat16, channels_last=True), True))  # fmt: skip
    if args.compile:
        variants.append(Variant("+ compiled generator", fused, fused_adam=True, compile_generator=True))
    if args.only:
        keep = {v.strip() for v in args.only.split(",")}
        variants = [v for i, v in enumerate(variants) if i == 0 or v.name in keep]

    default_threads = torch.get_num_threads()
    print(f"device {device}, torch {torch.__version__}, {default_threads} threads; WGAN-GP width {args.width}, "
          f"batch {args.batch_size}, n_critic {args.n_critic}, penalty every {args.gp_every} critic step(s) (not the "
          f"reference loop's); median of {args.rounds} round-robin cycles of {args.gp_every} iteration(s)",
          flush=True)
    runs, flops = [], []
    for variant in variants:
        torch.set_num_threads(variant.threads or default_threads)
        step = build(variant, config, args.batch_size, args.n_critic, device, args.gp_every)

        def run(step: Callable[[], None] = step) -> None:  # one timed unit: a whole lazy-penalty cycle
            for _ in range(args.gp_every):
                step()

        run()  # warm-up (and compilation)
        flops.append(count_flops(run) / args.gp_every if not variant.compile_generator else float("nan"))
        runs.append(run)
    times: list[list[float]] = [[] for _ in variants]
    for _ in range(args.rounds):
        for i, (variant, run) in enumerate(zip(variants, runs, strict=True)):
            torch.set_num_threads(variant.threads or default_threads)
            sync(device)
            start = time.perf_counter()
            run()
            sync(device)
            times[i].append((time.perf_counter() - start) / args.gp_every)
    torch.set_num_threads(default_threads)

    peak32 = matmul_peak(torch.float32, device, 1024 if device.type == "cpu" else 8192, 0)
    peak16 = matmul_peak(torch.bfloat16, device, 1024 if device.type == "cpu" else 8192, 0)
    print(f"measured matmul peak: fp32 {peak32:.1f} GFLOP/s, bf16 {peak16:.1f} GFLOP/s ({default_threads} threads)")
    base = statistics.median(times[0])
    print(f"{'variant':34s} {'ms/iter':>9s} {'it/s':>7s} {'speedup':>8s} {'GFLOP/it':>9s} {'GFLOP/s':>8s} "
          f"{'% fp32 peak':>11s} {'100k iters':>10s}")
    for variant, ts, f in zip(variants, times, flops, strict=True):
        t = statistics.median(ts)
        gflops = f / t / 1e9
        print(f"{variant.name:34s} {t * 1e3:9.1f} {1 / t:7.2f} {base / t:7.2f}x {f / 1e9:9.2f} {gflops:8.1f} "
              f"{100 * gflops / peak32:10.1f}% {1e5 * t / 3600:9.1f}h")


if __name__ == "__main__":
    main()
