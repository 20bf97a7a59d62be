"""What the harness needs from a deployment engine, independent of Swarm."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

FailureAction = Literal["pause", "continue", "rollback"]
# Where an update (or its rollback) stands, in the harness's words; each engine translates its own.
UpdateState = Literal["updating", "completed", "paused", "rolling_back", "rolled_back", "rollback_paused"]
IN_PROGRESS: tuple[UpdateState, ...] = ("updating", "rolling_back")
UpdateOrder = Literal["stop-first", "start-first"]


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for the authenticated registry. Never written to journals, reports or logs."""

    server: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class UpdatePolicy:
    """How a rolling update proceeds. Every field is always sent to the engine."""

    parallelism: int = 1
    delay: float = 2.0
    order: UpdateOrder = "stop-first"
    failure_action: FailureAction = "pause"
    monitor: float = 5.0
    max_failure_ratio: float = 0.0
    progress_deadline: float | None = None  # Kubernetes' progress deadline (s); None: delay + monitor (Swarm: none)
    # Kubernetes' maxSurge and maxUnavailable as given (a count, or a share such as "25%"); None: from parallelism
    max_surge: int | str | None = None
    max_unavailable: int | str | None = None


@dataclass(frozen=True)
class Discovery:
    """How a service's tasks are found by name inside the cluster: the DNS server the load balancer asks, and
    the name (``{stack}`` and ``{service}`` filled in) that resolves to every running task's address."""

    resolver: str  # host:port
    name: str
    namespaces: tuple[tuple[str, str], ...] = ()  # (stack, the engine's name of it) where they differ

    def of(self, stack: str, service: str) -> str:
        return self.name.format(stack=dict(self.namespaces).get(stack, stack), service=service)


@dataclass(frozen=True)
class NodeRuntime:
    """A node's container runtime as the harness reaches it with a shell on the node, never through the engine's
    API (a frozen engine cannot answer): what the daemon faults freeze and crash, and two shell scripts."""

    frozen: tuple[str, ...]  # the programs daemon-freeze stops (SIGSTOP): the engine's agent and its runtime
    crashed: tuple[str, ...]  # the programs daemon-crash kills and holds down (``hold_file``) until healed
    answers: tuple[str, ...]  # a command that succeeds once they answer again
    census: str  # $1 = a service's engine name: prints the image of each of its containers whose processes run
    kill: str  # $1 = a service's engine name: kills (SIGKILL) one of its containers on the node, prints its task's id
    forget: str  # "$@" = images: removes them from the node, so that the next start must pull them
    pull: str  # $1 = an image: removes it, then pulls it from the cluster's registry (at most 8 s); exit code
    pull_area: str  # the directory a pull downloads into before it unpacks (what disk-full fills)
    login: str  # $1 = registry host:port, $2 = user, the password on stdin: prints the registry's answer; no trace

    @staticmethod
    def hold_file(program: str) -> str:
        """While it exists, the node's supervisor does not start ``program`` again."""
        return f"{HOLD_DIR}/hold-{program}"


HOLD_DIR = "/run/chaos-harness"


@dataclass(frozen=True)
class EngineObject:
    """A config or secret the engine must hold before a stack that names it is deployed (named by content)."""

    kind: Literal["config", "secret"]
    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class NodeInfo:
    """A node as the engine sees it."""

    hostname: str
    state: str  # ready, down, unknown, disconnected
    availability: str  # active, pause, drain
    role: str  # manager, worker
    labels: dict[str, str]
    shown: str = ""  # state, availability and role in the engine's own words, where they differ from the harness's


@dataclass(frozen=True)
class TaskInfo:
    """One task (container slot) of a service."""

    id: str
    slot: int
    node: str
    image: str
    desired_state: str
    state: str
    error: str
    timestamp: float = 0.0  # when the task reached its current state (epoch seconds)
    addresses: tuple[str, ...] = ()  # the task's addresses on its networks, without prefix length
    stops_by: float = 0.0  # a task being stopped: when its grace period ends (epoch seconds; 0: not known)

    @property
    def version(self) -> str:
        """The image tag, without registry, repository or digest."""
        return image_version(self.image)


