"""Outages at the load balancer itself, on the node that runs it (target it with ``label: chaos.lb=true``).

    lb-maintenance  every server of both backends in maintenance through HAProxy's
                    runtime API: clients get 503 at once
    lb-blackhole    packets to the load balancer's port dropped before any address
                    translation: clients wait out their timeout

Both are also *timed outages* (``TimedOutage``): shell commands that start and
end them, which ``calibrate`` runs on the node in one script so that each edge
is stamped by the node's clock (the host's: containers share its kernel)
rather than guessed from the far side of an exec.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Protocol

from harness.cluster.config import LB_LABEL, LB_PORTS
from harness.errors import ClusterError
from harness.faults.base import BaseFault, FaultContext
from harness.faults.network import RuleFault
from harness.faults.nodeshell import Rule
from harness.stack.router import BACKENDS, Server, parse_servers

LB_TARGET = {"label": f"{LB_LABEL}=true"}
RUNTIME_API = ["socat", "-t", "2", "-", f"TCP:127.0.0.1:{LB_PORTS['admin']}"]


class TimedOutage(Protocol):
    """A fault whose start and end are each one shell command on its target node."""

    target: str

    def shell(self, ctx: FaultContext) -> tuple[str, str]:
        """The commands that start and end the outage."""
        ...


class LbMaintenance(BaseFault):
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

    def shell(self, ctx: FaultContext) -> tuple[str, str]:
        servers = self._servers(ctx, lambda s: s.resolved)
        return tuple(f"echo {shlex.quote(_set(servers, state))} | {shlex.join(RUNTIME_API)} >/dev/null"
                     for state in ("maint", "ready"))

    def _servers(self, ctx: FaultContext, wanted: Callable[[Server], bool]) -> list[Server]:
        """The servers of the harness's backends that are ``wanted``."""
        return [s for s in parse_servers(self._api(ctx, "show servers state")) if s.backend in BACKENDS and wanted(s)]

    def _api(self, ctx: FaultContext, commands: str) -> str:
        result = ctx.cluster.exec(self.target, RUNTIME_API, stdin=f"{commands}\n".encode())
        if not result.ok:
            raise ClusterError(f"HAProxy's runtime API on {self.target} did not answer `{commands[:80]}`: "
                               f"{result.output.strip()[-300:]} (is the load balancer on {self.target}? "
                               f"target it with label {LB_TARGET['label']})")
        return result.output


class LbBlackhole(RuleFault):
    """Packets to the load balancer's port are dropped: connections hang, requests wait out their timeout."""

    name = "lb-blackhole"
    description = "Drop every packet to the load balancer's port on its node: clients time out."

    def rules(self, ctx: FaultContext, strict: bool = False) -> list[Rule]:
        return [Rule("PREROUTING", ("-p", "tcp", "--dport", str(LB_PORTS["http"])), table="raw")]

    def shell(self, ctx: FaultContext) -> tuple[str, str]:
        rule = self.rules(ctx)[0]
        return shlex.join(rule.argv("-I")), shlex.join(rule.argv("-D"))


def _set(servers: list[Server], state: str) -> str:
    """One runtime API line that puts every server in ``state``."""
    return "; ".join(f"set server {s.slot} state {state}" for s in servers)
