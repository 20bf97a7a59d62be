"""A host's fingerprint: everything the harness may change on it, recorded before ``up`` changes anything and
compared after ``down``.

A fingerprint is a set of named sections, each a list of lines: the host's
``/etc/hosts`` and ``daemon.json`` as they are, the engine's *effective*
settings (``docker info``: trusted registries, mirrors, live restore, Swarm
membership), its networks, volumes, containers and images, the firewall
rules of every table (Kubernetes' chains apart), its network links (but
containers' veth ends) and routes, mounts (but the engines' own and pods'), the engine
processes' states (a Kubernetes node's kubelet too), Swarm node labels where
the host is a manager, the Docker logins stored (registry credentials: a hash
of each file), the kernel settings a kubelet would change, and traces the harness leaves while a fault or set-up is in
place. Two fingerprints differ by the lines one section gained or lost; a host
is left as it was when there is no difference.

This machine has one too: the containers, networks and volumes the cluster
labels as its own or that carry the names it gives its own, the kernel
settings a kubelet would change, and the registry push tags of any cluster (compared for the cluster's own registry: ``pushed_to``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

import docker

from harness.cluster.registry import STACK_NAMESPACE
from harness.dockerhost import CLUSTER_LABEL
from harness.errors import ClusterError

RunOn = Callable[[list[str], bytes | None], object]  # a host's command runner: (argv, stdin) -> ExecResult
LOCAL = "this machine"  # the fingerprint of the machine running the harness
ORDERED = ("hosts", "daemon.json")  # sections whose line order matters; the others are sets of lines
ABSENT = "(absent)"
# The machine's kernel settings a Kubernetes node's kubelet sets where they differ from what it expects: the
# harness's nodes must leave them as they are (the node image shows the kubelet its values instead).
KERNEL_TUNABLES = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
# Run as root on a host: each section starts with a line "@@ NAME".
HOST_SCRIPT = f"KERNEL_TUNABLES='{' '.join(KERNEL_TUNABLES)}'\n" + r"""
section() { printf '@@ %s\n' "$1"; }
command -v docker >/dev/null 2>&1 || docker() { :; }  # a Kubernetes node: no Docker sections to read
section hosts; cat /etc/hosts
section daemon.json; if [ -e /etc/docker/daemon.json ]; then cat /etc/docker/daemon.json; else echo '(absent)'; fi
section engine; docker info --format '{{json .}}'
section networks; docker network ls --format '{{.Name}} {{.Driver}} {{.Scope}}'
section volumes; docker volume ls --format '{{.Name}}'
section containers; docker ps --all --format '{{.Names}} {{.Image}} {{.State}}'
section images; docker image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}'
section node-labels
if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ]; then
  docker node ls -q | xargs -r docker node inspect --format '{{.Description.Hostname}} {{json .Spec.Labels}}'
