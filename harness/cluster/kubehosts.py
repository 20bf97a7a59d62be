"""Kubernetes on the inventory's hosts: each host runs the harness's Kubernetes node as one container of its own
Docker engine, on the host's network, reached over SSH only (as Rancher's RKE runs Kubernetes on hosts).

What lands on a host, all of it taken away by ``release``:

- the node image, copied over SSH (``docker load``; the host's Docker is not pointed at any registry), and one
  container, ``chaos-harness-CLUSTER-node``, restarted by the host's engine when the host boots again;
- in the host's network namespace, what Kubernetes programs there: kube-proxy's and the CNI's firewall chains,
  the node's chain ``CHAOS-PODS`` (forwarding to and from the pods), the pods' bridge ``cni0`` and the routes
  to the other hosts' pods.

The node container resolves the cluster's registries to this machine by its own hosts file (``--add-host``),
so the host's ``/etc/hosts`` and ``daemon.json`` stay as they are. The node's programs and pods live in the
container's process namespace: removing the container stops every one of them.
"""

from __future__ import annotations

import gzip
import shlex
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from harness.cluster.registry import REGISTRY_ALIAS, SECURE_ALIAS
from harness.cluster.sshnodes import SshNodes
from harness.cluster.vagrant import RUNNING, STOPPED, ExecResult
from harness.dockerhost import CLUSTER_LABEL
from harness.engine.kubernetes.bootstrap import ClusterPlan, pod_routes
from harness.errors import ClusterError, HarnessError
from harness.waiting import wait_until

IMAGE_COPY_TIMEOUT = 600.0  # seconds to copy the node image to one host
BOOT_TIMEOUT = 120.0  # seconds for a host's engine to start the node container again after the host booted
# The ports the node's programs listen on in the host's network, and the load balancer's host ports.
NODE_PORTS = (2379, 2380, 6443, 10250, 10256, 10249, 10257, 10259, 8080, 9999)
# One pass over a host for ``host_problems``: each line "KIND DETAIL".
HOST_SURVEY = r"""
[ -c /dev/kmsg ] || echo "missing the device /dev/kmsg (the kubelet reads the kernel's messages)"
command -v ss >/dev/null || echo "missing ss (Debian: apt-get install iproute2)"
iptables -w -S 2>/dev/null | grep -q -E '^-N (KUBE|CNI)-' && echo "other Kubernetes firewall chains (KUBE-, CNI-)"
ip link show cni0 >/dev/null 2>&1 && echo "other a pod bridge cni0"
docker inspect --type container "$1" >/dev/null 2>&1 && echo "named a container named $1"
shift
for port; do
  ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && echo "taken port $port"
done
exit 0
"""
# Run, once the node container is gone (and every program and pod with its process namespace), in a one-off
# container of the node image on the host's network: kube-proxy's rules (its own --cleanup), then the CNI's
# chains and the jumps into them, the node's own forwarding chain, the pods' bridge and the routes to the other
# nodes' pods ($@: "SUBNET via ADDRESS").
CLEAN_HOST_NETWORK = r"""
kube-proxy --cleanup >/dev/null 2>&1
for table in filter nat mangle raw; do
  iptables -w -t "$table" -S | grep -E '^-A .* -j (KUBE|CNI)-' | cut -c4- | while read -r rule; do
    eval "iptables -w -t $table -D $rule"
  done
  chains=$(iptables -w -t "$table" -S | awk '$1 == "-N" && $2 ~ /^(KUBE|CNI)-/ {print $2}')
  for chain in $chains; do iptables -w -t "$table" -F "$chain"; done
  for chain in $chains; do iptables -w -t "$table" -X "$chain"; done
done
iptables -w -D FORWARD -j CHAOS-PODS 2>/dev/null && iptables -w -F CHAOS-PODS && iptables -w -X CHAOS-PODS
ip link show cni0 >/dev/null 2>&1 && ip link delete cni0
for route; do ip route delete $route 2>/dev/null; done
exit 0
"""


