"""The ``chaos-harness`` command: the ``main`` group, its global options, and how any command's failure ends.

One module per command group; each imports only ``common.py`` and lists its ``COMMANDS``, which this module adds
to ``main`` (so nothing imports this package's ``__init__`` back, and there is no import circle).

Exit codes: 0 every expectation met, 1 an expectation failed, 2 invalid
input (a file, directory or option the user gave is unusable), 3 environment
or cluster problem, 4 the harness broke (a bug: one line on stderr, the
traceback in ``$CHAOS_HOME/crashes/``), 130 interrupted.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path

import click
from click.core import ParameterSource
from rich.markup import escape

from harness.cli import app, calibrate, cluster, faults, lint, project, repair, reports, runs
from harness.cli.common import console, ui
from harness.cluster import ClusterConfig
from harness.cluster.config import (ENGINES, LB_EXPOSURES, MAX_NODES, MIN_NODES, PROVIDERS, Target, check_name,
                                    default_workdir)
from harness.cluster.existing import NAMESPACE_RULE
from harness.errors import HarnessError, one_line

__all__ = ["main"]

EXIT_BROKE = 4
EXIT_INTERRUPTED = 130
_HOST_PORT = re.compile(r"[A-Za-z0-9.-]+:[0-9]{1,5}")


class _Harness(click.Group):
    """The top-level group: however a command fails, it ends in a message and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, BrokenPipeError):
            raise  # click's own handling (a closed pipe, as in `chaos-harness faults list | head`, included)
        except HarnessError as error:
            _fail(ctx, f"[red]error:[/] {escape(str(error))}", error.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "[red]interrupted[/]", EXIT_INTERRUPTED)
        except Exception as error:  # a bug: one line for the user, the traceback for the bug report
            ui.done()
            what = ": ".join(filter(None, (type(error).__name__, one_line(str(error)))))
            click.echo(f"error: the harness broke: {what} — traceback in {_crash_log(error)}", err=True)
            ctx.exit(EXIT_BROKE)


def _fail(ctx: click.Context, message: str, code: int) -> None:
    ui.done()
    console.print(message, highlight=False)
    ctx.exit(code)


def _crash_log(error: Exception) -> Path | str:
    """Write the command line and traceback to ``$CHAOS_HOME/crashes/`` (else the temp directory); its path."""
    text = (f"chaos-harness {' '.join(sys.argv[1:])}\nPython {sys.version.split()[0]}, {datetime.now():%c}\n\n"
            + "".join(traceback.format_exception(error)))
    name = f"crash-{datetime.now():%Y%m%d-%H%M%S-%f}-{os.getpid()}.log"
    for directory in (default_workdir() / "crashes", Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text, encoding="utf-8", errors="backslashreplace")
            return directory / name
        except OSError:
            continue
    sys.stderr.write(text)
    return "the lines above (no directory to write it to)"


