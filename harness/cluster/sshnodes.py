"""The cluster's nodes as hosts of an inventory: reached over SSH only, powered by the inventory's commands.

The hosts are the user's: the harness never creates or destroys them. A host
is *running* when its SSH port answers; halting and starting one runs the
inventory's ``power_off`` / ``power_on`` command on this machine.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import docker

from harness.cluster.inventory import Inventory
from harness.cluster.ssh import COMMAND_TIMEOUT, SshConnections, SshLogin
from harness.cluster.vagrant import RUNNING, STOPPED, ExecResult, shown_command
from harness.errors import ClusterError
from harness.waiting import wait_until

PROBE_TIMEOUT = 2.0  # seconds a host's SSH port has to answer to count as running
POWER_TIMEOUT = 120.0  # seconds a power command may take
BOOT_TIMEOUT = 180.0  # seconds a powered-on host has to answer over SSH
KNOWN_HOSTS = "known_hosts"  # in the cluster's state directory
# What the engine logged: the journal of a systemd host, else the log file an init script writes.
ENGINE_LOG_SCRIPT = r"""
if command -v journalctl >/dev/null 2>&1 && journalctl --unit docker --quiet --lines 1 >/dev/null 2>&1; then
  journalctl --unit docker --since "@$1" --no-pager --output short-iso-precise
else
  for log in /var/log/docker.log /var/log/dockerd.log; do [ -f "$log" ] && tail -n 2000 "$log" && break; done
fi
"""


class SshNodes:
    """The inventory's hosts as the cluster's nodes."""

    def __init__(self, inventory: Inventory, state_dir: Path, learn_keys: bool = False) -> None:
        self._inventory = inventory
        self._connections = SshConnections(state_dir / KNOWN_HOSTS, learn_keys=learn_keys)
        self.logins = {h.name: SshLogin(h.name, h.address, h.port, h.user, h.key) for h in inventory.hosts}

    def up(self, node: str | None = None) -> None:
        """Power one host on and wait for its SSH, or check that every host can be logged in to."""
        if node is None:
            for login in self.logins.values():
                self._connections.check(login)
            return
        self._power(node, "on")
        wait_until(lambda: self._answers(node), timeout=BOOT_TIMEOUT, interval=1.0,
                   what=f"{node} to answer over SSH after power_on")

    def halt(self, node: str, force: bool = False) -> None:
        """Power a host off with the inventory's ``power_off``; forced, with its ``power_off_force`` when given."""
        forced = force and self._inventory.host(node).power_off_force is not None
        self._power(node, "off_force" if forced else "off")
        wait_until(lambda: not self._answers(node), timeout=POWER_TIMEOUT, interval=0.5,
                   what=f"{node} to stop answering over SSH after power_off")

    def destroy(self) -> None:
        """Nothing: the hosts are the user's. (What the harness changed on them is undone by the cluster.)"""

    def can_power_cycle(self, node: str) -> bool:
        """Whether the inventory gives the host power_off and power_on (power_off_force is optional)."""
        return self._inventory.host(node).can_power_cycle

    def status(self) -> dict[str, str]:
        """Host name to ``running`` (its SSH port answers) or ``stopped``."""
        return {name: RUNNING if self._answers(name) else STOPPED for name in self.logins}

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None,
             timeout: float = COMMAND_TIMEOUT) -> ExecResult:
        """Run ``argv`` on the host over SSH (as root: ``sudo -n`` when the login is not root)."""
        return self._connections.run(self._login(node), argv, stdin, timeout=timeout)

    def docker_problem(self, node: str) -> str | None:
        """Why the login cannot use the host's Docker engine (Docker's SSH transport runs as the login), or None."""
        result = self._connections.run(self._login(node), ["docker", "version", "--format", "{{.Server.Version}}"],
                                       as_root=False)
        return None if result.ok else result.output.strip()[-300:]

    def engine_log(self, node: str, since: float) -> str:
        """What the host's Docker engine logged (its journal, or its log file) since ``since``."""
        return self.exec(node, ["sh", "-c", ENGINE_LOG_SCRIPT, "engine-log", str(int(since))]).output

    def engine_client(self, node: str) -> docker.DockerClient:
        """A client for the host's engine over SSH."""
        return self._connections.engine_client(self._login(node))

    def close(self) -> None:
        self._connections.close()

    def _login(self, node: str) -> SshLogin:
        try:
            return self.logins[node]
        except KeyError:
            raise ClusterError(f"no host {node!r} in the inventory; hosts: {', '.join(self.logins)}") from None

    def _answers(self, node: str) -> bool:
        login = self._login(node)
        try:
            with socket.create_connection((login.address, login.port), timeout=PROBE_TIMEOUT) as probe:
                probe.settimeout(PROBE_TIMEOUT)
                return probe.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def _power(self, node: str, action: str) -> None:
        argv = self._inventory.host(node).power_command(action)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=POWER_TIMEOUT, check=False,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ClusterError(f"power_{action} of {node} (`{shown_command(argv)}`) failed: {error}") from error
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()[-500:]
            raise ClusterError(f"power_{action} of {node} (`{shown_command(argv)}`) exited {done.returncode}: "
                               f"{output}")
