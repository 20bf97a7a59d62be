"""App profiles: ``app init`` writes one for a compose file, ``app check`` tries one on the cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness.cli.common import APP, checked_profile, engines_of, prepared, progress, ui
from harness.cluster import Cluster, ClusterConfig
from harness.errors import UsageError


@click.group("app")
def app_group() -> None:
    """App profiles: the stack under test."""


@app_group.command("init")
@click.argument("source", metavar="COMPOSE_FILE|KUBERNETES_DIR", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the profile (default: chaos-app.yaml beside the compose file, or beside the "
                   "Kubernetes directory); never over a file that exists.")
def app_init(source: Path, output: Path | None) -> None:
    """Write a starting profile for a compose file, or for Kubernetes objects (a Helm chart, a kustomization or a
    directory of manifests), with what to fill in said in comments."""
    from harness.app.init import starting_profile
    from harness.files import create_text

    output = output or source.resolve().parent / "chaos-app.yaml"
    text = starting_profile(source, output)
    create_text(output, text, UsageError)
    progress(f"wrote {output}: fill in the TODOs, then `chaos-harness app check {output}`")


@app_group.command("check")
@click.argument("profile", type=APP)
@click.pass_obj
def app_check(config: ClusterConfig, profile: Path) -> None:
    """Deploy the profile's old release, send a few requests and show which release answered each; then remove it."""
    from harness.app.check import check

    checked = checked_profile(profile, [], engines_of(config, None))
    handle = Cluster(config, progress)
    app = prepared(checked, [], handle)
    handle.up()
    checked = check(handle, app, progress=progress)
    ui.done()
    for answer in checked.answers:
        who = f"release {answer.release} on {answer.node} ({answer.server})" if answer.attributed else (
            f"NOT ATTRIBUTED (server {answer.server or 'not named'})")
        verdict = "check passed" if answer.passed else f"CHECK FAILED: {answer.reason}"
        click.echo(f"{answer.request:<40} {answer.status or 'no answer'!s:<10} {verdict:<40} {who}")
    if checked.control is not None:
        for label, read in zip(("a write just made", "a write never made"), checked.control):
            click.echo(f"{'read-back of ' + label:<40} {read.status or 'no answer'!s:<10} {read.outcome}")
        progress("the read-back tells a lost write from a stored one")
    attributed, passed = (sum(a.attributed for a in checked.answers), sum(a.passed for a in checked.answers))
    progress(f"{passed} of {len(checked.answers)} answers passed their check, {attributed} attributed to a release")
    sys.exit(0 if attributed == passed == len(checked.answers) else 1)


COMMANDS = (app_group,)
