"""A host whose SSH host key changed after `cluster up` (rebuilt, or someone in the middle): `cluster status`
names it, ``key changed`` with what to do, and exits 1, for a worker and for the manager the swarm is read
through. Two SSH-only hosts of this test's own (tests/integration/ssh_hosts.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import docker
import paramiko
import pytest
from click.testing import CliRunner

from harness.build import NODE_IMAGE, ImageBuilder
from harness.cli import main
from harness.cluster import Cluster, ClusterConfig
from harness.waiting import wait_until
from tests.integration.ssh_hosts import SshHosts, start_ssh_hosts

pytestmark = pytest.mark.docker
CLUSTER = "chaos-hostkeys"
PREFIX = "chaos-hostkeys-host"
SUBNET = "172.31.236.0/24"
PORTS = {"lb_port": 21680, "lb_admin_port": 21699, "registry_port": 21650, "toxiproxy_port": 21674}  # below the
# ephemeral range (32768-60999), where an outgoing connection can hold a port for a moment
NEW_KEYS = "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && kill -HUP $(cat /run/sshd.pid)"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory) -> Iterator[SshHosts]:
    node_image = ImageBuilder(docker.from_env()).build(NODE_IMAGE)
    started = start_ssh_hosts(tmp_path_factory.mktemp("host-keys"), PREFIX, node_image, ["node1", "node2"], SUBNET)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def home(hosts, tmp_path_factory):
    """The cluster up on the hosts; at the end their original keys back, so that `down` can log in."""
    workdir = tmp_path_factory.mktemp("chaos-home-keys")
    handle = Cluster(ClusterConfig(name=CLUSTER, provider="ssh", inventory=hosts.inventory, workdir=workdir,
                                   **PORTS))
    originals = {name: _docker_exec(name, "cd /etc/ssh && tar -c ssh_host_*", text=False) for name in hosts.addresses}
    try:
        handle.up()
        yield workdir
    finally:
        for name, archive in originals.items():
            _docker_exec(name, "rm -f /etc/ssh/ssh_host_* && tar -C /etc/ssh -x && kill -HUP $(cat /run/sshd.pid)",
                         stdin=archive)  # sshd reads its host keys again on SIGHUP
            _wait_for_key(hosts, name, lambda key: True)
        handle.down()


def test_status_names_a_host_whose_key_changed_and_exits_1(hosts, home):
    before = status(home)
    assert before.exit_code == 0, before.output
    assert all(rows(before)[name].startswith("running\tswarm ready/active") for name in hosts.addresses)

    replace_key(hosts, "node2")
    worker = status(home)
    assert worker.exit_code == 1, worker.output
    assert rows(worker)["node1"].startswith("running\tswarm ready/active manager")
    assert rows(worker)["node2"].startswith("running\tkey changed: cannot log in to node2 (deploy@172.31.236.12:22): "
                                            "the host key changed since the cluster was brought up")
    assert rows(worker)["node2"].endswith("if the host was rebuilt, take the cluster down and up again")

    replace_key(hosts, "node1")  # the manager: the swarm cannot be read either, and that is said, not a traceback
    manager = status(home)
    assert manager.exit_code == 1, manager.output
    assert rows(manager)["node1"].startswith("running\tkey changed: cannot log in to node1")
    assert rows(manager)["swarm"].startswith("not read: ") and "host key changed" in rows(manager)["swarm"]


def status(home):
    return CliRunner().invoke(main, ["--cluster", CLUSTER, "cluster", "status"], env={"CHAOS_HOME": str(home)})


def rows(result) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in result.stdout.splitlines() if "\t" in line)


def replace_key(hosts: SshHosts, name: str) -> None:
    """New host keys for ``name``'s sshd, as a rebuilt host has; wait until it presents one."""
    old = _host_key(hosts, name)
    _docker_exec(name, NEW_KEYS)
    _wait_for_key(hosts, name, lambda key: key != old)


def _wait_for_key(hosts: SshHosts, name: str, accepted) -> None:
    wait_until(lambda: accepted(_host_key(hosts, name)), timeout=20, what=f"sshd on {name} with its keys")


def _host_key(hosts: SshHosts, name: str) -> str | None:
    """The host key ``name``'s sshd presents now (None while it restarts)."""
    try:
        transport = paramiko.Transport((hosts.addresses[name], 22))
        try:
            transport.start_client(timeout=5)
            return transport.get_remote_server_key().get_base64()
        finally:
            transport.close()
    except (paramiko.SSHException, OSError):
        time.sleep(0.2)
        return None


def _docker_exec(name: str, script: str, stdin: bytes | None = None, text: bool = True):
    done = subprocess.run(["docker", "exec", "-i", f"{PREFIX}-{name}", "sh", "-c", script], input=stdin,
                          capture_output=True, check=True, timeout=30)
    return done.stdout.decode() if text else done.stdout
