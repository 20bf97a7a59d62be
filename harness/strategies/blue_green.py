"""Blue-green: the new version as a second stack beside the live one; traffic moves at the LB in one step.

    deploy   the green stack runs the new version beside blue, which keeps serving
    ready    every green replica runs and passes HAProxy's checks, and smoke
             requests through the preview route are answered by the new version
    switch   at the next poll, if green is still ready, ``set map`` points the
             live route at green (no reload)
    monitor  green is watched for the policy's ``monitor`` seconds; a failed
             task or no healthy server switches traffic back to blue

Green that cannot be deployed, is not ready in time, or (with failure_action
rollback) whose tasks fail beyond max_failure_ratio before it is ready, never
receives traffic: the upgrade is rolled back by keeping (and confirming) the live
route on blue. Blue is kept until the run ends, so rollback is one switch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from harness.engine.base import Engine, RegistryAuth, ServiceSnapshot, TaskInfo, UpdatePolicy
from harness.errors import EngineError
from harness.journal import Journal
from harness.stack import BLUE, GREEN, AppStack, Probe, StackSlot, releases_by_address, served_by
from harness.stack.router import Router
from harness.watch import Snapshots

SMOKE_REQUESTS = 10
# Nothing ever updates or stops green's tasks on purpose while it runs, so a
# task that ends at all has failed (an unhealthy task stopped by the engine
# exits cleanly and ends "complete").
ENDED_STATES = ("failed", "rejected", "complete", "shutdown")


class BlueGreenUpgrade:
    """Deploy green, check it through the preview route, switch the LB, switch back on failure.

    What differs in service-switch (``harness.strategies.service_switch``) is where green runs (``green_slot``),
    how it is deployed (``_deploy_green``) and what a switch changes (``_route``); the rest is this class's.
    """

    name = "blue-green"
    green_slot: StackSlot = GREEN

    def __init__(self, engine: Engine, router: Router, stack: AppStack, auth: RegistryAuth | None,
                 policy: UpdatePolicy, publish: int | None = None, clock: Callable[[], float] = time.time,
                 smoke: Callable[[], Probe | None] | None = None) -> None:
        self._engine = engine
        self._router = router
        self._stack = stack
        self._auth = auth
        self._policy = policy
        self._publish = publish
        self._clock = clock
        self._smoke = smoke or (lambda: stack.probe(preview=True))
        self.old, self.new = stack.old, stack.new
        self._green = stack.services(self.green_slot)
        self.services = (*stack.services(BLUE), *self._green)
        self._live: StackSlot = BLUE
        self._started_at = 0.0
        self._deploy_error = ""
        self._switched_at: float | None = None
        self._rolled_back = False
        self.steps: dict[str, float] = {}
        self._detail = ""

    def live_service(self) -> str:
        return self._live.service(self._stack.entry)

    def start(self, journal: Journal) -> None:
        stack = self.green_slot.stack
        journal.write("upgrade.requested", strategy=self.name, service=self._green[0], services=list(self._green),
                      stack=stack, from_version=self.old, to_version=self.new, publish=self._publish)
        self._started_at = self._clock()
        try:
            self._deploy_green()
        except EngineError as error:  # e.g. the registry refused the manager's login
            self._deploy_error = f"deploying green failed: {error}"
            journal.write("bluegreen.deploy_failed", stack=stack, error=str(error))
            return
        self.steps["green_deployed"] = journal.write("bluegreen.deployed", stack=stack, version=self.new).t

    def trace_start(self, journal: Journal) -> None:
        """Nothing to trace: the load balancer names the task that answered."""

    def trace_stop(self, run_dir: Path, journal: Journal) -> None:
        """Nothing was traced."""

    def advance(self, snapshots: Snapshots, journal: Journal) -> str | None:
        if self._rolled_back:
            return "rolled_back"
        green = [snapshots.get(service) for service in self._green]
        if self._switched_at is None:
            hopeless = self._deploy_error or self._too_many_failures(green)
            if hopeless:
                self._roll_back(journal, hopeless)
                return "rolled_back"
            self._detail = self._not_ready(green) or ""
            if self._detail:
                return None
            if "green_ready" in self.steps:  # one poll after ready: faults timed by green_ready have struck
                self._switch(journal)
            else:
                self.steps["green_ready"] = journal.write("bluegreen.ready", stack=self.green_slot.stack,
                                                          version=self.new).t
            return None
        failing = self._failing(green)
        if failing:
            self._roll_back(journal, failing)
            return "rolled_back"
        if self._clock() - self._switched_at >= self._policy.monitor:
            self._detail = f"green served for {self._policy.monitor:g}s after the switch without a failure"
            return "completed"
        return None

    def give_up(self, snapshots: Snapshots, journal: Journal) -> str:
        """Not ready in time: green never gets traffic. Switched already: the monitor saw no failure."""
        if self._switched_at is not None:
            return "completed"
        self._roll_back(journal, f"green was not ready in time: {self._detail}")
        return "rolled_back"

    def request_rollback(self, journal: Journal) -> None:
        self._roll_back(journal, "requested")

    def tasks_replaced(self, snapshots: Snapshots) -> int:
        green = snapshots.get(self._green[0])
        return len(green.running(self.new)) if green else 0

    def facts(self, snapshots: Snapshots) -> dict:
        return {"update_state": None, "message": self._detail, "live": self._live.backend}

    # -- steps ------------------------------------------------------------------------

    def _deploy_green(self) -> None:
        """Green as a stack of its own beside blue."""
        rendered = self._stack.green(self.new, self._publish)
        self._engine.ensure_objects(rendered.objects)
        # By tag, as a rolling update asks for it: a node must then reach the registry for an
        # image it no longer has by that tag, even when an old container still holds the digest.
        self._engine.deploy_stack(GREEN.stack, rendered.compose, self._auth, pin_digests=False,
                                  manifests=rendered.manifests)

    def _route(self, slot: StackSlot) -> None:
        """Live traffic to ``slot`` at the load balancer (``set map``, confirmed)."""
        self._router.route(slot.backend)

    def _too_many_failures(self, green: list[ServiceSnapshot | None]) -> str | None:
        """With failure_action rollback: more green tasks failed than max_failure_ratio allows."""
        if self._policy.failure_action != "rollback":
            return None
        failed = _failed_since(green, self._started_at)
        if len(failed) <= self._policy.max_failure_ratio * self._stack.options.replicas * len(self._green):
            return None
        return (f"{len(failed)} green task(s) failed before green was ready (max_failure_ratio "
                f"{self._policy.max_failure_ratio:g}); first on {failed[0].node}: {_ended(failed[0])}")

    def _not_ready(self, green: list[ServiceSnapshot | None]) -> str | None:
        """Why green cannot take traffic yet, or None when it can."""
        replicas = self._stack.options.replicas
        for name, snapshot in zip(self._green, green):
            if snapshot is None:
                return f"the green service {name} is not deployed yet"
            if not snapshot.converged_on(self.new):
                return f"{len(snapshot.running(self.new))}/{replicas} tasks of {name} running {self.new}"
        healthy = self._router.healthy(self.green_slot.backend)
        if healthy < replicas:
            return f"{healthy}/{replicas} green servers pass the load balancer's health check"
        addresses = releases_by_address(green[0])
        answers = [self._smoke() for _ in range(SMOKE_REQUESTS)]
        served = [served_by(a, addresses) if self._stack.healthy(a) else None for a in answers]
        good = served.count(self.new)
        if good < SMOKE_REQUESTS:
            return (f"{good}/{SMOKE_REQUESTS} preview requests answered healthy by a green task of {self.new} "
                    f"(got {sorted(set(map(str, served)))})")
        return None

    def _failing(self, green: list[ServiceSnapshot | None]) -> str | None:
        """Why green must give traffic back, or None while it serves well."""
        failed = _failed_since(green, self._switched_at or 0.0)
        if failed:
            return f"a green task on {failed[0].node} ended after the switch: {_ended(failed[0])}"
        if self._router.healthy(self.green_slot.backend) == 0:
            return "no green server passes the load balancer's health check"
        return None

    def _switch(self, journal: Journal) -> None:
        journal.write("switch.requested", live=self.green_slot.backend)
        requested = self._clock()
        self._route(self.green_slot)
        self._live = self.green_slot
        self._switched_at = self._clock()
        self.steps["switched"] = journal.write("switch.done", live=self.green_slot.backend,
                                               duration=self._switched_at - requested).t

    def _roll_back(self, journal: Journal, reason: str) -> None:
        """Live route to blue, confirmed; a no-op switch when traffic never left blue."""
        self._detail = reason
        journal.write("rollback.requested", strategy=self.name, reason=reason,
                      switched=self._switched_at is not None)
        self._route(BLUE)
        self._live = BLUE
        self._rolled_back = True
        journal.write("rollback.switched_back", live=BLUE.backend)


def _failed_since(services: list[ServiceSnapshot | None], since: float) -> list[TaskInfo]:
    return [t for service in services if service for t in service.tasks
            if t.state in ENDED_STATES and t.timestamp >= since]


def _ended(task: TaskInfo) -> str:
    if task.error:
        return f"{task.state}: {task.error}"
    return f"{task.state}: stopped without the harness asking (the engine stops a task whose health check fails)"
