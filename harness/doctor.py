"""What this machine has for the harness: each check a function of a ``Machine``, returning a ``Finding``.

``chaos-harness doctor`` prints the findings as a table; ``chaos-harness setup`` installs the Debian packages
and starts the daemons the failing ones name (``harness.install``). Checks only look: the kernel's iptables
matches are tried in a network namespace of their own, which vanishes with the probe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.cluster import existing
from harness.cluster.config import Target
from harness.cluster.ports import DEFAULT_PORTS, PORT_PURPOSE, listening
from harness.errors import HarnessError, one_line

__all__ = ["MIN_FREE_BYTES", "EngineFacts", "Finding", "HostMachine", "Machine", "diagnose", "failing"]

MIN_FREE_BYTES = 10 * 2**30  # base image, node image, the harness's and a stack's images, three node engines' copies
VM_PROVIDERS = ("libvirt", "virtualbox")
VAGRANT_PROVIDERS = ("docker", *VM_PROVIDERS)
BASE_IMAGES = ("debian:bookworm-slim", "chaos-harness/debian:bookworm")  # either spares debootstrap
KERNEL_MATCHES = {  # iptables matches the faults use, with arguments that make a complete rule
    "statistic": ["-m", "statistic", "--mode", "random", "--probability", "0.5"],
    "comment": ["-m", "comment", "--comment", "chaos-harness"],
}


@dataclass(frozen=True)
class Finding:
    """One thing the harness needs, whether this machine has it, and what brings it when not.

    ``ok`` is None when it could not be told (a probe that needs root). ``packages`` are the Debian packages
    and ``daemon`` the service (``docker``, ``libvirt``) that ``setup`` installs or starts for it.
    """

    name: str
    ok: bool | None
    found: str
    fix: str = ""
    required: bool = True
    packages: tuple[str, ...] = ()
    daemon: str | None = None

    @property
    def failing(self) -> bool:
        """Required and known to be missing: ``doctor`` exits 1."""
        return self.required and self.ok is False


@dataclass(frozen=True)
class EngineFacts:
    """What the local Docker engine says of itself; ``privileged``: whether it starts a --privileged container
    (None: not tried, no base image yet)."""

    version: str
    cgroup_driver: str
    cgroup_version: str
    root_dir: str
    images: frozenset[str]
    privileged: bool | None = None


class Machine(Protocol):
    """The probes the checks use; ``HostMachine`` is this machine, the unit tests give a fake."""

    def run(self, argv: list[str], timeout: float = 60) -> tuple[int, str]:
        """Exit code and output (stdout and stderr) of ``argv``; 127 when the program is not there, 124 when it
        did not end within ``timeout`` seconds."""

    def engine(self) -> EngineFacts | str:
        """The local Docker engine's facts, or why none answers."""

    def listening(self, port: int) -> bool:
        """Whether something holds ``port`` on 127.0.0.1."""

    def free_bytes(self, path: str) -> int | None:
        """Free bytes of the file system holding ``path``; None when it is not on this machine."""

    def is_root(self) -> bool:
        """Whether the probes run as root (the kernel's iptables matches can only be tried so)."""

    def has_systemd(self) -> bool:
        """Whether systemd runs this machine (``setup`` then starts daemons through it)."""


def failing(findings: list[Finding]) -> list[Finding]:
    """The required findings that are known to be missing."""
    return [finding for finding in findings if finding.failing]


def diagnose(machine: Machine, provider: str = "docker", engine_name: str = "swarm",
             target: Target | None = None) -> list[Finding]:
    """Every check that matters for ``provider`` and the engine ``engine_name``, in the order the table shows
    them; for an existing cluster (``target``), what builds and pushes the images and the cluster itself."""
    engine = machine.engine()
    checks: list[Callable[[], Finding | list[Finding]]] = [lambda: docker_engine(machine, engine)]
    if target is not None:
        checks += [lambda: debootstrap(machine, engine), lambda: disk(machine, engine),
                   lambda: existing_cluster(target)]
        return [finding for check in checks for finding in _listed(check())]
    if provider == "docker":
        checks.append(lambda: docker_client(machine))
    if provider in VAGRANT_PROVIDERS:
        checks.append(lambda: vagrant(machine))
    if provider == "libvirt":
        checks += [lambda: vagrant_libvirt(machine), lambda: libvirt_daemon(machine)]
    if provider == "virtualbox":
        checks.append(lambda: virtualbox(machine))
    checks += [lambda: go(machine), lambda: debootstrap(machine, engine), lambda: iptables(machine),
               lambda: [kernel_match(machine, match) for match in KERNEL_MATCHES],
               lambda: disk(machine, engine), lambda: ports(machine)]
    if engine_name == "kubernetes":
        checks.append(kubernetes_builds)
    return [finding for check in checks for finding in _listed(check())]


