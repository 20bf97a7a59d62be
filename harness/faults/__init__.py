"""Fault plugins, discovered through the ``harness.faults`` entry-point group."""

from harness.faults.base import Fault, FaultContext, NodeControl

__all__ = ["Fault", "FaultContext", "NodeControl"]
