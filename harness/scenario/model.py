"""The scenario model: what goes wrong, when, under which strategy, and what is expected.

Each model validates itself; ``contradictions`` and ``timing_problems`` find
what is valid alone but impossible together. Nothing here knows the fault
plugins (``harness.faults.fit`` checks their parameters).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator

from harness.cluster.config import ENGINES, LB_PORTS, check_name
from harness.engine.base import UpdatePolicy
from harness.errors import ScenarioError
from harness.load import MAX_IN_FLIGHT, MAX_RATE, MIN_RATE
from harness.models import Duration, Strict, parse_duration

Outcome = Literal["completed", "rolled_back", "paused", "failed", "timed_out"]
Role = Literal["upgraded-worker", "most-upgraded", "worker", "manager", "standby-manager", "stateful"]
PhaseName = Literal["warmup", "upgrade", "rollback", "observe"]
# Blue-green's own steps (service-switch's too), which a fault can be timed by: green deployed beside blue, green
# ready, traffic switched.
StepName = Literal["green_deployed", "green_ready", "switched"]
STEPS: tuple[str, ...] = get_args(StepName)
StrategyKind = Literal["in-service", "blue-green", "service-switch"]
EngineName = Literal["swarm", "kubernetes"]  # harness.cluster.config.ENGINES
STRATEGIES: tuple[str, ...] = get_args(StrategyKind)
STEPPED = ("blue-green", "service-switch")  # the strategies that have STEPS
# A strategy that exists on some engines only, and why: the others refuse it before the first phase (the matrix
# skips it there), as they refuse a scenario that names other ``engines``.
STRATEGY_ENGINES: dict[str, tuple[tuple[str, ...], str]] = {
    "service-switch": (("kubernetes",), "it flips a Kubernetes Service's selector from blue's pods to green's; "
                                        "Swarm has no Service whose selector could be switched"),
}
OUTCOMES: tuple[str, ...] = get_args(Outcome)
DEFAULT_STRATEGY = "in-service"
MAX_CLIENT_TIMEOUT = 30.0  # seconds; a client waiting longer blurs every outage it should measure
MIN_CLIENT_TIMEOUT = 0.05  # seconds; a shorter wait fails answers a healthy stack gives
MIN_UPGRADE_TIMEOUT = 10.0  # seconds; an upgrade waits at least for a task to start and Swarm's monitor period

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "STRATEGY_ENGINES", "Scenario", "contradictions", "node_name_error", "parse_duration",
           "timing_problems"]


def node_name_error(name: object) -> str | None:
    """Why ``name`` cannot name a node (None when it can): the docker provider's node1, node2, ... and an
    inventory's host names alike. Whether the cluster has the node is checked against it before the run."""
    try:
        check_name(name, "node")  # type: ignore[arg-type]  # what is no str is refused too
    except ValueError as error:
        return f"{error} (an inventory's host name, or node1, node2, ... on the docker provider)"
    return None


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
    registry: Literal["open", "authenticated"] = Field(
        "open", description="pull anonymously, or from the registry twin that requires credentials")
    fresh_pull: bool = Field(True, description="remove to_version from every node first, so the upgrade pulls it")
    readiness: Literal["as-given", "entry-health"] = Field(
        "as-given", description="Kubernetes objects: the readiness probes as the app's files give them (as-given), or "
                                "a probe asking the entry's health path for the entry's container where it has none "
                                "(entry-health; the broken release keeps its failing check)")

    @property
    def releases(self) -> tuple[str, str]:
        """``from`` and ``to``: the releases (or roles) the app profile must resolve."""
        return self.from_release, self.to_release

    @field_validator("from_release")
    @classmethod
    def _not_from_broken(cls, release: str) -> str:
        if release == "broken":
            raise ValueError("the broken release is made from the new one to upgrade to; an upgrade starts from a "
                             "working release: old (the default) or a release of the profile")
        return release

    @model_validator(mode="after")
    def _an_upgrade(self) -> Stack:
        if self.from_release == self.to_release:
            raise ValueError(f"from and to are both {self.from_release!r}: nothing would be upgraded; upgrade to "
                             "another release (new is the profile's last)")
        return self

    @field_validator("publish_on_upgrade")
    @classmethod
    def _not_the_lb_ports(cls, port: int | None) -> int | None:
        if port in LB_PORTS.values():
            raise ValueError(f"the load balancer publishes {' and '.join(map(str, LB_PORTS.values()))} on the manager; "
                             "choose another port from 1024 to 65535")
        return port


