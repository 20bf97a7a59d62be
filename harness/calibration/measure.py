"""Known outages against what the run analysis measures of them: pure functions over samples."""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness.analysis import downtime as dt
from harness.analysis.samples import Sample

SLACK = 0.002  # seconds: scheduling noise on this side of the load balancer, as measured at 1,000 requests/s
CLOCK_LIMIT = 0.005  # seconds: the loosest median clock uncertainty a refusal cell is judged with


@dataclass(frozen=True)
class KnownOutage:
    """One outage as the clock saw it: stamps before and after the call that started it, and before and after
    the one that ended it (epoch seconds, the samples' clock)."""

    kind: str
    rate: float
    duration: float  # asked for
    stamps: tuple[float, float, float, float]

    @property
    def start(self) -> float:
        return (self.stamps[0] + self.stamps[1]) / 2

    @property
    def end(self) -> float:
        return (self.stamps[2] + self.stamps[3]) / 2

    @property
    def known(self) -> float:
        """Its length: from the middle of the starting call to the middle of the ending one."""
        return self.end - self.start

    @property
    def uncertainty(self) -> float:
        """How far ``known`` may be off: half of each call's own duration (each edge lies within its call)."""
        return (self.stamps[1] - self.stamps[0] + self.stamps[3] - self.stamps[2]) / 2


@dataclass(frozen=True)
class Trial:
    """One known outage and the downtime the analysis measured around it."""

    outage: KnownOutage
    measured: float
    windows: int  # outage windows the analysis saw (1 when it saw the outage as one)

    @property
    def error(self) -> float:
        return self.measured - self.outage.known


def measure(samples: Sequence[Sample], outage: KnownOutage, margin: float) -> Trial:
    """The downtime the analysis finds in the samples (sorted by start) from ``margin`` before to ``margin``
    after the outage."""
    starts = [s.t for s in samples]
    chunk = list(samples[bisect.bisect_left(starts, outage.start - margin):
                         bisect.bisect_left(starts, outage.end + margin)])
    windows = dt.outages(chunk)
    return Trial(outage, dt.downtime(windows), len(windows))


def bound(kind: str, rate: float, timeout: float) -> float:
    """How far the median measured outage may be from the known one.

    A refusal is seen within one request interval at each edge (the first
    failed request and the first success after it are the next ones sent), so
    within ``1/rate`` plus noise. In a black hole, requests on connections
    that were already open wait in TCP retransmission and succeed, slowly,
    when it ends within their timeout: the measured outage starts late and may
    end early, so it can fall short by up to one client timeout, never more.
    """
    return 1 / rate + SLACK + (timeout if kind == "blackhole" else 0.0)


def clock_limit(kind: str, timeout: float) -> float:
    """The loosest median clock uncertainty a cell's error is judged with.

    A refusal's bound is milliseconds, so its known length must be known to
    ``CLOCK_LIMIT``; a black hole's bound holds a client timeout, and so may
    its clock.
    """
    return timeout if kind == "blackhole" else CLOCK_LIMIT


@dataclass(frozen=True)
class Cell:
    """Every trial of one rate, outage kind and length."""

    rate: float
    kind: str
    duration: float
    trials: tuple[Trial, ...]
    timeout: float

    @property
    def median_error(self) -> float:
        return statistics.median(t.error for t in self.trials)

    @property
    def worst_error(self) -> float:
        """The error farthest from zero, with its sign."""
        return max((t.error for t in self.trials), key=abs)

    @property
    def uncertainty(self) -> float:
        """The loosest trial's clock uncertainty."""
        return max(t.outage.uncertainty for t in self.trials)

    @property
    def median_uncertainty(self) -> float:
        return statistics.median(t.outage.uncertainty for t in self.trials)

    @property
    def clock_limit(self) -> float:
        return clock_limit(self.kind, self.timeout)

    @property
    def tight(self) -> bool:
        """Whether the known lengths were known well enough to judge the error against the bound."""
        return self.median_uncertainty <= self.clock_limit

    @property
    def resolution(self) -> float:
        return 1 / self.rate

    @property
    def bound(self) -> float:
        return bound(self.kind, self.rate, self.timeout)

    @property
    def within(self) -> bool:
        return abs(self.median_error) <= self.bound

    @property
    def verdict(self) -> str:
        """``yes`` or ``NO``: the median error within the bound; ``LOOSE``: the clock too uncertain to tell."""
        return "LOOSE" if not self.tight else "yes" if self.within else "NO"

    def as_dict(self) -> dict:
        return {"rate": self.rate, "kind": self.kind, "duration": self.duration, "trials": len(self.trials),
                "median_error": self.median_error, "worst_error": self.worst_error, "resolution": self.resolution,
                "uncertainty": self.uncertainty, "median_uncertainty": self.median_uncertainty,
                "clock_limit": self.clock_limit, "tight": self.tight, "bound": self.bound, "within": self.within,
                "verdict": self.verdict, "known": [t.outage.known for t in self.trials],
                "measured": [t.measured for t in self.trials], "windows": [t.windows for t in self.trials],
                "uncertainties": [t.outage.uncertainty for t in self.trials]}


def cells(trials: Sequence[Trial], timeout: float) -> list[Cell]:
    """The trials grouped by rate, kind and length, in the order they ran."""
    grouped: dict[tuple[float, str, float], list[Trial]] = {}
    for trial in trials:
        outage = trial.outage
        grouped.setdefault((outage.rate, outage.kind, outage.duration), []).append(trial)
    return [Cell(rate, kind, duration, tuple(group), timeout) for (rate, kind, duration), group in grouped.items()]
