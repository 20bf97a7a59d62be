"""Load samples: one per request, as the load process wrote them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple, get_type_hints

from harness.errors import one_line
from harness.jsonl import finite_number, iter_jsonl


class Sample(NamedTuple):
    """One request: when it started and ended (epoch seconds), and how it went.

    A named tuple, not a frozen dataclass: a long run has a million of them,
    and a tuple is made in half the time and takes less memory.
    """

    t: float
    end: float
    ok: bool
    kind: str = "read"
    status: int = 0
    error: str | None = None
    server: str | None = None  # address:port of the task the load balancer sent the request to
    backend: str | None = None  # the load balancer's backend (blue or green)
    write_id: str | None = None
    due: float | None = None  # when the load's schedule wanted it sent (the harness's own users)
    captured: dict | None = None  # what a write's answer gave for the read-back (capture name -> text)
    redirects: list | None = None  # the redirects followed on the way ("302 /setup")
    source: str | None = None  # address:port the load balancer connected from (service-switch: see connections)
    version: str | None = None  # the release that served it: attributed from the engine's tasks (analysis)
    node: str | None = None  # the node that served it (analysis)
    task: str | None = None  # the task that served it (analysis)

    @property
    def latency(self) -> float:
        return self.end - self.t

    def served_by(self, version: str, node: str, task: str) -> Sample:
        """This request with the release, node and task that served it (the last three fields)."""
        return tuple.__new__(Sample, (*self[:-3], version, node, task))


def read_samples(path: Path, notes: list[str] | None = None) -> list[Sample]:
    """Samples of a run, sorted by start time (see ``harness.jsonl`` for damaged lines); none without a file."""
    return by_start(iter_samples(path, notes))


def iter_samples(path: Path, notes: list[str] | None = None) -> Iterator[Sample]:
    """Samples of a run one at a time, in the order written (by end time); none without a file."""
    return iter_jsonl(path, _sample, notes) if path.exists() else iter(())


def by_start(samples: Iterable[Sample]) -> list[Sample]:
    """Samples sorted by start time."""
    return sorted(samples, key=_START)


def _sample(record: dict) -> Sample:
    sample = Sample(**record)  # TypeError names a missing or unknown field
    for name, value in record.items():  # a field left out has its default
        if not _CHECKS[name](value):
            raise ValueError(f"{name} is {one_line(repr(value), 40)}")
    return sample


_START = attrgetter("t")
_TYPE_CHECKS: dict[Any, Callable[[Any], bool]] = {  # by the type of a Sample field
    float: finite_number,
    int: lambda value: isinstance(value, int) and not isinstance(value, bool),
    bool: lambda value: isinstance(value, bool),
    str: lambda value: isinstance(value, str),
    str | None: lambda value: value is None or isinstance(value, str),
    float | None: lambda value: value is None or finite_number(value),
    dict | None: lambda value: value is None or (isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items())),
    list | None: lambda value: value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
}
_CHECKS = {name: _TYPE_CHECKS[kind] for name, kind in get_type_hints(Sample).items()}  # KeyError: a new type
