"""Cluster configuration (what the user asks for) and state (what was made)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from harness.errors import ClusterError, UsageError

VM_PROVIDERS = ("libvirt", "virtualbox")  # Vagrant VMs, reached over SSH
PROVIDERS = ("docker", *VM_PROVIDERS, "ssh", "existing")  # existing: a Kubernetes cluster of the user's
ENGINES = ("swarm", "kubernetes")  # what deploys the stacks on the nodes
MIN_NODES, MAX_NODES = 2, 9  # cluster sizes `--nodes` accepts; nodes are named node1..nodeN
LB_PORTS = {"http": 8080, "admin": 9999}  # what the load balancer publishes on the manager node
LB_EXPOSURES = ("hostport", "nodeport")  # an existing cluster's load balancer: its node's host ports, or NodePorts
REGISTRY_PORT = 5000  # where nodes pull from the registry (through Toxiproxy)
SECURE_PORT = 5001  # where nodes pull from its authenticated twin: its own port, as on real hosts both names
                    # point to one address (this machine's)
PORT_FIELDS = ("lb_port", "lb_admin_port", "registry_port", "toxiproxy_port")  # the host ports a cluster publishes
STATE_MARKER = ".chaos-harness-cluster"  # in every state directory the harness made; `down` removes no other
STATEFUL_LABEL = "chaos.stateful"  # the node label stateful services are pinned to (the last node)
LB_LABEL = "chaos.lb"  # the node label the load balancer is placed by (the manager)
STACK_NAME = "chaos"  # the stack the harness deploys an app as (blue), with the load balancer
GREEN_STACK = f"{STACK_NAME}-green"  # a blue-green upgrade's new release, beside it


@dataclass(frozen=True)
class Target:
    """An existing Kubernetes cluster (``--provider existing``): how the harness reaches it, and the registry its
    nodes pull the app's images from."""

    kubeconfig: str  # an absolute path
    registry: str  # host:port this machine pushes the images to
    registry_as: str = ""  # host:port the cluster's nodes pull them from, when it differs
    context: str = ""  # the kubeconfig's context; "": its current context
    owned: bool = False  # --i-own-this-cluster: the user vouches that it is a test cluster
    namespace: str = ""  # the harness's namespaces: this one, <this>-green, <this>-faults ("": chaos, ...)
    lb_node: str = ""  # the node the load balancer runs on ("": the first schedulable one it fits on)
    lb_expose: str = "hostport"  # one of LB_EXPOSURES: how this machine reaches the load balancer

    def __post_init__(self) -> None:
        for name, kind in (("kubeconfig", str), ("registry", str), ("registry_as", str), ("context", str),
                           ("owned", bool), ("namespace", str), ("lb_node", str), ("lb_expose", str)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"target.{name} must be a {kind.__name__}, got {getattr(self, name)!r}")
        if self.lb_expose not in LB_EXPOSURES:
            raise ValueError(f"target.lb_expose must be one of {', '.join(LB_EXPOSURES)}, got {self.lb_expose!r}")

    @property
    def pull_registry(self) -> str:
        return self.registry_as or self.registry


NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,30}")
NAME_RULE = "a lowercase letter, then up to 30 lowercase letters, digits or dashes"