def container_name(cluster: str) -> str:
    return f"chaos-harness-{cluster}-node"


def start_nodes(nodes: KubeNodesOnHosts, hosts: list[str], image: str, saved: Callable[[], bytes]) -> None:
    """The node container running on every host, the hosts in parallel; ``saved``: the image as ``docker save``
    writes it, asked for (and compressed: its programs shrink to a third) once, if a host lacks it."""
    lock, made = threading.Lock(), []

    def archive() -> bytes:
        with lock:
            if not made:
                made.append(gzip.compress(saved(), compresslevel=1))
        return made[0]

    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        list(pool.map(lambda host: nodes.start(host, image, archive), hosts))


def release_nodes(nodes: KubeNodesOnHosts, plan: ClusterPlan, image: str) -> list[str]:
    """Each host's node taken off it (``KubeNodesOnHosts.release``); what could not be, host by host."""
    left = []
    for host in plan.node_ips:
        try:
            nodes.release(host, image, pod_routes(plan, host))
        except HarnessError as error:
            left.append(f"the Kubernetes node on {host}: {error}")
    return left


class KubeNodesOnHosts:
    """The inventory's hosts as Kubernetes nodes: the host over SSH, the node in its container."""

    def __init__(self, hosts: SshNodes, cluster: str, registry_address: str) -> None:
        self.hosts = hosts
        self.logins = hosts.logins
        self._cluster = cluster
        self._container = container_name(cluster)
        self._registry_address = registry_address

    def up(self, node: str | None = None) -> None:
        """Power one host on and wait for its engine to start the node again, or check every host's login."""
        self.hosts.up(node)
        if node is not None:
            wait_until(lambda: self._running(node), timeout=BOOT_TIMEOUT, interval=1.0,
                       what=f"the Kubernetes node container on {node} to run again after the host started")

    def start(self, node: str, image: str, archive: Callable[[], bytes]) -> None:
        """The node container running on the host: its image copied when the host lacks it (``archive``: the
        image as ``docker load`` reads it), then made and started (a container of an earlier ``up`` is started
        again)."""
        if not self.host_exec(node, ["docker", "image", "inspect", image]).ok:
            result = self.hosts.exec(node, ["docker", "load"], archive(), timeout=IMAGE_COPY_TIMEOUT)
            if not result.ok:
                raise ClusterError(f"{node}: cannot copy the node image: {result.output.strip()[-300:]}")
        state = self.host_exec(node, ["docker", "inspect", "--format", f'{{{{index .Config.Labels "{CLUSTER_LABEL}"}}}} '
                                      "{{.State.Running}}", self._container])
        if state.ok:
            owner, _, running = state.output.strip().rpartition(" ")
            if owner != self._cluster:
                raise ClusterError(f"{node} has a container {self._container} that is not this cluster's; it is "
                                   "never adopted: remove it, or choose another cluster name")
            if running != "true":
                self._checked(node, ["docker", "start", self._container], "start the node container")
            return
        self._checked(node, self.run_argv(image), "start the node container")

    def run_argv(self, image: str) -> list[str]:
        """``docker run`` of the node container: the host's network; what a nested containerd and kubelet need
        without --privileged (see KUBERNETES.md's traps); the registries' names pointing at this machine."""
        return [
            "docker", "run", "--detach", "--name", self._container, "--network", "host",
            "--restart", "unless-stopped", "--label", f"{CLUSTER_LABEL}={self._cluster}",
            "--tmpfs", "/run", "--tmpfs", "/var/lib/containerd:rw,exec", "--cgroupns=private",
            "--device-cgroup-rule", "a *:* rwm", "--device", "/dev/kmsg",
            "--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
            "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
            "--add-host", f"{REGISTRY_ALIAS}:{self._registry_address}",
            "--add-host", f"{SECURE_ALIAS}:{self._registry_address}", image,
        ]

    def release(self, node: str, image: str, routes: list[str]) -> None:
        """Take away what the node left on the host: its container (and with it every program and pod), what
        they programmed in the host's network (``routes``: "SUBNET via ADDRESS" to the other nodes' pods), its
        image."""
        if self.host_exec(node, ["docker", "inspect", self._container]).ok:
            self._checked(node, ["docker", "rm", "--force", "--volumes", self._container], "remove the node container")
        if not self.host_exec(node, ["docker", "image", "inspect", image]).ok:
            return
        self._checked(node, ["docker", "run", "--rm", "--network", "host", "--cap-add", "NET_ADMIN",
                             "--cap-add", "NET_RAW", "--entrypoint", "sh", image, "-c", CLEAN_HOST_NETWORK, "clean",
                             *routes], "clean the host's network of what Kubernetes programmed there")
        self._checked(node, ["docker", "image", "rm", image], "remove the node image")

    def halt(self, node: str, force: bool = False) -> None:
        self.hosts.halt(node, force)

    def destroy(self) -> None:
        """Nothing: the hosts are the user's (``release`` takes the nodes off them)."""

    def can_power_cycle(self, node: str) -> bool:
        return self.hosts.can_power_cycle(node)

    def status(self) -> dict[str, str]:
        """Host name to ``running`` (it answers and its node container runs) or ``stopped``."""
        answering = self.hosts.status()
        return {node: RUNNING if answering[node] == RUNNING and self._running(node) else STOPPED
                for node in answering}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        """Run ``argv`` in the host's node container (as the node's root)."""
        return self.hosts.exec(node, ["docker", "exec", "-i", self._container, *argv], stdin)

    def host_exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        """Run ``argv`` on the host itself (as root)."""
        return self.hosts.exec(node, argv, stdin)

    def host_problems(self, node: str) -> list[str]:
        """What keeps a Kubernetes node off the host beside what every host needs: its kernel's message device,
        another cluster's Kubernetes network, a container by the node's name, and ports its programs listen on
        (the host's network is theirs)."""
        survey = self.host_exec(node, ["sh", "-c", HOST_SURVEY, "survey", self._container,
                                       *map(str, NODE_PORTS)]).output
        lines = survey.splitlines()
        problems = [f"{node} is {line}" for line in lines if line.startswith("missing")]
        problems += [f"{node} has {line.split(' ', 1)[1]}: it is a node of another Kubernetes cluster, whose "
                     "network the harness would take away at `down`; use other hosts" for line in lines
                     if line.startswith("other ")]
        problems += [f"{node} has {line.split(' ', 1)[1]} already, as the harness names its node: remove it "
                     "(or choose another cluster name)" for line in lines if line.startswith("named ")]
        if taken := [line.split()[-1] for line in lines if line.startswith("taken port")]:
            problems.append(f"{node} listens on ports {', '.join(taken)} already; the Kubernetes node runs on the "
                            f"host's network and needs {', '.join(map(str, NODE_PORTS))}: free them")
        return problems

    def engine_log(self, node: str, since: float) -> str:
        """What the node container printed since ``since`` (epoch seconds), each line timestamped."""
        return self.host_exec(node, ["docker", "logs", "--timestamps", "--since", str(int(since)),
                                     self._container]).output

    def close(self) -> None:
        self.hosts.close()

    def _running(self, node: str) -> bool:
        try:
            found = self.host_exec(node, ["docker", "inspect", "--format", "{{.State.Running}}", self._container])
        except ClusterError:
            return False
        return found.ok and found.output.strip() == "true"

    def _checked(self, node: str, argv: list[str], what: str) -> None:
        result = self.host_exec(node, argv)
        if not result.ok:
            raise ClusterError(f"{node}: cannot {what} (`{shlex.join(argv[:4])} ...`): {result.output.strip()[-300:]}")
