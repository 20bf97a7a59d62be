"""Fakes for fast unit tests: no Docker, no Vagrant. Never used on the main path."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from docker.errors import APIError, ImageNotFound

from harness.cluster.config import LB_PORTS
from harness.cluster.vagrant import ExecResult
from harness.engine.base import EngineObject, NodeInfo, RegistryAuth, ServiceSnapshot, TaskInfo, UpdatePolicy
from harness.engine.swarm import SwarmEngine
from harness.errors import ClusterError, ServiceMissing
from harness.runfiles import READBACK_FILE, REREADS_FILE
from harness.scenario import Scenario

__all__ = ["DEMO_APP", "FakeCluster", "FakeDockerClient", "FakeEngine", "FakeRouter", "make_node", "make_run_dir",
           "make_service", "make_task", "write_long_run", "write_run_dir"]

# The ``app`` of a run.start event for the demo profile, as the runner journals it.
DEMO_APP = {"name": "demo", "profile": "apps/demo.yaml", "old": "v1", "new": "v2", "entry": "web",
            "upgraded": ["web"], "writes": True}
# The ``cluster`` of a run.start event: the cluster's name, nodes, provider, and the machine the harness ran on.
DEMO_CLUSTER = {"name": "chaos", "nodes": ["node1", "node2", "node3"], "provider": "docker", "machine": "ci-1"}


def make_node(hostname: str, role: str = "worker", state: str = "ready", **labels: str) -> NodeInfo:
    """A swarm node as the engine would report it."""
    return NodeInfo(hostname=hostname, state=state, availability="active", role=role, labels=dict(labels))


def make_task(node: str, version: str = "v1", state: str = "running", desired: str = "running",
              slot: int = 1, timestamp: float = 0.0, error: str = "", addresses: tuple[str, ...] = ()) -> TaskInfo:
    """A task of the demo's web service, as pulled from the cluster registry."""
    return TaskInfo(id=f"{node}-{version}-{slot}-{state}", slot=slot, node=node,
                    image=f"registry:5000/chaos/demo/web:{version}", desired_state=desired, state=state, error=error,
                    timestamp=timestamp, addresses=tuple(addresses))


def make_service(name: str, tasks: list[TaskInfo], replicas: int = 3, update_state: str | None = None,
                 started_at: float | None = None) -> ServiceSnapshot:
    """A service snapshot as the engine would report it."""
    image = tasks[0].image if tasks else "registry:5000/chaos/demo/web:v1"
    return ServiceSnapshot(name, image, replicas, update_state, "", started_at, tuple(tasks))


