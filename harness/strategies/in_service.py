"""In-service (rolling) upgrade: Swarm replaces tasks in place, per the update_config."""

from __future__ import annotations

from pathlib import Path

from harness.app.profile import BROKEN
from harness.engine.base import Engine, RegistryAuth, ServiceSnapshot, UpdatePolicy, image_version
from harness.journal import Journal
from harness.watch import Snapshots

SETTLED_STATES = {"completed": "completed", "rolled_back": "rolled_back", "paused": "paused", "rollback_paused": "paused"}
WORST_FIRST = ("timed_out", "failed", "paused", "rolled_back", "completed")  # how several services' outcomes combine


class InServiceUpgrade:
    """``docker service update --image`` of every upgraded service with every update_config field set,
    judged from each service's UpdateStatus.

    The first service is the entry (the one clients reach, and whose tasks
    ``tasks_replaced`` counts). Rollback is Swarm's: its failure_action, or
    ``rollback=previous`` on request.
    """

    name = "in-service"

    def __init__(self, engine: Engine, images: dict[str, str], old: str, new: str, policy: UpdatePolicy,
                 publish: tuple[int, int] | None = None, auth: RegistryAuth | None = None) -> None:
        self._engine = engine
        self._images = images  # engine service name -> the new release's image
        self.old = old
        self.new = new
        self.services = tuple(images)
        self._policy = policy
        self._publish = publish
        self._auth = auth
        self._baseline_started_at: dict[str, float | None] = {}
        self._baseline_tasks: set[str] | None = None
        self._detected: set[str] = set()
        self.steps: dict[str, float] = {}  # a rolling update has none of blue-green's steps

    def live_service(self) -> str:
        return self.services[0]

    def start(self, journal: Journal) -> None:
        """Ask the engine to start the rolling update of every upgraded service."""
        self._baseline_tasks = {t.id for t in self._mark_baseline()[self.live_service()].tasks}
        journal.write("upgrade.requested", strategy=self.name, service=self.live_service(),
                      services=list(self.services), from_version=self.old, to_version=self.new,
                      policy=self._policy.__dict__, publish=self._publish)
        for service, image in self._images.items():
            publish = self._publish if service == self.live_service() else None
            self._engine.update_image(service, image, self._policy, publish, self._auth, image_health=self.new == BROKEN)

    def trace_start(self, journal: Journal) -> None:
        """Nothing to trace: the load balancer names the task that answered."""

    def trace_stop(self, run_dir: Path, journal: Journal) -> None:
        """Nothing was traced."""

    def request_rollback(self, journal: Journal) -> None:
        """``rollback=previous``: Swarm rolls every upgraded service back with its rollback_config."""
        self._mark_baseline()
        journal.write("rollback.requested", strategy=self.name, service=self.live_service(), reason="requested")
        for service in self.services:
            self._engine.rollback(service)

    def tasks_replaced(self, snapshots: Snapshots) -> int:
        """How many tasks of the new release this update has created in the entry service (0 before it starts)."""
        snapshot = snapshots.get(self.live_service())
        if self._baseline_tasks is None or snapshot is None:
            return 0
        return sum(1 for t in snapshot.tasks if t.version == self.new and t.id not in self._baseline_tasks)

    def advance(self, snapshots: Snapshots, journal: Journal) -> str | None:
        """The settled outcome once every service settled, or None while the engine still works."""
        outcomes = [self._outcome(snapshots.get(service), service, journal) for service in self.services]
        return None if None in outcomes else min(outcomes, key=WORST_FIRST.index)

    def give_up(self, snapshots: Snapshots, journal: Journal) -> str:
        """Swarm keeps trying on its own; the outcome says how far it got."""
        snapshot = snapshots.get(self.live_service())
        return "failed" if snapshot and snapshot.update_state == "completed" else "timed_out"

    def facts(self, snapshots: Snapshots) -> dict:
        snapshot = snapshots.get(self.live_service())
        return {"update_state": snapshot.update_state if snapshot else None,
                "message": snapshot.update_message if snapshot else ""}

    def _outcome(self, snapshot: ServiceSnapshot | None, service: str, journal: Journal) -> str | None:
        if snapshot is None or snapshot.update_started_at == self._baseline_started_at.get(service):
            return None  # the engine has not picked up this update (or rollback) yet
        outcome = SETTLED_STATES.get(snapshot.update_state or "")
        if outcome == "completed" and image_version(snapshot.image) == self.old and snapshot.converged_on(self.old):
            # Seen when the first new task fails under failure_action rollback: Swarm puts the
            # old spec back but reports "update completed". The spec, not the status, is the truth.
            if service not in self._detected:
                self._detected.add(service)
                journal.write("rollback.detected", service=service, started_at=snapshot.update_started_at,
                              reason=f"the engine says {snapshot.update_state!r} but its spec is back on {self.old}")
            return "rolled_back"
        if outcome == "completed" and not snapshot.converged_on(self.new):
            return None  # the engine says done; wait until the tasks agree (or time out)
        return outcome

    def _mark_baseline(self) -> dict[str, ServiceSnapshot]:
        baselines = {service: self._engine.service(service) for service in self.services}
        self._baseline_started_at = {service: b.update_started_at for service, b in baselines.items()}
        return baselines
