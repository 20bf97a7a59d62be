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
