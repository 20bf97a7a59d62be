"""In-service (rolling) upgrade: Swarm replaces tasks in place, per the update_config."""

from __future__ import annotations

from harness.engine.base import Engine, RegistryAuth, ServiceSnapshot, UpdatePolicy, image_version
from harness.journal import Journal
from harness.watch import Snapshots

SETTLED_STATES = {"completed": "completed", "rollback_completed": "rolled_back",
                  "paused": "paused", "rollback_paused": "paused"}


class InServiceUpgrade:
    """``docker service update --image`` with every update_config field set, judged from UpdateStatus.

    Rollback is Swarm's: its failure_action, or ``rollback=previous`` on request.
    """

    name = "in-service"

    def __init__(self, engine: Engine, service: str, old: str, new: str, new_image: str, policy: UpdatePolicy,
                 publish: int | None = None, auth: RegistryAuth | None = None) -> None:
        self._engine = engine
        self._service = service
        self.old = old
        self.new = new
        self.services = (service,)
        self._new_image = new_image
        self._policy = policy
        self._publish = publish
        self._auth = auth
        self._baseline_started_at: float | None = None
        self._baseline_tasks: set[str] | None = None

    def live_service(self) -> str:
        return self._service

    def start(self, journal: Journal) -> None:
        """Ask the engine to start the rolling update."""
        baseline = self._mark_baseline()
        self._baseline_tasks = {t.id for t in baseline.tasks}
        journal.write("upgrade.requested", strategy=self.name, service=self._service,
                      from_version=self.old, to_version=self.new, policy=self._policy.__dict__,
                      publish=self._publish)
        self._engine.update_image(self._service, self._new_image, self._policy, self._publish, self._auth)

    def request_rollback(self, journal: Journal) -> None:
        """``rollback=previous``: Swarm rolls the service back with its rollback_config."""
        self._mark_baseline()
        journal.write("rollback.requested", strategy=self.name, service=self._service, reason="requested")
        self._engine.rollback(self._service)

    def tasks_replaced(self, snapshots: Snapshots) -> int:
        """How many tasks of the new version this update has created so far (0 before it starts)."""
        snapshot = snapshots.get(self._service)
        if self._baseline_tasks is None or snapshot is None:
            return 0
        return sum(1 for t in snapshot.tasks if t.version == self.new and t.id not in self._baseline_tasks)

    def advance(self, snapshots: Snapshots, journal: Journal) -> str | None:
        """The settled outcome, or None while the engine is still working on this update."""
        snapshot = snapshots.get(self._service)
        if snapshot is None or snapshot.update_started_at == self._baseline_started_at:
            return None  # the engine has not picked up this update (or rollback) yet
        outcome = SETTLED_STATES.get(snapshot.update_state or "")
        if outcome == "completed" and image_version(snapshot.image) == self.old and snapshot.converged_on(self.old):
            # Seen when the first new task fails under failure_action rollback: Swarm puts the
            # old spec back but reports "update completed". The spec, not the status, is the truth.
            journal.write("rollback.detected", service=self._service, started_at=snapshot.update_started_at,
                          reason=f"the engine says {snapshot.update_state!r} but its spec is back on {self.old}")
            return "rolled_back"
        if outcome == "completed" and not snapshot.converged_on(self.new):
            return None  # the engine says done; wait until the tasks agree (or time out)
        return outcome

    def give_up(self, snapshots: Snapshots, journal: Journal) -> str:
        """Swarm keeps trying on its own; the outcome says how far it got."""
        snapshot = snapshots.get(self._service)
        return "failed" if snapshot and snapshot.update_state == "completed" else "timed_out"

    def facts(self, snapshots: Snapshots) -> dict:
        snapshot = snapshots.get(self._service)
        return {"update_state": snapshot.update_state if snapshot else None,
                "message": snapshot.update_message if snapshot else ""}

    def _mark_baseline(self) -> ServiceSnapshot:
        baseline = self._engine.service(self._service)
        self._baseline_started_at = baseline.update_started_at
        return baseline
