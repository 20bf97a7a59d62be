"""Load samples: one per request, as the load process wrote them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One request: when it started and ended (epoch seconds), and how it went."""

    t: float
    end: float
    ok: bool
    kind: str = "read"
    status: int = 0
    error: str | None = None
    server: str | None = None  # address:port of the task the load balancer sent the request to
    backend: str | None = None  # the load balancer's backend (blue or green)
    write_id: str | None = None
    version: str | None = None  # the release that served it: attributed from the engine's tasks (analysis)
    node: str | None = None  # the node that served it (analysis)
    task: str | None = None  # the task that served it (analysis)

    @property
    def latency(self) -> float:
        return self.end - self.t


def read_samples(path: Path) -> list[Sample]:
    """Samples of a run, sorted by start time; a torn last line (crash) is skipped."""
    samples = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                samples.append(Sample(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue
    return sorted(samples, key=lambda s: s.t)
