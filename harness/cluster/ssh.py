"""Hosts reached over SSH only: their commands, and their Docker engine through Docker's own SSH transport.

Commands run in an SSH session (``sudo -n`` in front when the login is not
root). The engine is reached the way ``docker -H ssh://`` reaches it:
``docker system dial-stdio`` in sessions of a connection of its own, driven
by docker-py's SSH adapter; the login must be allowed to use Docker (root,
or the ``docker`` group). No Docker API is ever published on a port.

Host keys live in the cluster's own ``known_hosts`` file, never in the
user's ``~/.ssh``. Bringing the cluster up learns a host's key the first
time; every later connection refuses a host whose key changed.
"""

from __future__ import annotations

import logging
import shlex
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import docker
import paramiko
from docker.transport import SSHHTTPAdapter

from harness.cluster.vagrant import ExecResult, shown_command
from harness.errors import ClusterError

CONNECT_TIMEOUT = 10.0  # seconds to reach a host and log in
SEND_CHUNK = 1 << 20  # bytes of standard input handed to the session at once
COMMAND_TIMEOUT = 120.0  # seconds a command may run before the session is given up
ENGINE_TIMEOUT = 30  # seconds a Docker API call may take
PLACEHOLDER_URL = "tcp://127.0.0.1:9"  # docker-py builds its client from a URL; the SSH adapter replaces its transport
ENGINE_SESSIONS = 4  # kept Docker API connections, each an SSH session: sshd allows 10 a connection by default
MIN_API_VERSION = "1.40"  # Docker 19.03; the engine's own version is asked once connected


