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
    version: str | None = None
    node: str | None = None
    task: str | None = None
    write_id: str | None = None

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
