"""Load samples: one per request, as the load process wrote them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from harness.errors import one_line
from harness.jsonl import finite_number, read_jsonl


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


def read_samples(path: Path, notes: list[str] | None = None) -> list[Sample]:
    """Samples of a run, sorted by start time (see ``harness.jsonl`` for damaged lines); none without a file."""
    return sorted(read_jsonl(path, _sample, notes), key=lambda s: s.t) if path.exists() else []


def _sample(record: dict) -> Sample:
    sample = Sample(**record)  # TypeError names a missing or unknown field
    for name, check in _CHECKS.items():
        if not check(value := getattr(sample, name)):
            raise ValueError(f"{name} is {one_line(repr(value), 40)}")
    return sample


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {  # by the annotation of a Sample field
    "float": finite_number,
    "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "bool": lambda value: isinstance(value, bool),
    "str": lambda value: isinstance(value, str),
    "str | None": lambda value: value is None or isinstance(value, str),
}
_CHECKS = {f.name: _TYPE_CHECKS[str(f.type)] for f in fields(Sample)}  # KeyError: a field of a new type
