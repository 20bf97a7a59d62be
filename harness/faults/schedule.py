"""When faults are injected and healed during a run, with the heal ledger behind every step."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.engine.base import NodeInfo, ServiceSnapshot
from harness.errors import ClusterError
from harness.faults import registry, targets
from harness.faults.base import Fault, FaultContext, cluster_problems, node_problem
from harness.journal import Journal
from harness.ledger import HealLedger, LedgerEntry
from harness.scenario.model import FaultSpec


# Seconds a due fault whose target is where tasks run (upgraded-worker, most-upgraded, a service) waits for a node to
# match: the first task an update replaces may be on the manager or the stateful node, the next ones elsewhere.
PLACEMENT_GRACE = 30.0


@dataclass
class _Active:
    entry: LedgerEntry
    fault: Fault
    injected_at: float
    duration: float | None


class FaultScheduler:
    """Injects each scenario fault when its trigger fires and heals it when its time is up."""

    def __init__(self, specs: list[FaultSpec], ctx: FaultContext, journal: Journal, ledger: HealLedger,
                 cluster: str, stateful: tuple[str, ...] = (), service_name: Callable[[str], str] = str,
                 stateful_floats: bool = False) -> None:
        """``stateful`` are the engine's names of the stateful services (``stateful_floats``: placed on any
        worker, not pinned to the labelled node); ``service_name`` maps a compose service name (a ``service``
        target) to the engine's name."""
        self._waiting = list(enumerate(specs))
        self._stateful = stateful
        self._stateful_floats = stateful_floats
        self._service_name = service_name
        self._active: list[_Active] = []
        self._deferred: dict[int, float] = {}  # spec index -> when it was due, while no node matched its target
        self._ctx = ctx
        self._journal = journal
        self._ledger = ledger
        self._cluster = cluster

    def tick(self, marks: dict[str, float], snapshot: ServiceSnapshot | None, tasks_replaced: int) -> None:
        """Inject what is due, heal what has held long enough. ``marks``: when each phase and each strategy
        step started (epoch seconds), by name."""
        now = time.time()
        for index, spec in list(self._waiting):
            if _due(spec, marks, tasks_replaced, now) and (target := self._target(index, spec, snapshot, now)):
                self._waiting.remove((index, spec))
                self._inject(index, spec, target)
        for active in list(self._active):
            if active.duration is not None and now >= active.injected_at + active.duration:
                self._heal(active)

    def misfits(self) -> list[dict[str, Any]]:
        """What the faults name that the cluster (or the app) lacks, checked before the first phase.

        Each problem as pydantic reports one (key path under the scenario,
        value, what is allowed); ClusterError for what the cluster should have.
        """
        nodes = self._ctx.cluster.engine.nodes()
        problems = []
        for index, spec in self._waiting:
            plugin = registry.available()[spec.kind]
            found = [*self._target_misfits(spec, nodes),
                     *({"loc": p.loc, "input": p.value, "msg": p.msg} for p in
                       cluster_problems(plugin, plugin.Params.model_validate(spec.params), self._ctx))]
            problems += [{**p, "loc": ("faults", index, *p["loc"])} for p in found]
        return problems

    def _target_misfits(self, spec: FaultSpec, nodes: list[NodeInfo]) -> list[dict[str, Any]]:
        target, services = spec.target, self._ctx.services
        key = next(k for k in ("node", "label", "role", "service") if getattr(target, k) is not None)
        problem = targets.misfit(target, nodes, self._unfit(spec, nodes), self._stateful_floats)
        if target.service is not None and services and self._service_name(target.service) not in services:
            problem = (f"the app has no service {target.service} (the engine's {self._service_name(target.service)}); "
                       f"the run deploys: {', '.join(services)}")
        return [{"loc": ("target", key), "input": getattr(target, key), "msg": problem}] if problem else []

    def heal_all(self) -> None:
        """Heal every fault still pending in the ledger, last in first out."""
        self._active.clear()
        heal_pending(self._ledger, self._ctx, self._journal)

    def _target(self, index: int, spec: FaultSpec, snapshot: ServiceSnapshot | None, now: float) -> str | None:
        """The node to hit; None while a target that is where tasks run matches none yet (for ``PLACEMENT_GRACE``
        seconds, journalled once), ClusterError after that or for any other target."""
        stateful = self._placed(self._stateful) if spec.target.role == "stateful" else []
        named = self._placed([self._service_name(spec.target.service)]) if spec.target.service else []
        nodes = self._ctx.cluster.engine.nodes()
        try:
            return targets.choose(spec.target, nodes, snapshot.placed() if snapshot else [], stateful, named,
                                  self._unfit(spec, nodes))
        except ClusterError as error:
            due = self._deferred.setdefault(index, now)
            if not targets.where_tasks_run(spec.target) or now - due >= PLACEMENT_GRACE:
                raise
            if due == now:
                self._journal.write("fault.deferred", id=f"{index}-{spec.kind}", reason=str(error),
                                    waits=PLACEMENT_GRACE)
            return None

    def _inject(self, index: int, spec: FaultSpec, target: str) -> None:
        entry = LedgerEntry(id=f"{index}-{spec.kind}", kind=spec.kind, target=target, params=spec.params,
                            cluster=self._cluster)
        fault = registry.create(spec.kind, spec.params, target)
        self._ledger.record(entry)
        event = self._journal.write("fault.inject", id=entry.id, kind=spec.kind, target=target, params=spec.params)
        fault.inject(self._ctx)
        self._journal.write("fault.verify", id=entry.id, holds=fault.verify(self._ctx))
        self._active.append(_Active(entry, fault, event.t, spec.duration))

    def _unfit(self, spec: FaultSpec, nodes: list[NodeInfo]) -> dict[str, str]:
        """Node name to why the fault cannot hit it (its plugin's ``check_node``)."""
        plugin = registry.available()[spec.kind]
        params = plugin.Params.model_validate(spec.params)
        return {n.hostname: why for n in nodes if (why := node_problem(plugin, params, n.hostname, self._ctx))}

    def _placed(self, services: tuple[str, ...] | list[str]) -> list:
        return [t for service in services for t in self._ctx.cluster.engine.service(service).placed()]

    def _heal(self, active: _Active) -> None:
        self._active.remove(active)
        heal_entry(active.entry, active.fault, self._ctx, self._ledger, self._journal)


