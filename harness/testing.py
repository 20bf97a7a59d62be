"""Fakes for fast unit tests: no Docker, no Vagrant. Never used on the main path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from docker.errors import ImageNotFound

from harness.cluster.vagrant import ExecResult
from harness.engine.base import NodeInfo, RegistryAuth, ServiceSnapshot, TaskInfo, UpdatePolicy
from harness.errors import ClusterError, ServiceMissing
from harness.scenario import Scenario

__all__ = ["FakeCluster", "FakeDockerClient", "FakeEngine", "FakeRouter", "make_node", "make_run_dir",
           "make_service", "make_task", "write_run_dir"]


def make_node(hostname: str, role: str = "worker", state: str = "ready", **labels: str) -> NodeInfo:
    """A swarm node as the engine would report it."""
    return NodeInfo(hostname=hostname, state=state, availability="active", role=role, labels=dict(labels))


def make_task(node: str, version: str = "v1", state: str = "running", desired: str = "running",
              slot: int = 1, timestamp: float = 0.0, error: str = "") -> TaskInfo:
    """A task of the web service."""
    return TaskInfo(id=f"{node}-{version}-{slot}-{state}", slot=slot, node=node,
                    image=f"registry:5000/chaos/web:{version}", desired_state=desired, state=state, error=error,
                    timestamp=timestamp)


def make_service(name: str, tasks: list[TaskInfo], replicas: int = 3, update_state: str | None = None,
                 started_at: float | None = None) -> ServiceSnapshot:
    """A service snapshot as the engine would report it."""
    image = tasks[0].image if tasks else "registry:5000/chaos/web:v1"
    return ServiceSnapshot(name, image, replicas, update_state, "", started_at, tuple(tasks))


@dataclass
class FakeEngine:
    """An engine whose nodes follow the fake cluster's halts and whose service is set by the test."""

    cluster: FakeCluster
    snapshot: ServiceSnapshot | None = None  # answered for any service not in ``services``
    services: dict[str, ServiceSnapshot] = field(default_factory=dict)
    calls: list[tuple] = field(default_factory=list)

    def nodes(self) -> list[NodeInfo]:
        return [
            NodeInfo(n.hostname, "ready" if self.cluster.states[n.hostname] == "running" else "down",
                     n.availability, n.role, n.labels)
            for n in self.cluster.node_infos
        ]

    def deploy_stack(self, stack: str, compose: str, auth: RegistryAuth | None = None,
                     pin_digests: bool = True) -> None:
        self.calls.append(("deploy_stack", stack))

    def remove_stack(self, stack: str) -> None:
        self.calls.append(("remove_stack", stack))

    def service(self, name: str) -> ServiceSnapshot:
        found = self.services.get(name, self.snapshot)
        if found is None:
            raise ServiceMissing(f"service {name} does not exist")
        return found

    def update_image(self, service: str, image: str, policy: UpdatePolicy, publish: int | None = None,
                     auth: RegistryAuth | None = None) -> None:
        self.calls.append(("update_image", service, image, policy, publish, auth))

    def rollback(self, service: str) -> None:
        self.calls.append(("rollback", service))

    def service_logs(self, service: str, since: float) -> str:
        return f"{self.service(service).name} since {since:.0f}\n"


@dataclass
class FakeRouter:
    """The load balancer's routes and health, in memory."""

    healthy_servers: dict[str, int] = field(default_factory=lambda: {"blue": 3, "green": 0})
    live: str = "blue"
    routed: list[str] = field(default_factory=list)

    def route(self, live: str) -> None:
        self.live = live
        self.routed.append(live)

    def healthy(self, backend: str) -> int:
        return self.healthy_servers.get(backend, 0)


class FakeDockerClient:
    """The slice of docker-py's client the image builder uses: ``images.get`` and the streaming ``api.build``."""

    def __init__(self, images: dict[str, str], build_output: list[dict[str, str]]) -> None:
        self.known = dict(images)  # tag -> image id
        self.build_output = build_output
        self.builds: list[dict] = []
        self.images = SimpleNamespace(get=self._get)
        self.api = SimpleNamespace(build=self._build)

    def _get(self, name: str) -> SimpleNamespace:
        if name not in self.known:
            raise ImageNotFound(name)
        return SimpleNamespace(id=self.known[name])

    def _build(self, **kwargs) -> Iterator[dict[str, str]]:
        self.builds.append(kwargs)
        yield from self.build_output
        if not any("error" in chunk for chunk in self.build_output):
            self.known[kwargs["tag"]] = f"sha256:{len(self.known)}"


