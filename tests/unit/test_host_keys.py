"""A host whose SSH key changed since the cluster came up: refused by the SSH layer, and named by `cluster status`
(``key changed``, what to do, exit 1). Against a real SSH server (paramiko's) on this machine."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import paramiko
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cluster.ssh import SshConnections, SshLogin
from harness.errors import ClusterError
from harness.testing import make_node

CLIENT_KEY = paramiko.RSAKey.generate(1024)


class _Server(paramiko.ServerInterface):
    """Lets CLIENT_KEY in as root and answers every command with exit status 0."""

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "root" and key.get_base64() == CLIENT_KEY.get_base64()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def finish() -> None:
            channel.send_exit_status(0)
            channel.close()
        threading.Timer(0.05, finish).start()
        return True


@pytest.fixture
def host() -> Iterator[tuple[int, paramiko.PKey]]:
    """An SSH server on 127.0.0.1 presenting a host key of its own: its port and that key."""
    host_key = paramiko.RSAKey.generate(1024)
    listener = socket.create_server(("127.0.0.1", 0))
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(connection)
            transports.append(transport)
            transport.add_server_key(host_key)
            try:
                transport.start_server(server=_Server())
            except (paramiko.SSHException, EOFError):
                pass  # the client hung up: it refuses a host key it does not know

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], host_key
    listener.close()
    for transport in transports:
        transport.close()


def known_hosts(directory: Path, port: int, key: paramiko.PKey) -> Path:
    """The cluster's known_hosts, listing ``key`` for the host on ``port``."""
    keys = paramiko.HostKeys()
    keys.add(f"[127.0.0.1]:{port}", key.get_name(), key)
    path = directory / "known_hosts"
    keys.save(str(path))
    return path


def login(directory: Path, port: int) -> SshLogin:
    key_file = directory / "id_rsa"
    CLIENT_KEY.write_private_key_file(str(key_file))
    return SshLogin("h2", "127.0.0.1", port, "root", key_file)


def test_a_host_with_the_key_learnt_at_up_is_logged_in_to(tmp_path, host):
    port, host_key = host
    connections = SshConnections(known_hosts(tmp_path, port, host_key))
    assert connections.run(login(tmp_path, port), ["true"]).ok
    connections.close()


def test_a_changed_host_key_is_refused_saying_what_to_do(tmp_path, host):
    port, _ = host
    connections = SshConnections(known_hosts(tmp_path, port, paramiko.RSAKey.generate(1024)))
    with pytest.raises(ClusterError, match="the host key changed since the cluster was brought up .*; if the host "
                                           "was rebuilt, take the cluster down and up again") as caught:
        connections.run(login(tmp_path, port), ["true"])
    assert isinstance(caught.value.__cause__, paramiko.BadHostKeyException)


class _Cluster:
    """A cluster of two running hosts: h1 answers through a fake, h2 through real SSH to the test's server."""

    def __init__(self, connections: SshConnections, h2: SshLogin) -> None:
        self._connections, self._h2 = connections, h2
        self.engine = SimpleNamespace(nodes=lambda: [make_node("h1", role="manager"), make_node("h2")])
        self.state = SimpleNamespace(endpoints={"lb": "127.0.0.1:18080"}, engine="swarm")

    def node_states(self) -> dict[str, str]:
        return {"h1": "running", "h2": "running"}

    def reaches_nodes(self) -> bool:
        return True

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None):
        return SimpleNamespace(ok=True) if node == "h1" else self._connections.run(self._h2, argv, stdin)


@pytest.mark.parametrize("changed", [False, True])
def test_cluster_status_names_a_host_whose_key_changed_and_exits_1(tmp_path, host, monkeypatch, changed):
    port, host_key = host
    known = paramiko.RSAKey.generate(1024) if changed else host_key
    cluster = _Cluster(SshConnections(known_hosts(tmp_path, port, known)), login(tmp_path, port))
    monkeypatch.setattr("harness.cli.cluster.Cluster", lambda config: cluster)
    result = CliRunner().invoke(main, ["--cluster", "keys", "cluster", "status"])
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    assert lines["h1"].startswith("running\tswarm ready/active manager")
    if changed:
        assert result.exit_code == 1
        assert lines["h2"].startswith("running\tkey changed: cannot log in to h2 (root@127.0.0.1:")
        assert "the host key changed since the cluster was brought up" in lines["h2"]
        assert lines["h2"].endswith("take the cluster down and up again")
    else:
        assert result.exit_code == 0, result.output
        assert lines["h2"].startswith("running\tswarm ready/active worker")
