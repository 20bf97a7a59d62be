"""Faults aimed at the workload on a node: a host port taken, a killed task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from harness.cluster.config import LB_PORTS
from harness.faults.base import BaseFault, FaultContext, FaultParams, Problem
from harness.faults.nodeshell import run
from harness.models import Duration
from harness.waiting import wait_until

if TYPE_CHECKING:
    from harness.scenario.model import FaultSpec, Scenario

SWARM_PORTS = {2377: "Swarm's cluster management", 7946: "Swarm's node gossip", 4789: "Swarm's overlay (VXLAN)"}
KUBERNETES_PORTS = {6443: "Kubernetes' API server", 2379: "etcd's client port", 2380: "etcd's peer port",
                    10250: "the kubelet's API", 10256: "kube-proxy's health check"}


class PortConflictParams(FaultParams):
    port: int = Field(8081, ge=1024, le=65535, description="host port the update will want on the node (from 1024: "
                                                           "lower ports are the node's own services, such as SSH)")

    @field_validator("port")
    @classmethod
    def _not_the_clusters_own(cls, port: int) -> int:
        lb_ports = {number: f"the load balancer's {name} port" for name, number in LB_PORTS.items()}
        taken = {**SWARM_PORTS, **KUBERNETES_PORTS, **lb_ports}
        if port in taken:
            raise ValueError(f"{port} is {taken[port]}: squatting it breaks the cluster, not the upgrade; give the "
                             "port the new release publishes (stack.publish_on_upgrade)")
        return port


class PortConflict(BaseFault):
    """A host port the update will publish is taken on the node before the update places a task there, the engine's
    way (``Engine.hold_port``): on Swarm a process binds it and tasks there fail with "address already in use"; on
    Kubernetes, where a hostPort is iptables rules that a bound socket conflicts with nothing, a pod holds it as
    its hostPort and the pods that want it there stay Pending ("didn't have free ports")."""

    name = "port-conflict"
    needs = frozenset()  # a pod of the harness's holds the port (Swarm: a task)
    description = "A published host port is taken on the node: tasks there that publish it cannot run."
    Params = PortConflictParams
    params: PortConflictParams

    @classmethod
    def check_scenario(cls, params: PortConflictParams, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """The port taken is the one the new release publishes: any other port conflicts with nothing."""
        published = scenario.stack.publish_on_upgrade
        if published == params.port:
            return []
        return [Problem(("params", "port"), params.port,
                        f"the upgrade publishes {published if published else 'no host port'} "
                        f"(stack.publish_on_upgrade), so squatting {params.port} conflicts with nothing; set "
                        f"stack.publish_on_upgrade: {params.port}, or give port: {published or 'that port'}")]

    def inject(self, ctx: FaultContext) -> None:
        port = self.params.port
        ctx.cluster.engine.hold_port(self.target, port)
        wait_until(lambda: self.verify(ctx), timeout=60, what=f"host port {port} of {self.target} held",
                   hint="Is the port already taken by something else?")

    def heal(self, ctx: FaultContext) -> None:
        ctx.cluster.engine.release_port(self.target, self.params.port)

    def verify(self, ctx: FaultContext) -> bool:
        return ctx.cluster.engine.port_holds(self.target).get(self.params.port, False)


class TaskKillParams(FaultParams):
    service: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
                                description="engine service whose task on the node is killed "
                                            "(default: the service being upgraded)")
    replace_timeout: Duration = Field(60.0, ge=1, description="seconds heal waits for the replacement (at least 1)")


class TaskKill(BaseFault):
    """One task container of the service on the node is killed (SIGKILL, ``NodeRuntime.kill``): Swarm replaces the
    task, Kubernetes' kubelet restarts the container in its pod."""

    name = "task-kill"
    description = "Kill one task container of a service on the node; heal waits until the engine has restarted it."
    Params = TaskKillParams
    params: TaskKillParams
    killed_task = ""  # set by inject; a fault rebuilt from the ledger only checks the task count
    killed_since = 0.0  # when the killed task had entered its state before the kill (epoch seconds)

    def inject(self, ctx: FaultContext) -> None:
        service = self._service(ctx)
        before = {t.id: t.timestamp for t in ctx.cluster.engine.service(service).tasks}
        output = run(ctx, self.target, ["sh", "-c", ctx.cluster.engine.runtime.kill, "kill", service],
                     f"kill a task of {service}").split()
        self.killed_task = output[-1] if output else ""
        self.killed_since = before.get(self.killed_task, 0.0)

    def heal(self, ctx: FaultContext) -> None:
        if not self._service(ctx):
            return  # rebuilt from a ledger without knowing the service: the engine restarts the task by itself
        wait_until(lambda: not self.verify(ctx), timeout=self.params.replace_timeout,
                   what=f"{self._service(ctx)} back at its desired task count")

    def verify(self, ctx: FaultContext) -> bool:
        """The service runs fewer tasks than it should, or the killed task still shows as running since before the
        kill (the engine has not noticed yet; a container the kubelet restarted runs since after it)."""
        if not self._service(ctx):
            return False
        snapshot = ctx.cluster.engine.service(self._service(ctx))
        stale = any(t.id == self.killed_task and t.state == "running" and t.timestamp <= self.killed_since
                    for t in snapshot.tasks)
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
