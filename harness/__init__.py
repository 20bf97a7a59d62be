"""chaos-harness: failure scenarios for container upgrades on real clusters."""

from importlib.metadata import version

__version__ = version("chaos-harness")  # one source: the package metadata (pyproject.toml's version)
