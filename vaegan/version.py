"""The package version, in a module of its own: the modules that stamp it into files (checkpoint, hub) import it
without importing the package's public API (`vaegan/__init__.py`), which would import them back."""

__version__ = "0.1.0"
