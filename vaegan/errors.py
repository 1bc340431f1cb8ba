"""One small error hierarchy, so the CLI and the app can turn any failure into one clear line."""


class VaeganError(Exception):
    """Base class: every error the library raises on purpose derives from this."""


class CheckpointError(VaeganError):
    """A weights file is missing, not safetensors, corrupt, of an unknown kind or of the wrong shapes."""


class HubError(CheckpointError):
    """An hf:// spec is malformed, or the Hugging Face Hub (or its local cache) cannot give the file: offline and
    not cached, 404, no network, refused. A CheckpointError, because to whatever loads models (CLI, app) it is one
    more way a weights file can be missing."""


class DataError(VaeganError):
    """A dataset could not be found, downloaded, verified or parsed."""


class TrainingError(VaeganError):
    """Training cannot go on (a NaN/inf loss, a resume state that does not match the run, ...)."""


class ConfigError(VaeganError):
    """A configuration value is out of range or inconsistent."""


class WriteError(VaeganError):
    """An output file (model, state, results, image, plot) could not be written: disk full, no permission, a
    failing device. Every write is atomic, so the previous file under that name is still intact."""
