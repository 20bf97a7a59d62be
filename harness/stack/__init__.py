"""The default stack under test (web, db, lb) and getting it to a known state."""

from __future__ import annotations

import shlex
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

from harness.cluster.config import ClusterState
from harness.cluster.registry import NODE_REGISTRY, SECURE_REGISTRY
from harness.engine.base import RegistryAuth, ServiceSnapshot
from harness.engine.swarm import SwarmEngine
from harness.errors import HarnessError
from harness.scenario import Stack
from harness.stack.router import PREVIEW_HEADER, Router
from harness.waiting import wait_until

STACK_NAME = "chaos"
COMPOSE_TEMPLATE = Path(__file__).with_name("stack.yml")


@dataclass(frozen=True)
class WebStack:
    """One of the two web stacks a blue-green upgrade moves between, and its LB backend."""

    backend: str
    stack: str

    @property
    def service(self) -> str:
        return f"{self.stack}_web"


BLUE = WebStack("blue", STACK_NAME)  # the stack with db and lb; its web serves unless a switch moved traffic
GREEN = WebStack("green", f"{STACK_NAME}-green")  # web only, beside blue, on blue's network

DB_SERVICE = f"{STACK_NAME}_db"
LB_SERVICE = f"{STACK_NAME}_lb"
DB_CONSTRAINTS = {"pinned": "node.labels.chaos.db == true", "floating": "node.role == worker"}


REGISTRIES = {"open": NODE_REGISTRY, "authenticated": SECURE_REGISTRY}


def render(spec: Stack, web_version: str) -> str:
    """The compose document for the stack with web at ``web_version``.

    ``spec.db_placement`` pins the database to the labelled node, or lets
    Swarm move it to any worker, away from its node-local data.
    """
    return Template(COMPOSE_TEMPLATE.read_text()).substitute(
        registry=REGISTRIES[spec.registry], web_version=web_version, web_replicas=spec.replicas,
        db_constraint=DB_CONSTRAINTS[spec.db_placement],
    )


def render_green(spec: Stack, web_version: str) -> str:
    """The green stack: blue's web service at ``web_version``, on blue's network so it reaches the db.

    ``spec.publish_on_upgrade`` publishes the new version's port on the hosts, as for in-service.
    """
    web = yaml.safe_load(render(spec, web_version))["services"]["web"]
    web["networks"] = ["live"]
    if spec.publish_on_upgrade is not None:
        web["ports"] = [{"target": 8080, "published": spec.publish_on_upgrade, "protocol": "tcp", "mode": "host"}]
    return yaml.safe_dump({"version": "3.8", "services": {"web": web},
                           "networks": {"live": {"external": True, "name": f"{STACK_NAME}_default"}}})


def router(state: ClusterState) -> Router:
    """The runtime API of the cluster's load balancer."""
    return Router(state.lb_admin_port)


def web_image(spec: Stack, version: str) -> str:
    """The image reference nodes pull for a web version."""
    return f"{REGISTRIES[spec.registry]}/chaos/web:{version}"


def forget_image(nodes: Iterable[str], run_on: Callable[[str, list[str]], object], image: str) -> None:
    """Delete ``image`` on every node so that the upgrade must pull it from the registry.

    Exited task containers are pruned first: while one still uses the image,
    removing the tag leaves the image (and its digest) behind, and a deploy
    that pins the digest (``docker stack deploy``) would start without a pull.
    """
    for node in nodes:
        run_on(node, ["sh", "-c", f"docker container prune -f >/dev/null; docker image rm -f {shlex.quote(image)}"])


