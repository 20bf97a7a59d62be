"""Deployment engines. Docker Swarm today; another engine implements ``Engine``."""

from harness.engine.base import Engine, NodeInfo, ServiceSnapshot, TaskInfo, UpdatePolicy

__all__ = ["Engine", "NodeInfo", "ServiceSnapshot", "TaskInfo", "UpdatePolicy"]
