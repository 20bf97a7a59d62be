"""The fault plugin contract.

A plugin is a class with a ``name``, a one-line ``description``, a pydantic
``Params`` model, and ``inject``/``heal``/``verify`` methods. It is built from
its validated parameters and the resolved target node, so that a heal can be
rebuilt from the heal ledger after a crash. Register it in a package's
``[project.entry-points."harness.faults"]`` table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict
from toxiproxy.proxy import Proxy

from harness.cluster.registry import SecureRegistry
from harness.cluster.vagrant import ExecResult
from harness.engine.base import Engine


class NodeControl(Protocol):
    """What a fault may do to the harness's own cluster, and nothing more."""

    @property
    def engine(self) -> Engine: ...

    def halt_node(self, node: str, force: bool = False) -> None: ...

    def start_node(self, node: str) -> None: ...

    def node_states(self) -> dict[str, str]: ...

    def node_addresses(self) -> dict[str, str]: ...

    def registry_proxy(self) -> Proxy: ...

    def secure_registry(self) -> SecureRegistry: ...

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult: ...


@dataclass(frozen=True)
class FaultContext:
    """Handed to every fault operation: the cluster, and the engine's name of the service being upgraded."""

    cluster: NodeControl
    upgraded: str = ""  # empty when healing from a ledger after a crash


class FaultParams(BaseModel):
    """Base of every fault's parameter model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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

    def __init__(self, params: dict[str, Any] | BaseModel, target: str) -> None:
        self.params = params if isinstance(params, BaseModel) else self.Params.model_validate(params)
        self.target = target
