"""Registry faults through the real Toxiproxy server between the nodes and the registry."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.faults.base import BaseFault, FaultContext

TOXIC_NAME = "chaos-harness"


class RegistryToxicParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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