@dataclass
class FakeEngine:
    """An engine whose nodes follow the fake cluster's halts and whose service is set by the test."""

    cluster: FakeCluster
    snapshot: ServiceSnapshot | None = None  # answered for any service not in ``services``
    services: dict[str, ServiceSnapshot] = field(default_factory=dict)
    calls: list[tuple] = field(default_factory=list)
    deployed: dict[str, str] = field(default_factory=dict)  # stack -> the compose document last deployed
    objects: dict[str, EngineObject] = field(default_factory=dict)  # configs and secrets created
    held: dict[tuple[str, int], bool] = field(default_factory=dict)  # (node, host port) -> the hold in effect
    drained: set[str] = field(default_factory=set)  # nodes drained (their availability ``drain``)
    drain_refusals: list[str] = field(default_factory=list)  # what each drain pass answers, in turn
    discovery = SwarmEngine.discovery
    runtime = SwarmEngine.runtime
    overlay_port = SwarmEngine.overlay_port
    forms = SwarmEngine.forms

    def version(self) -> str:
        return "Docker Swarm 0.0-fake"

    def nodes(self) -> list[NodeInfo]:
        return [self._node_info(n) for n in self.cluster.node_infos]

    def _node_info(self, node: NodeInfo) -> NodeInfo:
        state = "ready" if self.cluster.states[node.hostname] == "running" else "down"
        availability = "drain" if node.hostname in self.drained else node.availability
        return NodeInfo(node.hostname, state, availability, node.role, node.labels)

    def deploy_stack(self, stack: str, compose: str, auth: RegistryAuth | None = None,
                     pin_digests: bool = True, manifests: Sequence[dict] = ()) -> None:
        self.calls.append(("deploy_stack", stack))
        self.deployed[stack] = compose

    def ensure_objects(self, objects) -> None:
        self.calls.append(("ensure_objects", tuple(o.name for o in objects)))
        self.objects.update({o.name: o for o in objects})

    def remove_stack(self, stack: str) -> None:
        self.calls.append(("remove_stack", stack))

    def remove_service(self, name: str) -> None:
        self.calls.append(("remove_service", name))
        self.services.pop(name, None)

    def service(self, name: str) -> ServiceSnapshot:
        found = self.services.get(name, self.snapshot)
        if found is None:
            raise ServiceMissing(f"service {name} does not exist")
        return found

    def update_image(self, service: str, image: str, policy: UpdatePolicy, publish: tuple[int, int] | None = None,
                     auth: RegistryAuth | None = None, image_health: bool = False) -> None:
        self.calls.append(("update_image", service, image, policy, publish, auth, *(("image_health",) if image_health
                                                                                    else ())))

    def force_redistribute(self, service: str) -> None:
        self.calls.append(("force_redistribute", service))

    def rollback(self, service: str) -> None:
        self.calls.append(("rollback", service))

    def service_logs(self, service: str, since: float) -> str:
        return f"{self.service(service).name} since {since:.0f}\n"

    def hold_port(self, node: str, port: int) -> None:
        self.calls.append(("hold_port", node, port))
        self.held.setdefault((node, port), True)

    def release_port(self, node: str, port: int) -> None:
        self.calls.append(("release_port", node, port))
        self.held.pop((node, port), None)

    def port_holds(self, node: str) -> dict[int, bool]:
        return {port: in_effect for (where, port), in_effect in self.held.items() if where == node}

    def port_refused(self, node: str, port: int, image: str) -> str:
        return "address already in use" if self.held.get((node, port)) else ""

    def drain_node(self, node: str) -> str:
        """Drains the node; the next of ``drain_refusals`` is what stands in the way ('' once they run out)."""
        self.calls.append(("drain_node", node))
        self.drained.add(node)
        return self.drain_refusals.pop(0) if self.drain_refusals else ""

    def undrain_node(self, node: str) -> None:
        self.calls.append(("undrain_node", node))
        self.drained.discard(node)


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
    """The slice of docker-py's client the image builder uses: ``images.get``, ``images.pull`` (always refused,
    as offline), ``api.import_image`` and the streaming ``api.build``.

    An image has an id, labels and exposed ports (``exposed``: tag -> ports);
    a build gives its tag a new id and the labels it was asked for. A
    context-free build's Dockerfile is kept in ``dockerfiles`` (tag -> text),
    an import's arguments in ``imports``.
    """

    def __init__(self, images: dict[str, str], build_output: list[dict[str, str]] | None = None,
                 exposed: dict[str, list[int]] | None = None) -> None:
        self.known = dict(images)  # tag -> image id
        self.labels: dict[str, dict[str, str]] = {}  # tag -> labels
        self.exposed = dict(exposed or {})  # tag -> ports its image EXPOSEs
        self.build_output = build_output if build_output is not None else [{"stream": "Step 1/1 : FROM base\n"}]
        self.builds: list[dict] = []
        self.dockerfiles: dict[str, str] = {}
        self.imports: list[dict] = []
        self.images = SimpleNamespace(get=self._get, pull=self._pull)
        self.api = SimpleNamespace(build=self._build, import_image=self._import)

    def _get(self, name: str) -> SimpleNamespace:
        if name not in self.known:
            raise ImageNotFound(name)
        ports = {f"{port}/tcp": {} for port in self.exposed.get(name, [])}
        return SimpleNamespace(id=self.known[name], labels=dict(self.labels.get(name, {})),
                               attrs={"Config": {"ExposedPorts": ports or None}})

    def _pull(self, name: str) -> None:
        raise APIError(f"pull access denied for {name}: no registry is reachable")

    def _import(self, src: str, repository: str, tag: str) -> None:
        self.imports.append({"src": src, "repository": repository, "tag": tag})
        self.known[f"{repository}:{tag}"] = f"sha256:imported-{len(self.imports)}"

    def _build(self, **kwargs) -> Iterator[dict[str, str]]:
        self.builds.append(kwargs)
        if kwargs.get("fileobj") is not None:
            self.dockerfiles[kwargs["tag"]] = kwargs["fileobj"].getvalue().decode()
        yield from self.build_output
        if not any("error" in chunk for chunk in self.build_output):
            self.known[kwargs["tag"]] = f"sha256:{len(self.builds)}-{len(self.known)}"
            self.labels[kwargs["tag"]] = dict(kwargs.get("labels") or {})


