"""How each fault's effect shows from the outside: in the engine, a pull, a bind, the load balancer.

Used by the conformance test and the fault benchmark: a fault must produce
its symptom after ``inject`` and lose it after ``heal``.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.faults.base import FaultContext
from harness.http import HttpClient
from harness.stack import BLUE, router

Symptom = Callable[[FaultContext, str, float], bool]  # (context on a real cluster, node, injected_at)


def _probe_image(ctx: FaultContext) -> str:
    """An image every cluster registry holds: the load balancer's."""
    return ctx.cluster.lb_image(ctx.cluster.pull_registry())


def node_down(ctx: FaultContext, node: str, since: float) -> bool:
    """Swarm reports the node as not ready."""
    return any(n.hostname == node and n.state != "ready" for n in ctx.cluster.engine.nodes())


def pull_fails(ctx: FaultContext, node: str, since: float) -> bool:
    """The node cannot pull from the registry (the image is removed first so that it must)."""
    cluster, image = ctx.cluster, _probe_image(ctx)
    return not cluster.exec(node, ["sh", "-c", cluster.engine.runtime.pull, "pull", image]).ok


def credentials_refused(ctx: FaultContext, node: str, since: float) -> bool:
    """The node cannot log in to the authenticated registry with the cluster's credentials."""
    cluster = ctx.cluster
    auth = cluster.secure_registry().auth()
    output = cluster.exec(node, ["sh", "-c", cluster.engine.runtime.login, "login", auth.server, auth.username],
                          stdin=auth.password.encode()).output
    return "401 unauthorized" in output.lower()


def port_taken(ctx: FaultContext, node: str, since: float, port: int = 8081) -> bool:
    """A task publishing the port cannot run on the node: Docker's "address already in use" on Swarm, the
    scheduler's "didn't have free ports" on Kubernetes (the engine tries a throwaway task and removes it)."""
    return bool(ctx.cluster.engine.port_refused(node, port, _probe_image(ctx)))


def upgraded_task_killed(ctx: FaultContext, node: str, since: float) -> bool:
    """The engine shows a task of the upgraded service on the node that failed, or that was restarted or replaced
    there, since the fault was injected (Kubernetes' times are whole seconds: one second of slack)."""
    return any(t.node == node and t.state in ("failed", "starting", "running") and t.timestamp >= since - 1
               for t in ctx.cluster.engine.service(ctx.upgraded).tasks)


def tasks_moved_off(ctx: FaultContext, node: str, since: float) -> bool:
    """The engine shows the node drained, and no task of the upgraded service placed there any more."""
    engine = ctx.cluster.engine
    drained = any(n.hostname == node and n.availability == "drain" for n in engine.nodes())
    return drained and not any(t.node == node for t in engine.service(ctx.upgraded).placed())


def lb_lost_a_server(ctx: FaultContext, node: str, since: float) -> bool:
    """HAProxy's health checks took at least one resolved server of the live backend out of rotation."""
    servers = router(ctx.cluster.state.lb_admin).servers(BLUE.backend)
    return any(s.resolved and not s.up for s in servers)


def packets_dropped(ctx: FaultContext, node: str, since: float) -> bool:
    """The node's harness firewall rules have dropped packets."""
    rules = ctx.cluster.exec(node, ["iptables", "-w", "-L", "-v", "-n", "-x"]).output.splitlines()
    return any("chaos-harness" in line and int(line.split()[0]) > 0 for line in rules if line.strip()[:1].isdigit())


def lb_refuses(ctx: FaultContext, node: str, since: float) -> bool:
    """The load balancer answers at once, with 503."""
    answer = HttpClient(ctx.cluster.lb_url).get("/", timeout=1.0)
    return answer is not None and answer.status == 503


def lb_silent(ctx: FaultContext, node: str, since: float) -> bool:
    """Nothing answers at the load balancer's address within a second."""
    return HttpClient(ctx.cluster.lb_url).get("/", timeout=1.0) is None


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
    "task-kill": upgraded_task_killed,
    "node-drain": tasks_moved_off,
    "overlay-drop": lb_lost_a_server,
    "packet-loss": packets_dropped,
    "lb-maintenance": lb_refuses,
    "lb-blackhole": lb_silent,
}
