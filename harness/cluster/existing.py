"""An existing Kubernetes cluster as the target (``--provider existing``): reached through the user's kubeconfig
only, never changed outside the harness's own namespaces.

Before anything is made the cluster must be provably a test cluster: it carries the ConfigMap
``chaos-harness-test-cluster`` in ``kube-public`` (its owner's mark), or the user says
``--i-own-this-cluster``. The harness's namespaces must not exist yet. Its load balancer runs as a pod of the
stack on the node the user names, else the first schedulable one it fits on, reached at that node's address by
host ports 8080 and 9999 or by two NodePorts (``--lb-expose nodeport``); its node labels stay in its own state
(``engine.kubernetes.placement``); the app's images go to the registry the user names, which the cluster pulls
from. Nodes are not the harness's: a fault that needs a shell on them, or the
harness's own registry, is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from harness.cluster.config import GREEN_STACK, LB_PORTS, STACK_NAME, Target
from harness.cluster.fingerprint import Fingerprint
from harness.engine.base import Discovery
from harness.engine.kubernetes.api import UNANSWERED, api_client, is_ready
from harness.errors import ClusterError, UsageError
from harness.http import HttpClient

__all__ = ["MARKER", "NAMESPACE_RULE", "STACKS", "Facts", "NodesOfTarget", "examine", "fingerprint", "namespaces",
           "present", "registry_problem"]

MARKER = ("kube-public", "chaos-harness-test-cluster")  # the ConfigMap (namespace, name) that marks a test cluster
STACKS = (STACK_NAME, GREEN_STACK, "chaos-faults")  # the harness's namespaces, by their names on its own clusters
NAMESPACE_RULE = re.compile(r"[a-z0-9]([-a-z0-9]{0,54}[a-z0-9])?")  # a DNS label with room for "-faults"
_NO_SCHEDULE = ("NoSchedule", "NoExecute")
_DEFAULT_DOMAIN = "cluster.local"
NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range


@dataclass(frozen=True)
class Facts:
    """What the harness learnt of the cluster before it made anything there."""

    nodes: dict[str, str]  # schedulable Ready node -> its internal address, the load balancer's node first
    discovery: Discovery
    proof: str  # why the harness may run there
    node_ports: dict[str, int] = field(default_factory=dict)  # --lb-expose nodeport: LB_PORTS' names -> NodePorts


def examine(target: Target) -> Facts:
    """The cluster's nodes and DNS, and the proof that it is a test cluster; ClusterError (or UsageError, for
    what the user must decide) naming what is missing, before anything is made."""
    core = k8s.CoreV1Api(api_client(target.kubeconfig, target.context))
    where = f"the cluster of {target.kubeconfig}" + (f" (context {target.context})" if target.context else "")
    try:
        proof = _proof(core, target)
        taken = _present(core, target)
        nodes = core.list_node(_request_timeout=10).items
        dns = core.read_namespaced_service("kube-dns", "kube-system", _request_timeout=10)
    except UNANSWERED as error:
        raise ClusterError(f"{where} cannot be used: {_said(error)}") from error
    if not proof:
        raise UsageError(f"{where} is not marked as a test cluster: the harness runs only where it may break "
                         f"things. Its owner marks it with `kubectl -n {MARKER[0]} create configmap {MARKER[1]}`, "
                         "or say --i-own-this-cluster (recorded in each run's journal)")
    if problem := registry_problem(target):
        raise ClusterError(f"--registry {target.registry}: {problem}")
    if taken:
        raise ClusterError(f"{where} has the namespaces {', '.join(taken)} already; the harness creates its own "
                           "and deletes them again, so it does not use those: remove them or use another cluster")
    usable = {node.metadata.name: _address(node) for node in nodes if _schedulable(node)}
    if len(usable) < 2:
        raise ClusterError(f"{where} has {len(usable)} Ready node(s) that take pods without a toleration "
                           f"({', '.join(usable) or 'none'}); the harness needs two: one for its load balancer "
                           "and stateful services, one to upgrade on")
    domain = _cluster_domain(core, next(iter(usable)))
    discovery = Discovery(f"{dns.spec.cluster_ip}:53", "{service}.{stack}.svc." + domain)
    balancer = _balancer_node(core, usable, target, where)
    node_ports = _free_node_ports(core, where) if target.lb_expose == "nodeport" else {}
    return Facts({name: usable[name] for name in [balancer, *(n for n in sorted(usable) if n != balancer)]},
                 discovery, proof, node_ports)


def _balancer_node(core: k8s.CoreV1Api, usable: dict[str, str], target: Target, where: str) -> str:
    """The node the load balancer runs on: ``--lb-node``, else the first in name order it fits on (with host
    ports, one where no pod holds them)."""
    if target.lb_node and target.lb_node not in usable:
        raise ClusterError(f"--lb-node {target.lb_node}: {where} has no such node that is Ready and takes pods "
                           f"without a toleration; it has {', '.join(sorted(usable))}")
    candidates = [target.lb_node] if target.lb_node else sorted(usable)
    if target.lb_expose == "nodeport":
        return candidates[0]
    held = _host_ports(core)
    free = [name for name in candidates if not held.get(name, set()) & set(LB_PORTS.values())]
    if not free:
        raise ClusterError(f"{where}: {'the node' if target.lb_node else 'every schedulable node'} has a pod on a "
                           f"host port the harness's load balancer needs ({', '.join(map(str, LB_PORTS.values()))}): "
                           f"{', '.join(f'{n} {sorted(held[n])}' for n in candidates)}; choose another with "
                           "--lb-node, or expose it by NodePorts (--lb-expose nodeport)")
    return free[0]


def _free_node_ports(core: k8s.CoreV1Api, where: str) -> dict[str, int]:
    """A NodePort for each of the load balancer's ports that no Service of the cluster holds, from the top of
    Kubernetes' default range down; the API server's dry run of a Service on them proves it would take them."""
    try:
        services = core.list_service_for_all_namespaces(_request_timeout=30).items
    except UNANSWERED as error:
        raise ClusterError(f"cannot list the cluster's Services: {_said(error)}") from error
    held = {p.node_port for s in services for p in s.spec.ports or [] if p.node_port}
    free = [port for port in range(NODE_PORT_RANGE[1], NODE_PORT_RANGE[0] - 1, -1) if port not in held]
    chosen = dict(zip(LB_PORTS, free))
    probe = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "chaos-harness-node-port-probe"},
             "spec": {"type": "NodePort", "selector": {"chaos-harness.io/probe": "none"},
                      "ports": [{"name": name, "port": LB_PORTS[name], "nodePort": port}
                                for name, port in chosen.items()]}}
    try:  # a dry run makes nothing
        core.create_namespaced_service("default", probe, dry_run="All", _request_timeout=30)
    except UNANSWERED as error:
        raise ClusterError(f"{where} refuses the NodePorts {', '.join(map(str, chosen.values()))} for the load "
                           f"balancer: {_said(error)}") from error
    return chosen


def registry_problem(target: Target) -> str | None:
    """Why this machine cannot push to the registry the cluster pulls from (None when it can: its API answers over
    plain HTTP, as the harness pushes)."""
    answer = HttpClient(f"http://{target.registry}").get("/v2/")
    if answer is not None and answer.status in (200, 401):
        return None
    return (f"{'no answer' if answer is None else f'answer {answer.status}'} over plain HTTP at /v2/; give a registry "
            "this machine pushes to over HTTP (on loopback, or in Docker's insecure-registries) that the cluster "
            "pulls from")


def namespaces(target: Target) -> dict[str, str]:
    """Each of the harness's stacks (``chaos``, ``chaos-green``, ``chaos-faults``) -> its namespace there."""
    base = target.namespace or STACK_NAME
    return {stack: base + stack[len(STACK_NAME):] for stack in STACKS}


