"""vaegan: VAEs and GANs you can train, measure and poke at."""

from vaegan.errors import CheckpointError, ConfigError, DataError, TrainingError, VaeganError, WriteError

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "TrainingError",
    "VaeganError",
    "WriteError",
    "__version__",
]
