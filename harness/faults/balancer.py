"""Outages at the load balancer itself, on the node that runs it (target it with ``label: chaos.lb=true``).

    lb-maintenance  every server of both backends in maintenance through HAProxy's
                    runtime API: clients get 503 at once
    lb-blackhole    packets to the load balancer's port dropped before any address
                    translation: clients wait out their timeout

lb-blackhole also gives its start and end as shell commands (``shell``),
which ``calibrate`` runs on the node in one script so that each edge is
stamped by the node's clock (the host's: containers share its kernel) rather
than guessed from the far side of an exec. (Calibration's refusals flip the
load balancer's route from the harness's own process instead.)
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.cluster.config import LB_LABEL, LB_PORTS
from harness.errors import ClusterError
from harness.faults.base import BaseFault, FaultContext, FaultParams, Problem
from harness.faults.network import RuleFault
from harness.faults.nodeshell import Rule
from harness.stack.router import BACKENDS, Server, parse_servers

if TYPE_CHECKING:
    from harness.scenario.model import FaultSpec, Scenario

LB_TARGET = f"{LB_LABEL}=true"  # the label of the node the load balancer runs on
RUNTIME_API = ["socat", "-t", "2", "-", f"TCP:127.0.0.1:{LB_PORTS['admin']}"]


class _OnBalancerNode(BaseFault):
    """A fault that only works on the node the load balancer runs on."""

    @classmethod
    def check_scenario(cls, params: FaultParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """The target must be the load balancer's node (its label, the manager, or a node named)."""
        target = spec.target
        if target.label == LB_TARGET or target.role == "manager" or target.node is not None:
            return []
        return [Problem(("target",), target.model_dump(exclude_none=True),
                        f"{cls.name} acts on the load balancer's node; target it with label: {LB_TARGET}")]


class LbMaintenance(_OnBalancerNode):
    """Every server of the load balancer in maintenance: it answers every request with 503 at once."""

    name = "lb-maintenance"
    description = "Every load balancer server in maintenance (HAProxy runtime API): clients get 503 at once."

    def inject(self, ctx: FaultContext) -> None:
        self._api(ctx, _set(self._servers(ctx, lambda s: s.resolved), "maint"))

    def heal(self, ctx: FaultContext) -> None:
        if servers := self._servers(ctx, lambda s: s.maintenance):
            self._api(ctx, _set(servers, "ready"))

    def verify(self, ctx: FaultContext) -> bool:
        resolved = self._servers(ctx, lambda s: s.resolved)
        return bool(resolved) and all(s.maintenance for s in resolved)

    def _servers(self, ctx: FaultContext, wanted: Callable[[Server], bool]) -> list[Server]:
        """The servers of the harness's backends that are ``wanted``."""
        return [s for s in parse_servers(self._api(ctx, "show servers state")) if s.backend in BACKENDS and wanted(s)]

    def _api(self, ctx: FaultContext, commands: str) -> str:
        result = ctx.cluster.exec(self.target, RUNTIME_API, stdin=f"{commands}\n".encode())
        if not result.ok:
            raise ClusterError(f"HAProxy's runtime API on {self.target} did not answer `{commands[:80]}`: "
                               f"{result.output.strip()[-300:]} (is the load balancer on {self.target}? "
                               f"target it with label {LB_TARGET})")
        return result.output


class LbBlackhole(RuleFault, _OnBalancerNode):
    """Packets to the load balancer's port are dropped: connections hang, requests wait out their timeout."""

    name = "lb-blackhole"
    description = "Drop every packet to the load balancer's port on its node: clients time out."

    def rules(self, ctx: FaultContext, strict: bool = False) -> list[Rule]:
        port = ctx.cluster.state.lb_ports["http"]  # a NodePort is translated after raw PREROUTING: its own number
        return [Rule("PREROUTING", ("-p", "tcp", "--dport", str(port)), table="raw")]

    def shell(self, ctx: FaultContext) -> tuple[str, str]:
        """The commands that start and end the outage."""
        rule = self.rules(ctx)[0]
        return shlex.join(rule.argv("-I")), shlex.join(rule.argv("-D"))


def _set(servers: list[Server], state: str) -> str:
    """One runtime API line that puts every server in ``state``."""
    return "; ".join(f"set server {s.slot} state {state}" for s in servers)
