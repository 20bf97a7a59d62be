"""What a cluster and its runs left behind that a finished run (or ``down``) should not have.

A cluster that is up must carry no trace of a fault: no ``chaos-harness``
firewall rule, no frozen or held-down engine, no fault mount, no port
squatter, Toxiproxy passing the registry through, the registry accepting the
cluster's credentials, every node running and Ready, and no volume of the
stack left on a node where the services that mount it no longer run (a
stateful service a scenario moved). A cluster that is down must have left no
labelled container, network or volume and no state, and this machine and
the hosts must match their fingerprints from before it came up. Runs must have no
pending heal and no load process still running.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from docker.errors import DockerException

from harness.cluster import Cluster, ClusterConfig
from harness.cluster.registry import SECURE_ALIAS
from harness.cluster.vagrant import RUNNING
from harness.engine.base import HOLD_DIR
from harness.errors import HarnessError
from harness.faults.disk import FULL_FS
from harness.faults.nodeshell import RULE_COMMENT
from harness.ledger import LEDGER_FILE, HealLedger
from harness.load.runner import orphaned_load
from harness.stack.volumes import stale_volumes

# One pass over a node: each line it prints is one leftover. $1: the engine's programs daemon-freeze stops,
# $2: those daemon-crash kills (NodeRuntime), space-separated.
NODE_CHECK = f"""
iptables -w -S 2>/dev/null | grep -e '--comment "\\?{RULE_COMMENT}' | sed 's/^/firewall rule: /'
for pid in $(pidof $1); do
  [ "$(awk '/^State:/ {{print $2}}' /proc/$pid/status 2>/dev/null)" = T ] && echo "stopped engine: $(cat /proc/$pid/comm) (pid $pid)"
done
for file in {HOLD_DIR}/hold-*; do [ -e "$file" ] && echo "engine held down: $file"; done
for program in $2; do pidof "$program" >/dev/null || echo "engine not running: no $program"; done
grep -s '^{FULL_FS} ' /proc/mounts | sed 's/^/mount: /'
grep -qs {SECURE_ALIAS} /root/.docker/config.json && echo "registry credentials stored: /root/.docker/config.json"
exit 0
"""


@dataclass(frozen=True)
class Leftover:
    """One thing left behind: where it is and what it is."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def audit(config: ClusterConfig, reports_dir: Path) -> list[Leftover]:
    """Everything the cluster ``config`` names and the runs under ``reports_dir`` left behind."""
    cluster = Cluster(config)
    found = run_leftovers(reports_dir, config.name)
    if cluster.state_or_none is not None and cluster.state.undone:
        return found + half_down_leftovers(cluster)
    if config.state_dir.joinpath("cluster.json").exists():
        return found + cluster_leftovers(cluster)
    return found + removed_cluster_leftovers(cluster)


def run_leftovers(reports_dir: Path, cluster: str) -> list[Leftover]:
    """Pending heals (of ``cluster``) and load processes still running, in every run directory."""
    found = []
    for run_dir in sorted(path.parent for path in reports_dir.glob(f"*/{LEDGER_FILE}")):
        ledger = HealLedger(run_dir)
        found += [Leftover(run_dir.name, f"pending heal: {entry.kind} on {entry.target} (id {entry.id})")
                  for entry in ledger.pending() if entry.cluster == cluster]
    for run_dir in sorted(path.parent for path in reports_dir.glob("*/journal.jsonl")):
        if (pid := orphaned_load(run_dir)) is not None:
            found.append(Leftover(run_dir.name, f"load process still running (pid {pid})"))
    return found


