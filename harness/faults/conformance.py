"""Exercise one fault on the real cluster: inject, see its symptom, heal, see the cluster healthy.

Shared by the conformance test (which asserts) and the fault benchmark
(which prints the timings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.app import App
from harness.cluster import Cluster
from harness.faults import registry
from harness.faults.base import FaultContext
from harness.faults.symptoms import SYMPTOMS, packets_dropped
from harness.scenario.model import Stack
from harness.stack import AppStack, router
from harness.stack.from_spec import stack_for
from harness.stack.prepare import deploy_and_wait
from harness.waiting import wait_until

# Parameters for each built-in fault in the conformance run (others use their defaults).
CONFORMANCE_PARAMS: dict[str, dict[str, Any]] = {
    "overlay-drop": {"peers": ["node1"]},
    "packet-loss": {"probability": 0.5},
    "registry-toxic": {"mode": "down"},
}


ON_LB_NODE = {"lb-maintenance", "lb-blackhole"}  # faults that act on the load balancer's node, whatever the target


@dataclass(frozen=True)
class Trial:
    """What one fault did: whether it held and healed, and how long each step took."""

    kind: str
    target: str
    symptom_before: bool  # must be False: a symptom that shows without the fault proves nothing
    held_after_inject: bool
    inject_took: float  # seconds the fault's own inject took (the harness's side)
    effect_after: float  # seconds from the start of inject to the symptom
    heal_took: float
    held_after_heal: bool
    healthy_after: float  # seconds from heal to a healthy cluster


def exercise(cluster: Cluster, app: App, kind: str, target: str, effect_timeout: float = 60) -> Trial:
    """Run one fault through its whole life on ``target`` (the load balancer's node for the faults that act
    there) with ``app`` deployed; raise WaitTimeout if a step never happens."""
    target = cluster.state.manager if kind in ON_LB_NODE else target
    app.push(cluster.push_image)
    stack = stack_for(cluster, app, Stack())
    deploy_and_wait(cluster.engine, router(cluster.state.lb_admin), stack)
    symptom = SYMPTOMS[kind]
    ctx = FaultContext(cluster, stack.services()[0])
    fault = registry.create(kind, CONFORMANCE_PARAMS.get(kind, {}), target)
    symptom_before = symptom(ctx, target, time.time())
    injected = time.time()
    fault.inject(ctx)
    inject_took = time.time() - injected
    try:
        held = fault.verify(ctx)
        wait_until(lambda: symptom(ctx, target, injected), timeout=effect_timeout,
                   what=f"the symptom of {kind} on {target}", interval=0.25)
        effect_after = time.time() - injected
    finally:
        heal_started = time.time()
        fault.heal(ctx)
        heal_took = time.time() - heal_started
    held_after_heal = fault.verify(ctx)
    wait_until(lambda: _healthy(ctx, stack, target), timeout=120, what=f"the cluster healthy after {kind}",
               interval=1.0)
    return Trial(kind, target, symptom_before, held, inject_took, effect_after, heal_took, held_after_heal,
                 time.time() - heal_started - heal_took)


def _healthy(ctx: FaultContext, stack: AppStack, target: str) -> bool:
    """Every node Ready, the upgraded service at its desired count, and no harness firewall rule dropping packets."""
    engine = ctx.cluster.engine
    nodes_ready = all(n.state == "ready" for n in engine.nodes())
    upgraded = engine.service(stack.services()[0])
    return nodes_ready and len(upgraded.running()) == upgraded.replicas and not packets_dropped(ctx, target, time.time())


def built_in_faults() -> list[str]:
    """Every registered fault, sorted."""
    return sorted(registry.available())
