"""Halt a node mid-upgrade, gracefully or forced; heal by bringing it back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams
from harness.models import Duration
from harness.waiting import wait_until


class NodeHaltParams(FaultParams):
    mode: Literal["graceful", "forced"] = "graceful"
    rejoin_timeout: Duration = Field(90.0, ge=1, description="seconds heal waits for the node to be Ready again "
                                                             "(at least 1)")


class NodeHalt(BaseFault):
    """The node stops (its engine with it); Swarm marks it Down and reschedules its tasks."""

    name = "node-halt"
    description = "Halt a node (graceful or forced); heal brings it back and waits until Swarm has it Ready."
    Params = NodeHaltParams
    params: NodeHaltParams

    @classmethod
    def check_node(cls, params: NodeHaltParams, node: str, ctx: FaultContext) -> str | None:
        """A node the harness cannot start again is no target (a real host without power commands).

        The target is chosen among the other nodes only; a run whose target
        leaves none is refused before it starts.
        """
        if ctx.cluster.can_power_cycle(node):
            return None
        return "the inventory gives it no power_off and power_on, and a halted host must be started again"

    def inject(self, ctx: FaultContext) -> None:
        ctx.cluster.halt_node(self.target, force=self.params.mode == "forced")

    def heal(self, ctx: FaultContext) -> None:
        if ctx.cluster.node_states().get(self.target) != "running":
            ctx.cluster.start_node(self.target)
        wait_until(
            lambda: any(n.hostname == self.target and n.state == "ready" for n in ctx.cluster.engine.nodes()),
            timeout=self.params.rejoin_timeout,
            what=f"{self.target} Ready in the swarm again",
        )

    def verify(self, ctx: FaultContext) -> bool:
        return ctx.cluster.node_states().get(self.target) == "stopped"