class FakeCluster:
    """Implements ``NodeControl`` in memory: halts and starts flip node states."""

    def __init__(self, nodes: list[NodeInfo] | None = None) -> None:
        self.node_infos = nodes or [
            make_node("node1", role="manager", **{"chaos.lb": "true"}),
            make_node("node2"),
            make_node("node3", **{"chaos.stateful": "true"}),
        ]
        self.states = {n.hostname: "running" for n in self.node_infos}
        self.commands: list[tuple[str, list[str]]] = []
        self.engine = FakeEngine(self)
        self.state = SimpleNamespace(engine="swarm", lb_ports=dict(LB_PORTS))  # what the cluster was made with
        self.no_power: set[str] = set()  # nodes that cannot be powered off and on (hosts without power commands)
        self.ssh_ports: dict[str, int] = {}  # hosts reached over SSH, by their port

    def halt_node(self, node: str, force: bool = False) -> None:
        self.states[node] = "stopped"

    def start_node(self, node: str) -> None:
        self.states[node] = "running"

    def node_states(self) -> dict[str, str]:
        return dict(self.states)

    def offers(self) -> frozenset[str]:
        return frozenset({"shell", "registry"})

    def reaches_nodes(self) -> bool:
        return True

    def can_power_cycle(self, node: str) -> bool:
        return node not in self.no_power

    def control_port(self, node: str) -> int | None:
        return self.ssh_ports.get(node)

    def node_addresses(self) -> dict[str, str]:
        return {n.hostname: f"10.0.0.{i}" for i, n in enumerate(self.node_infos, 1)}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        self.commands.append((node, argv))
        return ExecResult(0, "")

    def engine_log(self, node: str, since: float) -> str:
        if self.states[node] != "running":
            raise ClusterError(f"the container of {node} is gone")
        return f"{node} dockerd since {since:.0f}\n"


def write_run_dir(run_dir: Path, events: list[dict], samples: list[dict], readback: list[dict] = (),
                  rereads: list[dict] = ()) -> Path:
    """Write a journal, samples and the reads of acknowledged writes as a real run would, for analysis and
    report tests."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, records in (("journal.jsonl", events), ("samples.jsonl", samples), (READBACK_FILE, readback),
                          (REREADS_FILE, rereads)):
        (run_dir / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir


def read_back(write_ids: list[str], outcome: str = "present") -> list[dict]:
    """The read-back's records (``readback.jsonl``) of ``write_ids``, each with ``outcome``."""
    status = {"present": 200, "absent": 404, "unverifiable": None}[outcome]
    return [{"write_id": i, "captured": {}, "outcome": outcome, "status": status,
             "reason": None if outcome == "present" else "status 404", "body": ""} for i in write_ids]


V1_SERVERS = ("10.0.1.11", "10.0.1.12", "10.0.1.13")  # blue's v1 tasks
V2_SERVERS = ("10.0.1.21", "10.0.1.22", "10.0.1.23")  # the v2 tasks (blue's or green's)


