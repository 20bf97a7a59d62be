"""Node lifecycle through python-vagrant, and running commands in a node container.

``vagrant docker-exec`` is broken in Debian's Vagrant 2.3.4, so on the docker
provider commands run through the Docker SDK in the node's container. VMs are
reached over SSH instead (``vms.VagrantVms``).
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import vagrant
from docker.errors import DockerException
from docker.utils.socket import frames_iter

from harness.cluster.config import ClusterState
from harness.errors import ClusterError, EnvironmentProblem
from harness.shipped import VAGRANTFILE as SHIPPED_VAGRANTFILE
from harness.waiting import wait_until

VAGRANTFILE = Path(os.environ.get("CHAOS_VAGRANTFILE", SHIPPED_VAGRANTFILE))  # the shipped one, unless replaced
RUNNING, STOPPED, NOT_CREATED = vagrant.Vagrant.RUNNING, vagrant.Vagrant.STOPPED, vagrant.Vagrant.NOT_CREATED
ENGINE_SOCKET = "docker.sock"  # a node engine's API socket, in the host directory mounted at /chaos-api


LOCKED = "because it is locked"  # Vagrant's words when another of its processes holds a machine's lock
LOCKED_WAIT, LOCKED_RETRY = 120.0, 2.0  # seconds: how long a locked machine is waited for, and how often tried
_RUBY_FRAME = re.compile(r"^\s*(from )?\S+\.rb:\d+:in ")  # a line of a Ruby backtrace
_SECRET_OPTIONS = ("--password", "-p", "--token", "--secret")
_SECRET_WORDS = re.compile(r"(password|passwd|token|secret|credential)", re.IGNORECASE)


def shown_command(argv: list[str]) -> str:
    """``argv`` as a shell line to quote in messages, with secret-bearing values redacted.

    Secrets go to a command's standard input, never onto its command line; this
    is the second line of defence for messages, logs and the journal.
    """
    shown, hide_next = [], False
    for word in argv:
        name, has_value, _ = word.partition("=")
        if hide_next:
            word = "***"
        elif has_value and _SECRET_WORDS.search(name):
            word = f"{name}=***"
        hide_next = word in _SECRET_OPTIONS
        shown.append(word)
    return shlex.join(shown)


@dataclass(frozen=True)
class ExecResult:
    """Exit code and combined output of a command run on a node."""

    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class VagrantNodes:
    """The cluster's nodes as Vagrant machines."""

    def __init__(self, state: ClusterState, state_dir: Path, client: docker.DockerClient) -> None:
        if not VAGRANTFILE.exists():
            raise EnvironmentProblem(f"no Vagrantfile at {VAGRANTFILE}; set CHAOS_VAGRANTFILE to its path")
        self._state = state
        self._client = client
        self._dotfile = state_dir / "vagrant"
        self._log = state_dir / "vagrant.log"
        state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "VAGRANT_CHECKPOINT_DISABLE": "1",
            "VAGRANT_DOTFILE_PATH": str(self._dotfile),
            "VAGRANT_DEFAULT_PROVIDER": state.provider,
            "CHAOS_CLUSTER": state.name,
            "CHAOS_NODES": str(len(state.nodes)),
            "CHAOS_NODE_PREFIX": state.nodes[0].rstrip("0123456789"),
            "CHAOS_NODE_IMAGE": state.node_image,
            "CHAOS_ENGINE": state.engine,
            "CHAOS_NETWORK": f"{state.name}-net",
            "CHAOS_NODE_IPS": ",".join(state.node_ips[n] for n in state.nodes),
            "CHAOS_NODE_PRIVILEGED": "1" if state.privileged else "0",
            "CHAOS_ENGINE_SOCKETS": str(state_dir.resolve() / "engines"),
            "CHAOS_API_GID": str(os.getgid()),  # the group the engine sockets belong to: the harness's own
            "CHAOS_MANAGER_PORTS": ",".join(
                [f"127.0.0.1:{state.lb_port}:8080", f"127.0.0.1:{state.lb_admin_port}:9999"]
            ),
        }
        self._vagrant = vagrant.Vagrant(
            root=str(VAGRANTFILE.parent), env=env, err_cm=vagrant.make_file_cm(str(self._log))
        )

    def up(self, node: str | None = None) -> None:
        """Create and start every node, or start one stopped node."""
        self._call("up", lambda: self._vagrant.up(vm_name=node, provider=self._state.provider), node)

    def halt(self, node: str, force: bool = False) -> None:
        """Stop a node: gracefully (its engine shuts down cleanly) or forced."""
        self._call("halt", lambda: self._vagrant.halt(vm_name=node, force=force), node)

    def destroy(self) -> None:
        """Remove every node Vagrant knows of."""
        if self._dotfile.exists():
            self._call("destroy", lambda: self._vagrant.destroy(), None)

    def can_power_cycle(self, node: str) -> bool:
        """Always: Vagrant halts and starts a node."""
        return True

    def status(self) -> dict[str, str]:
        """Node name to ``running``, ``stopped`` or ``not_created``."""
        if not self._dotfile.exists():
            return {node: NOT_CREATED for node in self._state.nodes}
        if self._state.provider == "docker":
            return {node: self._container_state(node) for node in self._state.nodes}
        # Read-only, and Vagrant refuses it while another process (a second
        # `chaos-harness`, a test) holds a machine's lock: retry briefly.
        statuses = wait_until(lambda: self._call("status", self._vagrant.status, None), timeout=20,
                              what="`vagrant status` to answer", interval=1.0)
        return {status.name: status.state for status in statuses}

    def ssh_config(self, node: str) -> str:
        """What ``vagrant ssh-config NODE`` says: how to log in to a VM."""
        return self._call("ssh-config", lambda: self._vagrant.ssh_config(vm_name=node), node)

    def exec(self, node: str, argv: list[str], stdin: bytes | None = None) -> ExecResult:
        """Run ``argv`` in a node container; ``stdin`` is written to its real standard input, never onto a
        command line."""
        try:
            if stdin is None:
                result = self.container(node).exec_run(argv)
                return ExecResult(result.exit_code, result.output.decode(errors="replace"))
            return self._exec_with_stdin(node, argv, stdin)
        except (DockerException, OSError) as error:  # OSError: the socket broke (the command exited early)
            raise ClusterError(f"cannot run `{shown_command(argv)[:80]}` on {node}: {error}") from error

    def engine_log(self, node: str, since: float) -> str:
        """The node container's Docker engine log since ``since`` (epoch seconds), each line timestamped."""
        try:
            return self.container(node).logs(since=int(since), timestamps=True).decode(errors="replace")
        except DockerException as error:
            raise ClusterError(f"cannot read the engine log of {node}: {error}") from error

    def container(self, node: str):
        """The Docker container behind ``node`` (docker provider only)."""
        id_file = self._dotfile / "machines" / node / "docker" / "id"
        if self._state.provider != "docker" or not id_file.exists():
            raise ClusterError(f"{node} has no container (provider {self._state.provider}, or not created)")
        try:
            return self._client.containers.get(id_file.read_text().strip())
        except DockerException as error:
            raise ClusterError(f"the container of {node} is gone: {error}") from error

    def _container_state(self, node: str) -> str:
        """What ``vagrant status`` says of a docker-provider node, read from the engine in milliseconds."""
        try:
            return RUNNING if self.container(node).status == "running" else STOPPED
        except ClusterError:
            return NOT_CREATED

    def _exec_with_stdin(self, node: str, argv: list[str], stdin: bytes) -> ExecResult:
        """Docker exec with a socket attached: ``stdin`` is sent, then the write side closed (EOF)."""
        api = self._client.api
        exec_id = api.exec_create(self.container(node).id, argv, stdin=True)["Id"]
        stream = api.exec_start(exec_id, socket=True)
        raw = getattr(stream, "_sock", stream)
        try:
            raw.sendall(stdin)
            raw.shutdown(socket.SHUT_WR)
            output = b"".join(data for _, data in frames_iter(stream, tty=False))
        finally:
            stream.close()
        finished = wait_until(lambda: (state := api.exec_inspect(exec_id))["ExitCode"] is not None and state,
                              timeout=10, what=f"`{argv[0]}` on {node} to finish", interval=0.05)
        return ExecResult(finished["ExitCode"], output.decode(errors="replace"))

    def _call(self, action: str, operation, node: str | None):
        """``operation`` (a vagrant command), tried again while Vagrant says a machine is locked by another of its
        processes, for at most LOCKED_WAIT seconds: Vagrant's global machine index locks a machine by its
        Vagrantfile and name, which every cluster on this machine shares (node1, node2, ...)."""
        waited = 0.0
        while True:
            start = self._log.stat().st_size if self._log.exists() else 0
            try:
                return operation()
            except FileNotFoundError as error:
                raise EnvironmentProblem("vagrant is not installed: `apt-get install -y vagrant`") from error
            except subprocess.CalledProcessError as error:
                said = self._said_since(start)
                if LOCKED in said and waited < LOCKED_WAIT:
                    time.sleep(LOCKED_RETRY)
                    waited += LOCKED_RETRY
                    continue
                raise ClusterError(f"`vagrant {action}` failed for {node or 'the cluster'} (exit {error.returncode}):"
                                   f"\n{failure_text(said)}") from error

    def _said_since(self, offset: int) -> str:
        """What vagrant wrote into the log from ``offset`` on (all of it, if the log is shorter)."""
        if not self._log.exists():
            return ""
        with self._log.open("rb") as log:
            log.seek(offset if offset <= self._log.stat().st_size else 0)
            return log.read().decode(errors="replace")


def failure_text(log: str, limit: int = 1500) -> str:
    """The end of a failed vagrant command's output, cut at a line start, with each Ruby backtrace reduced to its
    first line (which carries the message): the frames below it would push the message out of the end."""
    lines, previous = [], ""
    for line in log.splitlines():
        if not (_RUBY_FRAME.match(line) and _RUBY_FRAME.match(previous)):
            lines.append(line)
        previous = line
    text = "\n".join(lines)
    return text[-limit:].partition("\n")[2] if len(text) > limit else text