Share = Annotated[str, Field(pattern=r"^(100|[1-9]?[0-9])%$", description="a share of the replicas, 0% to 100%")]


class KubernetesOptions(Strict):
    """Settings of a Kubernetes rollout that have no Swarm twin (a Swarm cluster ignores them)."""

    progress_deadline: Duration | None = Field(
        None, ge=1, description="the rollout's progressDeadlineSeconds: how long it may make no progress before "
                                "the failure action (default: update_config.delay + monitor)")
    max_surge: Annotated[int, Field(ge=0)] | Share | None = Field(
        None, description="the rollout's maxSurge: pods above the replicas, a count or a share rounded up (with "
                          "max_unavailable, in place of update_config's parallelism and order)")
    max_unavailable: Annotated[int, Field(ge=0)] | Share | None = Field(
        None, description="the rollout's maxUnavailable: pods below the replicas, a count or a share rounded down")

    @model_validator(mode="after")
    def _not_both_zero(self) -> KubernetesOptions:
        if self.max_surge in (0, "0%") and self.max_unavailable in (0, "0%"):
            raise ValueError("max_surge and max_unavailable are both 0: the rollout could never replace a pod "
                             "(the API refuses it); give one of them more than 0")
        return self


class Strategy(Strict):
    """How the upgrade is performed; without ``kind`` the command line (or the matrix) chooses.

    Blue-green reads three update_config fields: ``monitor`` (its watch after
    the switch), ``failure_action`` (rollback: give up on green as soon as
    more of its tasks failed than ``max_failure_ratio`` allows).
    """

    kind: StrategyKind | None = None
    update_config: UpdateConfig = UpdateConfig()
    timeout: Duration = Field(180.0, ge=MIN_UPGRADE_TIMEOUT,
                              description="the longest the upgrade (and a requested rollback) may take")
    rollback_after: Duration | None = Field(
        None, description="request a rollback this long after the upgrade completed (rollback on request)")
    kubernetes: KubernetesOptions = KubernetesOptions()

    def policy(self) -> UpdatePolicy:
        """How the engine performs the update: update_config, and the Kubernetes settings."""
        return UpdatePolicy(**self.update_config.model_dump(), **self.kubernetes.model_dump())


