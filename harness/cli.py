"""The ``chaos-harness`` command.

Exit codes: 0 every expectation met, 1 an expectation failed, 2 invalid
input, 3 environment or cluster problem, 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
import time
from pathlib import Path

import click
from rich.console import Console

from harness.cluster import Cluster, ClusterConfig
from harness.errors import ClusterError, HarnessError
from harness.app import DEFAULT_PROFILE
from harness.scenario import STRATEGIES

console = Console(stderr=True)
DEFAULT_REPORTS = Path("reports")


def _fails_cleanly(command):
    """Turn a HarnessError into its message and exit code."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except HarnessError as error:
            console.print(f"[red]error:[/] {error}", highlight=False)
            sys.exit(error.exit_code)
    return wrapper


class _Output:
    """Progress on stderr: a line per step, and one live status line that is replaced as it changes.

    On a terminal the live line is a spinner; in a log (CI) it is printed at
    most every ``LOG_EVERY`` seconds. ``--quiet`` silences both.
    """

    LOG_EVERY = 10.0

    def __init__(self) -> None:
        self.quiet = False
        self._status = None
        self._logged_at = 0.0

    def step(self, message: str) -> None:
        if not self.quiet:
            console.print(f"[dim]·[/] {message}", highlight=False)

    def live(self, message: str) -> None:
        if self.quiet:
            return
        if not console.is_terminal:
            if time.monotonic() - self._logged_at >= self.LOG_EVERY:
                self._logged_at = time.monotonic()
                console.print(f"[dim]  {message}[/]", highlight=False)
            return
        if self._status is None:
            self._status = console.status(message)
            self._status.start()
        self._status.update(message)

    def done(self) -> None:
        """End the live line (before a summary is printed)."""
        if self._status is not None:
            self._status.stop()
            self._status = None

    def show(self, renderable) -> None:
        self.done()
        if not self.quiet:
            console.print(renderable)


_output = _Output()
_progress = _output.step


@click.group()
@click.option("--cluster", "cluster_name", default="chaos", show_default=True, help="Cluster name (its label).")
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(2, 9), help="Nodes for `cluster up`.")
@click.option("--provider", default="docker", show_default=True, type=click.Choice(["docker", "libvirt", "virtualbox"]))
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary tables; errors and --json output only.")
@click.pass_context
def main(ctx: click.Context, cluster_name: str, nodes: int, provider: str, quiet: bool) -> None:
    """Chaos and failure scenarios for container upgrades on a real Swarm cluster."""
    ctx.obj = ClusterConfig(name=cluster_name, nodes=nodes, provider=provider)
    _output.quiet = quiet


@main.command()
@click.pass_obj
@_fails_cleanly
def setup(config: ClusterConfig) -> None:
    """Build every image the harness needs (skips what is already built)."""
    from harness.app import DEFAULT_PROFILE, App, load_profile
    from harness.build import HARNESS_IMAGES, ImageBuilder
    from harness.dockerhost import host_docker

    builder = ImageBuilder(host_docker(), _progress)
    for spec in HARNESS_IMAGES:
        builder.build(spec)
    App.prepare(load_profile(DEFAULT_PROFILE), builder, ["old", "new", "broken"])
    _progress("images ready")


@main.command()
@_fails_cleanly
def doctor() -> None:
    """Check that the tools the harness needs are present and working."""
    from harness.dockerhost import host_docker

    problems = [f"{tool} is not installed" for tool in ("vagrant", "debootstrap") if shutil.which(tool) is None]
    try:
        version = host_docker().version()["Version"]
        _progress(f"Docker engine {version} answers")
    except HarnessError as error:
        problems.append(str(error))
    for problem in problems:
        console.print(f"[red]✗[/] {problem}")
    if problems:
        sys.exit(3)
    _progress("all set")


@main.group()
def cluster() -> None:
    """Bring the cluster up, look at it, take it down."""


@cluster.command("up")
@click.pass_obj
@_fails_cleanly
def cluster_up(config: ClusterConfig) -> None:
    """Start nodes, registry and swarm (idempotent)."""
    state = Cluster(config, _progress).up()
    _progress(f"cluster {state.name} up: {', '.join(f'{n} {state.node_ips[n]}' for n in state.nodes)}; "
              f"load balancer on 127.0.0.1:{state.lb_port}")


@cluster.command("status")
@click.pass_obj
@_fails_cleanly
def cluster_status(config: ClusterConfig) -> None:
    """Nodes as Vagrant and as the swarm see them."""
    handle = Cluster(config)
    vagrant_states = handle.node_states()
    swarm = {n.hostname: n for n in handle.engine.nodes()} if "running" in vagrant_states.values() else {}
    for node, state in vagrant_states.items():
        info = swarm.get(node)
        detail = f"swarm {info.state}/{info.availability} {info.role} {info.labels}" if info else "not in swarm"
        click.echo(f"{node}\t{state}\t{detail}")


