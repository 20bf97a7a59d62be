"""Scenario files: YAML in, a validated, typed ``Scenario`` out.

Every problem is reported before anything starts, each naming the file, the
key path, the bad value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, ValidationError, model_validator

from harness.engine.base import UpdatePolicy
from harness.errors import ScenarioError
from harness.models import Duration, Strict, format_errors, load_model, parse_duration

Outcome = Literal["completed", "rolled_back", "paused", "failed", "timed_out"]
Role = Literal["upgraded-worker", "most-upgraded", "worker", "manager", "stateful"]
PhaseName = Literal["warmup", "upgrade", "rollback", "observe"]
StrategyKind = Literal["in-service", "blue-green"]
STRATEGIES: tuple[str, ...] = get_args(StrategyKind)
DEFAULT_STRATEGY = "in-service"

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "Scenario", "load_scenario", "parse_duration"]


class UpdateConfig(Strict):
    """Swarm's update_config; every field is always sent (docker-py's defaults differ)."""

    parallelism: int = Field(1, ge=0)
    delay: Duration = 2.0
    order: Literal["stop-first", "start-first"] = "stop-first"
    failure_action: Literal["pause", "continue", "rollback"] = "pause"
    monitor: Duration = 5.0
    max_failure_ratio: float = Field(0.0, ge=0, le=1)

    def policy(self) -> UpdatePolicy:
        return UpdatePolicy(**self.model_dump())


class Stack(Strict):
    """The upgrade to perform on the app profile's stack.

    ``from``/``to`` name releases of the profile, or the roles ``old`` (its
    first release), ``new`` (its last) and ``broken`` (synthesised from the
    new release: the same images with a health check that never passes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_release: str = Field("old", alias="from", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
    to_release: str = Field("new", alias="to", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
    replicas: int = Field(3, ge=1, le=12, description="tasks of every upgraded service")
    publish_on_upgrade: int | None = Field(None, ge=1024, le=65535,
                                           description="the new release also publishes the entry port on this host port")
    stateful_placement: Literal["pinned", "floating"] = Field(
        "pinned", description="stateful services pinned to the labelled node, or free to move to any worker")

    @property
    def releases(self) -> tuple[str, str]:
        """``from`` and ``to``: the releases (or roles) the app profile must resolve."""
        return self.from_release, self.to_release
    registry: Literal["open", "authenticated"] = Field(
        "open", description="pull anonymously, or from the registry twin that requires credentials")
    fresh_pull: bool = Field(True, description="remove to_version from every node first, so the upgrade pulls it")


class Strategy(Strict):
    """How the upgrade is performed; without ``kind`` the command line (or the matrix) chooses.

    Blue-green reads three update_config fields: ``monitor`` (its watch after
    the switch), ``failure_action`` (rollback: give up on green as soon as
    more of its tasks failed than ``max_failure_ratio`` allows).
    """

    kind: StrategyKind | None = None
    update_config: UpdateConfig = UpdateConfig()
    timeout: Duration = 180.0
    rollback_after: Duration | None = Field(
        None, description="request a rollback this long after the upgrade completed (rollback on request)")


class Load(Strict):
    """Client load through the load balancer."""

    rate: float = Field(50.0, gt=0, le=500, description="total requests per second")
    timeout: Duration = 1.0
    write_ratio: float = Field(0.2, ge=0, le=1)


class Phases(Strict):
    """Phase lengths around the upgrade (which lasts until the engine settles)."""

    warmup: Duration = 10.0
    observe: Duration = 20.0
    verify_window: Duration = Field(5.0, description="last part of observe used to verify rollback")

    @model_validator(mode="after")
    def _window_inside_observe(self) -> Phases:
        if self.verify_window > self.observe:
            raise ValueError(f"verify_window ({self.verify_window}s) must not exceed observe ({self.observe}s)")
        return self


class Target(Strict):
    """Which node a fault hits: by name, by label, or by role; ``seed`` picks among candidates."""

    node: str | None = None
    label: str | None = Field(None, description="key=value")
    role: Role | None = None
    service: str | None = Field(None, description="a node running a task of this compose service")
    seed: int | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        chosen = [k for k in ("node", "label", "role", "service") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError(f"give exactly one of node, label, role or service (got {chosen or 'none'})")
        if self.label is not None and "=" not in self.label:
            raise ValueError(f"label must be key=value, got {self.label!r}")
        return self


class Timing(Strict):
    """When a fault is injected: a phase start plus an offset, or after N tasks were replaced."""

    phase: PhaseName | None = None
    offset: Duration = 0.0
    tasks_replaced: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _one_trigger(self) -> Timing:
        if (self.phase is None) == (self.tasks_replaced is None):
            raise ValueError("give either phase (with an optional offset) or tasks_replaced")
        return self


class FaultSpec(Strict):
    """One fault of the scenario. ``params`` are checked against the plugin's own model."""

    kind: str
    target: Target = Target(role="upgraded-worker")
    at: Timing = Timing(phase="upgrade", offset=1.0)
    duration: Duration | None = Field(None, description="seconds the fault holds; none = until the run ends")
    params: dict[str, Any] = {}


class Expect(Strict):
    """Service-level expectations, each judged pass or fail."""

    max_downtime: Duration | None = None
    max_longest_outage: Duration | None = None
    min_availability: float | None = Field(None, ge=0, le=1)
    upgrade_outcome: list[Outcome] | None = None
    rollback_succeeds: bool | None = None
    max_lost_writes: int | None = Field(0, ge=0)


class Scenario(Strict):
    """A failure scenario: the upgrade, the load, the faults and what must hold."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = ""
    stack: Stack = Stack()
    strategy: Strategy = Strategy()
    load: Load = Load()
    phases: Phases = Phases()
    faults: list[FaultSpec] = []
    expect: Expect = Expect()

    def under(self, kind: str | None) -> Scenario:
        """This scenario with its strategy kind resolved: its own, else ``kind``, else the default.

        A scenario that fixes its kind cannot be run under another one.
        """
        if kind is not None and kind not in STRATEGIES:
            raise ScenarioError(f"unknown strategy {kind!r}; known: {', '.join(STRATEGIES)}")
        if self.strategy.kind is not None and kind is not None and kind != self.strategy.kind:
            raise ScenarioError(f"scenario {self.name} fixes strategy.kind: {self.strategy.kind}; "
                                f"it cannot run under {kind}")
        chosen = self.strategy.kind or kind or DEFAULT_STRATEGY
        return self.model_copy(update={"strategy": self.strategy.model_copy(update={"kind": chosen})})


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file, including each fault's parameters."""
    path = Path(path)
    scenario = load_model(path, Scenario, "scenario", ScenarioError)
    _check_faults(path, scenario)
    return scenario


def _check_faults(path: Path, scenario: Scenario) -> None:
    from harness.faults import registry  # late: plugins may import the scenario model

    problems: list[dict[str, Any]] = []
    known = registry.available()
    for index, fault in enumerate(scenario.faults):
        where = ("faults", index)
        if fault.at.phase == "rollback" and scenario.strategy.rollback_after is None:
            problems.append({"loc": (*where, "at", "phase"), "input": "rollback",
                             "msg": "there is a rollback phase only when strategy.rollback_after is set"})
        if fault.kind not in known:
            problems.append({"loc": (*where, "kind"), "input": fault.kind,
                             "msg": f"unknown fault; known faults: {', '.join(sorted(known))}"})
            continue
        try:
            known[fault.kind].Params.model_validate(fault.params)
        except ValidationError as error:
            problems.extend({**e, "loc": (*where, "params", *e["loc"])} for e in error.errors())
    if problems:
        raise ScenarioError(format_errors(path, problems, Scenario, "scenario"))