def probe(lb_url: str, timeout: float = 1.0, preview: bool = False) -> str | None:
    """The version that answered ``GET /`` through the load balancer (its preview route), or None."""
    request = urllib.request.Request(f"{lb_url}/", headers=PREVIEW_HEADER if preview else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.headers.get("X-App-Version") if response.status == 200 else None
    except OSError:
        return None


def deploy_and_wait(engine: SwarmEngine, state: ClusterState, spec: Stack, auth: RegistryAuth | None = None,
                    timeout: float = 180) -> None:
    """Converge blue on ``spec.from_version``, web tasks spread over the nodes, live through the LB; no green.

    This is every run's starting point, whatever the run before it left.
    """
    version, replicas, lb_url = spec.from_version, spec.replicas, state.lb_url
    # A node healed by the run before may still be on its way back; starting
    # without it would skew where tasks land and what the run measures.
    wait_until(lambda: all(n.state == "ready" for n in engine.nodes()), timeout=120,
               what="every cluster node Ready in Swarm", interval=1.0,
               hint="A node did not come back from an earlier fault: `chaos-harness down` and up again.")
    engine.deploy_stack(STACK_NAME, render(spec, version), auth)
    wait_until(lambda: router(state).routes(), timeout=60, what="the load balancer's runtime API", interval=1.0)
    router(state).route(BLUE.backend)
    engine.remove_stack(GREEN.stack)
    wait_until(lambda: _settled_on(engine.service(BLUE.service), version), timeout=timeout,
               what=f"{replicas} web tasks running {version}", interval=1.0)
    if not _spread(engine.service(BLUE.service), ready_nodes=len([n for n in engine.nodes() if n.state == "ready"])):
        engine.force_redistribute(BLUE.service)
        wait_until(lambda: _settled_and_spread(engine, version), timeout=timeout,
                   what="web tasks spread over the nodes again", interval=1.0)
    wait_until(lambda: all(probe(lb_url) == version for _ in range(10)), timeout=60,
               what=f"the load balancer at {lb_url} serving {version} on every request", interval=1.0)
    if not _writes_work(lb_url):
        # Seen after faults: the overlay path from other nodes to the db goes stale
        # while the db's own node still reaches it. Restarting the tasks renews it.
        for service in (DB_SERVICE, BLUE.service):
            engine.force_redistribute(service)
        wait_until(lambda: _settled_and_spread(engine, version) and _writes_work(lb_url), timeout=timeout,
                   what="writes through the load balancer to work on every web task", interval=2.0,
                   hint="The cluster may be degraded by earlier faults: `chaos-harness down` and up again.")


def _writes_work(lb_url: str, attempts: int = 12) -> bool:
    """Every one of ``attempts`` probe writes through the LB is acknowledged (round robin covers each task)."""
    for _ in range(attempts):
        request = urllib.request.Request(f"{lb_url}/write?id=probe-{uuid.uuid4().hex}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status != 201:
                    return False
        except OSError:
            return False
    return True


def _spread(snapshot: ServiceSnapshot, ready_nodes: int) -> bool:
    """No node has a second web task while another ready node has none."""
    per_node = Counter(t.node for t in snapshot.running())
    return len(per_node) >= min(ready_nodes, snapshot.replicas)


def _settled_and_spread(engine: SwarmEngine, version: str) -> bool:
    snapshot = engine.service(BLUE.service)
    ready = len([n for n in engine.nodes() if n.state == "ready"])
    return _settled_on(snapshot, version) and _spread(snapshot, ready)


def _settled_on(snapshot: ServiceSnapshot, version: str) -> bool:
    return snapshot.settled and snapshot.converged_on(version)


_CENSUS = r"""
for d in /proc/[0-9]*; do
  grep -qa /app/app.py "$d/cmdline" 2>/dev/null || continue
  env=$(tr '\0' '\n' < "$d/environ" 2>/dev/null) || continue
  case "$env" in *"TASK_NAME=$1."*) printf '%s\n' "$env" | sed -n 's/^APP_VERSION=//p' ;; esac
done
"""


def census(run_on: Callable[[str, list[str]], object], nodes: Iterable[str], service: str) -> dict[str, dict | None]:
    """Web versions each node really runs for ``service``, read from its processes, not from the engine.

    A frozen engine cannot report or stop its containers; the processes still
    tell. A node that cannot be asked (halted) maps to None.
    """
    found: dict[str, dict | None] = {}
    for node in nodes:
        try:
            result = run_on(node, ["sh", "-c", _CENSUS, "census", service])
        except HarnessError:
            found[node] = None
            continue
        found[node] = dict(Counter(result.output.split())) if result.ok else None
    return found
