"""The harness's ``Engine`` for Kubernetes, through the official Python client."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client as k8s

from harness.engine.base import NodeInfo
from harness.engine.kubernetes.bootstrap import CONTROL_PLANE_TAINT
from harness.engine.kubernetes.formation import UNANSWERED, api_client
from harness.errors import ClusterError

__all__ = ["KubernetesEngine"]


class KubernetesEngine:
    """A Kubernetes cluster reached with an admin kubeconfig."""

    def __init__(self, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self._api: k8s.ApiClient | None = None

    @property
    def api(self) -> k8s.ApiClient:
        if self._api is None:
            self._api = api_client(self._kubeconfig)
        return self._api

    def nodes(self) -> list[NodeInfo]:
        """Every node: Ready (``ready``) or not (``down``), cordoned (``drain``) or not, control plane or worker."""
        try:
            found = k8s.CoreV1Api(self.api).list_node(_request_timeout=10).items
        except UNANSWERED as error:
            raise ClusterError(f"the Kubernetes API server does not answer: {error}") from error
        return [NodeInfo(
            hostname=node.metadata.name,
            state="ready" if any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
            else "down",
            availability="drain" if node.spec.unschedulable else "active",
            role="manager" if CONTROL_PLANE_TAINT in (node.metadata.labels or {}) else "worker",
            labels=dict(node.metadata.labels or {})) for node in found]