class FakeCluster:
    """Implements ``NodeControl`` in memory: halts and starts flip node states."""

    def __init__(self, nodes: list[NodeInfo] | None = None) -> None:
        self.node_infos = nodes or [
            make_node("node1", role="manager", **{"chaos.lb": "true"}),
            make_node("node2"),
            make_node("node3", **{"chaos.db": "true"}),
        ]
        self.states = {n.hostname: "running" for n in self.node_infos}
        self.commands: list[tuple[str, list[str]]] = []
        self.engine = FakeEngine(self)

    def halt_node(self, node: str, force: bool = False) -> None:
        self.states[node] = "stopped"

    def start_node(self, node: str) -> None:
        self.states[node] = "running"

    def node_states(self) -> dict[str, str]:
        return dict(self.states)

    def node_addresses(self) -> dict[str, str]:
        return {n.hostname: f"10.0.0.{i}" for i, n in enumerate(self.node_infos, 1)}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        self.commands.append((node, argv))
        return ExecResult(0, "")

    def engine_log(self, node: str, since: float) -> str:
        if self.states[node] != "running":
            raise ClusterError(f"the container of {node} is gone")
        return f"{node} dockerd since {since:.0f}\n"


def write_run_dir(run_dir: Path, events: list[dict], samples: list[dict]) -> Path:
    """Write a journal and samples file as a real run would, for analysis and report tests."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run_dir / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    return run_dir


def make_run_dir(root: Path, run_id: str, strategy: str, outage: float, rollback_seconds: float | None = None,
                 expect: dict | None = None) -> Path:
    """A finished 20 s run at 10 req/s with one outage of ``outage`` seconds starting at t=5.

    v2 answers from t=8 to t=12, v1 otherwise. A node-halt fault holds from
    t=4 to t=9. With ``rollback_seconds`` a rollback is requested at t=12
    and completes ``rollback_seconds`` later.
    """
    scenario = Scenario(name="sc", strategy={"kind": strategy}, expect=expect or {}).model_dump(mode="json")
    events = [{"t": 0, "type": "run.start", "scenario": scenario, "run_id": run_id, "load": {"rate": 10}},
              {"t": 1, "type": "upgrade.requested", "strategy": strategy},
              {"t": 1, "type": "phase.start", "phase": "upgrade"},
              {"t": 2, "type": "engine.update_state", "state": "updating", "started_at": 2},
              {"t": 4, "type": "fault.inject", "id": "0-node-halt", "kind": "node-halt", "target": "node2"},
              {"t": 9, "type": "fault.heal", "id": "0-node-halt", "ok": True},
              {"t": 11, "type": "engine.update_state", "state": "completed", "started_at": 2},
              {"t": 11, "type": "phase.end", "phase": "upgrade"},
              {"t": 11, "type": "phase.start", "phase": "observe"}]
    if rollback_seconds is None:
        events += [{"t": 11, "type": "upgrade.settled", "outcome": "completed"}]
    else:
        events += [{"t": 12, "type": "rollback.requested", "reason": "test"},
                   {"t": 12 + rollback_seconds, "type": "rollback.switched_back"},
                   {"t": 13, "type": "upgrade.settled", "outcome": "rolled_back"}]
    events += [{"t": 20, "type": "engine.final", "replicas": 1, "running": {"v1": 1}},
               {"t": 20, "type": "phase.end", "phase": "observe"},
               {"t": 21, "type": "readback", "ok": True, "ids": ["w1"]},
               {"t": 21, "type": "run.end", "status": "completed"}]
    samples = []
    for tenth in range(200):
        t = tenth / 10
        failed = 5 <= t < 5 + outage
        served = "v2" if 8 <= t < 12 else "v1"
        samples.append({"t": t, "end": t + (0.5 if failed else 0.01), "ok": not failed,
                        "version": None if failed else served, "error": "timeout" if failed else None})
    samples.append({"t": 0.05, "end": 0.06, "ok": True, "kind": "write", "write_id": "w1", "version": "v1"})
    return write_run_dir(root / run_id, events, samples)
