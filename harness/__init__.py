"""chaos-harness: failure scenarios for container upgrades on real clusters."""

__version__ = "0.1.0"