fi
section firewall
for table in filter nat mangle raw; do iptables -w -t "$table" -S 2>/dev/null | sed "s/^/$table /"; done
section links; ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}'
section routes; ip route show 2>/dev/null
section kernel; for tunable in $KERNEL_TUNABLES; do echo "$tunable $(cat "/proc/sys/$tunable" 2>/dev/null)"; done
section mounts
awk '$2 !~ "^/(var/lib/docker|run/docker|run/containerd|var/lib/kubelet|run/netns)/" {print $1, $2, $3}' /proc/mounts
section processes
for pid in $(pidof dockerd containerd kubelet); do
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  [ "$state" = T ] && echo "$(cat "/proc/$pid/comm") stopped" || echo "$(cat "/proc/$pid/comm") running"
done
section docker-logins
for file in /root/.docker/config.json /home/*/.docker/config.json; do
  [ -e "$file" ] && echo "$file $(sha256sum < "$file" | cut -c1-16)"
done
section traces; ls -d /etc/docker/daemon.json.chaos-harness-* /run/chaos-harness /run/chaos-harness/* 2>/dev/null
exit 0
"""
_SECTION = re.compile(r"^@@ (\S+)$")
# Left out of the firewall: the rules a host that is itself a container gets from its own runtime for its
# embedded DNS (127.0.0.11), renumbered at every start of the host.
_VOLATILE_RULE = re.compile(r"^nat -A DOCKER_(OUTPUT|POSTROUTING) ")
# Kubernetes' own rules, kept in a section of their own: kube-proxy's and the CNI's chains and the jumps into them.
_KUBERNETES_RULE = re.compile(r"^(\w+ -[AN] (KUBE|CNI)-|\w+ -A .* -j (KUBE|CNI)-)")
# What a node of a Kubernetes cluster the harness did not make changes with every Service and pod of that cluster
# (the harness's go with its namespaces; the CNI's jump to its host port chains, made for the first pod with a
# host port, stays): left out when such a node is compared (``of_cluster_node``).
CLUSTER_NODE_VOLATILE = ("firewall-kubernetes", "links", "routes")


@dataclass(frozen=True)
class Fingerprint:
    """One host's sections, each a list of lines."""

    host: str
    sections: dict[str, list[str]] = field(default_factory=dict)

    def differences(self, after: Fingerprint, kept: Callable[[str, str], bool] | None = None) -> list[str]:
        """What ``after`` shows that this fingerprint does not, and what it lost, one line per change; lines
        ``kept(section, line)`` says were left on purpose are no difference."""
        found = []
        for name in sorted(self.sections):  # a section added to the harness since this one was taken is not compared
            was = self.sections.get(name, [])
            now = [line for line in after.sections.get(name, []) if kept is None or line in was or not kept(name, line)]
            if was == now:
                continue
            gained, lost = Counter(now) - Counter(was), Counter(was) - Counter(now)
            found += [f"{self.host}: {name}: now has {line}" for line in sorted(gained.elements())]
            found += [f"{self.host}: {name}: no longer has {line}" for line in sorted(lost.elements())]
            if not gained and not lost:
                found.append(f"{self.host}: {name}: the same lines in another order")
        return found

    def to_json(self) -> dict:
        return {"host": self.host, "sections": self.sections}

    @classmethod
    def from_json(cls, data: dict) -> Fingerprint:
        return cls(data["host"], {name: list(lines) for name, lines in data["sections"].items()})


def of_host(host: str, run: RunOn) -> Fingerprint:
    """The fingerprint of a host reached through ``run`` (as root)."""
    result = run(["sh", "-c", HOST_SCRIPT], None)
    if not result.ok:
        raise ClusterError(f"cannot take the fingerprint of {host}: {result.output.strip()[-300:]}")
    return Fingerprint(host, parse_host_output(result.output))


def of_cluster_node(found: Fingerprint) -> Fingerprint:
    """A node of a Kubernetes cluster the harness did not make, without what that cluster changes by itself."""
    return Fingerprint(found.host, {name: lines for name, lines in found.sections.items()
                                    if name not in CLUSTER_NODE_VOLATILE})


def parse_host_output(output: str) -> dict[str, list[str]]:
    """The sections ``HOST_SCRIPT`` printed; ``engine`` reduced to the settings the harness may change."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if match := _SECTION.match(line):
            current = sections.setdefault(match.group(1), [])
        elif current is not None and line.strip():
            current.append(line.rstrip())
    sections["engine"] = engine_settings("\n".join(sections.get("engine", [])))
    rules = [rule for rule in sections.get("firewall", []) if not _VOLATILE_RULE.match(rule)]
    sections["firewall"] = [rule for rule in rules if not _KUBERNETES_RULE.match(rule)]
    sections["firewall-kubernetes"] = [rule for rule in rules if _KUBERNETES_RULE.match(rule)]
    if "links" in sections:  # a container's or a pod's end of its link comes and goes with it
        sections["links"] = [link for link in sections["links"] if not link.startswith("veth")]
    return {name: lines if name in ORDERED else sorted(lines) for name, lines in sections.items()}


def engine_settings(info_json: str) -> list[str]:
    """The engine settings ``down`` must leave as they were, from ``docker info``'s JSON."""
    try:
        info = json.loads(info_json)
    except ValueError:
        return [f"unreadable docker info: {info_json[:200]}"]
    registries = info.get("RegistryConfig") or {}
    indexes = registries.get("IndexConfigs") or {}
    swarm = info.get("Swarm") or {}
    return [
        "insecure registries: " + " ".join(sorted(n for n, c in indexes.items() if not c.get("Secure", True))),
        "insecure ranges: " + " ".join(sorted(registries.get("InsecureRegistryCIDRs") or [])),
        "mirrors: " + " ".join(sorted({*(registries.get("Mirrors") or []),
                                      *(m for c in indexes.values() for m in c.get("Mirrors") or [])})),
        f"live restore: {str(info.get('LiveRestoreEnabled', False)).lower()}",
        "labels: " + " ".join(sorted(info.get("Labels") or [])),
        f"swarm: {swarm.get('LocalNodeState', 'inactive')} {swarm.get('NodeID', '')}".rstrip(),
    ]


def of_this_machine(client: docker.DockerClient, cluster: str, names: Collection[str]) -> Fingerprint:
    """This machine's engine where the cluster may change it: the containers, networks and volumes labelled with
    the cluster's name or called by one of the ``names`` it gives its own, and the registry push tags of any
    cluster."""
    def may_touch(name: str, labels: dict | None) -> bool:
        return (labels or {}).get(CLUSTER_LABEL) == cluster or name in names

    push_tag = re.compile(rf"^[^/]+:\d+/{STACK_NAMESPACE}/")
    return Fingerprint(LOCAL, {
        "containers": sorted(f"{c.name} {c.status}" for c in client.containers.list(all=True)
                             if may_touch(c.name, c.labels)),
        "networks": sorted(n.name for n in client.networks.list() if may_touch(n.name, n.attrs.get("Labels"))),
        "volumes": sorted(v.name for v in client.volumes.list() if may_touch(v.name, v.attrs.get("Labels"))),
        "images": sorted(tag for image in client.images.list() for tag in image.tags if push_tag.match(tag)),
        "kernel": kernel_settings(),
    })


def kernel_settings(proc_sys: Path = Path("/proc/sys")) -> list[str]:
    """This machine's ``KERNEL_TUNABLES``, each as "NAME VALUE"."""
    def value(tunable: str) -> str:
        try:
            return (proc_sys / tunable).read_text().strip()
        except OSError:
            return ABSENT
    return [f"{tunable} {value(tunable)}" for tunable in KERNEL_TUNABLES]


def pushed_to(found: Fingerprint, registry: str | None) -> Fingerprint:
    """This machine's fingerprint with only the push tags of ``registry`` (host:port; None: no registry) among its
    images; any other fingerprint as it is."""
    if found.host != LOCAL:
        return found
    return Fingerprint(found.host, {**found.sections, "images": [
        tag for tag in found.sections.get("images", []) if registry and tag.startswith(f"{registry}/")]})


@dataclass(frozen=True)
class FingerprintRecord:
    """Every fingerprint of a cluster, taken before its first ``up``; kept after ``down`` as the proof."""

    cluster: str
    inventory: str  # the inventory the hosts came from ("" for node containers and VMs)
    fingerprints: list[Fingerprint]
    known_hosts: str = ""  # the hosts' keys, so that they can be compared again once the cluster's state is gone

    def of(self, host: str) -> Fingerprint | None:
        return next((f for f in self.fingerprints if f.host == host), None)

    def save(self, path: Path) -> None:
        """Written for this user only: it holds each host's /etc/hosts, daemon.json and firewall rules."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps({"cluster": self.cluster, "inventory": self.inventory,
                                    "fingerprints": [f.to_json() for f in self.fingerprints],
                                    "known_hosts": self.known_hosts}, indent=1))

    @classmethod
    def load(cls, path: Path) -> FingerprintRecord | None:
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(data["cluster"], data["inventory"], [Fingerprint.from_json(f) for f in data["fingerprints"]],
                       data.get("known_hosts", ""))
        except (ValueError, KeyError, TypeError) as error:
            raise ClusterError(f"{path} is damaged ({error}); remove it, and the hosts can no longer be compared "
                               "with how they were before the cluster came up") from error
