"""Faults of the node's engine (Swarm: dockerd and containerd; Kubernetes: the kubelet and containerd, as
``Engine.runtime`` names them): frozen (SIGSTOP) and crashed-then-restarted."""

from __future__ import annotations

from pydantic import Field

from harness.engine.base import HOLD_DIR
from harness.faults.base import BaseFault, FaultContext, FaultParams, NoParams
from harness.faults.nodeshell import pids, process_state, run
from harness.models import Duration
from harness.waiting import wait_until

# Under systemd (a real host) Docker's unit is killed and stopped, so that systemd does not restart it; in a node
# container each program ("$@") is held down by its hold file (NodeRuntime.hold_file) and killed.
_UNDER_SYSTEMD = "[ -d /run/systemd/system ] && systemctl cat docker.service >/dev/null 2>&1"
_CRASH = f"""
if [ "$*" = dockerd ] && {_UNDER_SYSTEMD}; then
  systemctl kill --signal=KILL docker.service && systemctl stop docker.socket docker.service 2>/dev/null; true
else
  mkdir -p {HOLD_DIR}
  for program; do touch "{HOLD_DIR}/hold-$program"; pids=$(pidof "$program") && kill -KILL $pids; done; true
fi
"""
_RELEASE = f"""
if [ "$*" = dockerd ] && {_UNDER_SYSTEMD}; then systemctl start docker.service
else for program; do rm -f "{HOLD_DIR}/hold-$program"; done; rmdir {HOLD_DIR} 2>/dev/null; true; fi
"""


class DaemonFreeze(BaseFault):
    """SIGSTOP the node's engine (dockerd or the kubelet) and containerd: the node goes Down (NotReady), its
    containers keep running."""

    name = "daemon-freeze"
    description = "Freeze the node's engine and containerd (SIGSTOP); heal with SIGCONT."
    Params = NoParams

    def inject(self, ctx: FaultContext) -> None:
        self._signal(ctx, "STOP")

    def heal(self, ctx: FaultContext) -> None:
        self._signal(ctx, "CONT")

    def verify(self, ctx: FaultContext) -> bool:
        states = [process_state(ctx, self.target, pid) for pid in self._pids(ctx)]
        return bool(states) and all(state == "T" for state in states)

    def _pids(self, ctx: FaultContext) -> list[str]:
        return [pid for program in ctx.cluster.engine.runtime.frozen for pid in pids(ctx, self.target, program)]

    def _signal(self, ctx: FaultContext, signal: str) -> None:
        found = self._pids(ctx)
        if found:
            run(ctx, self.target, ["kill", f"-{signal}", *found], f"send SIG{signal} to the node's engine")


class DaemonCrashParams(FaultParams):
    restart_timeout: Duration = Field(60.0, ge=1, description="seconds to wait for the engine after heal (at least 1)")


class DaemonCrash(BaseFault):
    """The node's engine (dockerd, or the kubelet and containerd) is killed (SIGKILL) and held down; heal lets the
    node's supervisor start it again."""

    name = "daemon-crash"
    description = "Kill the node's engine (SIGKILL) and keep it down until healed; then it restarts."
    Params = DaemonCrashParams
    params: DaemonCrashParams

    def inject(self, ctx: FaultContext) -> None:
        run(ctx, self.target, ["sh", "-c", _CRASH, "crash", *ctx.cluster.engine.runtime.crashed],
            "kill the node's engine and hold it down")

    def heal(self, ctx: FaultContext) -> None:
        runtime = ctx.cluster.engine.runtime
        run(ctx, self.target, ["sh", "-c", _RELEASE, "release", *runtime.crashed], "release the node's engine")
        wait_until(lambda: ctx.cluster.exec(self.target, list(runtime.answers)).ok,
                   timeout=self.params.restart_timeout, what=f"the engine on {self.target} to answer again")

    def verify(self, ctx: FaultContext) -> bool:
        return not any(pids(ctx, self.target, program) for program in ctx.cluster.engine.runtime.crashed)