def fingerprint(target: Target) -> Fingerprint:
    """What the harness may change in the cluster, as ``fingerprint`` records a host: its namespaces, and each
    node's labels, taints and whether it takes pods."""
    core = k8s.CoreV1Api(api_client(target.kubeconfig, target.context))
    try:
        listed = core.list_namespace(_request_timeout=10).items
        nodes = core.list_node(_request_timeout=10).items
    except UNANSWERED as error:
        raise ClusterError(f"cannot take the fingerprint of the cluster of {target.kubeconfig}: {_said(error)}") \
            from error
    return Fingerprint(f"the cluster of {target.kubeconfig}", {
        "namespaces": sorted(n.metadata.name for n in listed),
        "nodes": sorted(f"{n.metadata.name} labels={json.dumps(n.metadata.labels or {}, sort_keys=True)} "
                        f"taints={json.dumps([t.to_dict() for t in n.spec.taints or []], sort_keys=True, default=str)} "
                        f"unschedulable={bool(n.spec.unschedulable)}" for n in nodes)})


def present(target: Target) -> list[str]:
    """Which of the harness's namespaces the cluster has."""
    try:
        return _present(k8s.CoreV1Api(api_client(target.kubeconfig, target.context)), target)
    except UNANSWERED as error:
        raise ClusterError(f"the cluster of {target.kubeconfig} does not answer: {_said(error)}") from error


