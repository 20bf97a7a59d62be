"""How each fault's effect shows from the outside: in the engine, a pull, a bind, the load balancer.

Used by the conformance test and the fault benchmark: a fault must produce
its symptom after ``inject`` and lose it after ``heal``.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.cluster import Cluster
from harness.cluster.registry import NODE_REGISTRY
from harness import stack

Symptom = Callable[[Cluster, str, float], bool]  # (cluster, node, injected_at)
PROBE_IMAGE = f"{NODE_REGISTRY}/chaos/db:v1"


def node_down(cluster: Cluster, node: str, since: float) -> bool:
    """Swarm reports the node as not ready."""
    return any(n.hostname == node and n.state != "ready" for n in cluster.engine.nodes())


def pull_fails(cluster: Cluster, node: str, since: float) -> bool:
    """The node cannot pull from the registry (the image is removed first so that it must)."""
    cluster.exec(node, ["docker", "image", "rm", "-f", PROBE_IMAGE])
    return not cluster.exec(node, ["timeout", "8", "docker", "pull", PROBE_IMAGE]).ok


def credentials_refused(cluster: Cluster, node: str, since: float) -> bool:
    """The node cannot log in to the authenticated registry with the cluster's credentials."""
    auth = cluster.secure_registry().auth()
    login = ["docker", "login", auth.server, "-u", auth.username, "--password-stdin"]
    output = cluster.exec(node, login, stdin=auth.password.encode()).output
    cluster.exec(node, ["docker", "logout", auth.server])  # leave no credentials on the node
    return "401 unauthorized" in output.lower()


def port_taken(cluster: Cluster, node: str, since: float, port: int = 8081) -> bool:
    """A container publishing the port on the node fails with 'address already in use'."""
    # In the foreground and gone at once, so that the probe itself never holds the port.
    result = cluster.exec(node, ["docker", "run", "--rm", "-p", f"{port}:8080", "--entrypoint", "true", PROBE_IMAGE])
    return "address already in use" in result.output


def web_task_failed(cluster: Cluster, node: str, since: float) -> bool:
    """The engine shows a web task on the node that failed since the fault was injected."""
    return any(t.node == node and t.state == "failed" and t.timestamp >= since - 1
               for t in cluster.engine.service(stack.BLUE.service).tasks)


def lb_lost_a_server(cluster: Cluster, node: str, since: float) -> bool:
    """HAProxy's health checks took at least one resolved web server out of rotation."""
    return any(s.resolved and not s.up for s in stack.router(cluster.state).servers(stack.BLUE.backend))


def packets_dropped(cluster: Cluster, node: str, since: float) -> bool:
    """The node's harness firewall rules have dropped packets."""
    rules = cluster.exec(node, ["iptables", "-w", "-L", "-v", "-n", "-x"]).output.splitlines()
    return any("chaos-harness" in line and int(line.split()[0]) > 0 for line in rules if line.strip()[:1].isdigit())


SYMPTOMS: dict[str, Symptom] = {
    "node-halt": node_down,
    "daemon-freeze": node_down,
    "daemon-crash": node_down,
    "partition": node_down,
    "registry-firewall": pull_fails,
    "disk-full": pull_fails,
    "registry-toxic": pull_fails,
    "registry-auth": credentials_refused,
    "port-conflict": port_taken,
    "task-kill": web_task_failed,
    "overlay-drop": lb_lost_a_server,
    "packet-loss": packets_dropped,
}
