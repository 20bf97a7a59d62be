"""Hosts reachable only over SSH, for the ssh provider's tests: node containers that run sshd and dockerd.

Their Docker API is not published anywhere; the harness gets in with the key
written beside the inventory, as the ``deploy`` user (docker group, sudo).
The containers are started and removed with testcontainers (its labels, a
wait strategy for the SSH banner, clean-up); the inventory powers them off
and on with ``docker stop`` / ``docker start`` run on this machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import docker
import paramiko
import yaml

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # its reaper image is not pullable here (no internet)
from testcontainers.core.container import DockerContainer  # noqa: E402
from testcontainers.core.waiting_utils import WaitStrategy  # noqa: E402

USER = "deploy"
# What a nested dockerd needs without --privileged (refused on some hosts), as the Vagrantfile gives node containers.
UNPRIVILEGED = {"cap_add": ["ALL"], "cap_drop": ["SYS_RESOURCE"],
                "security_opt": ["seccomp=unconfined", "apparmor=unconfined"]}


@dataclass
class SshHosts:
    """Started SSH-only hosts and the inventory that names them."""

    inventory: Path
    addresses: dict[str, str]
    containers: dict[str, DockerContainer] = field(default_factory=dict)
    network: object = None

    def container_ids(self) -> set[str]:
        return {c.get_wrapped_container().id for c in self.containers.values()}

    def stop(self) -> None:
        for container in self.containers.values():
            container.stop()
        if self.network is not None:
            self.network.remove()


class SshBanner(WaitStrategy):
    """Ready when the container's sshd greets on port 22 of its own address."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self._address = address

    def wait_until_ready(self, container) -> None:
        if not self._poll(lambda: _answers(self._address)):
            raise TimeoutError(f"sshd on {self._address} did not answer within {self._startup_timeout:.0f}s")


# What a host needs to run a Kubernetes node container: the kernel's message device, and every device rule
# (the node container's own rules are bound by its host's).
KUBERNETES_HOST = {"devices": ["/dev/kmsg"], "device_cgroup_rules": ["a *:* rwm"]}


def start_ssh_hosts(directory: Path, prefix: str, node_image: str, names: list[str],
                    subnet: str = "172.31.240.0/24", **extra) -> SshHosts:
    """Hosts ``names`` (the first the manager) on a network of their own; an inventory for them in ``directory``.
    ``extra``: more of Docker's settings for each host (``KUBERNETES_HOST``)."""
    client = docker.from_env()
    network_range = ipaddress.ip_network(subnet)
    addresses = {name: str(network_range.network_address + 10 + index) for index, name in enumerate(names, 1)}
    network = client.networks.create(f"{prefix}-net", driver="bridge", labels={"io.chaos-harness.test": prefix},
                                     ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
                                         subnet=subnet, iprange=str(list(network_range.subnets())[1]))]))
    hosts = SshHosts(directory / "hosts.yaml", addresses, network=network)
    key = directory / "id_rsa"
    public = _key_pair(key)
    try:
        for name, address in addresses.items():
            hosts.containers[name] = (
                DockerContainer(node_image, _wait_strategy=SshBanner(address).with_startup_timeout(60))
                .with_name(f"{prefix}-{name}")
                .with_env("CHAOS_SSH_KEY", public).with_env("CHAOS_SSH_USER", USER)
                .with_tmpfs_mount("/run")
                .with_volume_mapping("/sys/fs/cgroup", "/sys/fs/cgroup", "rw")
                .with_kwargs(hostname=name, network=network.name, labels={"io.chaos-harness.test": prefix},
                             networking_config={network.name: client.api.create_endpoint_config(
                                 ipv4_address=address)}, **UNPRIVILEGED, **extra)
                .start())
    except BaseException:
        hosts.stop()
        raise
    hosts.inventory.write_text(yaml.safe_dump({"hosts": [
        {"name": name, "address": address, "user": USER, "key": key.name,
         "role": "manager" if index == 0 else "worker",
         "power_off": f"docker stop --time 10 {prefix}-{name}", "power_on": f"docker start {prefix}-{name}"}
        for index, (name, address) in enumerate(addresses.items())]}, sort_keys=False))
    return hosts


def _key_pair(path: Path) -> str:
    """A new RSA key in ``path`` (mode 600); its public half, as authorized_keys lists it."""
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(path))
    path.chmod(0o600)
    return f"{key.get_name()} {key.get_base64()}"


def _answers(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=1) as probe:
            probe.settimeout(2)
            return probe.recv(4).startswith(b"SSH-")
    except OSError:
        return False
