"""Sweeps: one scenario's first fault struck at many points of the upgrade, each repeated, per strategy."""
