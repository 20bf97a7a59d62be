"""A scenario's ``stack:`` options made into the app stack on the cluster (shared by runs, checks and faults)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.cluster.registry import NODE_REGISTRY, SECURE_REGISTRY
from harness.stack import AppStack
from harness.stack.compose import StackOptions

if TYPE_CHECKING:
    from harness.app import App
    from harness.cluster import Cluster
    from harness.scenario import Stack as StackSpec

REGISTRIES = {"open": NODE_REGISTRY, "authenticated": SECURE_REGISTRY}


def stack_for(cluster: Cluster, app: App, spec: StackSpec, server_timeout: float = 2.0) -> AppStack:
    """The app on the cluster, as a scenario's stack options deploy it (its images pushed: ``App.push``)."""
    profile = app.profile
    return AppStack(profile, options_for(cluster, spec, server_timeout), cluster.lb_url,
                    profile.release_name(spec.from_release), profile.release_name(spec.to_release))


def options_for(cluster: Cluster, spec: StackSpec, server_timeout: float = 2.0) -> StackOptions:
    """How a scenario's stack options deploy any app on the cluster."""
    registry = REGISTRIES[spec.registry]
    return StackOptions(registry=registry, replicas=spec.replicas, stateful_placement=spec.stateful_placement,
                        lb_image=cluster.lb_image(registry), server_timeout=server_timeout,
                        discovery=cluster.engine.discovery)
