"""Vagrant VMs (``--provider libvirt|virtualbox``): their life through Vagrant, everything else over SSH.

Vagrant creates, halts, starts and destroys the VMs; commands, engine logs and
every engine call go over SSH with the settings ``vagrant ssh-config`` gives,
through the same driver as an inventory's hosts (``SshNodes``). No engine
listens on TCP.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

import docker
import paramiko

from harness.cluster.config import ClusterState
from harness.cluster.inventory import Host, Inventory
from harness.cluster.ssh import SshLogin
from harness.cluster.sshnodes import SshNodes
from harness.cluster.vagrant import ExecResult, VagrantNodes
from harness.errors import ClusterError

# The VMs' private network: VirtualBox allows host-only networks only here (since 6.1.28); libvirt anywhere.
VM_SUBNETS = ipaddress.ip_network("192.168.56.0/21")
DEFAULT_BOX = "debian/bookworm64"  # the Vagrantfile's, unless CHAOS_VM_BOX names another


def provider_problem(provider: str) -> str | None:
    """Why Vagrant cannot make ``provider``'s VMs on this machine (what to install), or None."""
    if provider == "virtualbox" and shutil.which("VBoxManage") is None:
        return "VirtualBox is not installed (no VBoxManage on PATH): install VirtualBox 7 from virtualbox.org"
    if provider == "libvirt":
        plugins = _run(["vagrant", "plugin", "list"])
        if plugins is None or "vagrant-libvirt" not in plugins:
            return "the vagrant-libvirt plugin is missing: apt-get install vagrant-libvirt libvirt-daemon-system"
        if _run(["virsh", "--connect", "qemu:///system", "uri"]) is None:
            return ("libvirt does not answer on qemu:///system: install libvirt-daemon-system and start libvirtd "
                    "(systemctl start libvirtd), and log in as a member of the libvirt group")
    return None


def vm_subnet(taken: list[str]) -> ipaddress.IPv4Network:
    """The first /24 of ``VM_SUBNETS`` holding none of the ``taken`` addresses (other clusters' VMs)."""
    used = {ipaddress.ip_address(address) for address in taken}
    for candidate in VM_SUBNETS.subnets(new_prefix=24):
        if not any(address in candidate for address in used):
            return candidate
    raise ClusterError(f"every /24 of {VM_SUBNETS} holds another cluster's VMs; take one down first")


def inventory_from_ssh_config(configs: dict[str, str], managers: list[str]) -> Inventory:
    """The VMs as inventory hosts, from each one's ``vagrant ssh-config`` output (node name -> text)."""
    hosts = []
    for index, (node, text) in enumerate(configs.items()):
        found = paramiko.SSHConfig.from_text(text).lookup(node)
        keys = found.get("identityfile") or []
        if "hostname" not in found or not keys:
            raise ClusterError(f"`vagrant ssh-config {node}` names no HostName or IdentityFile:\n{text[-500:]}")
        hosts.append(Host(name=node, address=found["hostname"], port=int(found.get("port", 22)),
                          user=found.get("user", "vagrant"), key=Path(keys[0]),
                          role="manager" if node in managers else "worker",
                          stateful=index == len(configs) - 1))
    return Inventory(hosts=hosts)


class VagrantVms:
    """The cluster's VMs: Vagrant for their life, SSH for commands and engines."""

    def __init__(self, state: ClusterState, state_dir: Path, client: docker.DockerClient) -> None:
        self._state = state
        self._state_dir = state_dir
        self._vagrant = VagrantNodes(state, state_dir, client)
        self._ssh: SshNodes | None = None

    def up(self, node: str | None = None) -> None:
        """Create and start every VM, or start one halted VM (its logins kept: Vagrant keeps a VM's SSH address
        and forwarded port across halt and up, and the engine clients reconnect to them)."""
        try:
            self._vagrant.up(node)
        except ClusterError as error:
            if "box" not in str(error) or "could not be found" not in str(error):
                raise
            raise ClusterError(f"{error}\n{_box_hint()}") from error

    def halt(self, node: str, force: bool = False) -> None:
        self._vagrant.halt(node, force=force)

    def destroy(self) -> None:
        self._forget_connections()
        self._vagrant.destroy()

    def status(self) -> dict[str, str]:
        return self._vagrant.status()

    def can_power_cycle(self, node: str) -> bool:
        """Always: Vagrant halts and starts a VM."""
        return True

    @property
    def hosts(self) -> SshNodes:
        """The VMs as SSH hosts (logins read from ``vagrant ssh-config``; host keys learnt on first use)."""
        if self._ssh is None:
            configs = {node: self._vagrant.ssh_config(node) for node in self._state.nodes}
            inventory = inventory_from_ssh_config(configs, self._state.managers or [self._state.manager])
            self._ssh = SshNodes(inventory, self._state_dir, learn_keys=True)
        return self._ssh

    @property
    def logins(self) -> dict[str, SshLogin]:
        return self.hosts.logins

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        return self.hosts.exec(node, argv, stdin)

    def docker_problem(self, node: str) -> str | None:
        return self.hosts.docker_problem(node)

    def engine_log(self, node: str, since: float) -> str:
        return self.hosts.engine_log(node, since)

    def engine_client(self, node: str) -> docker.DockerClient:
        return self.hosts.engine_client(node)

    def close(self) -> None:
        self._forget_connections()

    def _forget_connections(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None


def _box_hint() -> str:
    box = os.environ.get("CHAOS_VM_BOX", DEFAULT_BOX)
    return (f"Vagrant could not get the VMs' box {box} (CHAOS_VM_BOX, default {DEFAULT_BOX}, a Debian 12 box). "
            f"Without internet access, add it from a file first (`vagrant box add --name {box} FILE.box`) or set "
            "CHAOS_VM_BOX to a box `vagrant box list` shows.")


def _run(argv: list[str]) -> str | None:
    """``argv``'s output, or None when it cannot run or fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None
