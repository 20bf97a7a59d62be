"""Faults of the node's Docker engine: frozen (SIGSTOP) and crashed-then-restarted."""

from __future__ import annotations

from pydantic import Field

from harness.faults.base import BaseFault, FaultContext, FaultParams, NoParams
from harness.faults.nodeshell import pids, process_state, run
from harness.models import Duration
from harness.waiting import wait_until

ENGINE_PROGRAMS = ("dockerd", "containerd")
HOLD_FILE = "/run/chaos-harness/hold-dockerd"  # a node container's supervisor starts no dockerd while it exists
# Under systemd (a real host) the unit is killed and stopped, so that systemd does not restart it; in a node
# container the supervisor is held by HOLD_FILE ($1) and dockerd killed.
_UNDER_SYSTEMD = "[ -d /run/systemd/system ] && systemctl cat docker.service >/dev/null 2>&1"
_CRASH = f"""
if {_UNDER_SYSTEMD}; then
  systemctl kill --signal=KILL docker.service && systemctl stop docker.socket docker.service 2>/dev/null; true
else
  mkdir -p "$(dirname "$1")" && touch "$1" && {{ pids=$(pidof dockerd) && kill -KILL $pids; true; }}
fi
"""
_RELEASE = f"""
if {_UNDER_SYSTEMD}; then systemctl start docker.service; else rm -f "$1"; rmdir "$(dirname "$1")" 2>/dev/null; true; fi
"""


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
    restart_timeout: Duration = Field(60.0, ge=1, description="seconds to wait for the engine after heal (at least 1)")


class DaemonCrash(BaseFault):
    """dockerd is killed (SIGKILL) and held down; heal lets the node's supervisor start it again."""

    name = "daemon-crash"
    description = "Kill the node's dockerd (SIGKILL) and keep it down until healed; then it restarts."
    Params = DaemonCrashParams
    params: DaemonCrashParams

    def inject(self, ctx: FaultContext) -> None:
        run(ctx, self.target, ["sh", "-c", _CRASH, "crash", HOLD_FILE], "kill the Docker engine and hold it down")

    def heal(self, ctx: FaultContext) -> None:
        run(ctx, self.target, ["sh", "-c", _RELEASE, "release", HOLD_FILE], "release the Docker engine")
        wait_until(lambda: ctx.cluster.exec(self.target, ["docker", "info", "--format", "{{.ID}}"]).ok,
                   timeout=self.params.restart_timeout, what=f"the Docker engine on {self.target} to answer again")

    def verify(self, ctx: FaultContext) -> bool:
        return not pids(ctx, self.target, "dockerd")