@dataclass(frozen=True)
class ServiceSnapshot:
    """A service's spec image, desired replicas, update status and tasks at one moment."""

    name: str
    image: str
    replicas: int
    update_state: UpdateState | None
    update_message: str
    update_started_at: float | None  # when the engine started the current update or rollback (epoch seconds)
    tasks: tuple[TaskInfo, ...]

    def running(self, version: str | None = None) -> list[TaskInfo]:
        """Tasks running now (optionally only those of ``version``)."""
        return [
            t for t in self.tasks
            if t.state == "running" and t.desired_state == "running" and (version is None or t.version == version)
        ]

    def placed(self) -> list[TaskInfo]:
        """Tasks on a node that run now or are meant to: what a node "runs" from the outside."""
        return [t for t in self.tasks if t.node and (t.state == "running" or t.desired_state == "running")]

    @property
    def settled(self) -> bool:
        """No update or rollback is in progress."""
        return self.update_state not in IN_PROGRESS

    def converged_on(self, version: str) -> bool:
        """True when exactly the desired number of tasks run, all on ``version``."""
        running = self.running()
        return len(running) == self.replicas and all(t.version == version for t in running)


def image_version(image: str) -> str:
    """``registry:5000/chaos/web:v2@sha256:..`` -> ``v2``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


class Engine(Protocol):
    """A deployment engine the harness can upgrade, roll back and watch."""

    discovery: Discovery  # how the load balancer finds a service's tasks
    runtime: NodeRuntime  # what runs the containers on each node
    overlay_port: int | None  # the UDP port of the overlay between nodes (None: traffic is routed, no overlay)
    forms: tuple[str, ...]  # the forms of an app it deploys, preferred first: ``compose``, ``kubernetes``

    def version(self) -> str:
        """The engine and its version, as a report names them: ``Docker Swarm 28.1.1``, ``Kubernetes v1.37.2``."""
        ...

    def nodes(self) -> list[NodeInfo]:
        """Every node with its state."""
        ...

    def deploy_stack(self, stack: str, compose: str, auth: RegistryAuth | None = None,
                     pin_digests: bool = True, manifests: Sequence[dict] = ()) -> None:
        """Create or converge a stack from a compose document and, on an engine whose ``forms`` have them, the app's
        Kubernetes objects (pulling with ``auth`` when given)."""
        ...

    def ensure_objects(self, objects: Iterable[EngineObject]) -> None:
        """Create the configs and secrets a stack refers to, unless they exist (names are content hashes)."""
        ...

    def remove_stack(self, stack: str) -> None:
        """Remove a stack's services; nothing to do if it is not deployed."""
        ...

    def remove_service(self, name: str) -> None:
        """Remove one service; its tasks stop in the background. Nothing to do if it does not exist."""
        ...

    def service(self, name: str) -> ServiceSnapshot:
        """The current state of one service (``ServiceMissing`` if it is not deployed)."""
        ...

    def update_image(self, service: str, image: str, policy: UpdatePolicy, publish: tuple[int, int] | None = None,
                     auth: RegistryAuth | None = None, image_health: bool = False) -> None:
        """Start a rolling update of ``service`` to ``image``; ``publish`` (host port, container port) opens a port;
        ``image_health``: the image's own HEALTHCHECK is the health check, whatever the service declared (the
        broken release's never passes)."""
        ...

    def force_redistribute(self, service: str) -> None:
        """Restart every task so the scheduler spreads them over the ready nodes again."""
        ...

    def rollback(self, service: str) -> None:
        """Ask the engine to roll ``service`` back to its previous spec."""
        ...

    def service_logs(self, service: str, since: float) -> str:
        """Every task's output of ``service`` since ``since`` (epoch seconds), timestamped."""
        ...

    def hold_port(self, node: str, port: int) -> None:
        """Take host ``port`` on ``node`` the way a task would conflict with there; nothing to do if held."""
        ...

    def release_port(self, node: str, port: int) -> None:
        """Give back a port ``hold_port`` took; nothing to do when it is not held (safe after a crash)."""
        ...

    def port_holds(self, node: str) -> dict[int, bool]:
        """Every port ``hold_port`` holds on ``node``: whether the hold is in effect now."""
        ...

    def port_refused(self, node: str, port: int, image: str) -> str:
        """Why a throwaway task of ``image`` publishing host ``port`` cannot run on ``node`` now, in the engine's
        words ('' when it can); nothing of the trial is left behind."""
        ...

    def drain_node(self, node: str) -> str:
        """One pass of the engine's own drain of ``node``: it takes no new tasks, and its tasks of the harness's
        stacks are moved away. What stands in the way of moving them, in the engine's words, a line per task
        ('' when nothing does); asked again, it tries those again."""
        ...

    def undrain_node(self, node: str) -> None:
        """``node`` takes tasks again (those moved away stay where they are); nothing to do when it does."""
        ...
