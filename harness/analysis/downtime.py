"""Client-perceived downtime, availability and latency: pure functions over samples."""

from __future__ import annotations

from dataclasses import dataclass

from harness.analysis.samples import Sample


@dataclass(frozen=True)
class Outage:
    """From the start of the first failed request after a success to the start of the next success."""

    start: float
    end: float
    failed_requests: int
    open: bool = False  # no success followed before the samples ended

    @property
    def duration(self) -> float:
        return self.end - self.start


def availability(samples: list[Sample]) -> float | None:
    """Share of requests that succeeded; None without samples."""
    return sum(s.ok for s in samples) / len(samples) if samples else None


def outages(samples: list[Sample]) -> list[Outage]:
    """Outage windows, in order. Failures before the first success are not an outage of a working service."""
    windows: list[Outage] = []
    seen_success = False
    start: float | None = None
    failed = 0
    for sample in sorted(samples, key=lambda s: s.t):
        if sample.ok:
            if start is not None:
                windows.append(Outage(start, sample.t, failed))
                start, failed = None, 0
            seen_success = True
        elif seen_success:
            if start is None:
                start = sample.t
            failed += 1
    if start is not None:
        windows.append(Outage(start, max(s.end for s in samples), failed, open=True))
    return windows


def downtime(windows: list[Outage]) -> float:
    """Sum of the outage windows, in seconds."""
    return sum(w.duration for w in windows)


def longest(windows: list[Outage]) -> float:
    """The longest outage window, in seconds (0 without outages)."""
    return max((w.duration for w in windows), default=0.0)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    return ranked(sorted(values), q)


def ranked(ordered: list[float], q: float) -> float | None:
    """``percentile`` of values already sorted: one sort serves every percentile of them."""
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(samples: list[Sample]) -> dict[str, float | None]:
    """p50/p95/p99/max latency in seconds over all requests (failures included: the user waited)."""
    ordered = sorted([s.latency for s in samples])
    return {
        "p50": ranked(ordered, 50),
        "p95": ranked(ordered, 95),
        "p99": ranked(ordered, 99),
        "max": ordered[-1] if ordered else None,
    }