def heal_entry(entry: LedgerEntry, fault: Fault, ctx: FaultContext, ledger: HealLedger,
               journal: Journal | None) -> str | None:
    """Heal one fault: None when healed, else why not (a failed heal stays pending for ``chaos-harness heal``)."""
    try:
        fault.heal(ctx)
        holds = fault.verify(ctx)
    except Exception as error:  # one failed heal must not stop the others
        if journal:
            journal.write("fault.heal", id=entry.id, target=entry.target, ok=False, error=str(error))
        return f"its heal failed: {error}"
    ledger.mark_healed(entry.id)
    if journal:
        said = getattr(fault, "said", lambda: "")()
        journal.write("fault.heal", id=entry.id, target=entry.target, ok=not holds, still_holds=holds,
                      **({"said": said} if said else {}))
    return "it still holds after its heal" if holds else None


def heal_pending(ledger: HealLedger, ctx: FaultContext, journal: Journal | None = None) -> list[tuple[str, bool]]:
    """Heal everything the ledger still lists, most recent first; return (id, healed) pairs.

    An entry whose plugin is not installed stays pending (journalled), and the others are still healed.
    """
    return [(entry.id, heal_recorded(entry, ctx, ledger, journal) is None) for entry in ledger.pending()]


def heal_recorded(entry: LedgerEntry, ctx: FaultContext, ledger: HealLedger,
                  journal: Journal | None = None) -> str | None:
    """Heal a ledger entry, its fault rebuilt from the record: None when healed, else why not."""
    try:
        fault = registry.rebuild(entry.kind, entry.params, entry.target)
    except KeyError:
        why = f"no fault plugin {entry.kind!r} is installed (installed: {', '.join(sorted(registry.available()))})"
        if journal:
            journal.write("fault.heal", id=entry.id, target=entry.target, ok=False, error=why)
        return why
    return heal_entry(entry, fault, ctx, ledger, journal)


def _due(spec: FaultSpec, marks: dict[str, float], tasks_replaced: int, now: float) -> bool:
    if spec.at.tasks_replaced is not None:  # counted from the upgrade's start
        return "upgrade" in marks and tasks_replaced >= spec.at.tasks_replaced
    started = marks.get(spec.at.phase or spec.at.step or "")
    return started is not None and now >= started + spec.at.offset