def check_name(name: str, what: str = "cluster name") -> str:
    """``name`` if it may become a path, label and container name; otherwise ``ValueError`` saying what is allowed."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:37] + "..."
        raise ValueError(f"{what} {shown} is not allowed: use {NAME_RULE}")
    return name


def default_workdir() -> Path:
    """Where cluster state lives: ``$CHAOS_HOME`` or ``./.chaos``."""
    return Path(os.environ.get("CHAOS_HOME", ".chaos")).resolve()


@dataclass(frozen=True)
class ClusterConfig:
    """What a cluster should look like. Node 1 is the Swarm manager and hosts the load balancer."""

    name: str = "chaos"
    nodes: int = 3
    node_prefix: str = "node"
    provider: str = "docker"
    lb_port: int | None = None  # host ports on 127.0.0.1; None: chosen free when the cluster is created
    lb_admin_port: int | None = None
    registry_port: int | None = None
    toxiproxy_port: int | None = None
    workdir: Path = field(default_factory=default_workdir)
    inventory: Path | None = None  # the hosts of --provider ssh
    managers: int = 1  # Swarm managers: node1, and for 3 node2 and node3 (a Raft quorum survives losing one)
    engine: str = "swarm"  # one of ENGINES
    target: Target | None = None  # --provider existing: the user's Kubernetes cluster
    engine_given: bool = False  # --engine (or CHAOS_ENGINE) was given, not left at its default

    def __post_init__(self) -> None:
        try:
            check_name(self.name)
        except ValueError as error:
            raise UsageError(str(error)) from None
        if (self.provider == "ssh" and self.inventory is None) or (
                self.inventory is not None and self.provider not in ("ssh", "existing")):
            raise UsageError("--provider ssh needs --inventory HOSTS.yaml, and --inventory needs --provider ssh (or "
                             "existing, for a shell on its nodes)")
        if self.engine not in ENGINES:
            raise UsageError(f"--engine {self.engine}: the engines are {', '.join(ENGINES)}")
        if (self.provider == "existing") != (self.target is not None):
            raise UsageError("--provider existing needs --kubeconfig FILE and --registry HOST:PORT, and they need "
                             "--provider existing")
        if self.provider == "existing" and self.engine != "kubernetes":
            raise UsageError("--provider existing targets a Kubernetes cluster: add --engine kubernetes")
        if self.managers % 2 == 0 or not 1 <= self.managers < self.nodes:
            raise UsageError(f"--managers {self.managers}: an odd number (a Raft majority), fewer than the "
                             f"{self.nodes} nodes (the stateful node is a worker)")

    @property
    def clusters_dir(self) -> Path:
        """Where every cluster's state directory lives."""
        return self.workdir / "clusters"

    @property
    def state_dir(self) -> Path:
        return self.clusters_dir / self.name

    @property
    def asked_ports(self) -> dict[str, int | None]:
        """The host ports by their state field name, None where the cluster chooses."""
        return {field: getattr(self, field) for field in PORT_FIELDS}

    @property
    def fingerprint_file(self) -> Path:
        """The hosts' fingerprints taken before the cluster's first ``up``; kept after ``down`` as its proof."""
        return self.workdir / "fingerprints" / f"{self.name}.json"

    def make_state_dir(self) -> None:
        """The state directory, with the marker that lets ``down`` remove it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / STATE_MARKER).write_text(f"{self.name}\n")

    def owns_state_dir(self) -> bool:
        """Whether ``state_dir`` is provably this harness's: inside ``clusters_dir`` and carrying the marker."""
        state_dir = self.state_dir.resolve()
        return state_dir.parent == self.clusters_dir.resolve() and (state_dir / STATE_MARKER).is_file()

    @property
    def node_names(self) -> list[str]:
        return [f"{self.node_prefix}{i}" for i in range(1, self.nodes + 1)]

    @property
    def manager(self) -> str:
        return self.node_names[0]

    @property
    def network_name(self) -> str:
        return f"{self.name}-net"

    def resource_name(self, suffix: str) -> str:
        """Name of a Docker object the cluster owns, e.g. ``chaos-registry``."""
        return f"{self.name}-{suffix}"


def per_engine(config: ClusterConfig, engines: list[str]) -> dict[str, ClusterConfig]:
    """Each engine's cluster: one engine's named as ``config``, several engines' named ``<cluster>-<engine>``
    (``chaos-swarm``, ``chaos-kubernetes``)."""
    if len(engines) == 1:
        return {engines[0]: replace(config, engine=engines[0])}
    return {engine: replace(config, name=f"{config.name}-{engine}", engine=engine) for engine in engines}