def _down(config: ClusterConfig) -> None:
    for item in Cluster(config, _progress).down():
        _progress(f"removed {item}")


@cluster.command("down")
@click.pass_obj
@_fails_cleanly
def cluster_down(config: ClusterConfig) -> None:
    """Remove everything this cluster's label names, and nothing else."""
    _down(config)


@main.command("down")
@click.pass_obj
@_fails_cleanly
def down(config: ClusterConfig) -> None:
    """Same as `cluster down`."""
    _down(config)


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--app", "app_path", type=click.Path(path_type=Path),
              help="Also check an app profile and that it has the releases the scenarios ask for.")
@_fails_cleanly
def validate(scenarios: tuple[Path, ...], app_path: Path | None) -> None:
    """Check scenario files (and an app profile) without touching anything."""
    from harness.scenario import load_scenario

    loaded = []
    for path in scenarios:
        loaded.append(load_scenario(path))
        _progress(f"{path}: valid")
    if app_path is not None:
        _checked_profile(app_path, loaded)
        _progress(f"{app_path}: valid")


def _app_option(function):
    return click.option("--app", "app_path", default=DEFAULT_PROFILE, show_default="apps/demo.yaml",
                        type=click.Path(path_type=Path), help="App profile: the stack to upgrade.")(function)


def _checked_profile(path: Path, scenarios):
    """The profile validated against the scenarios' releases, its notes shown; nothing touched."""
    from harness.app import load_profile

    profile = load_profile(path)
    for name in {name for s in scenarios for name in s.stack.releases}:
        profile.release_name(name)  # raises ProfileError for a release the profile lacks
    for warning in profile.warnings:
        _progress(f"[yellow]note[/]: {profile.model.compose}: {warning}")
    return profile


def _prepared(profile, scenarios, cluster: Cluster):
    """The profile's images found or built on this host (before the cluster starts)."""
    from harness.app import App

    return App.prepare(profile, cluster.builder, [name for s in scenarios for name in s.stack.releases])


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@_app_option
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help="For scenarios that leave strategy.kind open (default in-service).")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report documents as JSON on stdout.")
@click.pass_obj
@_fails_cleanly
def run(config: ClusterConfig, scenarios: tuple[Path, ...], app_path: Path, strategy: str | None, reports_dir: Path,
        as_json: bool) -> None:
    """Run scenarios against an app (every file is validated, every image found, before anything starts)."""
    from harness.report.terminal import summary_table
    from harness.runner import Runner
    from harness.scenario import load_scenario

    loaded = [load_scenario(path).under(strategy) for path in scenarios]
    profile = _checked_profile(app_path, loaded)
    handle = Cluster(config, _progress)
    app = _prepared(profile, loaded, handle)
    handle.up()
    reports = []
    for scenario in loaded:
        _progress(f"running {scenario.name} on {app.profile.name}")
        result = Runner(scenario, handle, reports_dir, app, _progress, _output.live).run()
        _output.show(summary_table(result.report))
        _progress(f"reports: {result.run_dir}/report.html, summary.md, junit.xml, report.json")
        reports.append(result.report)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    sys.exit(0 if all(r["passed"] for r in reports) else 1)


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--apps", default=str(DEFAULT_PROFILE), show_default="apps/demo.yaml",
              help="Comma-separated app profiles to run every scenario against.")
@click.option("--strategies", default="in-service,blue-green", show_default=True,
              help="Comma-separated strategy kinds to run each scenario under.")
@click.option("--repeat", default=1, show_default=True, type=int, help="Runs per scenario and strategy.")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.pass_obj
@_fails_cleanly
def matrix(config: ClusterConfig, scenarios: tuple[Path, ...], apps: str, strategies: str, repeat: int,
           reports_dir: Path, as_json: bool) -> None:
    """Run every scenario on every app under every strategy, REPEAT times, and compare them."""
    from harness.matrix import parse_strategies, plan, run_matrix
    from harness.scenario import load_scenario

    loaded = [load_scenario(path) for path in scenarios]
    profiles = [_checked_profile(Path(p.strip()), loaded) for p in apps.split(",") if p.strip()]
    handle = Cluster(config, _progress)
    prepared = [_prepared(profile, loaded, handle) for profile in profiles]
    runs = plan(loaded, parse_strategies(strategies), repeat, prepared)
    _progress(f"{len(runs)} runs planned")
    result = run_matrix(runs, handle, reports_dir, _progress, _output.live)
    _show_comparison(result.rows, as_json)
    _progress(f"comparison: {', '.join(map(str, result.files))}")
    sys.exit(0 if len(result.run_dirs) == len(runs) and all(r.passed == r.runs for r in result.rows) else 1)


