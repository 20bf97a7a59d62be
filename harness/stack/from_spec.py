"""A scenario's ``stack:`` options made into the app stack on the cluster (shared by runs, checks and faults)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.app.profile import Profile
from harness.errors import EnvironmentProblem, ProfileError
from harness.stack import AppStack
from harness.stack.compose import StackOptions

if TYPE_CHECKING:
    from harness.app import App
    from harness.cluster import Cluster
    from harness.scenario import Stack as StackSpec


def stack_for(cluster: Cluster, app: App, spec: StackSpec, server_timeout: float = 2.0,
              upgraded: bool = True, switch: bool = False) -> AppStack:
    """The app on the cluster, as a scenario's stack options deploy it (its images pushed: ``App.push``), in the
    form the engine prefers of those the profile gives; without ``upgraded``, from and to its old release; with
    ``switch``, for service-switch (its load balancer reaches the live Service on every node)."""
    profile = app.profile
    registry = cluster.pull_registry(spec.registry)
    options = StackOptions(registry=registry, replicas=spec.replicas, stateful_placement=spec.stateful_placement,
                           entry_readiness=spec.readiness == "entry-health",
                           lb_image=cluster.lb_image(registry), server_timeout=server_timeout,
                           discovery=cluster.engine.discovery, form=form_for(profile, cluster.engine.forms),
                           switch_nodes=tuple(cluster.node_addresses().items()) if switch else ())
    old = profile.release_name(spec.from_release)
    return AppStack(profile, options, cluster.lb_url, old, profile.release_name(spec.to_release) if upgraded else old)


def form_for(profile: Profile, forms: tuple[str, ...], engine: str = "this engine") -> str:
    """The first of the engine's ``forms`` the profile gives; ProfileError when it gives none of them."""
    for form in forms:
        if form == "kubernetes" and form in profile.forms and profile.unrendered:
            raise EnvironmentProblem(profile.unrendered)
        if form in profile.forms:
            return form
    raise ProfileError(f"{profile.path}: the profile gives the app as {' and '.join(profile.forms)}; {engine} "
                       f"deploys {' or '.join(forms)}: add {forms[0]}: to the profile, or choose the other engine "
                       "(--engine)")
