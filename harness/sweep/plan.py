"""Which points of an upgrade's timeline a sweep strikes at, and how long the sweep will take.

A point is a fault timing (``scenario.Timing``). Under in-service the points
are the upgrade's start (before the update is requested) and each task
replaced; under blue-green (and service-switch) its start (before green is deployed), green
deployed, green ready (one poll before the switch), the switch and halfway
through the watch after it; under both, just after a requested rollback when
the scenario asks for one (in-service: while Swarm rolls back; blue-green:
after its switch back). ``--points N`` spreads N of them evenly; ``--at``
names them. Every problem is found before anything starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.errors import UsageError
from harness.models import parse_duration
from harness.scenario import STEPS, Scenario, Timing, timing_problems
from harness.scenario.model import STEPPED

WATCH_SHARE = 0.5  # the watch point: this share of blue-green's post-switch monitor after the switch
ROLLBACK_LAG = 1.0  # the rollback point: seconds after the rollback was requested
NEUTRAL = Timing(phase="upgrade")  # the swept fault's own timing while points are planned (it is replaced)
RUN_OVERHEAD = 25.0  # seconds a run spends outside its phases: prepare, heal, read-back, analysis (3-8 s measured),
                     # and the swept fault's own recovery (a halted node's rejoin) before the next run
TASK_SECONDS = 5.0  # a replaced task's start and health check, for the estimate
GREEN_SECONDS = 20.0  # green deployed, healthy and smoke-tested, for the estimate
AT_KEYS = ("tasks_replaced", "step", "phase")


@dataclass(frozen=True)
class SweepRun:
    """One run of the sweep: the scenario with its first fault at ``at``, under one strategy, one repeat."""

    scenario: Scenario
    at: Timing
    repeat: int

    @property
    def strategy(self) -> str:
        return self.scenario.strategy.kind or ""

    @property
    def point(self) -> str:
        return self.at.label


def candidates(scenario: Scenario) -> list[Timing]:
    """Every point of the scenario's upgrade (strategy resolved), in timeline order."""
    strategy = scenario.strategy
    if strategy.kind in STEPPED:
        watch = strategy.update_config.monitor * WATCH_SHARE
        points = [Timing(tasks_replaced=0), *(Timing(step=step) for step in STEPS), Timing(step="switched", offset=watch)]
    else:
        points = [Timing(tasks_replaced=n) for n in range(scenario.stack.replicas + 1)]
    if strategy.rollback_after is not None:
        points.append(rollback_point(scenario))
    return points


def rollback_point(scenario: Scenario) -> Timing:
    """Just after the requested rollback (the rollback phase waits rollback_after first, then asks for it)."""
    return Timing(phase="rollback", offset=(scenario.strategy.rollback_after or 0.0) + ROLLBACK_LAG)


def spread(points: list[Timing], count: int | None, strategy: str, cap: bool = False) -> list[Timing]:
    """``count`` of ``points`` evenly spread, first and last included (all of them when ``count`` is None, or
    with ``cap`` when there are fewer)."""
    if count is None or (cap and count >= len(points)):
        return points
    if not 1 <= count <= len(points):
        raise UsageError(f"--points {count}: {strategy} has {len(points)} points here "
                         f"({', '.join(p.label for p in points)}); give 1 to {len(points)}")
    if count == 1:
        return points[:1]
    return [points[round(i * (len(points) - 1) / (count - 1))] for i in range(count)]


def parse_at(texts: list[str], scenario: Scenario) -> list[Timing]:
    """``--at tasks_replaced=0,1 --at step=switched+2s --at phase=rollback`` -> timings, in the order given.

    ``phase=rollback`` without an offset means just after the requested rollback (``rollback_point``).
    """
    timings: list[Timing] = []
    for text in texts:
        key, _, values = text.partition("=")
        if key not in AT_KEYS or not values:
            raise UsageError(f"--at {text!r}: give KEY=VALUE[,VALUE...] with KEY one of {', '.join(AT_KEYS)}, "
                             "e.g. tasks_replaced=0,1,2 or step=switched or phase=rollback")
        timings += [_timing(key, value.strip(), text, scenario) for value in values.split(",")]
    return list(dict.fromkeys(timings))


def _timing(key: str, value: str, text: str, scenario: Scenario) -> Timing:
    if key == "tasks_replaced":
        if not value.isdigit():
            raise UsageError(f"--at {text!r}: tasks_replaced takes whole numbers from 0, got {value!r}")
        return Timing(tasks_replaced=int(value))
    name, plus, offset = value.partition("+")
    allowed = STEPS if key == "step" else ("warmup", "upgrade", "rollback", "observe")
    if name not in allowed:
        raise UsageError(f"--at {text!r}: {key} {name!r} is unknown; one of {', '.join(allowed)}")
    try:
        seconds = parse_duration(offset) if plus else None
    except ValueError as error:
        raise UsageError(f"--at {text!r}: offset {offset!r}: {error}") from None
    if key == "phase" and name == "rollback" and seconds is None:
        return rollback_point(scenario)
    return Timing(**{key: name, "offset": seconds or 0.0})


