"""The package's version, in a module that imports nothing (read by `setup.cfg` and by the package's writers)."""

__version__ = "0.1.0"