@dataclass(frozen=True)
class SshLogin:
    """How to log in to one host."""

    name: str
    address: str
    port: int
    user: str
    key: Path | None  # None: the SSH agent's keys

    @property
    def sudo(self) -> bool:
        """Commands need ``sudo -n`` in front (the login is not root)."""
        return self.user != "root"

    @property
    def shown(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"


class SshConnections:
    """One SSH connection per host, opened on first use; host keys checked against the cluster's own file."""

    def __init__(self, known_hosts: Path, learn_keys: bool = False) -> None:
        self._known_hosts = known_hosts
        self._learn_keys = learn_keys
        self._clients: dict[str, paramiko.SSHClient] = {}
        self._lock = threading.Lock()
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # failures are reported as ClusterError

    def run(self, login: SshLogin, argv: list[str], stdin: bytes | None = None,
            timeout: float = COMMAND_TIMEOUT, as_root: bool = True) -> ExecResult:
        """Run ``argv`` on the host (as root unless ``as_root`` is false); ``stdin`` goes to its standard input,
        never onto the command line."""
        command = shlex.join(["sudo", "-n", "--", *argv] if login.sudo and as_root else argv)
        try:
            channel = self._client(login).get_transport().open_session(timeout=CONNECT_TIMEOUT)
            channel.settimeout(timeout)
            channel.set_combine_stderr(True)
            channel.exec_command(command)
            view = memoryview(stdin or b"")
            for start in range(0, len(view), SEND_CHUNK):  # paramiko's sendall copies what is left at each send
                channel.sendall(view[start:start + SEND_CHUNK].tobytes())
            channel.shutdown_write()
            output = b"".join(iter(lambda: channel.recv(65536), b""))
            return ExecResult(channel.recv_exit_status(), output.decode(errors="replace"))
        except (paramiko.SSHException, OSError) as error:
            self._forget(login)
            raise ClusterError(f"cannot run `{shown_command(argv)[:80]}` on {login.name} ({login.shown}): "
                               f"{_reason(error)}") from error

    def engine_client(self, login: SshLogin) -> docker.DockerClient:
        """A Docker client for the host's engine over SSH (``docker system dial-stdio``)."""
        adapter = _Adapter(self, login)
        client = docker.DockerClient(base_url=PLACEHOLDER_URL, version=MIN_API_VERSION, timeout=ENGINE_TIMEOUT)
        api = client.api
        api.mount("http+docker://ssh", adapter)
        api._unmount("http://", "https://")  # docker-py's own wiring for ssh:// URLs, with our adapter
        api.base_url = "http+docker://ssh"
        api._version = api._retrieve_server_version()  # what version="auto" does, over the adapter
        return client

    def check(self, login: SshLogin) -> None:
        """Log in once, or raise the exact SSH error with a hint."""
        self._client(login)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def connect(self, login: SshLogin) -> paramiko.SSHClient:
        """A new, logged-in connection to the host (host key checked or, when learning, recorded)."""
        client = paramiko.SSHClient()
        if self._known_hosts.exists():
            client.load_host_keys(str(self._known_hosts))
        client.set_missing_host_key_policy(_Learn(self._known_hosts) if self._learn_keys else _Refuse())
        key = _private_key(login) if login.key else None
        try:
            client.connect(login.address, port=login.port, username=login.user, pkey=key, look_for_keys=False,
                           allow_agent=key is None, timeout=CONNECT_TIMEOUT, banner_timeout=CONNECT_TIMEOUT,
                           auth_timeout=CONNECT_TIMEOUT)
        except (paramiko.SSHException, OSError) as error:
            client.close()
            raise ClusterError(f"cannot log in to {login.name} ({login.shown}): {_reason(error)}") from error
        return client

    def _client(self, login: SshLogin) -> paramiko.SSHClient:
        with self._lock:
            client = self._clients.get(login.name)
            transport = client.get_transport() if client else None
            if transport is None or not transport.is_active():
                client = self._clients[login.name] = self.connect(login)
            return client

    def _forget(self, login: SshLogin) -> None:
        with self._lock:
            client = self._clients.pop(login.name, None)
        if client is not None:
            client.close()


class _Adapter(SSHHTTPAdapter):
    """docker-py's SSH adapter on a connection made by ``SshConnections`` (its key, its known_hosts), made again
    when it died (a host powered off and on), with one pool of sessions that open within ``CONNECT_TIMEOUT``."""

    def __init__(self, connections: SshConnections, login: SshLogin) -> None:
        self._connections, self._login = connections, login
        super().__init__(f"ssh://{login.user}@{login.address}:{login.port}", timeout=ENGINE_TIMEOUT,
                         max_pool_size=ENGINE_SESSIONS)

    def _create_paramiko_client(self, base_url: str) -> None:
        self.ssh_client, self.ssh_params = None, {}

    def _connect(self) -> None:
        self.ssh_client = _TimedSessions(self._connections.connect(self._login))

    def get_connection(self, url, proxies=None):
        transport = self.ssh_client.get_transport() if self.ssh_client else None
        if transport is None or not transport.is_active():
            with self.pools.lock:
                self.pools.clear()
            self._connect()
        # One pool for the host, not one per request URL (docker-py is handed the whole URL): each pool holds
        # SSH sessions, and sshd refuses an eleventh session on a connection.
        return super().get_connection(self.ssh_host, proxies)


class _TimedSessions:
    """A connected SSH client whose transport opens sessions within ``CONNECT_TIMEOUT`` (paramiko waits an hour
    by default, and docker-py asks without a timeout): a silent host fails a Docker call instead of hanging it."""

    def __init__(self, client: paramiko.SSHClient) -> None:
        self._client = client

    def get_transport(self):
        transport = self._client.get_transport()
        return _TimedTransport(transport) if transport is not None else None

    def close(self) -> None:
        self._client.close()


class _TimedTransport:
    def __init__(self, transport: paramiko.Transport) -> None:
        self._transport = transport

    def open_session(self, **kwargs):
        return self._transport.open_session(timeout=CONNECT_TIMEOUT, **kwargs)

    def is_active(self) -> bool:
        return self._transport.is_active()


class _Learn(paramiko.MissingHostKeyPolicy):
    """Record a host's key the first time (trust on first use), in the cluster's own known_hosts."""

    def __init__(self, known_hosts: Path) -> None:
        self._known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self._known_hosts.parent.mkdir(parents=True, exist_ok=True)
        client.save_host_keys(str(self._known_hosts))


class _Refuse(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client, hostname, key) -> None:
        raise paramiko.SSHException(f"the host key of {hostname} is not known to this cluster "
                                    "(it was not up when the cluster was brought up)")


def _private_key(login: SshLogin) -> paramiko.PKey:
    """The login's key file, read once (so that a refused key is reported as refused, not as a key format)."""
    try:
        return paramiko.PKey.from_path(str(login.key))
    except paramiko.PasswordRequiredException as error:
        raise ClusterError(f"the key {login.key} of {login.name} has a passphrase; load it into the SSH agent "
                           "and leave key out of the inventory") from error
    except (paramiko.SSHException, OSError, ValueError) as error:
        raise ClusterError(f"cannot read the key {login.key} of {login.name}: {error}") from error


def _reason(error: BaseException) -> str:
    """The SSH or network error in words, with what to do about it."""
    if isinstance(error, paramiko.BadHostKeyException):
        return (f"the host key changed since the cluster was brought up ({error}); if the host was rebuilt, "
                "take the cluster down and up again")
    if isinstance(error, paramiko.AuthenticationException):
        return f"the host refused the login ({error}); check user and key in the inventory"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "no answer in time; is the host up and the address and port right?"
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return f"{error.strerror or error}; is the host up, and sshd listening on that port?"
    return f"{type(error).__name__}: {error}"
