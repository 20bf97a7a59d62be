"""Named volumes of the harness's stacks left on nodes where the services that mount them no longer run.

A stateful service a scenario moved (``stateful_placement: floating``) keeps
its named volume on the node it left, and the one it moved to gets a new,
empty one. Whichever the next deploy lands on, it starts from data that
missed writes: a copy nothing uses is stale. Which volume a service mounts
comes from the engine (its service specs); where its tasks are, from the
engine too; what each node holds, and whether a running container mounts
it, from that node's own engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.cluster.config import GREEN_STACK, STACK_NAME
from harness.engine.base import Engine
from harness.errors import HarnessError, ServiceMissing

RunOn = Callable[[str, list[str]], object]  # a node's name and a command -> an ExecResult (ok, output)
STACKS = (STACK_NAME, GREEN_STACK)
NAMESPACE_LABEL = "com.docker.stack.namespace"  # the label docker stack deploy puts on what it creates

# Every docker command is bounded: a frozen engine must not hang prepare or audit.
_DOCKER = "docker() { timeout 20 /usr/bin/env docker \"$@\"; }"
# On a manager: each service of the stacks and the named volumes it mounts.
_MOUNTS = _DOCKER + f"""
for stack in "$@"; do docker service ls -q --filter "label={NAMESPACE_LABEL}=$stack"; done |
  xargs -r timeout 20 docker service inspect --format '{{{{.Spec.Name}}}}{{{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}}}\
{{{{if eq .Type "volume"}}}} {{{{.Source}}}}{{{{end}}}}{{{{end}}}}'
"""
# On a node: the stacks' volumes that no running container mounts (one the engine cannot tell about: in use).
_UNUSED = _DOCKER + f"""
for stack in "$@"; do docker volume ls -q --filter "label={NAMESPACE_LABEL}=$stack"; done | sort -u |
while read -r volume; do
  used=$(docker ps -q --filter volume="$volume") || continue
  [ -n "$used" ] || echo "$volume"
done
"""
# On a node: each volume removed, after the stopped containers that still name it (Swarm's task history).
_REMOVE = _DOCKER + """
for volume in "$@"; do
  stopped=$(docker ps -aq --filter volume="$volume" --filter status=exited --filter status=dead --filter status=created)
  [ -z "$stopped" ] || docker rm $stopped >/dev/null 2>&1
  if out=$(docker volume rm "$volume" 2>&1); then echo "removed $volume"; else echo "failed $volume $out"; fi
done
"""


@dataclass(frozen=True)
class StaleVolume:
    """A volume of the stacks on ``node`` that nothing there uses; ``users`` are the deployed services that mount
    it and ``runs_on`` the nodes where they have tasks. ``removed``: None when only found."""

    node: str
    volume: str
    users: tuple[str, ...]
    runs_on: tuple[str, ...]
    removed: bool | None = None
    error: str = ""

    @property
    def what(self) -> str:
        """``stale volume chaos_dbdata (chaos_db runs on node2)``, and what became of it."""
        where = (f"{', '.join(self.users)} runs on {', '.join(self.runs_on) or 'no node'}" if self.users
                 else "no service of the deployed stacks mounts it")
        done = {None: "", True: ": removed", False: f": could not be removed ({self.error})"}[self.removed]
        return f"stale volume {self.volume} ({where}){done}"

    def __str__(self) -> str:
        return f"{self.node}: {self.what}"

    def record(self) -> dict:
        """The journal's record of it."""
        return {"node": self.node, "volume": self.volume, "users": list(self.users), "runs_on": list(self.runs_on),
                "removed": self.removed, "error": self.error}


def stale_volumes(run_on: RunOn, engine: Engine) -> list[StaleVolume]:
    """Every volume of the stacks on a ready node that a deployed service mounts, where no running container
    mounts it and no task of such a service is placed. A volume no deployed service mounts is another app's (or a
    removed stack's) data, waiting for its next deploy: not stale. Nodes that cannot be asked are left out."""
    nodes = [node for node in engine.nodes() if node.state == "ready"]
    ready, managers = [n.hostname for n in nodes], [n.hostname for n in nodes if n.role == "manager"]
    users = _users(run_on, managers[0]) if managers else {}
    placed = {service: _placed(engine, service) for service in {s for names in users.values() for s in names}}
    found = []
    for node in ready:
        for volume in _unused(run_on, node):
            mounted_by = tuple(sorted(users.get(volume, ())))
            runs_on = tuple(sorted({n for service in mounted_by for n in placed[service]}))
            if mounted_by and node not in runs_on:  # no deployed service mounts it: another app's data, kept
                found.append(StaleVolume(node, volume, mounted_by, runs_on))
    return found


def clear_stale_volumes(run_on: RunOn, engine: Engine) -> list[StaleVolume]:
    """``stale_volumes``, those of the deployed stack whose services run elsewhere removed; the others (another
    app's, a removed stack's, one whose services run nowhere) only reported. Each says whether it was removed."""
    stale = stale_volumes(run_on, engine)
    by_node: dict[str, list[str]] = defaultdict(list)
    for volume in stale:
        if volume.users and volume.runs_on:
            by_node[volume.node].append(volume.volume)
    errors = {(node, volume): error for node, volumes in by_node.items()
              for volume, error in _remove(run_on, node, volumes).items()}
    return [replace(v, removed=errors[v.node, v.volume] is None, error=errors[v.node, v.volume] or "")
            if (v.node, v.volume) in errors else v for v in stale]


def _users(run_on: RunOn, manager: str) -> dict[str, set[str]]:
    """Volume -> the services of the stacks that mount it, from the manager's service specs."""
    users: dict[str, set[str]] = defaultdict(set)
    for line in _lines(run_on(manager, ["sh", "-c", _MOUNTS, "mounts", *STACKS]), f"the services' mounts on {manager}"):
        service, *volumes = line.split()
        for volume in volumes:
            users[volume].add(service)
    return users


def _placed(engine: Engine, service: str) -> set[str]:
    try:
        return {task.node for task in engine.service(service).placed()}
    except ServiceMissing:  # removed meanwhile: it runs nowhere (any other error: nothing is judged stale)
        return set()


def _unused(run_on: RunOn, node: str) -> list[str]:
    try:
        return _lines(run_on(node, ["sh", "-c", _UNUSED, "volumes", *STACKS]), f"the volumes on {node}")
    except HarnessError:  # halted, or its engine frozen: a node that cannot be asked
        return []


def _remove(run_on: RunOn, node: str, volumes: list[str]) -> dict[str, str | None]:
    """Volume -> None when it was removed, else why not."""
    try:
        output = _lines(run_on(node, ["sh", "-c", _REMOVE, "remove", *volumes]), f"removing volumes on {node}")
    except HarnessError as error:
        return {volume: str(error) for volume in volumes}
    said = {words[1]: words for words in (line.split(" ", 2) for line in output) if len(words) >= 2}
    return {volume: _removal_error(said.get(volume)) for volume in volumes}


def _removal_error(words: list[str] | None) -> str | None:
    """From ``removed NAME`` or ``failed NAME WHY``: None, or why."""
    if words is None:
        return "the node did not say"
    return None if words[0] == "removed" else (words[2] if len(words) > 2 else "docker volume rm failed")


def _lines(result, what: str) -> list[str]:
    if not result.ok:
        raise HarnessError(f"{what}: {result.output.strip()[-300:]}")
    return [line.strip() for line in result.output.splitlines() if line.strip()]
