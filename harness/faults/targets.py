"""Choosing the node a fault hits: pure functions over the engine's view."""

from __future__ import annotations

import random
from collections import Counter

from harness.engine.base import NodeInfo, TaskInfo
from harness.errors import ClusterError
from harness.scenario import Target

DB_LABEL = "chaos.db"


def candidates(target: Target, nodes: list[NodeInfo], web_tasks: list[TaskInfo],
               db_tasks: list[TaskInfo] = ()) -> list[str]:
    """Every node matching ``target``, sorted by name. The db role is where the db task is placed."""
    by_name = {n.hostname: n for n in nodes}
    web_count = Counter(t.node for t in web_tasks)
    if target.node is not None:
        matched = [target.node] if target.node in by_name else []
    elif target.label is not None:
        key, value = target.label.split("=", 1)
        matched = [n.hostname for n in nodes if n.labels.get(key) == value]
    elif target.role == "manager":
        matched = [n.hostname for n in nodes if n.role == "manager"]
    elif target.role == "worker":
        matched = [n.hostname for n in nodes if n.role == "worker"]
    elif target.role == "db":
        matched = sorted({t.node for t in db_tasks if t.node in by_name}) or [
            n.hostname for n in nodes if n.labels.get(DB_LABEL) == "true"]
    elif target.role == "most-web":
        top = max(web_count.values(), default=0)
        matched = [name for name, count in web_count.items() if count == top and top > 0]
    else:  # web-worker: runs web tasks, is neither the manager nor the db node
        matched = [
            name for name in web_count
            if name in by_name and by_name[name].role != "manager" and by_name[name].labels.get(DB_LABEL) != "true"
        ]
    return sorted(matched)


def choose(target: Target, nodes: list[NodeInfo], web_tasks: list[TaskInfo],
           db_tasks: list[TaskInfo] = ()) -> str:
    """The one node to hit: the first candidate, or a seeded random one."""
    found = candidates(target, nodes, web_tasks, db_tasks)
    if not found:
        raise ClusterError(f"no node matches fault target {target.model_dump(exclude_none=True)}; "
                           f"nodes: {sorted(n.hostname for n in nodes)}")
    return random.Random(target.seed).choice(found) if target.seed is not None else found[0]
