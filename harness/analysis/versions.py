"""Which version served the clients, over time."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from harness.analysis.downtime import ranked
from harness.analysis.samples import Sample


@dataclass(frozen=True)
class VersionMix:
    """First new-version and last old-version responses, and their overlap."""

    first_new: float | None
    last_old: float | None
    mixed_window: float  # seconds both versions answered; 0 when they never overlapped
    counts: dict[str, int]


def version_mix(samples: list[Sample], old: str, new: str) -> VersionMix:
    """Summarise the version mix of successful responses."""
    served = [s for s in samples if s.ok and s.version]
    first_new = min((s.t for s in served if s.version == new), default=None)
    last_old = max((s.t for s in served if s.version == old), default=None)
    mixed = max(0.0, last_old - first_new) if first_new is not None and last_old is not None else 0.0
    return VersionMix(first_new, last_old, mixed, dict(Counter(s.version for s in served)))


def per_second(samples: list[Sample], origin: float) -> list[dict]:
    """Per one-second bucket from ``origin``: requests, failures, p50/p99 latency and responses per version."""
    buckets: dict[int, list[Sample]] = {}
    for sample in samples:
        buckets.setdefault(math.floor(sample.t - origin), []).append(sample)
    timeline = []
    for second in sorted(buckets):
        chunk = buckets[second]
        latencies = sorted([s.latency for s in chunk])
        timeline.append({
            "second": second,
            "requests": len(chunk),
            "failures": sum(not s.ok for s in chunk),
            "p50": ranked(latencies, 50),
            "p99": ranked(latencies, 99),
            "versions": dict(Counter(s.version for s in chunk if s.ok and s.version)),
        })
    return timeline


@dataclass(frozen=True)
class Propagation:
    """From the switch's request to the last old-release answer: how long clients saw both sides of it.

    Times are seconds after the switch was requested. ``window`` runs to the later of the first new-release
    answer and the last old-release one; ``failed`` counts the requests started in it that failed, and
    ``unattributed`` the successes no release could be named for (without a pod, for instance)."""

    requested_at: float
    first_new: float | None
    last_old: float | None
    window: float | None
    old_answers: int  # successes from the old release started after the switch was requested
    failed: int
    unattributed: int


def propagation(samples: list[Sample], switched: float | None, old: str, new: str) -> Propagation | None:
    """What clients saw after the switch requested at ``switched`` (None without a switch)."""
    if switched is None:
        return None
    after = [s for s in samples if s.t >= switched]
    first_new = min((s.t for s in after if s.ok and s.version == new), default=None)
    last_old = max((s.t for s in after if s.ok and s.version == old), default=None)
    ends = [t for t in (first_new, last_old) if t is not None]
    end = max(ends) if ends else None
    within = [s for s in after if end is not None and s.t <= end]
    return Propagation(
        switched, _since(first_new, switched), _since(last_old, switched), _since(end, switched),
        sum(1 for s in after if s.ok and s.version == old), sum(1 for s in within if not s.ok),
        sum(1 for s in within if s.ok and not s.version))


def _since(t: float | None, origin: float) -> float | None:
    return None if t is None else t - origin
