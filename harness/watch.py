"""Poll the engine and journal every change: update state, tasks, nodes."""

from __future__ import annotations

from harness.engine.base import Engine, ServiceSnapshot
from harness.errors import EngineError
from harness.journal import Journal


class EngineWatcher:
    """Turns successive engine snapshots into ``engine.*`` journal events."""

    def __init__(self, engine: Engine, journal: Journal, service: str) -> None:
        self._engine = engine
        self._journal = journal
        self._service = service
        self._update_state: tuple[str | None, str] | None = None
        self._tasks: dict[str, tuple[str, str]] = {}
        self._nodes: dict[str, str] = {}
        self.last: ServiceSnapshot | None = None

    def poll(self) -> ServiceSnapshot | None:
        """One look at the engine; returns the service snapshot (None if the engine did not answer)."""
        try:
            snapshot = self._engine.service(self._service)
            nodes = self._engine.nodes()
        except EngineError as error:
            self._journal.write("engine.unreachable", error=str(error))
            return None
        for node in nodes:
            if self._nodes.get(node.hostname) != node.state:
                self._nodes[node.hostname] = node.state
                self._journal.write("engine.node_state", node=node.hostname, state=node.state)
        state = (snapshot.update_state, snapshot.update_message)
        if state != self._update_state:
            self._update_state = state
            self._journal.write("engine.update_state", service=self._service, state=state[0], message=state[1],
                                started_at=snapshot.update_started_at)
        first_look = not self._tasks
        for task in snapshot.tasks:
            seen = (task.state, task.error)
            if self._tasks.get(task.id) != seen:
                self._tasks[task.id] = seen
                if first_look and task.desired_state != "running":
                    continue  # history from earlier runs, not this run's news
                self._journal.write("engine.task", service=self._service, task=task.id, slot=task.slot,
                                    node=task.node, version=task.version, state=task.state,
                                    desired=task.desired_state, error=task.error)
        self.last = snapshot
        return snapshot
