"""Poll the engine and journal every change: update state, tasks, nodes."""

from __future__ import annotations

from harness.engine.base import Engine, ServiceSnapshot
from harness.errors import EngineError, ServiceMissing
from harness.journal import Journal

Snapshots = dict[str, ServiceSnapshot]


class EngineWatcher:
    """Turns successive engine snapshots into ``engine.*`` journal events.

    Services that are not deployed (a green stack before its deploy) are left
    out of a poll's snapshots rather than reported as an unreachable engine.
    """

    def __init__(self, engine: Engine, journal: Journal, services: tuple[str, ...]) -> None:
        self._engine = engine
        self._journal = journal
        self._services = services
        self._update_states: dict[str, tuple[str | None, str]] = {}
        self._tasks: dict[str, tuple[str, str, str]] = {}
        self._known_services: set[str] = set()
        self._nodes: dict[str, tuple[str, str]] = {}
        self.last: Snapshots = {}

    def poll(self) -> Snapshots | None:
        """One look at the engine: a snapshot per deployed service (None if the engine did not answer)."""
        try:
            nodes = self._engine.nodes()
            snapshots = {}
            for service in self._services:
                try:
                    snapshots[service] = self._engine.service(service)
                except ServiceMissing:
                    continue
        except EngineError as error:
            self._journal.write("engine.unreachable", error=str(error))
            return None
        for node in nodes:
            if self._nodes.get(node.hostname) != (node.state, node.availability):
                self._nodes[node.hostname] = (node.state, node.availability)
                self._journal.write("engine.node_state", node=node.hostname, state=node.state,
                                    availability=node.availability)
        for snapshot in snapshots.values():
            self._journal_service(snapshot)
        self.last = snapshots
        return snapshots

    def _journal_service(self, snapshot: ServiceSnapshot) -> None:
        service = snapshot.name
        state = (snapshot.update_state, snapshot.update_message)
        if state != self._update_states.get(service):
            self._update_states[service] = state
            self._journal.write("engine.update_state", service=service, state=state[0], message=state[1],
                                started_at=snapshot.update_started_at)
        first_look = service not in self._known_services
        self._known_services.add(service)
        for task in snapshot.tasks:
            seen = (task.state, task.error, task.desired_state)  # also a pod marked for deletion (an eviction)
            if self._tasks.get(task.id) != seen:
                self._tasks[task.id] = seen
                if first_look and task.desired_state != "running":
                    continue  # history from earlier runs, not this run's news
                self._journal.write("engine.task", service=service, task=task.id, slot=task.slot,
                                    node=task.node, version=task.version, state=task.state,
                                    desired=task.desired_state, error=task.error, addresses=list(task.addresses))
