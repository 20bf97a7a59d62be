"""doctor's checks and setup's installs on a fake machine: what is found, what fails, what setup runs."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness import doctor
from harness.cli import main
from harness.doctor import MIN_FREE_BYTES, EngineFacts, Finding, diagnose, failing
from harness.errors import EnvironmentProblem
from harness.install import set_up

ENGINE = EngineFacts("20.10.24", "cgroupfs", "1", "/var/lib/docker", frozenset({"chaos-harness/debian:bookworm"}))
TOOLS = {"docker": "Docker version 28.2.2", "dockerd": "Docker version 20.10.24", "vagrant": "Vagrant 2.3.4", "go": "go version go1.26.8",
         "debootstrap": "debootstrap 1.0.128", "iptables": "iptables v1.8.9 (nf_tables)", "unshare": "",
         "sh": "", "systemctl": "", "env": ""}
PACKAGE_TOOLS = {"docker.io": ("docker", "dockerd"), "vagrant": ("vagrant",), "golang-go": ("go",),
                 "debootstrap": ("debootstrap",), "iptables": ("iptables",), "vagrant-libvirt": ("vagrant-libvirt",),
                 "libvirt-daemon-system": ("virsh", "libvirtd")}


class FakeMachine:
    """A machine with the tools named, an engine that answers or not; records every command it is given.

    apt-get install makes its packages' tools appear; starting dockerd (or the docker unit) makes the engine
    answer; starting libvirtd makes virsh answer."""

    def __init__(self, tools: dict[str, str] | None = None, engine: EngineFacts | str = ENGINE, root: bool = True,
                 sudo: bool = False, systemd: bool = False, taken: tuple[int, ...] = (),
                 free: int = 100 * 2**30, kernel_refuses: tuple[str, ...] = ()) -> None:
        self.tools = dict(TOOLS if tools is None else tools)
        self.engine_facts, self.root, self.sudo, self.systemd = engine, root, sudo, systemd
        self.taken, self.free, self.kernel_refuses = taken, free, kernel_refuses
        self.libvirtd = False
        self.ran: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 60) -> tuple[int, str]:
        self.ran.append(argv)
        if argv[:3] == ["sudo", "-n", "true"]:
            return (0, "") if self.sudo else (1, "sudo: a password is required")
        if argv[0] == "sudo":
            argv = argv[2:]
        if argv[0] not in self.tools:
            return 127, f"{argv[0]} not found"
        if "install" in argv:
            for package in argv[argv.index("--no-install-recommends") + 1:]:
                self.tools.update(dict.fromkeys(PACKAGE_TOOLS[package], f"{package} 1.0"))
        if argv[-1].startswith("nohup dockerd") or argv == ["systemctl", "start", "docker"]:
            self.engine_facts = ENGINE
        if "nohup libvirtd" in argv[-1]:
            self.libvirtd = True
        if argv[0] == "unshare":
            refused = next((m for m in self.kernel_refuses if m in argv), None)
            return (2, f"iptables: Couldn't load match `{refused}'") if refused else (0, "")
        if argv[:3] == ["vagrant", "plugin", "list"]:
            return 0, "vagrant-libvirt (0.11.2, system)" if "vagrant-libvirt" in self.tools else "No plugins installed."
        if argv[0] == "virsh":
            return (0, "qemu:///system") if self.libvirtd else (1, "error: failed to connect to the hypervisor")
        return 0, self.tools[argv[0]]

    def engine(self) -> EngineFacts | str:
        return self.engine_facts

    def listening(self, port: int) -> bool:
        return port in self.taken

    def free_bytes(self, path: str) -> int | None:
        return self.free

    def is_root(self) -> bool:
        return self.root

    def has_systemd(self) -> bool:
        return self.systemd


def by_name(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.name: finding for finding in findings}


def test_a_machine_with_everything_has_nothing_failing_and_names_what_it_found():
    findings = by_name(diagnose(FakeMachine()))
    assert failing(list(findings.values())) == []
    assert findings["Docker engine"].found == ("20.10.24, cgroup v1 (cgroupfs driver), --privileged not tried "
                                               "(no base image yet)")
    assert findings["Vagrant"].found == "Vagrant 2.3.4"
    assert findings["kernel: iptables statistic match"].ok is True


def test_no_engine_fails_and_names_the_package_and_the_daemon_setup_brings():
    no_dockerd = {k: v for k, v in TOOLS.items() if k not in ("docker", "dockerd")}
    engine = by_name(diagnose(FakeMachine(no_dockerd, engine="no Docker engine answers")))["Docker engine"]
    assert engine.failing
    assert (engine.packages, engine.daemon) == (("docker.io",), "docker")
    assert "apt-get install docker.io, then starts dockerd" in engine.fix
    stopped = by_name(diagnose(FakeMachine(engine="no Docker engine answers")))["Docker engine"]
    assert (stopped.failing, stopped.packages, stopped.daemon) == (True, (), "docker")  # an engine of its own: kept


def test_doctor_prints_the_table_and_exits_1_when_something_required_is_missing(monkeypatch):
    machine = FakeMachine(tools={k: v for k, v in TOOLS.items() if k != "vagrant"})
    monkeypatch.setattr(doctor, "HostMachine", lambda: machine)
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 1, result.output
    assert "MISSING" in result.output and "apt-get install vagrant" in result.output
    assert "missing: Vagrant" in result.output
    monkeypatch.setattr(doctor, "HostMachine", lambda: FakeMachine())
    assert CliRunner().invoke(main, ["doctor"]).exit_code == 0


def test_debootstrap_is_not_needed_once_a_base_image_is_there():
    tools = {k: v for k, v in TOOLS.items() if k != "debootstrap"}
    assert by_name(diagnose(FakeMachine(tools=tools)))["debootstrap"].ok is True
    bare = EngineFacts("20.10.24", "systemd", "2", "/var/lib/docker", frozenset())
    missing = by_name(diagnose(FakeMachine(tools=tools, engine=bare)))["debootstrap"]
    assert missing.failing and missing.packages == ("debootstrap",)


def test_a_kernel_without_the_statistic_match_fails_and_without_root_it_is_not_tried():
    refused = by_name(diagnose(FakeMachine(kernel_refuses=("statistic",))))
    assert refused["kernel: iptables statistic match"].failing
    assert "xt_statistic" in refused["kernel: iptables statistic match"].fix
    assert refused["kernel: iptables comment match"].ok is True
    unprivileged = by_name(diagnose(FakeMachine(root=False)))["kernel: iptables statistic match"]
    assert unprivileged.ok is None and not unprivileged.failing


def test_the_kernel_probe_runs_in_a_network_namespace_of_its_own():
    machine = FakeMachine()
    diagnose(machine)
    probes = [argv for argv in machine.ran if "iptables" in argv and "-A" in argv]
    assert probes and all(argv[:2] == ["unshare", "--net"] for argv in probes)


def test_a_default_port_in_use_is_a_note_and_too_little_disk_fails():
    findings = by_name(diagnose(FakeMachine(taken=(18080,), free=MIN_FREE_BYTES - 1)))
    port = findings["port 18080 (load balancer)"]
    assert (port.ok, port.failing, port.found) == (False, False, "in use")
    assert findings["disk for images"].failing and "10.0 GiB" in findings["disk for images"].fix


def test_the_provider_decides_which_tools_are_checked():
    names = lambda provider: [f.name for f in diagnose(FakeMachine(), provider)]  # noqa: E731
    assert {"Vagrant", "Docker client"} <= set(names("docker"))
    assert {"vagrant-libvirt plugin", "libvirt daemon"} <= set(names("libvirt"))
    assert "VirtualBox" in names("virtualbox")
    assert "Vagrant" not in names("ssh")


def test_setup_on_a_complete_machine_runs_no_install_and_starts_nothing():
    machine = FakeMachine()
    assert failing(set_up(machine)) == []
    assert [argv for argv in machine.ran if {"apt-get", "sh", "systemctl"} & set(argv)] == []


def test_setup_installs_the_missing_packages_in_one_apt_run_and_starts_the_engine():
    machine = FakeMachine(tools={k: v for k, v in TOOLS.items() if k not in ("docker", "dockerd", "vagrant", "go")},
                          engine="no Docker engine answers")
    findings = set_up(machine)
    assert failing(findings) == []
    installs = [argv for argv in machine.ran if "install" in argv]
    assert installs == [["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q",
                         "--no-install-recommends", "docker.io", "vagrant", "golang-go"]]
    assert ["sh", "-c", "nohup dockerd >>/var/log/chaos-harness-dockerd.log 2>&1 &"] in machine.ran


def test_setup_starts_daemons_through_systemd_where_it_runs_and_through_sudo_when_not_root():
    machine = FakeMachine(engine="no Docker engine answers", root=False, sudo=True, systemd=True)
    set_up(machine)
    assert ["sudo", "-n", "systemctl", "start", "docker"] in machine.ran


def test_setup_without_root_or_sudo_says_what_to_run():
    machine = FakeMachine(tools={k: v for k, v in TOOLS.items() if k != "go"}, root=False)
    with pytest.raises(EnvironmentProblem, match="installing golang-go needs root.*apt-get update"):
        set_up(machine)


def test_setup_for_libvirt_installs_the_plugin_and_starts_libvirtd():
    machine = FakeMachine()
    assert failing(set_up(machine, "libvirt")) == []
    assert any(argv[-2:] == ["vagrant-libvirt", "libvirt-daemon-system"] for argv in machine.ran)
    assert machine.libvirtd
    assert ["sh", "-c", "mkdir -p /var/log/libvirt /var/run/libvirt && nohup libvirtd "
                        ">>/var/log/chaos-harness-libvirtd.log 2>&1 &"] in machine.ran


def test_setup_command_exits_3_naming_what_no_package_brings(monkeypatch):
    monkeypatch.setattr(doctor, "HostMachine", lambda: FakeMachine())
    assert CliRunner().invoke(main, ["setup", "--no-images"]).exit_code == 0
    result = CliRunner().invoke(main, ["--provider", "virtualbox", "setup", "--no-images"])
    assert result.exit_code == 3, result.output
    assert "still missing after setup: VirtualBox" in result.output


@pytest.mark.parametrize("refusal", [None, "the cluster of k is not marked as a test cluster"])
def test_for_an_existing_cluster_doctor_checks_the_cluster_not_this_machines_cluster_parts(monkeypatch, refusal):
    """No Vagrant, Go, ports or Kubernetes builds: the images are built and pushed here, the cluster is the user's."""
    from harness.cluster import existing
    from harness.cluster.config import Target
    from harness.errors import UsageError

    def examine(target):
        if refusal:
            raise UsageError(refusal)
        return existing.Facts({"node1": "10.0.0.1", "node2": "10.0.0.2"}, None, "--i-own-this-cluster")
    monkeypatch.setattr(existing, "examine", examine)
    found = {f.name: f for f in diagnose(FakeMachine(), "existing", "kubernetes", Target("k", "r:5000"))}
    assert list(found) == ["Docker engine", "debootstrap", "disk for images", "your Kubernetes cluster"]
    cluster = found["your Kubernetes cluster"]
    assert cluster.ok is (refusal is None) and (refusal or "node1, node2") in cluster.found
