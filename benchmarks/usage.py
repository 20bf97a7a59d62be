"""What the cluster uses: CPU over an interval (in cores) per part, and the memory it holds.

Parts are found through ``/proc``: every process of the host whose cgroup
names a container of the cluster (a node, the registry, Toxiproxy) or a
container a node runs (a task: grouped by service), and the host's
``docker-proxy`` processes that forward the cluster's published ports.
Memory is read from each of those containers' cgroups (a node's tasks are
not inside its cgroup: the nodes' engines make their own, beside it).
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

from harness.cluster import Cluster
from harness.dockerhost import CLUSTER_LABEL, host_docker

TICKS = os.sysconf("SC_CLK_TCK")
CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


def process_seconds(pid: int) -> float:
    """CPU seconds (user and system) a process has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


class Stopwatch:
    """Cores used by each part since it was made: a snapshot of CPU seconds now, subtracted later."""

    def __init__(self, parts: dict[int, str]) -> None:
        self._parts = parts  # pid -> part name
        self._start = (time.monotonic(), self._seconds())

    def cores(self) -> dict[str, float]:
        wall, now = time.monotonic() - self._start[0], self._seconds()
        return {part: (now[part] - self._start[1][part]) / wall for part in now}

    def _seconds(self) -> Counter:
        used: Counter = Counter()
        for pid, part in self._parts.items():
            used[part] += process_seconds(pid)
        return used


def cluster_containers(cluster: Cluster) -> dict[str, str]:
    """Container ID -> part: ``node engines``, ``registry`` (with Toxiproxy), and each service's tasks."""
    owners = {c.id: "registry" if "registry" in c.name or "toxiproxy" in c.name else "node engines"
              for c in host_docker().containers.list(filters={"label": f"{CLUSTER_LABEL}={cluster.config.name}"})}
    for node in cluster.node_addresses():
        listing = cluster.exec(node, ["docker", "ps", "--no-trunc", "--format", "{{.ID}} {{.Names}}"]).output
        for line in listing.splitlines():
            container, name = line.split(maxsplit=1)
            owners[container] = name.split(".", 1)[0]  # chaos_web.2.abc -> chaos_web
    return owners


def cluster_memory(cluster: Cluster) -> int:
    """Bytes the cluster's containers and their tasks use, as `docker stats` counts them (usage less the
    inactive page cache), from cgroup v1 or v2."""
    return sum(_cgroup_memory(container) for container in cluster_containers(cluster))


_CGROUP_MEMORY = (  # usage file, stat file, the stat's inactive-cache key
    ("/sys/fs/cgroup/memory/docker/{id}/memory.usage_in_bytes", "memory.stat", "total_inactive_file"),
    ("/sys/fs/cgroup/docker/{id}/memory.current", "memory.stat", "inactive_file"),
    ("/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.current", "memory.stat", "inactive_file"),
)


def _cgroup_memory(container: str) -> int:
    for usage_file, stat_file, inactive in _CGROUP_MEMORY:
        usage = Path(usage_file.format(id=container))
        try:
            stats = dict(line.split() for line in (usage.parent / stat_file).read_text().splitlines())
            return int(usage.read_text()) - int(stats.get(inactive, 0))
        except OSError:
            continue
    return 0


def cluster_parts(cluster: Cluster, load_pid: int, ports: set[int]) -> dict[int, str]:
    """PID -> part: ``load``, each service's tasks, ``node engines``, ``registry`` and ``docker-proxy``."""
    owners = cluster_containers(cluster)
    parts = {load_pid: "load"}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (part := _part_of(int(entry.name), owners, ports)):
            parts[int(entry.name)] = part
    return parts


def _part_of(pid: int, owners: dict[str, str], ports: set[int]) -> str | None:
    try:
        cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if command[0].endswith(b"docker-proxy") and any(str(port).encode() in command for port in ports):
        return "docker-proxy"
    ids = CONTAINER_ID.findall(cgroup)
    return owners.get(ids[-1]) if ids else None