class Load(Strict):
    """Client load through the load balancer."""

    rate: float = Field(50.0, ge=MIN_RATE, le=MAX_RATE, description="total requests per second")
    timeout: Duration = Field(1.0, ge=MIN_CLIENT_TIMEOUT, le=MAX_CLIENT_TIMEOUT, description="seconds a request may take")
    write_ratio: float = Field(0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _bounded_in_flight(self) -> Load:
        if self.rate * self.timeout > MAX_IN_FLIGHT:
            raise ValueError(f"rate x timeout is {self.rate * self.timeout:g} requests waiting at once while the "
                             f"stack does not answer; at most {MAX_IN_FLIGHT}: lower the rate or the timeout")
        return self


class Phases(Strict):
    """Phase lengths around the upgrade (which lasts until the engine settles)."""

    warmup: Duration = 10.0
    observe: Duration = 20.0
    verify_window: Duration = Field(5.0, gt=0, description="last part of observe used to verify rollback")

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
        if self.label is not None and ("=" not in self.label or not self.label.split("=", 1)[0]):
            raise ValueError(f"label must be key=value, got {self.label!r}")
        if self.node is not None and (problem := node_name_error(self.node)):
            raise ValueError(problem)
        return self


class Timing(Strict):
    """When a fault is injected: a phase start or a blue-green step plus an offset, or once N tasks of the
    new release were started (0: as the upgrade starts, before any)."""

    phase: PhaseName | None = None
    step: StepName | None = Field(None, description="blue-green and service-switch only")
    offset: Duration = 0.0
    tasks_replaced: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_trigger(self) -> Timing:
        if [self.phase, self.step, self.tasks_replaced].count(None) != 2:
            raise ValueError("give one of phase or step (each with an optional offset), or tasks_replaced")
        return self

    @property
    def label(self) -> str:
        """``tasks_replaced=1``, ``step=switched+2s``, ``phase=rollback+11s``: the timing as a sweep names it."""
        if self.tasks_replaced is not None:
            return f"tasks_replaced={self.tasks_replaced}"
        key, value = ("phase", self.phase) if self.phase is not None else ("step", self.step)
        return f"{key}={value}" + (f"+{self.offset:g}s" if self.offset else "")


class FaultSpec(Strict):
    """One fault of the scenario. ``params`` are checked against the plugin's own model."""

    kind: str
    target: Target = Target(role="upgraded-worker")
    at: Timing = Timing(phase="upgrade", offset=1.0)
    duration: Duration | None = Field(None, gt=0, description="seconds the fault holds; none = until the run ends")
    params: dict[str, Any] = {}


class Expect(Strict):
    """Service-level expectations, each judged pass or fail."""

    max_downtime: Duration | None = None
    max_longest_outage: Duration | None = None
    min_availability: float | None = Field(None, ge=0, le=1)
    upgrade_outcome: list[Outcome] | None = None
    rollback_succeeds: bool | None = None
    max_lost_writes: int | None = Field(0, ge=0)

    @field_validator("upgrade_outcome")
    @classmethod
    def _some_outcome(cls, outcomes: list[str] | None) -> list[str] | None:
        if outcomes == []:
            raise ValueError(f"no outcome could pass; give at least one of {', '.join(OUTCOMES)}, "
                             "or leave upgrade_outcome out")
        return outcomes


ErrorDict = dict[str, Any]  # one problem as pydantic reports it: loc (the key path), input (the bad value), msg


class Scenario(Strict):
    """A failure scenario: the upgrade, the load, the faults and what must hold."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,61}$", description="part of every run directory's name")
    description: str = ""
    stack: Stack = Stack()
    strategy: Strategy = Strategy()
    load: Load = Load()
    phases: Phases = Phases()
    faults: list[FaultSpec] = []
    expect: Expect = Expect()
    engines: list[EngineName] = Field(list(ENGINES), min_length=1,
                                      description="the engines the scenario means something on (default: every one)")

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
        if chosen not in STEPPED and (timed := [f.at.step for f in self.faults if f.at.step is not None]):
            raise ScenarioError(f"scenario {self.name} times a fault by the blue-green step {timed[0]}; "
                                f"{chosen} has no such step: run it under blue-green, or time it by phase or "
                                "tasks_replaced")
        return self.model_copy(update={"strategy": self.strategy.model_copy(update={"kind": chosen})})

    def misfit(self, engine: str) -> ErrorDict | None:
        """Why this scenario (its strategy kind resolved) cannot run on ``engine`` (key, value and message, as
        ``contradictions`` gives them), or None when it can: it names other ``engines``, or its strategy exists on
        other engines only (``STRATEGY_ENGINES``)."""
        if engine not in self.engines:
            return {"loc": ("engines",), "input": self.engines,
                    "msg": f"this cluster's engine is {engine}; the scenario means something on "
                           f"{' and '.join(self.engines)} only: run it on such a cluster (--engine)"}
        kind = self.strategy.kind or DEFAULT_STRATEGY
        engines, why = STRATEGY_ENGINES.get(kind, (ENGINES, ""))
        if engine in engines:
            return None
        return {"loc": ("strategy", "kind"), "input": kind,
                "msg": f"the strategy {kind} exists on {' and '.join(engines)} only ({why}); this cluster's engine "
                       f"is {engine}: run it on a {' or '.join(engines)} cluster (--engine), or under another strategy"}


def contradictions(scenario: Scenario) -> list[ErrorDict]:
    """Settings each valid alone that together make a run impossible, or an expectation that can never pass."""
    checks = (_something_to_judge, _rollback_after_needs_completion, _rollback_expected_without_one,
              _rolled_back_out_of_reach)
    return [problem for check in checks if (problem := check(scenario))]


def _something_to_judge(scenario: Scenario) -> ErrorDict | None:
    """A scenario with no fault and no expectation of its own would pass whatever happened (but lost writes)."""
    if scenario.faults or "expect" in scenario.model_fields_set:
        return None
    return {"loc": ("expect",), "input": None,
            "msg": "the scenario injects no fault and states no expectation, so a run would pass whatever happened "
                   "to the users; add faults, or expect (a baseline such as the shipped clean-upgrade expects "
                   "upgrade_outcome: [completed] and max_downtime: 0s)"}


def _expected_outcomes(scenario: Scenario) -> set[str]:
    return set(scenario.expect.upgrade_outcome or OUTCOMES)


def _rollback_after_needs_completion(scenario: Scenario) -> ErrorDict | None:
    """The rollback phase follows a completed upgrade only."""
    outcomes, after = _expected_outcomes(scenario), scenario.strategy.rollback_after
    if after is None or "completed" in outcomes:
        return None
    return {"loc": ("strategy", "rollback_after"), "input": after,
            "msg": f"a rollback is requested only after a completed upgrade, and expect.upgrade_outcome "
                   f"{sorted(outcomes)} excludes completed; add completed, or remove rollback_after"}


def _rollback_expected_without_one(scenario: Scenario) -> ErrorDict | None:
    """``rollback_succeeds: true`` with nothing that could roll the upgrade back."""
    only_completed = _expected_outcomes(scenario) == {"completed"}
    if not scenario.expect.rollback_succeeds or scenario.strategy.rollback_after is not None or not (
            only_completed or _never_rolls_back(scenario)):
        return None
    hint = ("add rolled_back to expect.upgrade_outcome" if only_completed
            else "set strategy.update_config.failure_action: rollback")
    return {"loc": ("expect", "rollback_succeeds"), "input": True,
            "msg": f"nothing would roll the upgrade back: set strategy.rollback_after (rollback on request), or {hint}"}


def _rolled_back_out_of_reach(scenario: Scenario) -> ErrorDict | None:
    """Only ``rolled_back`` expected from an in-service upgrade that never rolls back by itself."""
    if not _never_rolls_back(scenario) or _expected_outcomes(scenario) != {"rolled_back"}:
        return None
    return {"loc": ("expect", "upgrade_outcome"), "input": scenario.expect.upgrade_outcome,
            "msg": "an in-service upgrade rolls back by itself only with strategy.update_config.failure_action: "
                   "rollback; set it, or expect another outcome"}


def _never_rolls_back(scenario: Scenario) -> bool:
    """In-service (fixed by the scenario) with a failure_action that never makes Swarm roll back."""
    strategy = scenario.strategy
    return strategy.kind == "in-service" and strategy.update_config.failure_action != "rollback"


def timing_problems(scenario: Scenario, fault: FaultSpec) -> list[ErrorDict]:
    """A trigger that can never fire: a phase the run does not have, an offset past its end, too many tasks."""
    at, replicas = fault.at, scenario.stack.replicas
    if at.tasks_replaced is not None and at.tasks_replaced > replicas:
        return [{"loc": ("at", "tasks_replaced"), "input": at.tasks_replaced,
                 "msg": f"the upgrade replaces stack.replicas ({replicas}) tasks, so this would never fire; "
                        f"give 0 to {replicas}"}]
    if at.phase == "rollback" and scenario.strategy.rollback_after is None:
        return [{"loc": ("at", "phase"), "input": "rollback",
                 "msg": "there is a rollback phase only when strategy.rollback_after is set"}]
    if at.step is not None and scenario.strategy.kind == "in-service":
        return [{"loc": ("at", "step"), "input": at.step,
                 "msg": "blue-green steps exist only under strategy.kind: blue-green or service-switch; time it by "
                        "phase or tasks_replaced"}]
    if at.step is not None and at.offset >= (longest := scenario.strategy.timeout + scenario.phases.observe):
        return [{"loc": ("at", "offset"), "input": at.offset,
                 "msg": f"the run ends before then: after a blue-green step it lasts at most {longest:g}s "
                        "(strategy.timeout + observe); give a smaller offset"}]
    if at.phase is None:
        return []
    longest, parts = _longest_from(scenario, at.phase)
    if at.offset < longest:
        return []
    return [{"loc": ("at", "offset"), "input": at.offset,
             "msg": f"the run ends before then: from the start of {at.phase} it lasts at most {longest:g}s "
                    f"({' + '.join(parts)}); give an offset below {longest:g}s"}]


def _longest_from(scenario: Scenario, phase: PhaseName) -> tuple[float, list[str]]:
    """The longest the run lasts from the start of ``phase`` (it has that phase), and what that adds up from."""
    phases, strategy = scenario.phases, scenario.strategy
    spans = [("warmup", phases.warmup, "warmup"), ("upgrade", strategy.timeout, "upgrade (strategy.timeout)")]
    if strategy.rollback_after is not None:
        spans.append(("rollback", strategy.rollback_after + strategy.timeout,
                      "rollback (strategy.rollback_after + strategy.timeout)"))
    spans.append(("observe", phases.observe, "observe"))
    rest = spans[[name for name, _, _ in spans].index(phase):]
    return sum(seconds for _, seconds, _ in rest), [f"{what} {seconds:g}s" for _, seconds, what in rest]
