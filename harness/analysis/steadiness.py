"""How steadily the load was sent: the rate per second and how late the schedule ran."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from harness.analysis.downtime import ranked
from harness.analysis.samples import Sample

STEADY_CV = 0.05  # the per-second rate may vary this much (coefficient of variation)
STEADY_SHARE = 0.95  # and must reach this share of the rate asked for


@dataclass(frozen=True)
class Steadiness:
    """The load as sent: asked and achieved rate, the spread of the per-second rate, and the schedule's lag.

    ``cv`` is the coefficient of variation of the requests started in each whole
    second from the first request on (the last, partial second left out);
    ``lag_*`` are how long after its due time a request was really sent (None
    when the samples carry no due times: a locustfile of the user's own).
    """

    rate: float
    achieved: float | None
    seconds: int
    cv: float | None
    lag_p50: float | None
    lag_p99: float | None
    lag_max: float | None

    @property
    def resolution(self) -> float:
        """The finest outage the load can see: one request interval."""
        return 1.0 / self.rate

    @property
    def steady(self) -> bool | None:
        """Whether the rate asked for was held (None: too short a load to tell)."""
        if self.achieved is None or self.cv is None:
            return None
        return self.achieved >= STEADY_SHARE * self.rate and self.cv <= STEADY_CV

    def as_dict(self) -> dict:
        return {**asdict(self), "resolution": self.resolution, "steady": self.steady}


def steadiness(samples: Sequence[Sample], rate: float) -> Steadiness:
    """The steadiness of ``samples`` (sorted by start time) sent at ``rate`` requests per second."""
    counts = per_second_counts(samples)
    lags = sorted([s.t - s.due for s in samples if s.due is not None])
    return Steadiness(
        rate=rate,
        achieved=statistics.fmean(counts) if counts else None,
        seconds=len(counts),
        cv=statistics.pstdev(counts) / statistics.fmean(counts) if len(counts) > 1 and any(counts) else None,
        lag_p50=ranked(lags, 50), lag_p99=ranked(lags, 99), lag_max=lags[-1] if lags else None,
    )


def per_second_counts(samples: Sequence[Sample]) -> list[int]:
    """Requests started in each whole second counted from the first request's start."""
    if not samples:
        return []
    origin = samples[0].t
    whole = math.floor(samples[-1].t - origin)
    counts = Counter(math.floor(s.t - origin) for s in samples)
    return [counts.get(second, 0) for second in range(whole)]