def _cluster_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--cluster``: it becomes a directory, a label and container names, so only a plain name will do."""
    try:
        return check_name(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group(cls=_Harness)
@click.version_option(package_name="chaos-harness", prog_name="chaos-harness", message="%(prog)s %(version)s")
@click.option("--cluster", "cluster_name", default="chaos", show_default=True, callback=_cluster_name,
              envvar="CHAOS_CLUSTER", show_envvar=True,
              help="Cluster name (its label): a lowercase letter, then up to 30 lowercase letters, digits or dashes.")
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(MIN_NODES, MAX_NODES), help="Nodes for `cluster up`.")
@click.option("--managers", default=1, show_default=True, type=click.IntRange(1, MAX_NODES - 1),
              help="Swarm managers for `cluster up` (3: losing one is a scenario; role standby-manager).")
@click.option("--provider", default="docker", show_default=True, type=click.Choice(PROVIDERS),
              help="docker: node containers on this machine; libvirt, virtualbox: Vagrant VMs; ssh: hosts of --inventory; "
                   "existing: your Kubernetes cluster (--kubeconfig).")
@click.option("--engine", default="swarm", show_default=True, type=click.Choice(ENGINES), envvar="CHAOS_ENGINE",
              show_envvar=True, help="What `cluster up` forms on the nodes: a Docker Swarm, or Kubernetes.")
@click.option("--inventory", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="With --provider ssh: the hosts (see the README's Real hosts).")
@click.option("--kubeconfig", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="With --provider existing: the kubeconfig that reaches your cluster.")
@click.option("--context", "kube_context", default="", help="With --provider existing: the kubeconfig's context "
              "(default: its current one).")
@click.option("--registry", default="", metavar="HOST:PORT",
              help="With --provider existing: the registry your cluster pulls from, as this machine pushes to it.")
@click.option("--registry-as", default="", metavar="HOST:PORT",
              help="With --provider existing: the registry's name as the cluster's nodes pull from it, when it differs.")
@click.option("--namespace", default="", metavar="NAME", help="With --provider existing: the harness's namespaces "
              "are NAME, NAME-green and NAME-faults (default: chaos, ...); it creates them and deletes them again.")
@click.option("--i-own-this-cluster", "owned", is_flag=True,
              help="With --provider existing: run on a cluster not marked as a test cluster (recorded in each run).")
@click.option("--lb-node", default="", metavar="NODE", help="With --provider existing: the node the load balancer "
              "runs on (default: the first schedulable one, by name, it fits on).")
@click.option("--lb-expose", type=click.Choice(LB_EXPOSURES), default=None,
              help="With --provider existing: how this machine reaches the load balancer at its node's address: host "
                   "ports 8080 and 9999 (default: hostport), or two NodePorts (where Pod Security forbids host ports).")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary tables; errors and --json output only.")
@click.pass_context
def main(ctx: click.Context, cluster_name: str, nodes: int, managers: int, provider: str, engine: str,
         inventory: Path | None, kubeconfig: Path | None, kube_context: str, registry: str, registry_as: str,
         namespace: str, owned: bool, lb_node: str, lb_expose: str | None, quiet: bool) -> None:
    """Chaos and failure scenarios for container upgrades on a real Docker Swarm or Kubernetes cluster."""
    target = _target(kubeconfig, kube_context, registry, registry_as, namespace, owned, lb_node, lb_expose)
    given = ctx.get_parameter_source("engine") not in (None, ParameterSource.DEFAULT)
    ctx.obj = ClusterConfig(name=cluster_name, nodes=nodes, managers=managers, provider=provider, inventory=inventory,
                            engine=engine, target=target, engine_given=given)
    ui.quiet = quiet


def _target(kubeconfig: Path | None, context: str, registry: str, registry_as: str, namespace: str,
            owned: bool, lb_node: str, lb_expose: str | None) -> Target | None:
    """The existing cluster the options name; None without any of them."""
    if kubeconfig is None and not (context or registry or registry_as or namespace or owned):
        if lb_node or lb_expose:
            raise click.UsageError("--lb-node and --lb-expose place the load balancer on an existing cluster: give "
                                   "--provider existing --kubeconfig FILE --registry HOST:PORT too")
        return None
    if namespace and not NAMESPACE_RULE.fullmatch(namespace):
        raise click.BadParameter(f"{namespace!r}: lowercase letters, digits and dashes, at most 56, starting and "
                                 "ending with a letter or digit (it gets -green and -faults)", param_hint="--namespace")
    if kubeconfig is None or not registry:
        raise click.UsageError("--provider existing needs both --kubeconfig FILE and --registry HOST:PORT")
    for option, value in (("--registry", registry), ("--registry-as", registry_as)):
        if value and not _HOST_PORT.fullmatch(value):
            raise click.BadParameter(f"{value!r}: give HOST:PORT, as a registry is named in an image", param_hint=option)
    return Target(str(kubeconfig.resolve()), registry, registry_as, context, owned, namespace, lb_node,
                  lb_expose or LB_EXPOSURES[0])


for _group in (cluster, runs, reports, calibrate, repair, app, faults, project, lint):
    for _command in _group.COMMANDS:
        main.add_command(_command)
