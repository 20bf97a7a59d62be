"""Registry faults: TCP faults through the Toxiproxy in front of it, and rotated credentials."""

from __future__ import annotations

import secrets
from typing import Literal

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams, NoParams

TOXIC_NAME = "chaos-harness"


class RegistryToxicParams(FaultParams):
    mode: Literal["down", "timeout", "latency", "bandwidth"] = "down"
    latency_ms: int = Field(3000, ge=0, description="latency mode: added delay")
    jitter_ms: int = Field(0, ge=0, description="latency mode: random extra delay")
    rate_kbps: int = Field(16, ge=1, description="bandwidth mode: KB/s")
    timeout_ms: int = Field(0, ge=0, description="timeout mode: close after this; 0 = hold forever")


class RegistryToxic(BaseFault):
    """Every node's pulls meet the toxic: refused (down), stalled (timeout), slow, or starved."""

    name = "registry-toxic"
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


class RegistryAuthFailure(BaseFault):
    """The registry's password is rotated: the credentials the cluster holds are refused."""

    name = "registry-auth"
    description = ("The authenticated registry's password is rotated: pulls with the cluster's credentials "
                   "fail (unauthorized). Scenarios must pull from it (stack.registry: authenticated).")
    Params = NoParams

    def inject(self, ctx: FaultContext) -> None:
        ctx.cluster.secure_registry().accept_password(secrets.token_urlsafe(18))

    def heal(self, ctx: FaultContext) -> None:
        registry = ctx.cluster.secure_registry()
        registry.accept_password(registry.auth().password)

    def verify(self, ctx: FaultContext) -> bool:
        registry = ctx.cluster.secure_registry()
        return not registry.accepts(registry.auth())
