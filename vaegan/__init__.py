"""vaegan: VAEs and GANs you can train, measure and poke at.

The public API for scripts, in a few lines (README: Python API):

    from vaegan import VAE, Generator, load_model, sample_images, evaluate_log_px
    vae = VAE.from_pretrained("checkpoints/vae.safetensors")          # or "hf://OWNER/REPO/vae.safetensors"
    generator = Generator.from_pretrained("checkpoints/wgan.safetensors")
    images = sample_images(generator, 16, seed=0)                      # (16, 3, 32, 32) in [-1, 1]

Every name below is imported on first use, not by `import vaegan`: the CLI's `--help` and the errors stay free of
torch, and a script pays only for what it touches.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vaegan.errors import CheckpointError, ConfigError, DataError, HubError, TrainingError, VaeganError, WriteError
from vaegan.version import __version__

if TYPE_CHECKING:
    from vaegan.checkpoint import load_model, read_info
    from vaegan.classifier import DigitClassifier
    from vaegan.divergences import SweepConfig, SweepResult, run_sweep
    from vaegan.latent import interpolate_latent, perturbation_strip, sample_images, sample_latents
    from vaegan.likelihood import evaluate_log_px, evaluate_neg_elbo
    from vaegan.vae import VAE, VAEConfig
    from vaegan.wgan import Generator, WGANConfig

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    "load_model": "vaegan.checkpoint",
    "read_info": "vaegan.checkpoint",
    "VAE": "vaegan.vae",
    "VAEConfig": "vaegan.vae",
    "Generator": "vaegan.wgan",
    "WGANConfig": "vaegan.wgan",
    "DigitClassifier": "vaegan.classifier",
    "sample_latents": "vaegan.latent",
    "sample_images": "vaegan.latent",
    "perturbation_strip": "vaegan.latent",
    "interpolate_latent": "vaegan.latent",
    "evaluate_neg_elbo": "vaegan.likelihood",
    "evaluate_log_px": "vaegan.likelihood",
    "SweepConfig": "vaegan.divergences",
    "SweepResult": "vaegan.divergences",
    "run_sweep": "vaegan.divergences",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vaegan' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "VAE",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DigitClassifier",
    "Generator",
    "HubError",
    "SweepConfig",
    "SweepResult",
    "TrainingError",
    "VAEConfig",
    "VaeganError",
    "WGANConfig",
    "WriteError",
    "__version__",
    "evaluate_log_px",
    "evaluate_neg_elbo",
    "interpolate_latent",
    "load_model",
    "perturbation_strip",
    "read_info",
    "run_sweep",
    "sample_images",
    "sample_latents",
]
