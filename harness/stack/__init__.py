"""The default stack under test (web, db, lb) and getting it to a known state."""

from __future__ import annotations

import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from string import Template

from harness.cluster.registry import NODE_REGISTRY
from harness.engine.base import ServiceSnapshot
from harness.engine.swarm import SwarmEngine
from harness.scenario import Stack
from harness.waiting import wait_until

STACK_NAME = "chaos"
WEB_SERVICE = f"{STACK_NAME}_web"
COMPOSE_TEMPLATE = Path(__file__).with_name("stack.yml")


DB_SERVICE = f"{STACK_NAME}_db"
DB_CONSTRAINTS = {"pinned": "node.labels.chaos.db == true", "floating": "node.role == worker"}


def render(web_version: str, replicas: int, db_placement: str = "pinned") -> str:
    """The compose document for the stack at ``web_version``.

    ``db_placement`` pins the database to the labelled node, or lets Swarm
    move it to any worker, away from its node-local data.
    """
    return Template(COMPOSE_TEMPLATE.read_text()).substitute(
        registry=NODE_REGISTRY, web_version=web_version, web_replicas=replicas,
        db_constraint=DB_CONSTRAINTS[db_placement],
    )


def web_image(version: str) -> str:
    """The image reference nodes pull for a web version."""
    return f"{NODE_REGISTRY}/chaos/web:{version}"


def forget_image(nodes: Iterable[str], run_on: Callable[[str, list[str]], object], version: str) -> None:
    """Untag ``version`` on every node so that the upgrade must pull it from the registry."""
    for node in nodes:
        run_on(node, ["docker", "image", "rm", "-f", web_image(version)])


def probe(lb_url: str, timeout: float = 1.0) -> str | None:
    """The version that answered ``GET /`` through the load balancer, or None."""
    try:
        with urllib.request.urlopen(f"{lb_url}/", timeout=timeout) as response:
            return response.headers.get("X-App-Version") if response.status == 200 else None
    except OSError:
        return None


def deploy_and_wait(engine: SwarmEngine, lb_url: str, spec: Stack, timeout: float = 180) -> None:
    """Converge the stack on ``spec.from_version`` with web tasks spread over the nodes, serving through the LB."""
    version, replicas = spec.from_version, spec.replicas
    engine.deploy_stack(STACK_NAME, render(version, replicas, spec.db_placement))
    wait_until(lambda: _settled_on(engine.service(WEB_SERVICE), version), timeout=timeout,
               what=f"{replicas} web tasks running {version}", interval=1.0)
    if not _spread(engine.service(WEB_SERVICE), ready_nodes=len([n for n in engine.nodes() if n.state == "ready"])):
        engine.force_redistribute(WEB_SERVICE)
        wait_until(lambda: _settled_and_spread(engine, version), timeout=timeout,
                   what="web tasks spread over the nodes again", interval=1.0)
    wait_until(lambda: all(probe(lb_url) == version for _ in range(10)), timeout=60,
               what=f"the load balancer at {lb_url} serving {version} on every request", interval=1.0)


def _spread(snapshot: ServiceSnapshot, ready_nodes: int) -> bool:
    """No node has a second web task while another ready node has none."""
    per_node = Counter(t.node for t in snapshot.running())
    return len(per_node) >= min(ready_nodes, snapshot.replicas)


def _settled_and_spread(engine: SwarmEngine, version: str) -> bool:
    snapshot = engine.service(WEB_SERVICE)
    ready = len([n for n in engine.nodes() if n.state == "ready"])
    return _settled_on(snapshot, version) and _spread(snapshot, ready)


def _settled_on(snapshot: ServiceSnapshot, version: str) -> bool:
    return snapshot.settled and snapshot.converged_on(version)