def make_run_dir(root: Path, run_id: str, strategy: str, outage: float, rollback_seconds: float | None = None,
                 expect: dict | None = None, writes: bool = True, cluster: dict | None = None) -> Path:
    """A finished 20 s run of the demo app at 10 req/s with one outage of ``outage`` seconds starting at t=5.

    As the load balancer and the engine record it: three v1 tasks run from
    the start, three v2 tasks from t=7.5 (``engine.task`` events with their
    addresses); samples name the server that answered (none when a request
    failed), v2's servers from t=8 to t=12, v1's otherwise, so attribution
    finds v2 serving from t=8 to t=12 and v1 otherwise. A node-halt fault
    holds from t=4 to t=9. With ``rollback_seconds`` a rollback is requested
    at t=12 and completes ``rollback_seconds`` later. Without ``writes`` the
    app has no write probe: no write requests, and a read-back that measured nothing. ``cluster``: the
    ``cluster`` of its run.start (``DEMO_CLUSTER`` unless given: cluster ``chaos`` on machine ``ci-1``).
    """
    scenario = Scenario(name="sc", strategy={"kind": strategy}, expect=expect or {}).model_dump(mode="json")
    blue_green = strategy == "blue-green"
    new_service, new_backend = ("chaos-green_web", "green") if blue_green else ("chaos_web", "blue")
    events = [{"t": 0, "type": "run.start", "scenario": scenario, "run_id": run_id,
               "app": {**DEMO_APP, "writes": writes}, "cluster": cluster or DEMO_CLUSTER, "load": {"rate": 10}}]
    events += [_task_event(0, "chaos_web", f"v1-{i}", node, "v1", address)
               for i, (node, address) in enumerate(zip(("node1", "node2", "node3"), V1_SERVERS))]
    events += [{"t": 1, "type": "upgrade.requested", "strategy": strategy},
               {"t": 1, "type": "phase.start", "phase": "upgrade"},
               {"t": 2, "type": "engine.update_state", "state": "updating", "started_at": 2},
               {"t": 4, "type": "fault.inject", "id": "0-node-halt", "kind": "node-halt", "target": "node2"}]
    events += [_task_event(7.5, new_service, f"v2-{i}", node, "v2", address)
               for i, (node, address) in enumerate(zip(("node1", "node2", "node3"), V2_SERVERS))]
    events += [{"t": 9, "type": "fault.heal", "id": "0-node-halt", "ok": True},
               {"t": 11, "type": "engine.update_state", "state": "completed", "started_at": 2},
               {"t": 11, "type": "phase.end", "phase": "upgrade"},
               {"t": 11, "type": "phase.start", "phase": "observe"}]
    if rollback_seconds is None:
        events += [{"t": 11, "type": "upgrade.settled", "outcome": "completed"}]
    else:
        events += [{"t": 12, "type": "rollback.requested", "reason": "test"},
                   {"t": 12 + rollback_seconds, "type": "rollback.switched_back"},
                   {"t": 13, "type": "upgrade.settled", "outcome": "rolled_back"}]
    events += [{"t": 20, "type": "engine.final", "service": "chaos_web", "replicas": 1, "running": {"v1": 1}},
               {"t": 20, "type": "phase.end", "phase": "observe"},
               {"t": 21, "type": "readback", "ok": True, "measured": writes},
               {"t": 21, "type": "run.end", "status": "completed"}]
    samples = []
    for tenth in range(200):
        t = tenth / 10
        failed = 5 <= t < 5 + outage
        servers, backend = (V2_SERVERS, new_backend) if 8 <= t < 12 else (V1_SERVERS, "blue")
        samples.append({"t": t, "end": t + (0.5 if failed else 0.01), "kind": "read", "ok": not failed,
                        "status": 0 if failed else 200, "error": "timeout" if failed else None,
                        "server": None if failed else f"{servers[tenth % 3]}:8080",
                        "backend": None if failed else backend})
    if writes:
        samples.append({"t": 0.05, "end": 0.06, "kind": "write", "ok": True, "status": 201, "error": None,
                        "server": f"{V1_SERVERS[0]}:8080", "backend": "blue", "write_id": "w1"})
    return write_run_dir(root / run_id, events, samples, read_back(["w1"]) if writes else [])


def make_refused_run_dir(root: Path, run_id: str, strategy: str, reason: str, expect: dict | None = None) -> Path:
    """A run of the demo app refused in prepare with ``reason`` (a ScenarioError), as the runner records one:
    nothing measured, the faults healed, the logs collected."""
    scenario = Scenario(name="sc", strategy={"kind": strategy}, expect=expect or {}).model_dump(mode="json")
    events = [{"t": 0, "type": "run.start", "scenario": scenario, "run_id": run_id, "app": DEMO_APP,
               "load": {"rate": 10}},
              {"t": 0.1, "type": "phase.start", "phase": "prepare"},
              {"t": 0.2, "type": "run.error", "error": reason, "kind": "ScenarioError"},
              {"t": 0.3, "type": "readback", "ok": True, "measured": True, "acknowledged": 0},
              {"t": 0.4, "type": "run.end", "status": "refused"}]
    return write_run_dir(root / run_id, events, [])


def _task_event(t: float, service: str, task: str, node: str, version: str, address: str) -> dict:
    """The watcher's ``engine.task`` event for a task that runs with one address."""
    return {"t": t, "type": "engine.task", "service": service, "task": task, "slot": int(task[-1]) + 1,
            "node": node, "version": version, "state": "running", "desired": "running", "error": "",
            "addresses": [address]}


