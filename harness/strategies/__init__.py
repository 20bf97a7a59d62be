"""Upgrade strategies: how a stack moves from one release to the next, and back."""

from __future__ import annotations

from harness.cluster import Cluster
from harness.engine.base import RegistryAuth
from harness.scenario import STRATEGIES, Scenario
from harness.stack import BLUE, AppStack, router
from harness.stack.compose import LIVE_NODE_PORT
from harness.strategies.base import UpgradeStrategy
from harness.strategies.blue_green import BlueGreenUpgrade
from harness.strategies.in_service import InServiceUpgrade
from harness.strategies.service_switch import ConnectionTrace, ServiceSwitchUpgrade

__all__ = ["STRATEGIES", "UpgradeStrategy", "build"]


def build(scenario: Scenario, cluster: Cluster, stack: AppStack, auth: RegistryAuth | None) -> UpgradeStrategy:
    """The strategy the scenario names (its kind must be resolved: see ``Scenario.under``)."""
    config, publish = scenario.strategy, scenario.stack.publish_on_upgrade
    if config.kind == "blue-green":
        return BlueGreenUpgrade(cluster.engine, router(cluster.state.lb_admin), stack, auth,
                                config.policy(), publish)
    if config.kind == "service-switch":
        trace = ConnectionTrace(cluster.exec, stack.options.switch_nodes, LIVE_NODE_PORT, longest(scenario))
        engine = cluster.engine  # a KubernetesEngine: check_fit refuses the strategy elsewhere before it acts
        return ServiceSwitchUpgrade(engine, router(cluster.state.lb_admin), stack, auth,  # type: ignore[arg-type]
                                    config.policy(), publish, trace)
    if config.kind == "in-service":
        images = {BLUE.service(s): stack.image(s, stack.new) for s in (stack.entry, *stack.upgraded)}
        return InServiceUpgrade(cluster.engine, images, stack.old, stack.new, config.policy(),
                                (publish, stack.profile.model.entry.port) if publish else None, auth)
    raise ValueError(f"scenario {scenario.name} has no strategy kind; resolve it with Scenario.under()")


def longest(scenario: Scenario) -> float:
    """Seconds a run of ``scenario`` may last at most, with room: what the harness starts on a node for the run
    ends by itself after that."""
    phases, strategy = scenario.phases, scenario.strategy
    return phases.warmup + phases.observe + 2 * strategy.timeout + (strategy.rollback_after or 0.0) + 900
