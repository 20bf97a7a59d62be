"""Images and the cluster: ``setup``, ``doctor``, ``cluster up/status/down`` and ``down``."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from harness.cli.common import console, progress, ui
from harness.cluster import Cluster, ClusterConfig
from harness.cluster.fingerprint import FingerprintRecord
from harness.engine.base import NodeInfo
from harness.errors import EnvironmentProblem, HarnessError


@click.command()
@click.option("--no-images", is_flag=True, help="Install and start what is missing, but build no image.")
@click.pass_obj
def setup(config: ClusterConfig, no_images: bool) -> None:
    """Install what `doctor` finds missing, start the Docker engine, then build every image the harness needs
    (with `--engine kubernetes` also Kubernetes, built from source once per user: about ten minutes).

    Debian packages come from apt-get (as root, or through `sudo -n`); with `--provider libvirt` also Vagrant's
    libvirt plugin and the libvirt daemon. What is there is left alone, and unchanged images are kept."""
    from harness.app import DEFAULT_PROFILE, App, load_profile
    from harness.build import HARNESS_IMAGES, ImageBuilder
    from harness.doctor import HostMachine, failing
    from harness.dockerhost import host_docker
    from harness.install import set_up

    findings = set_up(HostMachine(), config.provider, progress)
    if missing := failing(findings):
        ui.show(_findings_table(findings, config.provider))
        raise EnvironmentProblem(f"still missing after setup: {', '.join(f.name for f in missing)} (see the table)")
    progress("this machine has what the harness needs")
    if no_images:
        return
    progress("building images (unchanged images are kept)")
    builder = ImageBuilder(host_docker(), progress)
    for spec in HARNESS_IMAGES:
        builder.build(spec)
    if config.engine == "kubernetes":
        from harness.engine.kubernetes.binaries import build_all
        from harness.engine.kubernetes.images import KUBERNETES_IMAGES
        for spec in KUBERNETES_IMAGES:
            builder.build(spec)
        build_all(progress)  # and the tools that render an app profile's objects (helm)
    App.prepare(load_profile(DEFAULT_PROFILE), builder, ["old", "new", "broken"])
    progress("images ready")


@click.command()
@click.pass_obj
def doctor(config: ClusterConfig) -> None:
    """Check what this machine has for the harness: a table of what is missing and what brings it.

    The Docker engine, Vagrant (with `--provider libvirt` its plugin and libvirtd; `virtualbox`: VBoxManage), Go,
    debootstrap, iptables and the kernel's matches the faults use, disk space for images, the default ports; with
    `--provider existing`, the cluster (it answers, is marked as a test cluster, has room) and the registry. Exits 1 when something required is missing: `chaos-harness setup` installs it."""
    from harness.doctor import HostMachine, diagnose, failing

    findings = diagnose(HostMachine(), config.provider, config.engine, config.target)
    ui.show(_findings_table(findings, config.provider))
    if missing := failing(findings):
        progress(f"missing: {', '.join(f.name for f in missing)}; `chaos-harness setup` installs what a Debian "
                 "package brings")
        sys.exit(1)
    progress("all set")


def _findings_table(findings, provider: str):
    from harness.report.terminal import text_table

    def mark(finding) -> str:
        if finding.ok:
            return "[green]ok[/]"
        if finding.ok is None:
            return "[yellow]not checked[/]"
        return "[red]MISSING[/]" if finding.required else "[yellow]note[/]"

    return text_table(f"this machine, for the {provider} provider", ("check", "", "found", "what brings it"),
                      [[f.name, mark(f), escape(f.found), "" if f.ok else escape(f.fix)] for f in findings])


@click.group()
def cluster() -> None:
    """Bring the cluster up, look at it, take it down."""


@cluster.command("up")
@click.pass_obj
def cluster_up(config: ClusterConfig) -> None:
    """Start nodes, registries and the engine: a Swarm, or Kubernetes (idempotent)."""
    state = Cluster(config, progress).up()
    progress(f"cluster {state.name} up: {', '.join(f'{n} {state.node_ips[n]}' for n in state.nodes)}; "
             f"load balancer on {state.endpoints['lb']}")


@cluster.command("status")
@click.pass_obj
def cluster_status(config: ClusterConfig) -> None:
    """Nodes as their provider and the swarm see them, and whether the harness can log in to each running one.

    A host whose SSH host key changed since the cluster came up says ``key changed`` and what to do; a node the
    harness cannot log in to, or a swarm it cannot read, makes the exit code 1.
    """
    import paramiko

    def login_problem(node: str) -> str | None:
        try:
            handle.exec(node, ["true"])
        except HarnessError as error:
            changed = isinstance(error.__cause__, paramiko.BadHostKeyException)
            return f"{'key changed' if changed else 'cannot log in'}: {error}"
        return None

    handle = Cluster(config)
    states = handle.node_states()
    problems = {node: problem for node, state in states.items()  # an existing cluster's are reached by its API only
                if state == "running" and handle.reaches_nodes() and (problem := login_problem(node)) is not None}
    engine = handle.state.engine  # swarm or kubernetes
    seen = {}
    try:
        seen = {n.hostname: n for n in handle.engine.nodes()} if "running" in states.values() else {}
    except HarnessError as error:
        problems[engine] = f"not read: {error}"
    for node, state in states.items():
        info = seen.get(node)
        detail = f"{engine} {_in_words(info)} {info.labels}" if info else f"not in {engine}"
        click.echo(f"{node}\t{state}\t{problems.get(node, detail)}")
    if engine in problems:
        click.echo(f"{engine}\t{problems[engine]}")
    click.echo("ports\t" + " ".join(f"{part}={where}" for part, where in handle.state.endpoints.items()))
    if engine == "kubernetes":
        context = f" --context {handle.target.context}" if handle.target and handle.target.context else ""
        click.echo(f"kubeconfig\t{handle.kubeconfig}  (kubectl --kubeconfig {handle.kubeconfig}{context} get nodes)")
    if problems:
        sys.exit(1)


def _down(config: ClusterConfig, keep_data: bool, accept_differences: bool) -> None:
    teardown = Cluster(config, progress).down(keep_data=keep_data, accept_differences=accept_differences)
    for item in teardown.removed:
        progress(f"removed {item}")
    for problem in teardown.not_undone:
        console.print(f"[red]✗[/] not undone: {problem}")
    for difference in teardown.differences:
        console.print(f"[red]✗[/] not as before: {difference}")
    if teardown.not_undone:
        console.print(f"The cluster's state is kept. Once the cause is gone (a host that did not answer, a container "
                      f"still stopping), run `chaos-harness --cluster {config.name} down` again: it does only what "
                      "is left.")
    elif teardown.differences and not accept_differences:
        console.print("The cluster's state is kept: put back what differs and run `down` again, or run "
                      "`down --accept-differences` to remove the state with the differences left as they are.")
    if teardown.not_undone or (teardown.differences and not accept_differences):
        sys.exit(1)
    if teardown.complete and not teardown.removed:
        progress(f"cluster {config.name} has nothing to take down")
    elif teardown.complete and FingerprintRecord.load(config.fingerprint_file) is not None:
        progress("every host and this machine are as they were before the cluster came up (fingerprints match); "
                 f"the fingerprints from before stay in {config.fingerprint_file}, for `audit` to compare again")


def _in_words(node: NodeInfo) -> str:
    """A node's state, availability and role in its engine's words (Swarm's are the harness's own)."""
    return node.shown or f"{node.state}/{node.availability} {node.role}"


def _down_options(command):
    command = click.option("--keep-data", is_flag=True,
                           help="Keep the stack's data volumes on the hosts (removed by default).")(command)
    return click.option("--accept-differences", is_flag=True,
                        help="Remove the cluster's state although a host differs from its fingerprint.")(command)


@cluster.command("down")
@_down_options
@click.pass_obj
def cluster_down(config: ClusterConfig, keep_data: bool, accept_differences: bool) -> None:
    """Undo everything the cluster did and prove it: hosts compared with their fingerprints (exit 1 if not)."""
    _down(config, keep_data, accept_differences)


@click.command("down")
@_down_options
@click.pass_obj
def down(config: ClusterConfig, keep_data: bool, accept_differences: bool) -> None:
    """Same as `cluster down`."""
    _down(config, keep_data, accept_differences)


COMMANDS = (setup, doctor, cluster, down)