def _listed(result: Finding | list[Finding]) -> list[Finding]:
    return result if isinstance(result, list) else [result]


def existing_cluster(target: Target) -> Finding:
    """The cluster of ``--provider existing`` and its registry: the cluster answers, is a test cluster and leaves
    the harness room; this machine pushes to the registry (``existing.examine``)."""
    try:
        facts = existing.examine(target)
    except HarnessError as error:
        return Finding("your Kubernetes cluster", False, one_line(str(error)), "as the message says")
    return Finding("your Kubernetes cluster", True, f"{facts.proof}; schedulable nodes {', '.join(facts.nodes)}")



def docker_engine(machine: Machine, engine: EngineFacts | str) -> Finding:
    """A Docker engine answers; its version, cgroup mode and whether it allows --privileged. When none answers,
    setup starts dockerd, installing Debian's docker.io first only when there is no dockerd (an engine from
    another package is left as it is)."""
    if isinstance(engine, str):
        installed = machine.run(["dockerd", "--version"])[0] == 0
        fix = "`chaos-harness setup` (" + ("" if installed else "apt-get install docker.io, then ") + "starts dockerd)"
        return Finding("Docker engine", False, engine, fix, packages=() if installed else ("docker.io",),
                       daemon="docker")
    privileged = {True: "--privileged allowed", False: "--privileged refused (nodes get a capability list instead)",
                  None: "--privileged not tried (no base image yet)"}[engine.privileged]
    return Finding("Docker engine", True, f"{engine.version}, cgroup v{engine.cgroup_version} "
                                          f"({engine.cgroup_driver} driver), {privileged}")


def docker_client(machine: Machine) -> Finding:
    """The ``docker`` command, which Vagrant's docker provider runs to make the node containers."""
    return _tool(machine, "Docker client", ["docker", "--version"], "docker.io")


def vagrant(machine: Machine) -> Finding:
    """Vagrant, which the docker, libvirt and VirtualBox providers drive."""
    return _tool(machine, "Vagrant", ["vagrant", "--version"], "vagrant")


def vagrant_libvirt(machine: Machine) -> Finding:
    """Vagrant's libvirt provider plugin."""
    code, output = machine.run(["vagrant", "plugin", "list"])
    line = next((line for line in output.splitlines() if line.startswith("vagrant-libvirt")), None)
    return Finding("vagrant-libvirt plugin", code == 0 and line is not None,
                   line or ("not installed" if code == 0 else _first_line(output)),
                   "apt-get install vagrant-libvirt", packages=("vagrant-libvirt",))


def libvirt_daemon(machine: Machine) -> Finding:
    """A libvirt daemon answers on qemu:///system; setup installs it only when there is no libvirtd."""
    code, output = machine.run(["virsh", "--connect", "qemu:///system", "uri"])
    if code == 0:
        return Finding("libvirt daemon", True, "answers")
    installed = machine.run(["libvirtd", "--version"])[0] == 0
    return Finding("libvirt daemon", False, _first_line(output),
                   "`chaos-harness --provider libvirt setup` (" + ("" if installed else "apt-get install "
                   "libvirt-daemon-system, then ") + "starts libvirtd)",
                   packages=() if installed else ("libvirt-daemon-system",), daemon="libvirt")


def virtualbox(machine: Machine) -> Finding:
    """VirtualBox's command line, for the virtualbox provider (not a Debian package)."""
    code, output = machine.run(["VBoxManage", "--version"])
    return Finding("VirtualBox", code == 0, _first_line(output) if code == 0 else "VBoxManage not found",
                   "install VirtualBox from its vendor's packages (Debian has none)")


def go(machine: Machine) -> Finding:
    """Go, which builds the Toxiproxy server for its image."""
    return _tool(machine, "Go", ["go", "version"], "golang-go")


def kubernetes_builds() -> Finding:
    """Kubernetes, etcd, containerd and CoreDNS, built from the Go module proxy and kept per user: ``setup``
    builds what is missing, so their absence is a note."""
    from harness.engine.kubernetes.binaries import COMPONENTS, missing

    absent = missing()
    if not absent:
        return Finding("Kubernetes binaries", True, ", ".join(f"{c.name} {c.version}" for c in COMPONENTS))
    return Finding("Kubernetes binaries", False, "not built yet: " + ", ".join(f"{c.name} {c.version}" for c in absent),
                   "`chaos-harness --engine kubernetes setup` builds them (about 10 minutes on 2 cores, once per "
                   "user)", required=False)


