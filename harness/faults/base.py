"""The fault plugin contract.

A plugin is a class with a ``name``, a one-line ``description``, a pydantic
``Params`` model, and ``inject``/``heal``/``verify`` methods. It is built from
its validated parameters and the resolved target node, so that a heal can be
rebuilt from the heal ledger after a crash. Register it in a package's
``[project.entry-points."harness.faults"]`` table.

``heal`` must also undo a fault that was recorded in the ledger but never
(or only partly) injected: a crash can come between the two.

Three optional class methods (``BaseFault`` has all, finding nothing) let a
plugin refuse what cannot work before anything starts:
``check_scenario(params, spec, scenario)`` when the scenario is validated,
and ``check_cluster(params, ctx)`` before the run's first phase. Each returns
``Problem``s naming a key under the fault; ``check_cluster`` raises
``ClusterError`` for what the cluster itself should have but lacks.
``check_node(params, node, ctx)`` says why the fault cannot hit one node
(None when it can): the target is then chosen among the other nodes only
(``harness.faults.targets``), and a target that leaves none is refused before
the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from harness.engine.base import Engine, RegistryAuth

if TYPE_CHECKING:
    from harness.scenario.model import FaultSpec, Scenario

# What a fault may need of the cluster beside the engine's API, and what a cluster lacking it is missing.
NEEDS = {"shell": "a shell on the nodes (an existing cluster: give --inventory with their SSH logins)",
         "registry": "the harness's own registry in front of the nodes (an existing cluster pulls from yours)"}


class CommandResult(Protocol):
    """Exit code and output of a command run on a node."""

    exit_code: int
    output: str

    @property
    def ok(self) -> bool: ...


class ProxyControl(Protocol):
    """The TCP proxy between the nodes and the registry (a Toxiproxy proxy)."""

    enabled: bool

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    def add_toxic(self, **toxic: Any) -> Any: ...

    def toxics(self) -> dict[str, Any]: ...

    def destroy_toxic(self, name: str) -> Any: ...


class CredentialedRegistry(Protocol):
    """The registry that requires credentials: which ones the cluster holds, and which ones it accepts."""

    def auth(self) -> RegistryAuth: ...

    def accept_password(self, password: str) -> None: ...

    def accepts(self, auth: RegistryAuth) -> bool: ...


class NodeControl(Protocol):
    """What a fault may do to the harness's own cluster, and nothing more."""

    @property
    def engine(self) -> Engine: ...

    def halt_node(self, node: str, force: bool = False) -> None: ...

    def start_node(self, node: str) -> None: ...

    def node_states(self) -> dict[str, str]: ...

    def can_power_cycle(self, node: str) -> bool: ...

    def offers(self) -> frozenset[str]:
        """What the cluster lets faults act through beside the engine's API (``NEEDS``): a ``shell`` on the nodes,
        the harness's own ``registry``; an existing cluster offers a shell only with an SSH inventory of its nodes,
        and never the registry."""
        ...

    def control_port(self, node: str) -> int | None:
        """The TCP port the harness reaches the node's commands through (its SSH port), which a fault must spare
        to be healed; None when the node is not reached over the network."""
        ...

    def node_addresses(self) -> dict[str, str]: ...

    def registry_proxy(self) -> ProxyControl: ...

    def secure_registry(self) -> CredentialedRegistry: ...

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> CommandResult: ...


@dataclass(frozen=True)
class FaultContext:
    """Handed to every fault operation: the cluster, the engine's name of the service being upgraded, and the
    engine's names of every service the run deploys (both empty when healing from a ledger after a crash)."""

    cluster: NodeControl
    upgraded: str = ""
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Why a fault cannot work as given: the key under the fault (``("params", "peers")``), its value, what would."""

    loc: tuple[str | int, ...]
    value: Any
    msg: str


class FaultParams(BaseModel):
    """Base of every fault's parameter model: unknown keys are errors, values are frozen, numbers finite."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NoParams(FaultParams):
    """For faults without parameters."""


@runtime_checkable
class Fault(Protocol):
    """A failure that can be injected, verified and healed."""

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    target: str

    def inject(self, ctx: FaultContext) -> None:
        """Make the failure happen on ``target``."""
        ...

    def heal(self, ctx: FaultContext) -> None:
        """Undo the failure; must be safe to call when it is already undone."""
        ...

    def verify(self, ctx: FaultContext) -> bool:
        """Whether the failure holds right now, checked from outside the fault."""
        ...


class BaseFault:
    """Stores the validated parameters and the target; plugins subclass it."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams
    # engine (a cluster's ``engine``) -> why this fault cannot run there; refused before the first phase
    unsupported: ClassVar[dict[str, str]] = {}
    # what of the cluster the fault acts through beside the engine's API (NEEDS), checked against NodeControl.offers
    needs: ClassVar[frozenset[str]] = frozenset({"shell"})

    def __init__(self, params: dict[str, Any] | BaseModel, target: str) -> None:
        self.params = params if isinstance(params, BaseModel) else self.Params.model_validate(params)
        self.target = target

    def said(self) -> str:
        """What the engine answered while the fault held, in its own words, for the journal's ``fault.heal``
        ('' when nothing is worth telling; a plugin without this method tells nothing)."""
        return ""

    @classmethod
    def check_scenario(cls, params: Any, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
        """What in the scenario contradicts this fault with ``params`` (validated); nothing by default."""
        return []

    @classmethod
    def check_cluster(cls, params: Any, ctx: FaultContext) -> list[Problem]:
        """What ``params`` name that the cluster lacks, checked before the first phase; nothing by default."""
        return []

    @classmethod
    def check_node(cls, params: Any, node: str, ctx: FaultContext) -> str | None:
        """Why this fault cannot hit ``node`` (None when it can); every node can by default."""
        return None


def scenario_problems(plugin: type, params: BaseModel, spec: FaultSpec, scenario: Scenario) -> list[Problem]:
    """The plugin's ``check_scenario`` findings (none for a plugin without one)."""
    check = getattr(plugin, "check_scenario", None)
    return list(check(params, spec, scenario)) if check else []


def node_problem(plugin: type, params: BaseModel, node: str, ctx: FaultContext) -> str | None:
    """The plugin's ``check_node`` finding for ``node`` (None for a plugin without one)."""
    check = getattr(plugin, "check_node", None)
    return check(params, node, ctx) if check else None


def cluster_problems(plugin: type, params: BaseModel, ctx: FaultContext) -> list[Problem]:
    """The plugin's ``check_cluster`` findings (none for a plugin without one), and its engine's refusal."""
    engine = ctx.cluster.state.engine
    if engine in (refused := getattr(plugin, "unsupported", {})):
        return [Problem(("kind",), getattr(plugin, "name", ""), f"not on a {engine} cluster: {refused[engine]}")]
    missing = sorted(getattr(plugin, "needs", frozenset({"shell"})) - ctx.cluster.offers())
    if missing:
        return [Problem(("kind",), getattr(plugin, "name", ""),
                        f"not on this cluster: it needs {' and '.join(NEEDS[need] for need in missing)}")]
    check = getattr(plugin, "check_cluster", None)
    return list(check(params, ctx)) if check else []