def cluster_leftovers(cluster: Cluster) -> list[Leftover]:
    """Traces of faults on a cluster that is up, and parts of it that are not running."""
    found = [Leftover(cluster.config.name, problem) for problem in cluster.problems()]
    for node in [node for node, status in cluster.node_states().items() if status == RUNNING]:
        runtime = cluster.engine.runtime
        output = cluster.exec(node, ["sh", "-c", NODE_CHECK, "check", " ".join(runtime.frozen),
                                     " ".join(runtime.crashed)]).output
        found += [Leftover(node, line.strip()) for line in output.splitlines() if line.strip()]
        found += _port_holds(cluster, node)
    return found + _drained(cluster) + _registry_leftovers(cluster) + _stale_volumes(cluster) + \
        _stopped_containers(cluster)


def half_down_leftovers(cluster: Cluster) -> list[Leftover]:
    """A cluster whose ``down`` did not finish: that, and how the hosts differ from their fingerprints now."""
    found = [Leftover(cluster.config.name, f"down did not finish ({len(cluster.state.undone)} steps done); run "
                                           f"`chaos-harness --cluster {cluster.config.name} down` again")]
    return found + _differences(cluster)


def _differences(cluster: Cluster) -> list[Leftover]:
    try:
        differences = cluster.fingerprint_differences()
    except HarnessError as error:
        return [Leftover("fingerprints", f"cannot be compared: {error}")]
    return [Leftover(*line.split(": ", 1)) for line in differences]


def removed_cluster_leftovers(cluster: Cluster) -> list[Leftover]:
    """What a cluster that was taken down still has on the machine (labelled objects and state), and how this
    machine and the hosts differ from their fingerprints from before it came up."""
    found = [Leftover("host", what) for what in cluster.local_objects.labelled()]
    if cluster.config.state_dir.exists():
        found.append(Leftover("host", f"state directory {cluster.config.state_dir}"))
    return found + _differences(cluster)


def _port_holds(cluster: Cluster, node: str) -> list[Leftover]:
    """Host ports the engine holds on the node for port-conflict (a squatter process, a pod)."""
    try:
        holds = cluster.engine.port_holds(node)
    except HarnessError as error:
        return [Leftover(node, f"port squatters cannot be checked: {error}")]
    return [Leftover(node, f"port squatter: host port {port}{'' if in_effect else ' (not in effect)'}")
            for port, in_effect in sorted(holds.items())]


def _drained(cluster: Cluster) -> list[Leftover]:
    """Nodes the engine shows drained (node-drain): they take no tasks."""
    try:
        nodes = cluster.engine.nodes()
    except HarnessError as error:
        return [Leftover(cluster.config.name, f"drained nodes cannot be checked: {error}")]
    return [Leftover(n.hostname, "drained: the engine places no task there")
            for n in nodes if n.availability == "drain"]


def _registry_leftovers(cluster: Cluster) -> list[Leftover]:
    """Toxiproxy must pass the registry through untouched; the authenticated twin must accept the cluster."""
    try:
        proxy = cluster.registry_proxy()
        found = [] if proxy.enabled else [Leftover("registry", "Toxiproxy's registry proxy is disabled")]
        found += [Leftover("registry", f"Toxiproxy toxic {name}") for name in proxy.toxics()]
        secure = cluster.secure_registry()
        if secure.has_credentials and not secure.accepts(secure.auth()):
            found.append(Leftover("registry", "the authenticated registry refuses the cluster's credentials"))
        return found
    except (HarnessError, DockerException) as error:
        return [Leftover("registry", f"cannot be checked: {error}")]


def _stale_volumes(cluster: Cluster) -> list[Leftover]:
    """Volumes of the stack on nodes where what mounts them no longer runs: a later run may start from them."""
    try:
        return [Leftover(volume.node, volume.what) for volume in stale_volumes(cluster.exec, cluster.engine)]
    except HarnessError as error:
        return [Leftover("volumes", f"cannot be checked: {error}")]


def _stopped_containers(cluster: Cluster) -> list[Leftover]:
    return [Leftover("host", f"container {c.name} is {c.status}")
            for c in cluster.local_objects.containers() if c.status != "running"]
