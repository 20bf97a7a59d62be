"""The cluster as one object: bring it up, look at it, take it down.

Every Docker object made here carries the cluster label (or, for the nodes'
own volumes, the cluster's name prefix) so that ``down`` removes exactly what
the harness made and nothing else.
"""

from __future__ import annotations

import fcntl
import ipaddress
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import docker
from toxiproxy.proxy import Proxy

from harness.build import LB_IMAGE, NODE_IMAGE, REGISTRY_IMAGE, TOXIPROXY_IMAGE, ImageBuilder
from harness.cluster import existing, fingerprint, hostcheck, kubehosts, onhosts
from harness.cluster.fingerprint import FingerprintRecord
from harness.cluster.config import (LB_LABEL, LB_PORTS, STATEFUL_LABEL, VM_PROVIDERS, ClusterConfig, ClusterState,
                                    Target)
from harness.cluster.hostsetup import RunOn, point_registry_names
from harness.cluster.inventory import Inventory, load_inventory
from harness.cluster.kubehosts import KubeNodesOnHosts
from harness.cluster.localobjects import LocalObjects
from harness.cluster.ports import choose_ports
from harness.cluster.registry import (
    NODE_REGISTRY, SECURE_REGISTRY, STACK_NAMESPACE, Registry, RegistryProxy, SecureRegistry)
from harness.cluster.sshnodes import KNOWN_HOSTS, SshNodes
from harness.cluster.vagrant import ENGINE_SOCKET, RUNNING, ExecResult, VagrantNodes, shown_command
from harness.cluster.vms import VagrantVms, provider_problem, vm_subnet
from harness.dockerhost import host_docker
from harness.engine.kubernetes import formation
from harness.engine.kubernetes.bootstrap import ClusterPlan, Secrets, admin_kubeconfig
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.engine.kubernetes.formation import COREDNS_REPOSITORY
from harness.engine.kubernetes.images import COREDNS_IMAGE, KUBE_NODE_IMAGE, PAUSE_IMAGE
from harness.engine.kubernetes.placement import KeptLabels
from harness.engine.base import Discovery
from harness.engine.swarm import SwarmEngine
from harness.errors import ClusterError, EngineError, EnvironmentProblem, HarnessError, UsageError

Progress = Callable[[str], None]
FIRST_NODE_HOST = 10  # node i gets <subnet>.<10+i>
LB_REPOSITORY = "harness/lb"
MAX_SOCKET_PATH = 100  # a unix socket path has at most 107 bytes


@dataclass
class Teardown:
    """What ``down`` did: what it removed here, what it could not undo on the hosts, and how the hosts and this
    machine differ from their fingerprints (empty when they are exactly as before)."""

    removed: list[str] = field(default_factory=list)
    not_undone: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.not_undone and not self.differences