@dataclass
class ClusterState:
    """What ``cluster up`` made, saved so later commands can find it."""

    name: str
    provider: str
    nodes: list[str]
    node_ips: dict[str, str]
    lb_port: int
    lb_admin_port: int
    registry_port: int
    toxiproxy_port: int
    node_image: str
    privileged: bool = False
    lb_image_tag: str = ""
    inventory: str = ""  # --provider ssh: the inventory file the hosts came from
    registry_address: str = ""  # hosts and VMs: where this machine publishes the registries for them
    swarm_formed: bool = True  # the harness forms the Swarm (else the hosts' own Swarm is used)
    swarm_joined: list[str] = field(default_factory=list)  # hosts the harness put in a Swarm: they leave at down
    managers: list[str] = field(default_factory=list)  # the Swarm's managers (empty: the first node alone)
    engines_changed: list[str] = field(default_factory=list)  # hosts whose engine config the harness changed
    undone: list[str] = field(default_factory=list)  # steps of `down` done on the hosts (a retry skips them)
    engine: str = "swarm"  # one of ENGINES
    target: dict = field(default_factory=dict)  # --provider existing: its Target's fields
    kept_labels: dict = field(default_factory=dict)  # --provider existing: the harness's node labels (placement)
    dns: list = field(default_factory=list)  # --provider existing: its Discovery (resolver, name)
    lb_node_ports: dict = field(default_factory=dict)  # --lb-expose nodeport: LB_PORTS' names -> their NodePorts

    @property
    def manager(self) -> str:
        return self.nodes[0]

    @property
    def over_ssh(self) -> bool:
        """The nodes are hosts or VMs (reached over SSH) or an existing cluster's, not node containers on this
        machine."""
        return self.provider != "docker"

    @property
    def lb_url(self) -> str:
        """The load balancer as the harness's clients reach it: at its node's own address.

        Not through the port published on 127.0.0.1: Docker's userland proxy
        behind it accepts every connection at once, also for a node that drops
        its packets, and replays the held requests when the node answers again.
        """
        address = self.node_ips.get(self.manager)
        return f"http://{address}:{self.lb_ports['http']}" if address else self.published_lb_url

    @property
    def lb_ports(self) -> dict[str, int]:
        """The load balancer's ports at its node's address: LB_PORTS, or the NodePorts they are exposed by."""
        return {**LB_PORTS, **self.lb_node_ports}

    @property
    def lb_admin(self) -> tuple[str, int]:
        """Where the harness reaches the load balancer's runtime API: the port published on 127.0.0.1 for node
        containers, the manager's own port on hosts and VMs (nothing is published on this machine for them)."""
        if self.over_ssh:
            return self.node_ips[self.manager], self.lb_ports["admin"]
        return "127.0.0.1", self.lb_admin_port

    @property
    def endpoints(self) -> dict[str, str]:
        """Where a person reaches each part (host:port): the load balancer and its runtime API, the registry
        push port and Toxiproxy's API; on real hosts also where the hosts pull from."""
        lb = (self.node_ips[self.manager], self.lb_ports["http"]) if self.over_ssh else ("127.0.0.1", self.lb_port)
        found = {"lb": f"{lb[0]}:{lb[1]}", "lb_admin": "{}:{}".format(*self.lb_admin),
                 "registry": f"127.0.0.1:{self.registry_port}", "toxiproxy": f"127.0.0.1:{self.toxiproxy_port}"}
        if self.target:  # the user's registry; no Toxiproxy
            found = {**found, "registry": self.target["registry"]}
            del found["toxiproxy"]
        if self.registry_address:
            found["hosts_pull_from"] = f"{self.registry_address}:{REGISTRY_PORT},{SECURE_PORT}"
        return found

    @property
    def published_lb_url(self) -> str:
        """The load balancer as a person on this host reaches it (the port published on 127.0.0.1)."""
        return f"http://127.0.0.1:{self.lb_port}"

    @property
    def addresses(self) -> frozenset[str]:
        """The nodes' own addresses: where besides loopback the harness may send load."""
        return frozenset(address for address in self.node_ips.values() if address)

    @property
    def ports(self) -> dict[str, int]:
        """The host ports the cluster publishes, by their field name."""
        return {field: getattr(self, field) for field in PORT_FIELDS}

    def save(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / STATE_MARKER).write_text(f"{self.name}\n")
        (state_dir / "cluster.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> ClusterState | None:
        path = state_dir / "cluster.json"
        if not path.exists():
            return None
        try:
            state = cls(**json.loads(path.read_text()))
            check_name(state.name)
            _check_target_fields(state)
        except (ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
            raise ClusterError(f"{path} is damaged ({error}); `chaos-harness down` removes what the cluster "
                               "left behind") from error
        return state


def _check_target_fields(state: ClusterState) -> None:
    """An existing cluster's fields as ``cluster up`` writes them; TypeError naming the first that is not."""
    if not isinstance(state.target, dict):
        raise TypeError(f"target must be an object, got {state.target!r}")
    if state.target:
        Target(**state.target)
    if state.dns and not (len(state.dns) == 2 and all(isinstance(part, str) for part in state.dns)):
        raise TypeError(f"dns must be [resolver, name], got {state.dns!r}")
    if not isinstance(state.kept_labels, dict) or not all(
            isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values())
            for labels in state.kept_labels.values()):
        raise TypeError(f"kept_labels must map nodes to labels, got {state.kept_labels!r}")
    if not isinstance(state.lb_node_ports, dict) or set(state.lb_node_ports) - set(LB_PORTS) or not all(
            isinstance(port, int) and 0 < port < 65536 for port in state.lb_node_ports.values()):
        raise TypeError(f"lb_node_ports must map {' and '.join(LB_PORTS)} to ports, got {state.lb_node_ports!r}")