def debootstrap(machine: Machine, engine: EngineFacts | str) -> Finding:
    """debootstrap, which makes the Debian base image when none can be pulled; not needed once a base exists."""
    code, output = machine.run(["debootstrap", "--version"])
    if code == 0:
        return Finding("debootstrap", True, _first_line(output))
    base = next((image for image in BASE_IMAGES if not isinstance(engine, str) and image in engine.images), None)
    if base is not None:
        return Finding("debootstrap", True, f"not installed; not needed: the base image {base} is there")
    return Finding("debootstrap", False, "not installed, and no base image (" + ", ".join(BASE_IMAGES) + ")",
                   "apt-get install debootstrap", packages=("debootstrap",))


def iptables(machine: Machine) -> Finding:
    """iptables, which the engine and the network faults use."""
    return _tool(machine, "iptables", ["iptables", "--version"], "iptables")


def kernel_match(machine: Machine, match: str) -> Finding:
    """The kernel takes a rule with the iptables ``match`` the faults use, tried in a network namespace of its own."""
    name = f"kernel: iptables {match} match"
    if not machine.is_root():
        return Finding(name, None, "not tried: needs root (run doctor as root)")
    argv = ["unshare", "--net", "iptables", "-w", "-A", "OUTPUT", *KERNEL_MATCHES[match], "-j", "DROP"]
    code, output = machine.run(argv)
    if code == 127:
        return Finding(name, None, "not tried: iptables or unshare is missing")
    return Finding(name, code == 0, "a rule with it is accepted" if code == 0 else _first_line(output),
                   f"a kernel with xt_{match} (`modprobe xt_{match}`)")


def disk(machine: Machine, engine: EngineFacts | str) -> Finding:
    """Free space where the engine keeps its images."""
    if isinstance(engine, str):
        return Finding("disk for images", None, "not measured: no Docker engine answers")
    free = machine.free_bytes(engine.root_dir)
    if free is None:
        return Finding("disk for images", None, f"not measured: {engine.root_dir} is not on this machine")
    return Finding("disk for images", free >= MIN_FREE_BYTES, f"{_gib(free)} free in {engine.root_dir}",
                   f"free at least {_gib(MIN_FREE_BYTES)} there (`docker image prune`, or move the engine's "
                   "data-root)")


def ports(machine: Machine) -> list[Finding]:
    """The default ports of a first cluster; one in use is no failure: ``cluster up`` then picks a free one."""
    taken = {field: machine.listening(port) for field, port in DEFAULT_PORTS.items()}
    return [Finding(f"port {port} ({PORT_PURPOSE[field]})", not taken[field], "in use" if taken[field] else "free",
                    "none needed: `cluster up` picks another free port", required=False)
            for field, port in DEFAULT_PORTS.items()]


def _tool(machine: Machine, name: str, argv: list[str], package: str) -> Finding:
    code, output = machine.run(argv)
    found = _first_line(output) if code == 0 else f"{argv[0]} not found" if code == 127 else _first_line(output)
    return Finding(name, code == 0, found, f"apt-get install {package}", packages=(package,))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "no output")


def _gib(count: int) -> str:
    return f"{count / 2**30:.1f} GiB"


class HostMachine:
    """This machine, probed for real."""

    def run(self, argv: list[str], timeout: float = 60) -> tuple[int, str]:
        if shutil.which(argv[0]) is None:
            return 127, f"{argv[0]} not found"
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, f"`{' '.join(argv)}` did not end within {timeout:.0f} s"
        return result.returncode, result.stdout + result.stderr

    def engine(self) -> EngineFacts | str:
        import docker
        from docker.errors import DockerException

        try:
            client = docker.from_env(timeout=30)
            info = client.info()
            images = frozenset(tag for image in client.images.list() for tag in image.tags)
        except DockerException as error:
            return f"no Docker engine answers ({one_line(str(error), 160)})"
        return EngineFacts(info.get("ServerVersion", "?"), info.get("CgroupDriver", "?"),
                           str(info.get("CgroupVersion", "?")), info.get("DockerRootDir", "/var/lib/docker"),
                           images, _privileged(client, images))

    def listening(self, port: int) -> bool:
        return listening(port)

    def free_bytes(self, path: str) -> int | None:
        return shutil.disk_usage(path).free if Path(path).exists() else None

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def has_systemd(self) -> bool:
        return Path("/run/systemd/system").is_dir()


def _privileged(client, images: frozenset[str]) -> bool | None:
    """Whether the engine starts a --privileged container of a base image (some hosts lack a capability)."""
    from harness.dockerhost import ROLE_LABEL, accepts_privileged

    base = next((image for image in BASE_IMAGES if image in images), None)
    return None if base is None else accepts_privileged(client, base, {ROLE_LABEL: "doctor"})
