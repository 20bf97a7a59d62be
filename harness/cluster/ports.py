"""Host ports for a new cluster: as asked, else the default when free, else any free one.

Ports are chosen once, when the cluster is created, and kept in its state, so
clusters side by side never share one. A port counts as taken when something
listens on it now or another cluster's state holds it (a stopped cluster
keeps its ports).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from pathlib import Path

from harness.errors import ClusterError

DEFAULT_PORTS = {"lb_port": 18080, "lb_admin_port": 19999, "registry_port": 15000, "toxiproxy_port": 18474}
PORT_PURPOSE = {"lb_port": "load balancer", "lb_admin_port": "load balancer admin API",
                "registry_port": "registry push port", "toxiproxy_port": "Toxiproxy API"}


def choose_ports(asked: dict[str, int | None], clusters_dir: Path, name: str) -> dict[str, int]:
    """Every port of ``asked``: an explicit one must be free; the others are chosen free."""
    holders = ports_of_other_clusters(clusters_dir, name)
    chosen: dict[str, int] = {}
    for field, port in asked.items():
        if port is not None:
            _check_free(field, port, {**holders, **{p: name for p in chosen.values()}})
            chosen[field] = port
    for field, port in asked.items():
        if port is None:
            chosen[field] = _free_port(DEFAULT_PORTS[field], set(holders) | set(chosen.values()))
    return chosen


def ports_of_other_clusters(clusters_dir: Path, name: str) -> dict[int, str]:
    """Host port to the cluster holding it, from the state of every other cluster under ``clusters_dir``."""
    return {port: state_file.parent.name
            for state_file in clusters_dir.glob("*/cluster.json") if state_file.parent.name != name
            for port in _recorded_ports(state_file)}


def listening(port: int) -> bool:
    """Whether something already holds ``port`` on 127.0.0.1 (binding it fails). Connections of a cluster taken
    down that linger in TIME_WAIT do not hold it: Docker publishes with SO_REUSEADDR, and so does the probe."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _recorded_ports(state_file: Path) -> Iterable[int]:
    try:
        state = json.loads(state_file.read_text())
        return [int(state[field]) for field in DEFAULT_PORTS if isinstance(state.get(field), int)]
    except (OSError, ValueError, TypeError, AttributeError):
        return []  # a damaged state: its own cluster reports that


def _check_free(field: str, port: int, holders: dict[int, str]) -> None:
    what = f"port {port} asked for the {PORT_PURPOSE[field]}"
    if not 1024 <= port <= 65535:
        raise ClusterError(f"{what} is outside 1024-65535")
    if port in holders:
        raise ClusterError(f"{what} is already cluster {holders[port]!r}'s; choose another")
    if listening(port):
        raise ClusterError(f"{what} is in use on 127.0.0.1; choose another or stop what holds it")


def _free_port(preferred: int, reserved: set[int]) -> int:
    """``preferred`` when free, else a port the OS hands out that no cluster holds."""
    if preferred not in reserved and not listening(preferred):
        return preferred
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in reserved:
            return port
    raise ClusterError("no free host port found on 127.0.0.1")
