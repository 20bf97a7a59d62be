"""The harness's own pods and drains that are faults on Kubernetes: a pod that holds a host port, a probe pod
that wants one, and a node's cordon and evictions (``kubectl drain`` within the harness's namespaces).

The pods live in a namespace of their own (``chaos-faults``), created when one is needed and deleted once empty.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from harness.engine.kubernetes.api import UNANSWERED, call, exists, refusal
from harness.engine.kubernetes.translate import MANAGED_BY
from harness.errors import ClusterError, EngineError
from harness.waiting import wait_until

__all__ = ["FaultPods"]

HELD_PORT = "chaos-harness.io/held-port"  # label of a pod holding a hostPort: the port
HELD_ON = "chaos-harness.io/held-on"  # and its node
# the label selector of the harness's own namespaces (its stacks', the faults'): a drain evicts only there
OWN_NAMESPACES = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())
PAUSE = "docker.io/chaos-harness/pause:"  # the pause image as a harness-made cluster's nodes hold it (imported)
SANDBOX = re.compile(r"/pause:[^@]+$")  # another cluster's sandbox image, by tag (registry.k8s.io/pause:3.10)


class FaultPods:
    """Fault pods in ``namespace``, through the API client ``core`` gives."""

    def __init__(self, core: Callable[[], k8s.CoreV1Api], namespace: str) -> None:
        self._core = core
        self.namespace = namespace

    def hold_port(self, node: str, port: int) -> None:
        """A pod of the harness's own bound to ``node`` takes ``port`` as its hostPort (in the faults' namespace, of a
        pause image the node holds): a pod that wants the port there stays Pending ("didn't have free ports")."""
        name = f"port-{port}-{node}"
        if exists(lambda: self._core().read_namespaced_pod(name, self.namespace)):
            return
        self._ensure_namespace()
        container = {"name": "hold", "image": self._pause_image(node), "imagePullPolicy": "Never",
                     "ports": [{"containerPort": port, "hostPort": port, "protocol": "TCP"}]}
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {**MANAGED_BY, HELD_PORT: str(port), HELD_ON: node}},
                "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}], "containers": [container],
                         "terminationGracePeriodSeconds": 2, "automountServiceAccountToken": False}}
        call(lambda: self._core().create_namespaced_pod(self.namespace, body), f"hold port {port} on {node}")

    def release_port(self, node: str, port: int) -> None:
        """Delete the pod holding ``port`` on ``node`` and wait until it is gone (forced after 20 s: its node may
        not answer), then the namespace if nothing else is in it."""
        name, forced_after = f"port-{port}-{node}", time.monotonic() + 20
        self._delete_fault_pod(name)

        def gone() -> bool:
            if time.monotonic() > forced_after:
                self._delete_fault_pod(name, grace=0)
            return not exists(lambda: self._core().read_namespaced_pod(name, self.namespace, _request_timeout=10))
        wait_until(gone, timeout=40, what=f"the pod {name} gone")
        self._drop_namespace()

    def port_holds(self, node: str) -> dict[int, bool]:
        """Every port held on ``node``: in effect while its pod runs (the kubelet admitted it) and is not deleted."""
        pods = call(lambda: self._core().list_namespaced_pod(
            self.namespace, label_selector=f"{HELD_ON}={node}", _request_timeout=10).items, "list the held ports")
        return {int(pod.metadata.labels[HELD_PORT]): pod.status.phase == "Running"
                and pod.metadata.deletion_timestamp is None for pod in pods}

    def port_refused(self, node: str, port: int, image: str) -> str:
        """A throwaway pod of ``image`` that wants host ``port`` on ``node`` (node affinity, as a DaemonSet's): the
        scheduler's message when it cannot place it ("didn't have free ports"), '' when it can; deleted at once.
        Unschedulable for another reason is an error."""
        self._ensure_namespace()
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
        container = {"name": "probe", "image": image,
                     "ports": [{"containerPort": port, "hostPort": port, "protocol": "TCP"}]}
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": f"probe-{port}-", "labels": MANAGED_BY},
                "spec": {"affinity": affinity, "tolerations": [{"operator": "Exists"}], "containers": [container],
                         "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False}}
        name = call(lambda: self._core().create_namespaced_pod(self.namespace, body),
                          f"try a pod with hostPort {port} on {node}").metadata.name
        try:
            scheduled = wait_until(lambda: self._scheduled(name), timeout=30,
                                   what=f"the scheduler's decision on {name}")
        finally:
            self._delete_fault_pod(name, grace=0)
            self._drop_namespace()
        if scheduled.status == "True":
            return ""
        if "free ports" not in (scheduled.message or ""):
            raise EngineError(f"the pod {name} wanting port {port} on {node} cannot be placed there, not for the "
                              f"port: {scheduled.message}")
        return scheduled.message

    def drain_node(self, node: str) -> str:
        """``kubectl drain`` within the harness's namespaces: the node cordoned (``spec.unschedulable``), then every
        pod of those namespaces on it evicted through the Eviction API, which honours PodDisruptionBudgets. Each
        eviction refused (429) is a line ``<namespace>/<pod>: <the API's message>`` ("Cannot evict pod as it would
        violate the pod's disruption budget."). As ``kubectl drain --ignore-daemonsets`` leaves them: DaemonSet
        pods, pods being deleted, and pods no controller would replace (the harness's own fault pods)."""
        call(lambda: self._core().patch_node(node, {"spec": {"unschedulable": True}}), f"cordon {node}")
        refused = ((pod, self._evict(pod)) for pod in self._evictable(node))
        return "\n".join(f"{pod.metadata.namespace}/{pod.metadata.name}: {why}" for pod, why in refused if why)

    def undrain_node(self, node: str) -> None:
        """``kubectl uncordon``: the node is schedulable again; evicted pods stay where they went."""
        call(lambda: self._core().patch_node(node, {"spec": {"unschedulable": None}}), f"uncordon {node}")

    def _evictable(self, node: str) -> list:
        """The pods on ``node`` in the harness's namespaces (labelled as its own) that a drain evicts."""
        namespaces = call(lambda: self._core().list_namespace(
            label_selector=OWN_NAMESPACES, _request_timeout=10).items, "list the harness's namespaces")
        on_node = f"spec.nodeName={node}"
        pods = [pod for namespace in namespaces for pod in call(lambda: self._core().list_namespaced_pod(
            namespace.metadata.name, field_selector=on_node, _request_timeout=10).items, f"list the pods on {node}")]
        return [pod for pod in pods if pod.metadata.deletion_timestamp is None and any(
            owner.controller and owner.kind != "DaemonSet" for owner in pod.metadata.owner_references or [])]

    def _evict(self, pod) -> str:
        """Evict one pod (policy/v1 Eviction): '' when the API accepted it or the pod is gone, the API's message
        when a PodDisruptionBudget refused it (429)."""
        name, namespace = pod.metadata.name, pod.metadata.namespace
        body = k8s.V1Eviction(metadata=k8s.V1ObjectMeta(name=name, namespace=namespace))
        try:
            call(lambda: self._core().create_namespaced_pod_eviction(name, namespace, body, _request_timeout=10),
                       f"evict the pod {namespace}/{name}")
        except EngineError as error:
            refused = error.__cause__
            if isinstance(refused, ApiException) and refused.status in (404, 429):
                return "" if refused.status == 404 else refusal(refused) or str(refused.reason)
            raise
        return ""

    def _scheduled(self, name: str):
        """The pod's PodScheduled condition once the scheduler decided (placed, or Unschedulable), else None."""
        pod = self._core().read_namespaced_pod(name, self.namespace, _request_timeout=10)
        condition = next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)
        return condition if condition is not None and (condition.status == "True"
                                                       or condition.reason == "Unschedulable") else None

    def _pause_image(self, node: str) -> str:
        """A pause image ``node`` holds, as its status lists its images: the harness's own, else the sandbox image
        of the cluster's runtime (``.../pause:<tag>``, on every node that runs pods)."""
        found = call(lambda: self._core().read_node(node, _request_timeout=10), f"read the node {node}")
        names = [name for image in found.status.images or [] for name in image.names or []]
        held = [n for n in names if n.startswith(PAUSE)] or [n for n in names if SANDBOX.search(n)]
        if not held:
            raise EngineError(f"{node} lists no pause image ({PAUSE}*, or any .../pause:TAG) to hold a port with")
        return held[0]

    def _ensure_namespace(self) -> None:
        """The faults' namespace, created unless it exists, with its default service account (which a pod
        needs); one being deleted is waited out first."""
        def ready() -> bool:
            try:
                namespace = self._core().read_namespace(self.namespace, _request_timeout=10)
            except ApiException as error:
                if error.status != 404:
                    raise
                body = {"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": self.namespace, "labels": MANAGED_BY}}
                call(lambda: self._core().create_namespace(body), f"create the namespace {self.namespace}")
                return False
            return namespace.status.phase == "Active" and exists(
                lambda: self._core().read_namespaced_service_account("default", self.namespace))
        wait_until(ready, timeout=60, what=f"the namespace {self.namespace} and its default service account")

    def _drop_namespace(self) -> None:
        """Delete the faults' namespace once no pod is left in it (without waiting for it to go)."""
        if call(lambda: self._core().list_namespaced_pod(self.namespace, _request_timeout=10).items,
                      f"list the pods in {self.namespace}"):
            return
        try:
            self._core().delete_namespace(self.namespace)
        except ApiException as error:
            if error.status not in (404, 409):
                raise EngineError(f"cannot delete the namespace {self.namespace}: {error.reason}") from error

    def _delete_fault_pod(self, name: str, grace: int | None = None) -> None:
        try:
            self._core().delete_namespaced_pod(name, self.namespace, grace_period_seconds=grace)
        except ApiException as error:
            if error.status != 404:
                raise EngineError(f"cannot delete the pod {name}: {error.status} {error.reason}") from error
        except UNANSWERED as error:
            raise ClusterError(f"cannot delete the pod {name}: the Kubernetes API server does not answer: {error}") \
                from error
