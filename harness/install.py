"""``chaos-harness setup``'s work on this machine: what ``doctor`` finds missing, installed or started.

Debian packages come from apt-get, as root or through ``sudo -n``; a Docker engine or libvirt daemon that does
not answer is started, through systemd where it runs the machine, else in the background with its log under
``/var/log``. What is there already is left alone, so a second setup changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.doctor import Finding, Machine, diagnose, docker_engine, failing, libvirt_daemon
from harness.errors import EnvironmentProblem, one_line
from harness.waiting import wait_until

__all__ = ["DAEMONS", "Daemon", "as_root", "set_up"]

Progress = Callable[[str], None]
APT_TIMEOUT = 1800.0  # seconds for one apt-get command (a fresh machine downloads a few hundred MB)
START_TIMEOUT = 60.0  # seconds a started daemon has to answer


@dataclass(frozen=True)
class Daemon:
    """A daemon ``setup`` starts when it does not answer: its program, its systemd unit, where its log goes when
    started without systemd (and the directories it expects then), and the check that tells it answers."""

    program: str
    unit: str
    log: str
    answers: Callable[[Machine], bool]
    directories: tuple[str, ...] = ()


DAEMONS = {
    "docker": Daemon("dockerd", "docker", "/var/log/chaos-harness-dockerd.log",
                     lambda machine: bool(docker_engine(machine, machine.engine()).ok)),
    "libvirt": Daemon("libvirtd", "libvirtd", "/var/log/chaos-harness-libvirtd.log",
                      lambda machine: bool(libvirt_daemon(machine).ok), ("/var/log/libvirt", "/var/run/libvirt")),
}


def set_up(machine: Machine, provider: str = "docker", progress: Progress = lambda _: None) -> list[Finding]:
    """Install the packages and start the daemons the failing findings name; the findings after that."""
    findings = diagnose(machine, provider)
    packages = list(dict.fromkeys(package for finding in failing(findings) for package in finding.packages))
    if packages:
        install_packages(machine, packages, progress)
        findings = diagnose(machine, provider)
    daemons = list(dict.fromkeys(f.daemon for f in failing(findings) if f.daemon is not None))
    for name in daemons:
        start_daemon(machine, DAEMONS[name], progress)
    return diagnose(machine, provider) if daemons else findings


def install_packages(machine: Machine, packages: list[str], progress: Progress) -> None:
    """``apt-get install`` the packages (after ``apt-get update``); EnvironmentProblem with apt's last words."""
    progress(f"installing {' '.join(packages)} (apt-get)")
    apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    for argv in ([*apt, "update", "-q"], [*apt, "install", "-y", "-q", "--no-install-recommends", *packages]):
        code, output = machine.run(as_root(machine, argv, f"installing {' '.join(packages)}"), APT_TIMEOUT)
        if code != 0:
            raise EnvironmentProblem(f"`{' '.join(argv[2:])}` failed (exit {code}): {one_line(output[-800:], 800)}")


def start_daemon(machine: Machine, daemon: Daemon, progress: Progress) -> None:
    """Start ``daemon`` and wait until it answers; WaitTimeout naming its log when it does not."""
    if machine.has_systemd():
        progress(f"starting {daemon.unit} (systemctl)")
        argv, log = ["systemctl", "start", daemon.unit], f"`journalctl -u {daemon.unit}`"
    else:
        progress(f"starting {daemon.program} (log: {daemon.log})")
        made = f"mkdir -p {' '.join(daemon.directories)} && " if daemon.directories else ""
        argv, log = ["sh", "-c", f"{made}nohup {daemon.program} >>{daemon.log} 2>&1 &"], daemon.log
    code, output = machine.run(as_root(machine, argv, f"starting {daemon.program}"))
    if code != 0:
        raise EnvironmentProblem(f"{daemon.program} cannot be started (exit {code}): {one_line(output, 400)}")
    wait_until(lambda: daemon.answers(machine), timeout=START_TIMEOUT, interval=1.0,
               what=f"{daemon.program} to answer", hint=f"See {log}.")


def as_root(machine: Machine, argv: list[str], what: str) -> list[str]:
    """``argv`` as root: as it is when the harness is root, else through ``sudo -n`` (no password prompt);
    EnvironmentProblem saying what to run when neither works."""
    if machine.is_root():
        return argv
    if machine.run(["sudo", "-n", "true"])[0] == 0:
        return ["sudo", "-n", *argv]
    raise EnvironmentProblem(f"{what} needs root: run `sudo chaos-harness setup`, or `sudo -v` first so that "
                             "sudo asks no password, or run as root: " + " ".join(argv))
