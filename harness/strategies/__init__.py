"""Upgrade strategies: how a stack moves from one version to the next, and back."""

from __future__ import annotations

from harness import stack
from harness.cluster import Cluster
from harness.engine.base import RegistryAuth
from harness.scenario import STRATEGIES, Scenario
from harness.strategies.base import UpgradeStrategy
from harness.strategies.blue_green import BlueGreenUpgrade
from harness.strategies.in_service import InServiceUpgrade

__all__ = ["STRATEGIES", "UpgradeStrategy", "build"]


def build(scenario: Scenario, cluster: Cluster, auth: RegistryAuth | None) -> UpgradeStrategy:
    """The strategy the scenario names (its kind must be resolved: see ``Scenario.under``)."""
    spec, config = scenario.stack, scenario.strategy
    if config.kind == "blue-green":
        return BlueGreenUpgrade(cluster.engine, stack.router(cluster.state), cluster.lb_url, spec, auth,
                                config.update_config.policy())
    if config.kind == "in-service":
        return InServiceUpgrade(cluster.engine, stack.BLUE.service, spec.from_version, spec.to_version,
                                stack.web_image(spec, spec.to_version), config.update_config.policy(),
                                spec.publish_on_upgrade, auth)
    raise ValueError(f"scenario {scenario.name} has no strategy kind; resolve it with Scenario.under()")
