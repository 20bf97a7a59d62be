"""Choosing the node a fault hits: pure functions over the engine's view.

A fault may be unable to hit some nodes (node-halt a host without power
commands: ``check_node`` of the plugin says why, per node). Those nodes are
left out before the target is matched, so every kind of target means "among
the nodes the fault can hit": ``{node: h2}`` is refused when h2 is left out,
``{role: worker}`` picks a worker that can be hit, ``most-upgraded`` the node
running most upgraded tasks among them. ``misfit`` refuses before the run a
target that leaves no node the fault can hit; ``choose`` picks from the same
nodes during it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence

from harness.cluster.config import LB_LABEL, STATEFUL_LABEL
from harness.engine.base import NodeInfo, TaskInfo
from harness.errors import ClusterError
from harness.scenario.model import Target

# Roles that need a certain kind of node to exist at all, and how to say so.
_ROLE_NEEDS = {
    "worker": (lambda n: n.role == "worker", "a worker node"),
    "upgraded-worker": (lambda n: n.role != "manager" and n.labels.get(STATEFUL_LABEL) != "true",
                        "a worker that is not the stateful node (a cluster of 3 or more nodes: --nodes 3)"),
    "standby-manager": (lambda n: _standby_manager(n), "a manager besides the load balancer's (--managers 3)"),
}


def _standby_manager(node: NodeInfo) -> bool:
    """A manager that does not run the load balancer: losing it costs Raft a member, not the clients their LB."""
    return node.role == "manager" and node.labels.get(LB_LABEL) != "true"


def candidates(target: Target, nodes: list[NodeInfo], upgraded_tasks: Sequence[TaskInfo],
               stateful_tasks: Sequence[TaskInfo] = (), service_tasks: Sequence[TaskInfo] = ()) -> list[str]:
    """Every node matching ``target``, sorted by name.

    ``upgraded_tasks`` are the placed tasks of the service being upgraded,
    ``stateful_tasks`` those of the stateful services, ``service_tasks`` those
    of the service a ``service`` target names.
    """
    by_name = {n.hostname: n for n in nodes}
    upgraded = Counter(t.node for t in upgraded_tasks if t.node in by_name)
    if target.node is not None:
        matched = [target.node] if target.node in by_name else []
    elif target.label is not None:
        key, value = target.label.split("=", 1)
        matched = [n.hostname for n in nodes if n.labels.get(key) == value]
    elif target.service is not None:
        matched = list({t.node for t in service_tasks if t.node in by_name})
    elif target.role in ("manager", "worker"):
        matched = [n.hostname for n in nodes if n.role == target.role]
    elif target.role == "standby-manager":
        matched = [n.hostname for n in nodes if _standby_manager(n)]
    elif target.role == "stateful":
        matched = list({t.node for t in stateful_tasks if t.node in by_name}) or [
            n.hostname for n in nodes if n.labels.get(STATEFUL_LABEL) == "true"]
    elif target.role == "most-upgraded":
        top = max(upgraded.values(), default=0)
        matched = [name for name, count in upgraded.items() if count == top and top > 0]
    else:  # upgraded-worker: runs upgraded tasks, is neither the manager nor the stateful node
        matched = [name for name in upgraded
                   if by_name[name].role != "manager" and by_name[name].labels.get(STATEFUL_LABEL) != "true"]
    return sorted(matched)


def where_tasks_run(target: Target) -> bool:
    """Whether ``target`` is wherever certain tasks run at the moment, rather than a node the cluster names."""
    return target.role in ("upgraded-worker", "most-upgraded") or target.service is not None


def choose(target: Target, nodes: list[NodeInfo], upgraded_tasks: Sequence[TaskInfo],
           stateful_tasks: Sequence[TaskInfo] = (), service_tasks: Sequence[TaskInfo] = (),
           unfit: Mapping[str, str] | None = None) -> str:
    """The one node to hit: the first candidate, or a seeded random one, among the nodes not in ``unfit``
    (node name to why the fault cannot hit it)."""
    unfit = unfit or {}
    fit = [n for n in nodes if n.hostname not in unfit]
    found = candidates(target, fit, upgraded_tasks, stateful_tasks, service_tasks)
    if not found:
        left_out = f"; the fault cannot hit {_reasons(unfit)}" if unfit else ""
        raise ClusterError(f"no node matches fault target {target.model_dump(exclude_none=True)}; "
                           f"nodes: {sorted(n.hostname for n in nodes)}{left_out}")
    return random.Random(target.seed).choice(found) if target.seed is not None else found[0]


def misfit(target: Target, nodes: list[NodeInfo], unfit: Mapping[str, str] | None = None,
           stateful_floats: bool = False) -> str | None:
    """Why no node of the cluster can ever match ``target`` (None when one can), checked before the run.

    ``unfit``: node name to why the fault cannot hit it; a target every node
    it may match is unfit for is refused (``stateful_floats``: the stateful
    services may run on any worker, not only the labelled node). ClusterError
    when the cluster lacks its stateful node, which every cluster the harness
    makes has.
    """
    problem = _cluster_misfit(target, nodes)
    if problem is None and unfit:
        may = possible(target, nodes, stateful_floats)
        if may and all(name in unfit for name in may):
            return f"the fault cannot hit {_reasons({name: unfit[name] for name in may})}"
    return problem


def possible(target: Target, nodes: list[NodeInfo], stateful_floats: bool = False) -> list[str]:
    """Every node ``target`` may match during the run, as far as the cluster tells before it, sorted."""
    if target.role == "most-upgraded" or target.service is not None:  # wherever the tasks will be placed
        return sorted(n.hostname for n in nodes)
    if target.role == "upgraded-worker":
        matches = _ROLE_NEEDS["upgraded-worker"][0]
        return sorted(n.hostname for n in nodes if matches(n))
    if target.role == "stateful" and stateful_floats:  # placed on any worker (harness.stack.compose.PLACEMENTS)
        return sorted(n.hostname for n in nodes if n.role == "worker")
    return candidates(target, nodes, [])  # the stateful role: the labelled node it is pinned to


def _reasons(unfit: Mapping[str, str]) -> str:
    return "; ".join(f"{name} ({why})" for name, why in sorted(unfit.items()))


def _cluster_misfit(target: Target, nodes: list[NodeInfo]) -> str | None:
    names = ", ".join(sorted(n.hostname for n in nodes))
    if target.node is not None and target.node not in {n.hostname for n in nodes}:
        return f"the cluster has no node {target.node}; its nodes: {names}"
    if target.label is not None and not candidates(target, nodes, []):
        labels = sorted({f"{k}={v}" for n in nodes for k, v in n.labels.items()})
        return f"no node carries this label; the nodes' labels: {', '.join(labels) or 'none'}"
    if target.role == "stateful" and not any(n.labels.get(STATEFUL_LABEL) == "true" for n in nodes):
        raise ClusterError(f"no node is labelled {STATEFUL_LABEL}=true (nodes: {names}); "
                           "run `chaos-harness cluster up` to label it")
    matches, needed = _ROLE_NEEDS.get(target.role or "", (None, ""))
    if matches is not None and not any(matches(n) for n in nodes):
        return f"this role needs {needed}; the cluster's nodes: {names}"
    return None