def _present(core: k8s.CoreV1Api, target: Target) -> list[str]:
    return [name for name in namespaces(target).values() if _exists(lambda name=name: core.read_namespace(name))]


class NodesOfTarget:
    """The existing cluster's nodes as the harness sees them: through the API only (no shell on them)."""

    def __init__(self, target: Target, nodes: list[str]) -> None:
        self._target = target
        self._nodes = nodes
        self.logins: dict = {}

    def status(self) -> dict[str, str]:
        """Node name to ``running`` (Ready) or ``stopped``, as the API server says."""
        core = k8s.CoreV1Api(api_client(self._target.kubeconfig, self._target.context))
        try:
            found = {node.metadata.name: node for node in core.list_node(_request_timeout=10).items}
        except UNANSWERED as error:
            raise ClusterError(f"the cluster's API server does not answer: {_said(error)}") from error
        return {name: "running" if name in found and is_ready(found[name]) else "stopped" for name in self._nodes}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None):
        raise ClusterError(f"the harness has no shell on {node}: it is a node of an existing cluster, reached "
                           "through the Kubernetes API only")

    def engine_log(self, node: str, since: float) -> str:
        return ""

    def can_power_cycle(self, node: str) -> bool:
        return False

    def halt(self, node: str, force: bool = False) -> None:
        self.exec(node, [])

    def up(self, node: str | None = None) -> None:
        if node is not None:
            self.exec(node, [])

    def close(self) -> None:
        pass


def _proof(core: k8s.CoreV1Api, target: Target) -> str:
    if _exists(lambda: core.read_namespaced_config_map(MARKER[1], MARKER[0], _request_timeout=10)):
        return f"marked as a test cluster (ConfigMap {MARKER[0]}/{MARKER[1]})"
    return "--i-own-this-cluster" if target.owned else ""


def _exists(read) -> bool:
    try:
        read()
        return True
    except ApiException as error:
        if error.status in (403, 404):
            return False
        raise


def _host_ports(core: k8s.CoreV1Api) -> dict[str, set[int]]:
    """Node name -> the host ports its pods hold."""
    try:
        pods = core.list_pod_for_all_namespaces(_request_timeout=30).items
    except UNANSWERED as error:
        raise ClusterError(f"cannot list the cluster's pods: {_said(error)}") from error
    taken: dict[str, set[int]] = {}
    for pod in pods:
        ports = {p.host_port for c in pod.spec.containers or [] for p in c.ports or [] if p.host_port}
        if pod.spec.node_name and ports:
            taken.setdefault(pod.spec.node_name, set()).update(ports)
    return taken


def _schedulable(node) -> bool:
    taints = node.spec.taints or []
    return is_ready(node) and not node.spec.unschedulable and not any(t.effect in _NO_SCHEDULE for t in taints)


def _address(node) -> str:
    addresses = {a.type: a.address for a in node.status.addresses or []}
    return addresses.get("InternalIP") or addresses.get("ExternalIP") or ""


def _cluster_domain(core: k8s.CoreV1Api, node: str) -> str:
    """The kubelet's cluster domain, from its configuration as the API server proxies it (``cluster.local`` when
    the cluster does not let the harness read it)."""
    try:
        answer = core.api_client.call_api(f"/api/v1/nodes/{node}/proxy/configz", "GET", response_type="object",
                                          auth_settings=["BearerToken"], _return_http_data_only=True,
                                          _request_timeout=10)
        return answer["kubeletconfig"].get("clusterDomain") or _DEFAULT_DOMAIN
    except (*UNANSWERED, KeyError, TypeError):
        return _DEFAULT_DOMAIN


def _said(error: BaseException) -> str:
    """What the API server answered (its status, and its message when it gives one), or why it did not."""
    if isinstance(error, ApiException):
        try:
            message = json.loads(error.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            message = ""
        return f"{error.status} {error.reason}" + (f": {message}" if message else "")
    return str(error) or type(error).__name__