@main.command("compare")
@click.argument("run_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.option("--markdown", is_flag=True, help="Print the comparison as a Markdown table on stdout.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Also write compare.json, compare.html and compare.md into this directory.")
@_fails_cleanly
def compare_runs(run_dirs: tuple[Path, ...], as_json: bool, markdown: bool, output: Path | None) -> None:
    """Compare runs side by side: one row per scenario and strategy, medians and ranges over repeats."""
    from harness.compare import compare, load_reports
    from harness.report import write_comparison

    rows = compare(load_reports(run_dirs))
    _show_comparison(rows, as_json, markdown)
    if output is not None:
        _progress(f"comparison: {', '.join(map(str, write_comparison(output, rows, list(run_dirs))))}")


def _show_comparison(rows, as_json: bool, markdown: bool = False) -> None:
    from harness.compare import to_document
    from harness.report.markdown import comparison_markdown
    from harness.report.terminal import comparison_table

    if as_json:
        click.echo(json.dumps(to_document(rows), indent=2))
    elif markdown:
        click.echo(comparison_markdown(rows))
    elif not _output.quiet:
        _output.done()
        out = Console()
        (out if out.is_terminal else Console(width=200)).print(comparison_table(rows))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report document as JSON on stdout.")
@_fails_cleanly
def report(run_dir: Path, as_json: bool) -> None:
    """Re-analyse a run directory and re-render its reports (report.json, report.html, junit.xml, summary.md)."""
    from harness.analysis import analyze_run_dir
    from harness.report import write_run_reports
    from harness.report.terminal import summary_table

    document = analyze_run_dir(run_dir)
    written = write_run_reports(run_dir, document)
    _output.show(summary_table(document))
    _progress(f"wrote {', '.join(p.name for p in written)}")
    if as_json:
        click.echo(json.dumps(document, indent=2))
    sys.exit(0 if document["passed"] else 1)


@main.command()
@click.argument("run_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.pass_obj
@_fails_cleanly
def heal(config: ClusterConfig, run_dir: Path | None, reports_dir: Path) -> None:
    """Heal what crashed runs left behind (RUN_DIR, or every run under --reports): faults and load processes."""
    from harness.faults.base import FaultContext
    from harness.faults.schedule import heal_pending
    from harness.ledger import HealLedger
    from harness.load.runner import stop_orphaned_load

    runs = [run_dir] if run_dir else sorted(p for p in reports_dir.glob("*") if p.is_dir())
    failed, ctx = False, None
    for path in runs:
        if (pid := stop_orphaned_load(path)) is not None:
            _progress(f"{path.name}: stopped its load process {pid}")
        ledger = HealLedger(path)
        if ledger.pending():
            ctx = ctx or FaultContext(Cluster(config, _progress))
            for fault_id, healed in heal_pending(ledger, ctx):
                _progress(f"{path.name}: {fault_id} {'healed' if healed else 'NOT healed'}")
                failed |= not healed
    if failed:
        raise ClusterError("some faults could not be healed; see the messages above and retry `chaos-harness heal`")
    _progress("nothing left to heal")


@main.group("app")
def app_group() -> None:
    """App profiles: the stack under test."""


@app_group.command("init")
@click.argument("compose_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the profile (default: chaos-app.yaml beside the compose file).")
@_fails_cleanly
def app_init(compose_file: Path, output: Path | None) -> None:
    """Write a starting profile for COMPOSE_FILE, with what to fill in said in comments."""
    from harness.app.init import starting_profile
    from harness.errors import UsageError

    output = output or compose_file.parent / "chaos-app.yaml"
    if output.exists():
        raise UsageError(f"{output} exists; remove it or choose another --output")
    output.write_text(starting_profile(compose_file, output))
    _progress(f"wrote {output}: fill in the TODOs, then `chaos-harness app check {output}`")


@app_group.command("check")
@click.argument("profile", type=click.Path(path_type=Path))
@click.pass_obj
@_fails_cleanly
def app_check(config: ClusterConfig, profile: Path) -> None:
    """Deploy the profile's old release, send a few requests and show which release answered each; then remove it."""
    from harness.app.check import check

    checked = _checked_profile(profile, [])
    handle = Cluster(config, _progress)
    app = _prepared(checked, [], handle)
    handle.up()
    answers = check(handle, app, progress=_progress)
    _output.done()
    for answer in answers:
        who = f"release {answer.release} on {answer.node} ({answer.server})" if answer.attributed else (
            f"NOT ATTRIBUTED (server {answer.server or 'not named'})")
        click.echo(f"{answer.request:<40} {answer.status or 'no answer'!s:<10} {who}")
    attributed = sum(a.attributed for a in answers)
    _progress(f"{attributed} of {len(answers)} answers attributed to a release")
    sys.exit(0 if attributed == len(answers) else 1)


@main.group()
def faults() -> None:
    """Fault plugins."""


@faults.command("list")
@_fails_cleanly
def faults_list() -> None:
    """Every installed fault with its parameters."""
    from harness.faults.registry import available

    for name, plugin in sorted(available().items()):
        params = ", ".join(f"{key}={field.get_default(call_default_factory=True)!r}"
                           for key, field in plugin.Params.model_fields.items())
        click.echo(f"{name}\t{plugin.description}\n\tparams: {params or 'none'}")


if __name__ == "__main__":
    main()
