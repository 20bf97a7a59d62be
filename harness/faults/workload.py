"""Faults aimed at the workload on a node: a squatted host port, a killed task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from harness.cluster.config import LB_PORTS
from harness.errors import ClusterError
from harness.faults.base import BaseFault, FaultContext, FaultParams, Problem
from harness.faults.nodeshell import process_state, run
from harness.models import Duration
from harness.waiting import wait_until

if TYPE_CHECKING:
    from harness.scenario.model import FaultSpec, Scenario

SQUATTER_PID_FILE = "/run/chaos-harness/port-{port}.pid"


SWARM_PORTS = {2377: "Swarm's cluster management", 7946: "Swarm's node gossip", 4789: "Swarm's overlay (VXLAN)"}


class PortConflictParams(FaultParams):
    port: int = Field(8081, ge=1024, le=65535, description="host port the update will want on the node (from 1024: "
                                                           "lower ports are the node's own services, such as SSH)")

    @field_validator("port")
    @classmethod
    def _not_the_clusters_own(cls, port: int) -> int:
        taken = {**SWARM_PORTS, **{number: f"the load balancer's {name} port" for name, number in LB_PORTS.items()}}
        if port in taken:
            raise ValueError(f"{port} is {taken[port]}: squatting it breaks the cluster, not the upgrade; give the "
                             "port the new release publishes (stack.publish_on_upgrade)")
        return port


class PortConflict(BaseFault):
    """Another process binds a host port on the node before the update places a task that publishes it."""

    name = "port-conflict"
    unsupported = {"kubernetes": "a hostPort there is iptables rules, not a bound socket, so a process on the port "
                                 "conflicts with nothing (a pod holding the hostPort would: not built yet)"}
    description = "A process squats a published host port on the node: tasks there fail with address in use."
    Params = PortConflictParams
    params: PortConflictParams

    @property
    def _pid_file(self) -> str:
        return SQUATTER_PID_FILE.format(port=self.params.port)

    @classmethod
    def check_scenario(cls, params: PortConflictParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """The squatted port is the one the new release publishes: any other port conflicts with nothing."""
        published = scenario.stack.publish_on_upgrade
        if published == params.port:
            return []
        return [Problem(("params", "port"), params.port,
                        f"the upgrade publishes {published if published else 'no host port'} "
                        f"(stack.publish_on_upgrade), so squatting {params.port} conflicts with nothing; set "
                        f"stack.publish_on_upgrade: {params.port}, or give port: {published or 'that port'}")]

    def inject(self, ctx: FaultContext) -> None:
        port, pid_file = self.params.port, self._pid_file
        run(ctx, self.target, ["sh", "-c",
            f"mkdir -p $(dirname {pid_file}); "
            f"socat TCP-LISTEN:{port},bind=0.0.0.0,reuseaddr,fork EXEC:/bin/true >/dev/null 2>&1 & "
            f"echo $! > {pid_file}"], f"bind port {port}")
        wait_until(lambda: self.verify(ctx), timeout=10, what=f"a process listening on port {port} of {self.target}",
                   hint="Is the port already taken by something else?")

    def heal(self, ctx: FaultContext) -> None:
        pid = self._pid(ctx)
        if pid and process_state(ctx, self.target, pid):
            run(ctx, self.target, ["kill", pid], "stop the port squatter")
        ctx.cluster.exec(self.target, ["sh", "-c", 'rm -f "$1"; rmdir "$(dirname "$1")" 2>/dev/null; true', "heal",
                                       self._pid_file])

    def verify(self, ctx: FaultContext) -> bool:
        pid = self._pid(ctx)
        listening = ctx.cluster.exec(self.target, ["sh", "-c", f"ss -Hltn 'sport = :{self.params.port}' | grep -q ."])
        return bool(pid) and process_state(ctx, self.target, pid) not in ("", "Z") and listening.ok

    def _pid(self, ctx: FaultContext) -> str:
        result = ctx.cluster.exec(self.target, ["cat", self._pid_file])
        return result.output.strip() if result.ok else ""


class TaskKillParams(FaultParams):
    service: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
                                description="engine service whose task on the node is killed "
                                            "(default: the service being upgraded)")
    replace_timeout: Duration = Field(60.0, ge=1, description="seconds heal waits for the replacement (at least 1)")


class TaskKill(BaseFault):
    """One task container of the service on the node is killed (SIGKILL); Swarm replaces it."""

    name = "task-kill"
    unsupported = {"kubernetes": "it kills a task's container through Docker; the pod's container through "
                                 "containerd is not built yet"}
    description = "Kill one task container of a service on the node; heal waits until Swarm has replaced it."
    Params = TaskKillParams
    params: TaskKillParams
    killed_task = ""  # set by inject; a fault rebuilt from the ledger only checks the task count

    def inject(self, ctx: FaultContext) -> None:
        service = self._service(ctx)
        output = run(ctx, self.target, ["docker", "ps", "-q", "--filter",
                                        f"label=com.docker.swarm.service.name={service}"], "list task containers")
        if not output.split():
            raise ClusterError(f"no running task of {service} on {self.target} to kill")
        container = output.split()[0]
        self.killed_task = run(ctx, self.target, ["docker", "inspect", "-f",
                                                  '{{index .Config.Labels "com.docker.swarm.task.id"}}', container],
                               "find the task of a container").strip()
        run(ctx, self.target, ["docker", "kill", container], "kill a task container")

    def heal(self, ctx: FaultContext) -> None:
        if not self._service(ctx):
            return  # rebuilt from a ledger without knowing the service: Swarm replaces the task by itself
        wait_until(lambda: not self.verify(ctx), timeout=self.params.replace_timeout,
                   what=f"{self._service(ctx)} back at its desired task count")

    def verify(self, ctx: FaultContext) -> bool:
        """The service runs fewer tasks than it should, or the engine has not yet noticed the kill."""
        if not self._service(ctx):
            return False
        snapshot = ctx.cluster.engine.service(self._service(ctx))
        stale = any(t.id == self.killed_task and t.state == "running" for t in snapshot.tasks)
        return len(snapshot.running()) < snapshot.replicas or stale

    def _service(self, ctx: FaultContext) -> str:
        return self.params.service or ctx.upgraded

    @classmethod
    def check_cluster(cls, params: TaskKillParams, ctx: FaultContext) -> list[Problem]:
        """A named service must be one the run deploys."""
        if params.service is None or not ctx.services or params.service in ctx.services:
            return []
        return [Problem(("params", "service"), params.service,
                        f"the run deploys no such service; its services: {', '.join(ctx.services)}")]
