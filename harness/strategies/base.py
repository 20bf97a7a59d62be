"""What every upgrade strategy offers the runner."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Protocol

from harness.journal import Journal
from harness.watch import Snapshots


class UpgradeStrategy(Protocol):
    """Moves the stack from ``old`` to ``new`` and can move it back.

    The runner polls the engine (the ``services`` named here) and hands every
    poll to ``advance`` until it returns the settled outcome: completed,
    rolled_back, paused, failed or timed_out.
    """

    name: str
    old: str
    new: str
    services: tuple[str, ...]
    steps: dict[str, float]  # when each of the strategy's own steps happened (``scenario.STEPS``), epoch seconds

    def live_service(self) -> str:
        """The engine service clients reach now (the entry service of the live stack)."""
        ...

    def start(self, journal: Journal) -> None:
        """Begin the upgrade."""
        ...

    def trace_start(self, journal: Journal) -> None:
        """Before the load starts: begin recording what attributing its requests needs beyond the load balancer's
        headers (service-switch: each node's connection tracking)."""
        ...

    def trace_stop(self, run_dir: Path, journal: Journal) -> None:
        """As the run winds down: stop recording and write what was recorded into ``run_dir``; nothing if
        ``trace_start`` never ran."""
        ...

    def advance(self, snapshots: Snapshots, journal: Journal) -> str | None:
        """Take the next step after a poll; the outcome once settled, else None."""
        ...

    def give_up(self, snapshots: Snapshots, journal: Journal) -> str:
        """The strategy's time is up: leave the stack as safe as it can and name the outcome."""
        ...

    def request_rollback(self, journal: Journal) -> None:
        """Go back to ``old`` because the operator asks to; ``advance`` then reports when that settled."""
        ...

    def tasks_replaced(self, snapshots: Snapshots) -> int:
        """How many tasks of the new version this upgrade has running or started so far."""
        ...

    def facts(self, snapshots: Snapshots) -> dict:
        """What the engine or LB says at settle time: ``update_state`` and a ``message``."""
        ...


def running_versions(snapshots: Snapshots) -> dict[str, dict[str, int]]:
    """Per service, how many tasks run each version."""
    return {name: dict(Counter(t.version for t in s.running())) for name, s in snapshots.items()}