class Cluster:
    """A running (or to-be-started) cluster: Vagrant nodes, registry and Swarm."""

    def __init__(self, config: ClusterConfig, progress: Progress = lambda _: None) -> None:
        self.config = config
        self._progress = progress
        self._client = host_docker()
        self.local_objects = LocalObjects(self._client, config)  # what it makes on this machine's engine
        self._state = ClusterState.load(config.state_dir)
        self._hosts: SshNodes | VagrantVms | None = None  # hosts and VMs: one set of SSH connections kept
        self._engine: SwarmEngine | KubernetesEngine | None = None  # its clients, kept: over SSH, connections
        self._facts: existing.Facts | None = None  # an existing cluster, as examined before the first up

    # -- what exists -----------------------------------------------------------

    @property
    def state_or_none(self) -> ClusterState | None:
        """The cluster's state, None when it is not up."""
        return self._state

    @property
    def state(self) -> ClusterState:
        if self._state is None:
            raise ClusterError(f"cluster {self.config.name!r} is not up; run `chaos-harness cluster up`")
        return self._state

    @property
    def nodes(self) -> VagrantNodes | VagrantVms | SshNodes | KubeNodesOnHosts:
        """The nodes' driver: node containers, Vagrant VMs (over SSH) or the inventory's hosts (over SSH; for
        Kubernetes, a node container on each)."""
        state = self.state
        if state.provider == "docker":
            return VagrantNodes(state, self.config.state_dir, self._client)
        if state.provider == "existing" and not state.inventory:
            return existing.NodesOfTarget(self.target, state.nodes)
        if state.provider == "ssh" and state.engine == "kubernetes":
            return KubeNodesOnHosts(self._reached_hosts, state.name, state.registry_address)
        return self._reached_hosts

    @property
    def _reached_hosts(self) -> SshNodes | VagrantVms:
        """The hosts or VMs the nodes are, reached over SSH (logged in to once)."""
        state = self.state
        if self._hosts is None:
            self._hosts = (SshNodes(load_inventory(state.inventory, _inventory_kind(state.provider, state.engine)),
                                    self.config.state_dir)
                           if state.inventory else VagrantVms(state, self.config.state_dir, self._client))
        return self._hosts

    @property
    def engine(self) -> SwarmEngine | KubernetesEngine:
        if self._engine is None:
            state = self.state
            if state.provider == "existing":
                self._engine = KubernetesEngine(self.kubeconfig, self._registry().image_config, self.target.context,
                                                Discovery(*state.dns), KeptLabels(state.kept_labels),
                                                existing.namespaces(self.target),
                                                {LB_PORTS[name]: port for name, port in state.lb_node_ports.items()})
            elif state.engine == "kubernetes":
                self._engine = KubernetesEngine(self.kubeconfig, self._registry().image_config)
            else:
                self._engine = SwarmEngine(state.nodes, self._engine_client, state.manager, self._run_on)
        return self._engine

    @property
    def kubeconfig(self) -> Path:
        """A Kubernetes cluster's kubeconfig: the admin kubeconfig the harness wrote (mode 0600), for it and for
        ``kubectl``; the user's own for an existing cluster."""
        if self.target is not None:
            return Path(self.target.kubeconfig)
        return self.config.state_dir / "kubeconfig"

    @property
    def target(self) -> Target | None:
        """The existing cluster the harness targets (``--provider existing``), else None."""
        if self._state is not None:
            return Target(**self._state.target) if self._state.target else None
        return self.config.target

    @property
    def lb_url(self) -> str:
        return self.state.lb_url

    @property
    def stateful_node(self) -> str:
        return self.state.nodes[-1]

    @property
    def builder(self) -> ImageBuilder:
        """Builds images on the machine's engine (the harness's own, and apps')."""
        return ImageBuilder(self._client, self._progress)

    def push_image(self, local: str, repository: str, tag: str) -> str:
        """Push a local image into the cluster's registry; return the name nodes pull (from the open registry)."""
        return self._registry().push(local, repository, tag)

    def pull_registry(self, kind: str = "open") -> str:
        """How the nodes name the registry (host:port) they pull the app from: the harness's ``open`` one or its
        ``authenticated`` twin; an existing cluster's is the user's."""
        if self.target is not None:
            if kind != "open":
                raise ClusterError(f"an existing cluster pulls from the user's registry ({self.target.registry}); the "
                                   f"harness's {kind} registry exists only on clusters it makes")
            return self.target.pull_registry
        return {"open": NODE_REGISTRY, "authenticated": SECURE_REGISTRY}[kind]

    def lb_image(self, registry: str) -> str:
        """The load balancer's image as nodes pull it from ``registry`` (host:port)."""
        return f"{registry}/{STACK_NAMESPACE}/{LB_REPOSITORY}:{self.state.lb_image_tag}"

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        """Run a command on a node."""
        return self.nodes.exec(node, argv, stdin)

    def engine_log(self, node: str, since: float) -> str:
        """What the node's Docker engine logged since ``since`` (epoch seconds)."""
        return self.nodes.engine_log(node, since)

    def halt_node(self, node: str, force: bool = False) -> None:
        """Stop one node (``vagrant halt``)."""
        self.nodes.halt(node, force=force)

    def start_node(self, node: str) -> None:
        """Start one stopped node (``vagrant up NODE``, or a host's power_on).

        A host's or VM's ``/etc/hosts`` may be rewritten at boot (cloud-init, a container's engine), so the
        registry line is written again.
        """
        self.nodes.up(node)
        if self.state.registry_address and not self._kubernetes:  # hosts and VMs the harness points at its registries
            point_registry_names(self._runner(node), self.config.name, self.state.registry_address)

    def can_power_cycle(self, node: str) -> bool:
        """Whether the harness can halt ``node`` and start it again (an inventory host needs power commands)."""
        return self.nodes.can_power_cycle(node)

    def offers(self) -> frozenset[str]:
        """What faults may act through beside the engine's API (``faults.base.NEEDS``): a shell on the nodes and
        the harness's registry; on an existing cluster, a shell only with an inventory of its nodes."""
        if self.target is None:
            return frozenset({"shell", "registry"})
        return frozenset({"shell"}) if self.state.inventory else frozenset()

    def reaches_nodes(self) -> bool:
        """Whether the harness has a shell on the nodes."""
        return "shell" in self.offers()

    def control_port(self, node: str) -> int | None:
        """The SSH port the harness reaches a host or VM through; None for node containers (a local socket)."""
        return self.nodes.logins[node].port if self.state.over_ssh else None

    def node_states(self) -> dict[str, str]:
        """Node name to Vagrant state: running, stopped or not_created."""
        return self.nodes.status()

    def registry_proxy_server(self) -> RegistryProxy:
        """The Toxiproxy server the nodes pull through."""
        self._refuse_on_target("Toxiproxy in front of its registry")
        return RegistryProxy(self._client, self.config.name, self.config.network_name, self.state.toxiproxy_port,
                             self.state.registry_address)

    def secure_registry(self) -> SecureRegistry:
        """The registry's twin that requires credentials."""
        self._refuse_on_target("an authenticated registry")
        return SecureRegistry(self._client, self.config.name, self.config.network_name, self.config.state_dir,
                              self.state.registry_address)

    def registry_proxy(self) -> Proxy:
        """The Toxiproxy proxy between the nodes and the registry."""
        return self.registry_proxy_server().proxy()

    def node_addresses(self) -> dict[str, str]:
        """Node name to its address on the cluster network."""
        return dict(self.state.node_ips)

    def problems(self) -> list[str]:
        """Why the cluster cannot be reused as it is (empty when it can): nodes, engines, swarm."""
        if self._state is None:
            return ["the cluster is not up"]
        stopped = [node for node, status in self.node_states().items() if status != RUNNING]
        if stopped:
            return [f"node {node} is not running" for node in stopped]
        engine = self.state.engine  # swarm or kubernetes
        try:
            seen = self.engine.nodes()
        except HarnessError as error:
            return [f"the {engine} control plane does not answer: {error}"]
        found = [f"{engine} node {n.hostname} is {n.state}/{n.availability}" for n in seen
                 if n.state != "ready" or n.availability != "active"]
        missing = set(self.state.nodes) - {n.hostname for n in seen}
        return found + [f"{node} is not in the {engine} cluster" for node in sorted(missing)]

    # -- lifecycle ---------------------------------------------------------------

    def up(self) -> ClusterState:
        """Build images, start nodes and registry, form the swarm. Idempotent.

        A cluster created by this call is removed again when a step fails, so
        a failed ``up`` leaves nothing behind; an existing one is left as it is.
        """
        if self._state is not None:
            self._progress("the cluster exists: checking that each of its parts is up")
            return self._bring_up(reused=True)
        self._check_can_create()
        try:
            self._record_fingerprints()
        except BaseException:  # nothing was made but the state directory the hosts' keys were learnt into
            self._remove_state_dir()
            raise
        try:
            return self._bring_up()
        except BaseException:
            self._progress("bringing the cluster up failed; removing what was created")
            teardown = self.down(rollback=True)
            for problem in [*teardown.not_undone, *teardown.differences]:
                self._progress(f"left after the failed up: {problem}")
            raise

    def _bring_up(self, reused: bool = False) -> ClusterState:
        """Every part of the cluster made or checked; ``reused``: an existing cluster's, whose steps that only check
        say nothing (what they do again, such as a rebuilt image or a restarted node, still says so)."""
        said = (lambda _: None) if reused else self._progress
        builder = ImageBuilder(self._client, self._progress)
        provider = self._state.provider if self._state else self.config.provider
        if provider == "existing":
            return self._target_up(builder)
        if provider == "ssh":
            self._start_hosts()
        elif provider in VM_PROVIDERS:
            self._start_vms()
        else:
            self._start_node_containers(builder.build(KUBE_NODE_IMAGE if self._kubernetes else NODE_IMAGE))
        registry = self._registry()
        registry.ensure_running(builder.build(REGISTRY_IMAGE))
        self.secure_registry().ensure_running(builder.build(REGISTRY_IMAGE), registry.data_volume)
        said("starting Toxiproxy in front of the registry")
        self.registry_proxy_server().ensure_running(builder.build(TOXIPROXY_IMAGE))
        lb = builder.build(LB_IMAGE)
        self._state.lb_image_tag = lb.rsplit(":", 1)[1]
        self._state.save(self.config.state_dir)
        registry.push(lb, LB_REPOSITORY, self._state.lb_image_tag)
        if self._kubernetes:
            self._form_kubernetes(builder, registry, said)
        else:
            self._form_swarm(said)
        engine = self.engine
        engine.label_node(self._state.manager, {LB_LABEL: "true"})
        engine.label_node(self.stateful_node, {STATEFUL_LABEL: "true"})
        return self._state

    def _target_up(self, builder: ImageBuilder) -> ClusterState:
        """The harness's part on an existing cluster (see ``existing``): its load balancer's image in the user's
        registry and its node labels in its state; nothing is made in the cluster before a run deploys."""
        if self._state is None:
            target, facts = self.config.target, self._facts  # examined by _check_can_create
            self._progress(f"targeting the cluster of {target.kubeconfig}: {facts.proof}; "
                           f"nodes {', '.join(facts.nodes)}")
            self._state = ClusterState(
                name=self.config.name, provider="existing", nodes=list(facts.nodes), node_ips=facts.nodes,
                lb_port=0, lb_admin_port=0, registry_port=0, toxiproxy_port=0, node_image="", engine="kubernetes",
                target=asdict(target), dns=[facts.discovery.resolver, facts.discovery.name],
                lb_node_ports=facts.node_ports,
                inventory=str(self.config.inventory.resolve()) if self.config.inventory else "")
            self._state.save(self.config.state_dir)
        lb = builder.build(LB_IMAGE)
        self._state.lb_image_tag = lb.rsplit(":", 1)[1]
        self._registry().push(lb, LB_REPOSITORY, self._state.lb_image_tag)
        self.engine.label_node(self._state.manager, {LB_LABEL: "true"})
        self.engine.label_node(self.stateful_node, {STATEFUL_LABEL: "true"})
        self._state.save(self.config.state_dir)
        return self._state

    def _release_target(self) -> list[str]:
        """Delete the harness's namespaces on an existing cluster and wait until they are gone; what was left."""
        left = []
        stacks = {namespace: stack for stack, namespace in existing.namespaces(self.target).items()}
        for namespace in existing.present(self.target):
            try:
                self.engine.remove_stack(stacks[namespace])
                self._progress(f"removed the namespace {namespace}")
            except HarnessError as error:
                left.append(f"the namespace {namespace}: {error}")
        return left

    def _form_swarm(self, said: Progress) -> None:
        engine = self.engine
        engine.wait_for_engines()
        if self.state.over_ssh:
            onhosts.ready_for_registries(self.state, engine, self._runner, self._save_state)
            said("forming the swarm")
            onhosts.join(self.state, engine, self._save_state)
        else:
            said("forming the swarm")
            engine.form(self.state.node_ips, self.state.managers)

    def _form_kubernetes(self, builder: ImageBuilder, registry: Registry, said: Progress) -> None:
        """Kubernetes on the started node containers (see ``engine.kubernetes.formation``), its admin kubeconfig
        in the state directory; the cluster's certificate authority is made once and kept there too (0600)."""
        secrets_file = self.config.state_dir / "kubernetes-secrets.json"
        if not secrets_file.exists():
            _write_private(secrets_file, Secrets.new(self.config.name).to_json().encode())
        secrets = Secrets.read(secrets_file)
        pause = builder.build(PAUSE_IMAGE)
        coredns = builder.build(COREDNS_IMAGE)
        if self.state.provider == "ssh":
            self._start_nodes_on_hosts(builder.build(KUBE_NODE_IMAGE))
        plan = self._kubernetes_plan(f"docker.io/{pause}")
        _write_private(self.kubeconfig, admin_kubeconfig(plan, secrets))
        coredns_image = registry.push(coredns, COREDNS_REPOSITORY, coredns.rsplit(":", 1)[1])
        archive = b"".join(self._client.images.get(pause).save(named=pause))
        said("forming the Kubernetes cluster")
        formation.form(plan, secrets, self.exec, archive, self.kubeconfig, coredns_image, said)

    def _kubernetes_plan(self, sandbox_image: str = "") -> ClusterPlan:
        return ClusterPlan(self.config.name, dict(self.state.node_ips), self.state.manager,
                           (NODE_REGISTRY, SECURE_REGISTRY), sandbox_image)

    def _start_nodes_on_hosts(self, node_image: str) -> None:
        """A Kubernetes node container on every host (see ``kubehosts``), its image copied where it is missing."""
        self.state.node_image = node_image
        self._save_state()
        self._progress(f"starting the Kubernetes node on {len(self.state.nodes)} hosts")

        def saved() -> bytes:
            self._progress(f"copying the node image {node_image} to the hosts that lack it")
            return b"".join(self._client.images.get(node_image).save(named=node_image))

        kubehosts.start_nodes(self.nodes, self.state.nodes, node_image, saved)

    def _start_node_containers(self, node_image: str) -> None:
        if self._state is None:
            with _lock(self.config.clusters_dir):  # two `up`s at once must not choose the same ports
                network = self.local_objects.network()
                subnet = ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
                privileged = self.local_objects.accepts_privileged(node_image)
                self._state = self._plan(subnet, node_image=node_image, privileged=privileged)
                self._state.save(self.config.state_dir)
        self._state.node_image = node_image
        self._state.save(self.config.state_dir)
        if not self._kubernetes:
            self.local_objects.volumes(self._state.nodes)
            self._ensure_socket_dirs()
        statuses = self.nodes.status()
        if any(s != RUNNING for s in statuses.values()):
            self._progress(f"starting {len(self._state.nodes)} nodes ({self._state.provider} provider)")
            self.nodes.up()

    def _record_fingerprints(self) -> None:
        """Before a first ``up`` changes anything: every host checked at once (on real hosts), then the
        fingerprints of the hosts and of this machine recorded (see ``fingerprint``)."""
        found = [fingerprint.of_this_machine(self._client, self.config.name, self.local_objects.all_names())]
        inventory = ""
        if self.config.provider == "ssh":
            hosts = load_inventory(self.config.inventory, self.config.engine)
            inventory = str(Path(self.config.inventory).resolve())
            self.config.make_state_dir()  # the hosts' keys are learnt into it
            self._hosts = SshNodes(hosts, self.config.state_dir, learn_keys=True)
            self._progress(f"checking {len(hosts.hosts)} hosts over SSH")
            kubernetes = (KubeNodesOnHosts(self._hosts, self.config.name, "").host_problems
                          if self.config.engine == "kubernetes" else None)
            hostcheck.check_hosts(self._hosts, [h.name for h in hosts.hosts], hosts.swarm, kubernetes)
            found += [fingerprint.of_host(h.name, self._runner_of(self._hosts, h.name)) for h in hosts.hosts]
        if self.config.target is not None:
            found += self._record_target()
            inventory = str(self.config.inventory.resolve()) if self.config.inventory else ""
        known_hosts = self.config.state_dir / KNOWN_HOSTS
        FingerprintRecord(self.config.name, inventory, found, known_hosts.read_text() if known_hosts.exists() else ""
                          ).save(self.config.fingerprint_file)

    def _record_target(self) -> list[fingerprint.Fingerprint]:
        """An existing cluster's fingerprint, and its inventory's hosts' (each one a node of the cluster, logged
        in to as root; their keys learnt into the state directory)."""
        found = [existing.fingerprint(self.config.target)]
        if self.config.inventory is None:
            return found
        hosts = load_inventory(self.config.inventory, "nodes")
        if strangers := [h.name for h in hosts.hosts if h.name not in self._facts.nodes]:
            raise UsageError(f"{self.config.inventory}: hosts {', '.join(strangers)} are no schedulable nodes of the "
                             f"cluster (its nodes: {', '.join(self._facts.nodes)}); name each host as Kubernetes "
                             "names its node")
        self.config.make_state_dir()
        self._hosts = SshNodes(hosts, self.config.state_dir, learn_keys=True)
        self._progress(f"logging in to {len(hosts.hosts)} nodes over SSH")
        self._hosts.up()
        return found + [fingerprint.of_cluster_node(fingerprint.of_host(h.name, self._runner_of(self._hosts, h.name)))
                        for h in hosts.hosts]

    def _start_hosts(self) -> None:
        """The inventory's hosts (checked and fingerprinted by ``_record_fingerprints`` on the first up)."""
        if self._state is None:
            with _lock(self.config.clusters_dir):
                self._state = self._plan_hosts(load_inventory(self.config.inventory, self.config.engine))
                self._state.save(self.config.state_dir)
        if self._hosts is None:
            self._hosts = SshNodes(load_inventory(self._state.inventory, self._state.engine), self.config.state_dir)
        self._hosts.up()

    def _start_vms(self) -> None:
        """Vagrant's VMs up, then each checked over SSH like an inventory's host."""
        if self._state is None:
            with _lock(self.config.clusters_dir):
                self.local_objects.network()  # the registries' own network on this machine
                self._state = self._plan(vm_subnet(self._addresses_taken()), node_image="")
                self._state.save(self.config.state_dir)
        vms = self.nodes
        if any(status != RUNNING for status in vms.status().values()):
            self._progress(f"starting {len(self._state.nodes)} VMs ({self._state.provider} provider)")
            vms.up()
        if not self._state.registry_address:
            self._state.registry_address = onhosts.address_towards(self._state.node_ips[self._state.manager])
            self._save_state()
        hostcheck.check_hosts(vms, self._state.nodes)

    def _addresses_taken(self) -> list[str]:
        """The node addresses of every other cluster under this harness home."""
        taken: list[str] = []
        for state_dir in self.config.clusters_dir.glob("*/"):
            with suppress(ClusterError):  # a damaged state names no addresses
                other = ClusterState.load(state_dir)
                taken += list(other.node_ips.values()) if other and other.name != self.config.name else []
        return taken

    def _runner(self, node: str) -> RunOn:
        return lambda argv, stdin: self.exec(node, argv, stdin)

    def _host_runner(self, node: str) -> RunOn:
        """Runs a command on the host ``node`` is (an inventory's), not in a node container on it."""
        return self._runner_of(self._reached_hosts, node)

    @staticmethod
    def _runner_of(hosts: SshNodes, node: str) -> RunOn:
        return lambda argv, stdin: hosts.exec(node, argv, stdin)

    def _save_state(self) -> None:
        self.state.save(self.config.state_dir)

    def rebuild(self) -> ClusterState:
        """Remove the cluster and bring it up again with the same nodes, provider and ports."""
        previous = self._state
        if not (teardown := self.down()).complete:
            raise ClusterError("the cluster could not be taken down completely, so it is not brought up again: " +
                               "; ".join([*teardown.not_undone, *teardown.differences][:5]))
        if previous is not None:
            self.config = replace(self.config, nodes=len(previous.nodes), provider=previous.provider,
                                  managers=len(previous.managers) or 1,
                                  inventory=Path(previous.inventory) if previous.inventory else None, **previous.ports)
        return self.up()

    def down(self, rollback: bool = False, keep_data: bool = False, accept_differences: bool = False) -> Teardown:
        """Remove every node, container, network and volume of this cluster, then compare the hosts and this
        machine with their fingerprints from before the first ``up``.

        On real hosts (``--provider ssh``) the hosts stay: what the harness did on them is undone instead, and
        when a step fails (a host does not answer) nothing here is removed, so that ``down`` can run again.
        The state is removed only when nothing is left undone and no fingerprint differs.
        ``rollback``: undo a first ``up`` that failed (its Swarm kept when the inventory says on_failure: leave).
        ``keep_data``: the stack's volumes on the hosts stay. ``accept_differences``: the state is removed although
        a fingerprint differs (the differences are still listed), as it is after a rollback that leaves the Swarm.
        """
        result = Teardown()
        if self._state is not None and self._state.provider == "existing":
            result.not_undone = self._release_target()
            if result.not_undone:
                return result
        elif self._state is not None and self._state.provider == "ssh":
            result.not_undone = (kubehosts.release_nodes(self.nodes, self._kubernetes_plan(), self.state.node_image)
                                 if self._kubernetes else self._release_hosts(rollback, keep_data))
            if result.not_undone:
                return result
        elif self._state is not None:
            self.nodes.destroy()
        result.removed = self.local_objects.remove()
        try:
            result.differences = self.fingerprint_differences(kept=onhosts.stack_volume if keep_data else None)
        except HarnessError as error:  # a host went away after its release
            result.differences = [f"the fingerprints cannot be compared: {error}"]
        if not result.differences or accept_differences or self._swarm_left_on_failure(rollback):
            result.removed += self._remove_state_dir()
            if self._hosts is not None:
                self._hosts.close()
            self._state, self._engine, self._hosts = None, None, None
        return result

    def _swarm_left_on_failure(self, rollback: bool) -> bool:
        """A failed first up on hosts whose inventory says on_failure: leave: the Swarm (and what differs with it)
        stays on purpose."""
        return (rollback and self._state is not None and self._state.provider == "ssh"
                and load_inventory(self._state.inventory).on_failure == "leave")

    def fingerprint_differences(self, kept: Callable[[str, str], bool] | None = None) -> list[str]:
        """How this machine and the inventory's hosts differ from their fingerprints from before the first ``up``
        (also once the cluster is down: the record keeps the inventory and the hosts' keys); ``kept(section,
        line)``: what was left on purpose."""
        record = FingerprintRecord.load(self.config.fingerprint_file)
        if record is None:
            return []
        now = [fingerprint.of_this_machine(self._client, self.config.name, self.local_objects.all_names())]
        if self._state is not None and self._state.provider == "ssh":
            now += [fingerprint.of_host(node, self._host_runner(node)) for node in self._state.nodes]
        elif self._state is not None and self._state.provider == "existing":
            now.append(existing.fingerprint(self.target))
            if self._state.inventory:
                now += [fingerprint.of_host(node, self._host_runner(node)) for node in self.nodes.logins]
        elif record.inventory:
            now += _recorded_hosts_now(record)
        return [line for after in now if (before := record.of(after.host))
                for line in self._own_tags(before).differences(self._own_tags(after), kept)]

    def _own_tags(self, found: fingerprint.Fingerprint) -> fingerprint.Fingerprint:
        """This machine's fingerprint with the push tags of this cluster's registry only (other clusters push and
        untag theirs meanwhile), and none once its state is gone: its registry went with it, and its own tags were
        compared while it had one; any other fingerprint as it is."""
        return fingerprint.pushed_to(found, self._registry().address if self._state is not None else None)

    # -- internals ------------------------------------------------------------------

    def _remove_state_dir(self) -> list[str]:
        """Remove the state directory, only when it is provably the harness's own."""
        state_dir = self.config.state_dir
        if not state_dir.exists():
            return []
        if not self.config.owns_state_dir():
            return [f"kept {state_dir}: it does not carry the harness's marker, so it is not removed"]
        shutil.rmtree(state_dir, ignore_errors=True)
        return [f"state {state_dir}"]

    def _plan(self, subnet: ipaddress.IPv4Network, **details) -> ClusterState:
        """The state of a cluster of node containers or VMs: their names, addresses in ``subnet``, ports."""
        ports = choose_ports(self.config.asked_ports, self.config.clusters_dir, self.config.name)
        names = self.config.node_names
        ips = {name: str(subnet.network_address + FIRST_NODE_HOST + i) for i, name in enumerate(names, 1)}
        return ClusterState(name=self.config.name, provider=self.config.provider, nodes=names, node_ips=ips, **ports,
                            managers=names[:self.config.managers], engine=self.config.engine, **details)

    def _plan_hosts(self, inventory: Inventory) -> ClusterState:
        """The state of a cluster on the inventory's hosts: their names and addresses, this machine's ports."""
        ports = choose_ports(self.config.asked_ports, self.config.clusters_dir, self.config.name)
        self.local_objects.network()  # the registries' own network on this machine
        found = onhosts.addresses(inventory)
        return ClusterState(
            name=self.config.name, provider="ssh", nodes=list(found), node_ips=found, **ports,
            node_image="", inventory=str(Path(self.config.inventory).resolve()),
            registry_address=inventory.registry_address or onhosts.address_towards(found[inventory.manager.name]),
            swarm_formed=inventory.swarm == "form",
            managers=[h.name for h in inventory.hosts if h.role == "manager"], engine=self.config.engine,
        )

    def _release_hosts(self, rollback: bool, keep_data: bool) -> list[str]:
        """Undo on the hosts what the harness did there (see ``onhosts.release``); what could not be undone."""
        state = self.state
        keep_swarm = self._swarm_left_on_failure(rollback)
        return onhosts.release(state, self.engine, self._runner, self._save_state, rollback=rollback,
                               keep_swarm=keep_swarm, keep_data=keep_data,
                               before=FingerprintRecord.load(self.config.fingerprint_file))

    def _socket_dir(self, node: str) -> Path:
        """The host directory a node's engine puts its API socket in (mounted into the node)."""
        return self.config.state_dir / "engines" / node

    def _check_can_create(self) -> None:
        """Refuse, before anything is made, a cluster that cannot be created here as asked."""
        config = self.config
        if config.engine == "kubernetes" and config.provider in VM_PROVIDERS:
            raise UsageError(f"--engine kubernetes runs on node containers (--provider docker), on your hosts "
                             f"(--provider ssh --inventory HOSTS.yaml) or on a cluster of yours (--provider existing "
                             f"--kubeconfig FILE), not on --provider {config.provider}")
        if config.inventory is not None:  # every problem in it named before anything is made
            load_inventory(config.inventory, _inventory_kind(config.provider, config.engine))
        if config.target is not None:
            self._facts = existing.examine(config.target)
        if config.provider in VM_PROVIDERS and (problem := provider_problem(config.provider)):
            raise EnvironmentProblem(f"--provider {config.provider}: {problem}")
        longest = str(self._socket_dir(config.node_names[-1]) / ENGINE_SOCKET)
        if config.provider == "docker" and len(longest.encode()) > MAX_SOCKET_PATH:
            raise ClusterError(f"the node engines' sockets would be at {longest}, longer than a unix socket path "
                               f"may be ({MAX_SOCKET_PATH} bytes); set CHAOS_HOME to a shorter directory")
        if claimed := self.local_objects.labelled():
            raise ClusterError(f"cluster {config.name!r} has no state in {config.state_dir} but Docker objects "
                               f"carry its name: {', '.join(claimed[:5])}. Was it made with another CHAOS_HOME? "
                               "Take it down there (or with `down` here), or choose another cluster name")
        self.local_objects.refuse_collisions()
        if config.state_dir.exists() and any(config.state_dir.iterdir()) and not config.owns_state_dir():
            raise ClusterError(f"{config.state_dir} exists and is not the harness's (no marker); move it away "
                               "or choose another cluster name")

    def _ensure_socket_dirs(self) -> None:
        (self.config.state_dir / "engines").mkdir(mode=0o700, exist_ok=True)  # only the harness's user gets in
        for node in self.state.nodes:
            self._socket_dir(node).mkdir(exist_ok=True)

    def _engine_client(self, node: str) -> docker.DockerClient:
        """A client for a node's engine: its unix socket (node containers) or SSH (hosts), never a TCP port."""
        if self.state.over_ssh:
            return self.nodes.engine_client(node)
        return docker.DockerClient(base_url=f"unix://{self._socket_dir(node) / ENGINE_SOCKET}", timeout=30,
                                   version="auto")

    @property
    def _kubernetes(self) -> bool:
        """Whether the cluster is (or, before its first ``up``, is to be) a Kubernetes cluster."""
        return (self._state.engine if self._state else self.config.engine) == "kubernetes"

    def _registry(self) -> Registry:
        if (target := self.target) is not None:
            return Registry(self._client, self.config.name, self.config.network_name, 0, target.registry,
                            target.pull_registry)
        return Registry(self._client, self.config.name, self.config.network_name, self.state.registry_port)

    def _refuse_on_target(self, what: str) -> None:
        if self.target is not None:
            raise ClusterError(f"an existing cluster has no {what} of the harness's: its nodes pull from the "
                               f"user's registry ({self.target.registry})")

    def _run_on(self, node: str, argv: list[str], stdin: bytes | None) -> str:
        result = self.exec(node, argv, stdin)
        if not result.ok:
            raise EngineError(f"`{shown_command(argv)}` failed on {node}: {result.output.strip()[-1500:]}")
        return result.output


def _inventory_kind(provider: str, engine: str) -> str:
    """What an inventory's hosts are (see ``load_inventory``): an existing cluster's nodes, or the hosts the
    harness forms a Swarm or Kubernetes on."""
    return "nodes" if provider == "existing" else engine


def _write_private(path: Path, content: bytes) -> None:
    """``content`` in a file only the harness's user can read."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(content)


def _recorded_hosts_now(record: FingerprintRecord) -> list[fingerprint.Fingerprint]:
    """The fingerprints of a record's hosts now, reached with the inventory and the host keys it kept."""
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, KNOWN_HOSTS).write_text(record.known_hosts)
        hosts = SshNodes(load_inventory(record.inventory, None), Path(scratch))  # (only their logins)
        try:
            return [fingerprint.of_host(node, Cluster._runner_of(hosts, node)) for node in hosts.logins]
        finally:
            hosts.close()


@contextmanager
def _lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory`` (a lock file in it), held while the block runs."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
