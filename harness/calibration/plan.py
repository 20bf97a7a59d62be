"""What a calibration injects, checked before anything starts."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.calibration.refusal import SETTLE
from harness.errors import UsageError
from harness.load import MAX_IN_FLIGHT, MAX_RATE
from harness.scenario import MAX_CLIENT_TIMEOUT

KINDS = {  # outage kind -> how it is made
    "refusal": "the live route set to a backend that does not exist (HAProxy runtime API, from the harness)",
    "blackhole": "the lb-blackhole fault (on the load balancer's node)",
}
DEFAULT_DURATIONS = (0.1, 0.5, 2.0)
DEFAULT_RATES = (50.0, 200.0, 1000.0)
MIN_INTERVALS = 3  # an outage must span this many request intervals to be resolved at all


@dataclass(frozen=True)
class CalibrationPlan:
    """Every (rate, kind, duration) cell, each repeated; requests wait at most ``timeout`` seconds."""

    rates: tuple[float, ...] = DEFAULT_RATES
    durations: tuple[float, ...] = DEFAULT_DURATIONS
    kinds: tuple[str, ...] = tuple(KINDS)
    repeats: int = 5
    timeout: float = 1.0

    @property
    def gap(self) -> float:
        """Quiet time around each outage: every request sent during it has ended, the stack is steady."""
        return 2 * self.timeout + 0.5

    def seconds(self) -> float:
        """How long the trials take, load start-up left out (the load at each rate lasts that long)."""
        settle = {"refusal": SETTLE, "blackhole": 0.0}
        per_rate = sum(self.repeats * (d + self.gap + settle[k]) for d in self.durations for k in self.kinds)
        return len(self.rates) * (per_rate + self.gap)


def check_plan(plan: CalibrationPlan) -> CalibrationPlan:
    """The plan, or UsageError naming the first value that cannot work and what would."""
    unknown = [k for k in plan.kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"unknown outage kind {unknown[0]!r}; known: {', '.join(KINDS)}")
    if not 0 < plan.timeout <= MAX_CLIENT_TIMEOUT:
        raise UsageError(f"--timeout {plan.timeout:g}s: a client timeout above 0 and at most {MAX_CLIENT_TIMEOUT:g}s")
    if plan.repeats < 1:
        raise UsageError(f"--repeat {plan.repeats}: at least 1")
    for rate in plan.rates:
        if not 0 < rate <= MAX_RATE:
            raise UsageError(f"--rate {rate:g}: a rate above 0 and at most {MAX_RATE:g} requests/s")
        if rate * plan.timeout > MAX_IN_FLIGHT:
            raise UsageError(f"--rate {rate:g} with --timeout {plan.timeout:g}s keeps {rate * plan.timeout:g} "
                             f"requests waiting during a black hole; at most {MAX_IN_FLIGHT}")
        for duration in plan.durations:
            if duration <= 0:
                raise UsageError(f"--duration {duration:g}s: an outage must last more than 0 s")
            if duration * rate < MIN_INTERVALS:
                raise UsageError(
                    f"--duration {duration * 1000:g}ms at --rate {rate:g} spans fewer than {MIN_INTERVALS} requests, "
                    f"so the load cannot resolve it; use a rate of at least {math.ceil(MIN_INTERVALS / duration)} "
                    f"requests/s for it, or a longer outage")
    return plan
