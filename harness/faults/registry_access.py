"""Registry faults: TCP faults through the Toxiproxy in front of it, and rotated credentials."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from harness.cluster.registry import REGISTRY_ALIAS, SECURE_ALIAS
from harness.faults.base import BaseFault, FaultContext, FaultParams, NoParams, Problem

if TYPE_CHECKING:
    from harness.scenario.model import FaultSpec, Scenario

TOXIC_NAME = "chaos-harness"
DAY_MS = 24 * 3600 * 1000
MODE_PARAMS = {"down": (), "timeout": ("timeout_ms",), "latency": ("latency_ms", "jitter_ms"),
               "bandwidth": ("rate_kbps",)}


class RegistryToxicParams(FaultParams):
    mode: Literal["down", "timeout", "latency", "bandwidth"] = "down"
    latency_ms: int = Field(3000, ge=0, le=DAY_MS, description="latency mode: added delay")
    jitter_ms: int = Field(0, ge=0, le=DAY_MS, description="latency mode: random extra delay")
    rate_kbps: int = Field(16, ge=1, le=10_000_000, description="bandwidth mode: KB/s")
    timeout_ms: int = Field(0, ge=0, le=DAY_MS, description="timeout mode: close after this; 0 = hold forever")


class RegistryToxic(BaseFault):
    """Every node's pulls meet the toxic: refused (down), stalled (timeout), slow, or starved."""

    name = "registry-toxic"
    needs = frozenset({"registry"})
    description = "Toxiproxy between nodes and registry: down, timeout, latency or bandwidth (all nodes)."
    Params = RegistryToxicParams
    params: RegistryToxicParams

    def inject(self, ctx: FaultContext) -> None:
        proxy = ctx.cluster.registry_proxy()
        if self.params.mode == "down":
            proxy.disable()
            return
        attributes = {
            "timeout": {"timeout": self.params.timeout_ms},
            "latency": {"latency": self.params.latency_ms, "jitter": self.params.jitter_ms},
            "bandwidth": {"rate": self.params.rate_kbps},
        }[self.params.mode]
        proxy.add_toxic(name=TOXIC_NAME, type=self.params.mode, stream="downstream", attributes=attributes)

    def heal(self, ctx: FaultContext) -> None:
        proxy = ctx.cluster.registry_proxy()
        if TOXIC_NAME in proxy.toxics():
            proxy.destroy_toxic(TOXIC_NAME)
        if not proxy.enabled:
            proxy.enable()

    def verify(self, ctx: FaultContext) -> bool:
        proxy = ctx.cluster.registry_proxy()
        return not proxy.enabled if self.params.mode == "down" else TOXIC_NAME in proxy.toxics()

    @classmethod
    def check_scenario(cls, params: RegistryToxicParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """The stack must pull through the proxy; every parameter given must be one the mode reads."""
        problems = [Problem(("params", key), getattr(params, key),
                            f"only mode {_mode_of(key)} reads {key}; this fault's mode is {params.mode}")
                    for key in sorted(params.model_fields_set - {"mode", *MODE_PARAMS[params.mode]})]
        if params.mode == "latency" and params.latency_ms == params.jitter_ms == 0:
            problems.append(Problem(("params", "latency_ms"), 0, "with jitter_ms 0 too, the latency mode adds "
                                                                 "no delay; give latency_ms above 0"))
        if scenario.stack.registry != "open":
            problems.append(Problem(("kind",), cls.name, f"the proxy stands in front of {REGISTRY_ALIAS} only, and "
                                                         f"stack.registry: authenticated pulls from {SECURE_ALIAS}; "
                                                         "set stack.registry: open"))
        return problems

    @classmethod
    def check_cluster(cls, params: RegistryToxicParams, ctx: FaultContext) -> list[Problem]:
        """The proxy must exist (``registry_proxy`` raises EnvironmentProblem when it does not)."""
        ctx.cluster.registry_proxy()
        return []


def _mode_of(key: str) -> str:
    return next(mode for mode, keys in MODE_PARAMS.items() if key in keys)


class RegistryAuthFailure(BaseFault):
    """The registry's password is rotated: the credentials the cluster holds are refused."""

    name = "registry-auth"
    needs = frozenset({"shell", "registry"})  # the nodes' login is checked on a node
    description = ("The authenticated registry's password is rotated: pulls with the cluster's credentials "
                   "fail (unauthorized). Scenarios must pull from it (stack.registry: authenticated).")
    Params = NoParams

    def inject(self, ctx: FaultContext) -> None:
        ctx.cluster.secure_registry().accept_password(secrets.token_urlsafe(18))

    def heal(self, ctx: FaultContext) -> None:
        """Put the cluster's password back, unless it is accepted already (healed, or never rotated)."""
        registry = ctx.cluster.secure_registry()
        if not registry.accepts(registry.auth()):
            registry.accept_password(registry.auth().password)

    def verify(self, ctx: FaultContext) -> bool:
        registry = ctx.cluster.secure_registry()
        return not registry.accepts(registry.auth())

    @classmethod
    def check_scenario(cls, params: NoParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """The stack must pull from the registry whose password is rotated."""
        if scenario.stack.registry == "authenticated":
            return []
        return [Problem(("kind",), cls.name, "this rotates the password of the authenticated registry, and "
                                             "stack.registry: open pulls anonymously from another one; "
                                             "set stack.registry: authenticated")]