def plan(scenario: Scenario, strategies: list[str | None], count: int | None, at: list[str], repeat: int,
         cap_points: bool = False) -> list[SweepRun]:
    """Every run of the sweep, repeats outermost; UsageError for a point that cannot exist under a strategy.

    A scenario that fixes its strategy is swept under that one only; ``cap_points``: fewer points than
    ``count`` are all taken rather than refused."""
    if not scenario.faults:
        raise UsageError(f"scenario {scenario.name} has no fault to sweep; add one under faults "
                         "(the sweep moves the first fault across the upgrade)")
    if repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {repeat}")
    if at and count is not None:
        raise UsageError("give --points or --at, not both")
    cells = []
    for kind in [scenario.strategy.kind] if scenario.strategy.kind else strategies:
        under = at_point(scenario, NEUTRAL).under(kind)  # the swept fault's own timing does not bind a strategy
        points = parse_at(at, under) if at else spread(candidates(under), count, under.strategy.kind or "",
                                                       cap_points)
        cells += [(under, timing) for timing in points]
    problems = [problem for under, timing in cells if (problem := point_problem(under, timing))]
    if problems:
        raise UsageError("the sweep has points that cannot exist:\n" + "\n".join(f"  {p}" for p in problems))
    return [SweepRun(at_point(under, timing), timing, index) for index in range(1, repeat + 1)
            for under, timing in cells]


def at_point(scenario: Scenario, timing: Timing) -> Scenario:
    """The scenario with its first fault struck at ``timing``."""
    first = scenario.faults[0].model_copy(update={"at": timing})
    return scenario.model_copy(update={"faults": [first, *scenario.faults[1:]]})


def point_problem(scenario: Scenario, timing: Timing) -> str | None:
    """Why ``timing`` cannot happen in ``scenario`` under its strategy (None when it can)."""
    found = timing_problems(scenario, at_point(scenario, timing).faults[0])
    if not found:
        return None
    return f"{scenario.strategy.kind} {timing.label}: {found[0]['msg']}"


def estimate(runs: list[SweepRun]) -> float:
    """Seconds the sweep should take: every run's phases, its upgrade as usually long, and its overhead."""
    return sum(_run_seconds(run.scenario) for run in runs)


def longest(runs: list[SweepRun]) -> float:
    """Seconds the sweep takes at most: every upgrade (and rollback) running to its timeout."""
    return sum(_phases(run.scenario) + _settling(run.scenario) * run.scenario.strategy.timeout + RUN_OVERHEAD
               for run in runs)


def _settling(scenario: Scenario) -> int:
    """How many times the run waits for the strategy to settle: the upgrade, and a requested rollback."""
    return 1 if scenario.strategy.rollback_after is None else 2


def _run_seconds(scenario: Scenario) -> float:
    strategy = scenario.strategy
    policy = strategy.update_config
    if strategy.kind in STEPPED:
        upgrade = GREEN_SECONDS + policy.monitor
    else:
        rounds = math.ceil(scenario.stack.replicas / (policy.parallelism or scenario.stack.replicas))
        upgrade = rounds * (TASK_SECONDS + policy.delay) + policy.monitor
    rollback = 0.0 if strategy.rollback_after is None else min(strategy.timeout, upgrade)
    return _phases(scenario) + min(strategy.timeout, upgrade) + rollback + RUN_OVERHEAD


def _phases(scenario: Scenario) -> float:
    return scenario.phases.warmup + (scenario.strategy.rollback_after or 0.0) + scenario.phases.observe


def check_duration(runs: list[SweepRun], max_duration: float) -> float:
    """The estimate, or UsageError showing it when it exceeds ``max_duration``."""
    expected = estimate(runs)
    if expected > max_duration:
        raise UsageError(f"the sweep's {len(runs)} runs would take about {shown_duration(expected)} (at most "
                         f"{shown_duration(longest(runs))} if every upgrade ran to its timeout), more than "
                         f"--max-duration {shown_duration(max_duration)}; sweep fewer points (--points), fewer "
                         "repeats or strategies, or raise --max-duration")
    return expected


def shown_duration(seconds: float) -> str:
    """``2 h 05 min``, ``12 min``; at least ``1 min``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"