class FakeSecureRegistry:
    """The authenticated registry in memory: the password it accepts (``inject`` rotates it) and the cluster's."""

    def __init__(self) -> None:
        self.password = "cluster-password"
        self.accepted = self.password
        self.restarts = 0

    def auth(self) -> RegistryAuth:
        return RegistryAuth(server="registry-secure:5001", username="chaos", password=self.password)

    def accept_password(self, password: str) -> None:
        self.accepted = password
        self.restarts += 1

    def accepts(self, auth: RegistryAuth) -> bool:
        return auth.password == self.accepted


@dataclass
class FakeProxy:
    """The Toxiproxy proxy in front of the registry, in memory."""

    enabled: bool = True
    added: dict[str, dict] = field(default_factory=dict)

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    def add_toxic(self, **toxic) -> None:
        self.added[toxic["name"]] = toxic

    def toxics(self) -> dict[str, dict]:
        return dict(self.added)

    def destroy_toxic(self, name: str) -> None:
        self.added.pop(name)


def write_long_run(run_dir: Path, samples: int = 1_000_000, rate: float = 1000.0, seed: int = 1) -> Path:
    """A long in-service run of the demo app as the runner and the load process write it, samples streamed to disk.

    ``samples`` requests at ``rate`` per second (1,000,000 at 1,000/s: about
    17 minutes), a fifth of them writes. Warmup takes the first 6% of the
    load, the upgrade the next 50% (v1's three tasks replaced one by one by
    v2 tasks on new addresses), observe the rest. Three outages fail every
    request: 8 s after a node-halt fault early in the upgrade, 1.5 s at each
    of the first two task replacements; about one request in ten thousand
    fails alone (HTTP 502). Samples are in end-time order, as the load process
    appends them; three acknowledged writes are missing from the read-back.
    """
    plan = LongRun(samples, rate)
    run_dir.mkdir(parents=True, exist_ok=True)
    acknowledged = _write_long_samples(run_dir / "samples.jsonl", plan, random.Random(seed))
    events = _long_run_events(plan)
    (run_dir / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    records = read_back(acknowledged[:3], "absent") + read_back(acknowledged[3:])
    (run_dir / READBACK_FILE).write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir


@dataclass(frozen=True)
class LongRun:
    """The time plan of ``write_long_run``: ``samples`` requests from ``load`` at ``rate`` per second."""

    samples: int
    rate: float
    start: float = 1_800_000_000.0
    prepare: float = 15.0

    @property
    def load(self) -> float:
        return self.start + self.prepare

    @property
    def end(self) -> float:
        return self.load + self.samples / self.rate

    @property
    def upgrade(self) -> tuple[float, float]:
        duration = self.samples / self.rate
        return self.load + 0.06 * duration, self.load + 0.56 * duration

    @property
    def fault(self) -> float:
        begin, end = self.upgrade
        return begin + 0.1 * (end - begin)

    def replaced(self, k: int) -> float:
        """When v2 task ``k`` takes the traffic of v1 task ``k``."""
        begin, end = self.upgrade
        return begin + (k + 0.5) * (end - begin) / 3

    def outages(self) -> list[tuple[float, float]]:
        return [(self.fault, self.fault + 8.0)] + [(self.replaced(k), self.replaced(k) + 1.5) for k in (0, 1)]

    def servers(self, t: float) -> list[str]:
        return [(V2_SERVERS if t >= self.replaced(k) else V1_SERVERS)[k] for k in range(3)]


def _write_long_samples(path: Path, plan: LongRun, rng: random.Random) -> list[str]:
    """Write the samples a second at a time, each second in end-time order; the acknowledged write ids."""
    acknowledged: list[str] = []
    per_second = max(1, round(plan.rate))
    with path.open("w", encoding="utf-8") as file:
        for first in range(0, plan.samples, per_second):
            chunk = [_long_sample(plan, i, rng) for i in range(first, min(first + per_second, plan.samples))]
            chunk.sort(key=lambda s: s["end"])
            file.write("".join(json.dumps(s) + "\n" for s in chunk))
            acknowledged += [s["write_id"] for s in chunk if s["ok"] and "write_id" in s]
    return acknowledged


def _long_sample(plan: LongRun, i: int, rng: random.Random) -> dict:
    t = plan.load + (i + 0.5 * rng.random()) / plan.rate
    write = rng.random() < 0.2
    sample = {"t": t, "end": t + rng.lognormvariate(-4.5, 0.5), "kind": "write" if write else "read", "ok": True,
              "status": 201 if write else 200, "error": None, "server": f"{plan.servers(t)[i % 3]}:8080",
              "backend": "blue"}
    if any(start <= t < end for start, end in plan.outages()):
        sample.update(end=t + 1.0, ok=False, status=0, error="timeout", server=None, backend=None)
    elif rng.random() < 1e-4:
        sample.update(ok=False, status=502, error="http_502", server=None, backend=None)
    if write:
        sample["write_id"] = f"{rng.getrandbits(128):032x}"
    return sample


def _long_run_events(plan: LongRun) -> list[dict]:
    """The journal of ``write_long_run``, in time order."""
    begin, end = plan.upgrade
    warmup, observe = begin - plan.load, plan.end - end
    scenario = Scenario(name="long-run", strategy={"kind": "in-service", "timeout": end - begin + 60},
                        phases={"warmup": warmup, "observe": observe, "verify_window": 5},
                        expect={"max_downtime": 30, "max_lost_writes": 0}).model_dump(mode="json")
    nodes = ("node1", "node2", "node3")
    events = [{"t": plan.start, "type": "run.start", "scenario": scenario, "run_id": "long-run", "app": DEMO_APP,
               "load": {"rate": plan.rate, "timeout": 1.0, "rate_from": "app profile"}}]
    events += [_task_event(plan.start + 5, "chaos_web", f"v1-{k}", nodes[k], "v1", V1_SERVERS[k]) for k in range(3)]
    events += _phase_events("prepare", plan.start, plan.load) + _phase_events("warmup", plan.load, begin)
    events += [{"t": plan.load, "type": "load.start", "pid": 1, "users": 2000, "rate": plan.rate},
               {"t": begin, "type": "upgrade.requested", "strategy": "in-service"},
               {"t": begin + 0.5, "type": "engine.update_state", "state": "updating", "started_at": begin},
               {"t": plan.fault, "type": "fault.inject", "id": "0-node-halt", "kind": "node-halt", "target": "node2"},
               {"t": plan.fault + 60, "type": "fault.heal", "id": "0-node-halt", "ok": True},
               {"t": end - 1, "type": "engine.update_state", "state": "completed", "started_at": begin},
               {"t": end - 1, "type": "upgrade.settled", "outcome": "completed"}]
    for k in range(3):
        events += [_task_event(plan.replaced(k) - 1, "chaos_web", f"v2-{k}", nodes[k], "v2", V2_SERVERS[k]),
                   {**_task_event(plan.replaced(k) + 1, "chaos_web", f"v1-{k}", nodes[k], "v1", V1_SERVERS[k]),
                    "state": "shutdown", "desired": "shutdown"}]
    events += _phase_events("upgrade", begin, end) + _phase_events("observe", end, plan.end)
    events += [{"t": plan.end, "type": "load.stop", "exit_code": 0},
               {"t": plan.end + 1, "type": "engine.final", "service": "chaos_web", "replicas": 3,
                "running": {"v2": 3}}]
    events += _wind_down_events(plan.end + 2)
    return sorted(events, key=lambda e: e["t"])


def _phase_events(name: str, start: float, end: float) -> list[dict]:
    return [{"t": start, "type": "phase.start", "phase": name}, {"t": end, "type": "phase.end", "phase": name}]


def _wind_down_events(t: float) -> list[dict]:
    """Heal, read-back and log collection from ``t``, each a journalled step, then the run's end."""
    return [{"t": t, "type": "step.start", "step": "heal"}, {"t": t + 0.2, "type": "step.end", "step": "heal"},
            {"t": t + 0.2, "type": "step.start", "step": "read_back"},
            {"t": t + 4, "type": "readback", "ok": True, "measured": True, "file": READBACK_FILE},
            {"t": t + 4, "type": "step.end", "step": "read_back"},
            {"t": t + 4, "type": "step.start", "step": "logs"},
            {"t": t + 5, "type": "logs.collected", "files": []}, {"t": t + 5, "type": "step.end", "step": "logs"},
            {"t": t + 5, "type": "run.end", "status": "completed"}]
