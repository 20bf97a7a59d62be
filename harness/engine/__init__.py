"""Deployment engines: Docker Swarm (``swarm``) and Kubernetes (``engine.kubernetes``), each an ``Engine``."""

from harness.engine.base import Engine, NodeInfo, ServiceSnapshot, TaskInfo, UpdatePolicy

__all__ = ["FORMS", "Engine", "NodeInfo", "ServiceSnapshot", "TaskInfo", "UpdatePolicy"]

# engine -> the forms of an app it deploys, preferred first (an app profile's ``compose`` and ``kubernetes``)
FORMS: dict[str, tuple[str, ...]] = {"swarm": ("compose",), "kubernetes": ("kubernetes", "compose")}
