"""Faults of the node's Docker engine: frozen (SIGSTOP) and crashed-then-restarted."""

from __future__ import annotations

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams, NoParams
from harness.faults.nodeshell import pids, process_state, run
from harness.models import Duration
from harness.waiting import wait_until

ENGINE_PROGRAMS = ("dockerd", "containerd")
HOLD_FILE = "/run/chaos-harness/hold-dockerd"


class DaemonFreeze(BaseFault):
    """SIGSTOP the node's dockerd and containerd: the node goes Down, its containers keep running."""

    name = "daemon-freeze"
    description = "Freeze the node's dockerd and containerd (SIGSTOP); heal with SIGCONT."
    Params = NoParams

    def inject(self, ctx: FaultContext) -> None:
        self._signal(ctx, "STOP")

    def heal(self, ctx: FaultContext) -> None:
        self._signal(ctx, "CONT")

    def verify(self, ctx: FaultContext) -> bool:
        states = [process_state(ctx, self.target, pid) for pid in self._pids(ctx)]
        return bool(states) and all(state == "T" for state in states)

    def _pids(self, ctx: FaultContext) -> list[str]:
        return [pid for program in ENGINE_PROGRAMS for pid in pids(ctx, self.target, program)]

    def _signal(self, ctx: FaultContext, signal: str) -> None:
        found = self._pids(ctx)
        if found:
            run(ctx, self.target, ["kill", f"-{signal}", *found], f"send SIG{signal} to the Docker engine")


class DaemonCrashParams(FaultParams):
    restart_timeout: Duration = Field(60.0, gt=0, description="seconds to wait for the engine after heal")


class DaemonCrash(BaseFault):
    """dockerd is killed (SIGKILL) and held down; heal lets the node's supervisor start it again."""

    name = "daemon-crash"
    description = "Kill the node's dockerd (SIGKILL) and keep it down until healed; then it restarts."
    Params = DaemonCrashParams
    params: DaemonCrashParams

    def inject(self, ctx: FaultContext) -> None:
        run(ctx, self.target, ["sh", "-c", f"mkdir -p $(dirname {HOLD_FILE}) && touch {HOLD_FILE}"],
            "hold the Docker engine down")
        found = pids(ctx, self.target, "dockerd")
        if found:
            run(ctx, self.target, ["kill", "-KILL", *found], "kill the Docker engine")

    def heal(self, ctx: FaultContext) -> None:
        run(ctx, self.target, ["rm", "-f", HOLD_FILE], "release the Docker engine")
        wait_until(lambda: ctx.cluster.exec(self.target, ["docker", "info", "--format", "{{.ID}}"]).ok,
                   timeout=self.params.restart_timeout, what=f"the Docker engine on {self.target} to answer again")

    def verify(self, ctx: FaultContext) -> bool:
        return not pids(ctx, self.target, "dockerd")
