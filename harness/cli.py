"""The ``chaos-harness`` command.

Exit codes: 0 every expectation met, 1 an expectation failed, 2 invalid
input (a file, directory or option the user gave is unusable), 3 environment
or cluster problem, 4 the harness broke (a bug: one line on stderr, the
traceback in ``$CHAOS_HOME/crashes/``), 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape

from harness.cluster import Cluster, ClusterConfig
from harness.cluster.config import MAX_NODES, MIN_NODES, PROVIDERS, check_name, default_workdir
from harness.errors import ClusterError, HarnessError, UsageError, one_line
from harness.app import DEFAULT_PROFILE
from harness.ledger import HealLedger, LedgerEntry
from harness.scenario import STRATEGIES

if TYPE_CHECKING:
    from harness.faults.base import FaultContext

console = Console(stderr=True)
DEFAULT_REPORTS = Path("reports")
EXIT_BROKE = 4
EXIT_INTERRUPTED = 130


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
            _output.done()
            what = ": ".join(filter(None, (type(error).__name__, one_line(str(error)))))
            click.echo(f"error: the harness broke: {what} — traceback in {_crash_log(error)}", err=True)
            ctx.exit(EXIT_BROKE)


def _fail(ctx: click.Context, message: str, code: int) -> None:
    _output.done()
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


@click.group(cls=_Harness)
@click.option("--cluster", "cluster_name", default="chaos", show_default=True, callback=_cluster_name,
              help="Cluster name (its label): a lowercase letter, then up to 30 lowercase letters, digits or dashes.")
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(MIN_NODES, MAX_NODES), help="Nodes for `cluster up`.")
@click.option("--managers", default=1, show_default=True, type=click.IntRange(1, MAX_NODES - 1),
              help="Swarm managers for `cluster up` (3: losing one is a scenario; role standby-manager).")
@click.option("--provider", default="docker", show_default=True, type=click.Choice(PROVIDERS),
              help="docker: node containers on this machine; libvirt, virtualbox: Vagrant VMs; ssh: hosts of --inventory.")
@click.option("--inventory", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="With --provider ssh: the hosts (see the README's Real hosts).")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary tables; errors and --json output only.")
@click.pass_context
def main(ctx: click.Context, cluster_name: str, nodes: int, managers: int, provider: str, inventory: Path | None,
         quiet: bool) -> None:
    """Chaos and failure scenarios for container upgrades on a real Swarm cluster."""
    ctx.obj = ClusterConfig(name=cluster_name, nodes=nodes, managers=managers, provider=provider, inventory=inventory)
    _output.quiet = quiet


@main.command()
@click.pass_obj
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
def cluster_up(config: ClusterConfig) -> None:
    """Start nodes, registry and swarm (idempotent)."""
    state = Cluster(config, _progress).up()
    _progress(f"cluster {state.name} up: {', '.join(f'{n} {state.node_ips[n]}' for n in state.nodes)}; "
              f"load balancer on {state.endpoints['lb']}")


@cluster.command("status")
@click.pass_obj
def cluster_status(config: ClusterConfig) -> None:
    """Nodes as Vagrant and as the swarm see them."""
    handle = Cluster(config)
    vagrant_states = handle.node_states()
    swarm = {n.hostname: n for n in handle.engine.nodes()} if "running" in vagrant_states.values() else {}
    for node, state in vagrant_states.items():
        info = swarm.get(node)
        detail = f"swarm {info.state}/{info.availability} {info.role} {info.labels}" if info else "not in swarm"
        click.echo(f"{node}\t{state}\t{detail}")
    click.echo("ports\t" + " ".join(f"{part}={where}" for part, where in handle.state.endpoints.items()))


def _down(config: ClusterConfig) -> None:
    for item in Cluster(config, _progress).down():
        _progress(f"removed {item}")


@cluster.command("down")
@click.pass_obj
def cluster_down(config: ClusterConfig) -> None:
    """Remove everything this cluster's label names, and nothing else."""
    _down(config)


@main.command("down")
@click.pass_obj
def down(config: ClusterConfig) -> None:
    """Same as `cluster down`."""
    _down(config)


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--app", "app_path", type=click.Path(path_type=Path),
              help="Also check an app profile and that it has the releases the scenarios ask for.")
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


@main.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path))
@_app_option
@click.option("--strategies", default="in-service,blue-green", show_default=True,
              help="Comma-separated strategy kinds to sweep under.")
@click.option("--points", type=int, help="Points per strategy, spread evenly over the upgrade (default: all).")
@click.option("--at", "at", multiple=True, metavar="KEY=V[,V...]",
              help="Points by name instead of --points: tasks_replaced=0,1,2, step=green_ready,switched, "
                   "phase=rollback (just after the requested rollback); repeat for several keys.")
@click.option("--repeat", default=1, show_default=True, type=int, help="Runs per point.")
@click.option("--max-duration", default="4h", show_default=True,
              help="Refuse a sweep estimated to take longer (e.g. 90m, 2h).")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print sweep.json on stdout.")
@click.pass_obj
def sweep(config: ClusterConfig, scenario_path: Path, app_path: Path, strategies: str, points: int | None,
          at: tuple[str, ...], repeat: int, max_duration: str, reports_dir: Path, as_json: bool) -> None:
    """Strike the scenario's first fault at points across the upgrade and map the outcomes (sweep.html)."""
    from harness.matrix import parse_strategies
    from harness.scenario import load_scenario
    from harness.sweep import plan
    from harness.sweep.fold import predictability_line
    from harness.sweep.run import run_sweep

    scenario = load_scenario(scenario_path)
    (limit,) = _durations((max_duration,), "--max-duration")
    runs = plan.plan(scenario, parse_strategies(strategies), points, list(at), repeat)
    expected = plan.check_duration(runs, limit)
    profile = _checked_profile(app_path, [scenario])
    handle = Cluster(config, _progress)
    app = _prepared(profile, [scenario], handle)
    _progress(f"{len(runs)} runs planned, about {plan.shown_duration(expected)}")
    result = run_sweep(runs, handle, reports_dir, app, _progress, _output.live)
    for kind, strategy in result.document["strategies"].items():
        _output.show(predictability_line(kind, strategy))
    _progress(f"sweep: {', '.join(map(str, result.files))}")
    if as_json:
        click.echo(json.dumps(result.document, indent=2))
    reported = [run for strategy in result.document["strategies"].values() for point in strategy["points"]
                for run in point["runs"] if run["run_id"]]
    sys.exit(0 if len(reported) == len(runs) else 1)  # every point measured; what it found is in the sweep


@main.command("compare")
@click.argument("run_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.option("--markdown", is_flag=True, help="Print the comparison as a Markdown table on stdout.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Also write compare.json, compare.html and compare.md into this directory.")
def compare_runs(run_dirs: tuple[Path, ...], as_json: bool, markdown: bool, output: Path | None) -> None:
    """Compare runs side by side: one row per scenario and strategy, medians and ranges over repeats.

    A sweep directory stands for its runs, one row per point and strategy."""
    from harness.compare import compare, load_reports
    from harness.report import write_comparison
    from harness.sweep.fold import is_sweep, sweep_runs

    found: list[Path] = []
    points: dict[str, str] = {}
    for directory in run_dirs:
        runs = sweep_runs(directory) if is_sweep(directory) else [(directory, None)]
        found += [run_dir for run_dir, _ in runs]
        points.update((run_dir.name, point) for run_dir, point in runs if point)
    rows = compare(load_reports(found), points)
    _show_comparison(rows, as_json, markdown)
    if output is not None:
        _progress(f"comparison: {', '.join(map(str, write_comparison(output, rows, found)))}")


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
def report(run_dir: Path, as_json: bool) -> None:
    """Re-analyse a run directory and re-render its reports (report.json, report.html, junit.xml, summary.md).

    A sweep directory: sweep.json, sweep.md and sweep.html written again from its runs' reports."""
    from harness.report import write_run_reports
    from harness.report.rundir import read_run
    from harness.report.terminal import summary_table
    from harness.sweep.fold import is_sweep
    from harness.sweep.run import rewrite_sweep

    if is_sweep(run_dir):
        document, written = rewrite_sweep(run_dir)
        _progress(f"wrote {', '.join(p.name for p in written)}")
        if as_json:
            click.echo(json.dumps(document, indent=2))
        return
    files = read_run(run_dir)
    for note in files.notes:
        _progress(f"[yellow]note[/]: {escape(note)}")
    document = files.analysed()
    written = write_run_reports(run_dir, document, files.events)
    _output.show(summary_table(document))
    _progress(f"wrote {', '.join(p.name for p in written)}")
    if as_json:
        click.echo(json.dumps(document, indent=2))
    sys.exit(0 if document["passed"] else 1)


@main.command()
@_app_option
@click.option("--rate", "rates", multiple=True, type=click.FloatRange(min=0, min_open=True),
              help="Load rate in requests/s (repeat for several).  [default: 50, 200, 1000]")
@click.option("--duration", "durations", multiple=True, metavar="DURATION",
              help="Outage length such as 100ms or 2s (repeat for several).  [default: 100ms, 500ms, 2s]")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["refusal", "blackhole"]),
              help="Outage kind (repeat for both).  [default: both]")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(min=1, max=100),
              help="Outages of each kind, length and rate.")
@click.option("--timeout", default="1s", show_default=True, metavar="DURATION", help="Client timeout of the load.")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print calibration.json to stdout.")
@click.pass_obj
def calibrate(config: ClusterConfig, app_path: Path, rates: tuple[float, ...], durations: tuple[str, ...],
              kinds: tuple[str, ...], repeat: int, timeout: str, reports_dir: Path, as_json: bool) -> None:
    """Measure outages of known length at the load balancer with the run analysis: how exact are the figures?

    Exit 1 when a median error is outside its bound (see calibration.md), or the machine did not hold a rate.
    """
    from harness.calibration import render
    from harness.calibration.plan import DEFAULT_DURATIONS, DEFAULT_RATES, KINDS, CalibrationPlan, check_plan
    from harness.calibration.session import Calibration
    from harness.report.terminal import text_table

    plan = check_plan(CalibrationPlan(rates or DEFAULT_RATES, _durations(durations) or DEFAULT_DURATIONS,
                                      kinds or tuple(KINDS), repeat, _durations((timeout,))[0]))
    profile = _checked_profile(app_path, [])
    handle = Cluster(config, _progress)
    app = _prepared(profile, [], handle)
    handle.up()
    out_dir = reports_dir / f"calibration-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    _progress(f"calibrating for about {plan.seconds() / 60:.0f} min; files in {out_dir}")
    results = Calibration(handle, app, plan, out_dir, _progress).run()
    doc = render.document(results, plan, {"cluster": config.name, "app": profile.name})
    _output.show(text_table("calibration: measured - known outage", render.COLUMNS, render.rows(doc)))
    _output.show(text_table("the load while it ran", render.STEADINESS_COLUMNS, render.steadiness_rows(doc)))
    _progress(f"wrote {', '.join(str(p) for p in render.write(out_dir, doc))}")
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    if not doc["steady"]:
        _progress("[yellow]note[/]: the load did not hold every rate (see the steadiness table): the errors at "
                  "that rate say more about this machine than about the measurement")
    sys.exit(0 if doc["passed"] else 1)


def _durations(texts: tuple[str, ...], option: str = "--duration/--timeout") -> tuple[float, ...]:
    """Durations from the command line (``100ms``, ``2s``); a bad one is a usage error naming it."""
    from harness.models import parse_duration

    durations = []
    for text in texts:
        try:
            durations.append(parse_duration(text))
        except ValueError as error:
            raise click.BadParameter(f"{text!r}: {error}", param_hint=option) from error
    return tuple(durations)


@main.command()
@click.argument("run_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.pass_obj
def heal(config: ClusterConfig, run_dir: Path | None, reports_dir: Path) -> None:
    """Heal what crashed runs left behind (RUN_DIR, or every run under --reports): faults and load processes.

    Damaged ledger lines are reported and skipped; faults injected on another cluster are left for a
    ``heal`` with that ``--cluster``.
    """
    from harness.faults.base import FaultContext
    from harness.load.runner import stop_orphaned_load

    runs = [run_dir] if run_dir else sorted(p for p in reports_dir.glob("*") if p.is_dir())
    context = functools.cache(lambda: FaultContext(Cluster(config, _progress)))  # built once, when first needed
    healed = []
    for path in runs:
        if (pid := stop_orphaned_load(path)) is not None:
            _progress(f"{path.name}: stopped its load process {pid}")
        healed += [_heal_entry(path, ledger, entry, config, context) for ledger, entry in _pending(path)]
    if not all(healed):
        raise ClusterError("some faults could not be healed; see the messages above and retry `chaos-harness heal`")
    _progress(f"nothing left to heal on cluster {config.name}")


def _pending(run_dir: Path) -> list[tuple[HealLedger, LedgerEntry]]:
    """The run's ledger and each entry it still lists, its damaged lines reported (and skipped)."""
    ledger = HealLedger(run_dir)
    for problem in ledger.damaged():
        _progress(f"[yellow]{escape(run_dir.name)}[/]: {escape(problem)}")
    return [(ledger, entry) for entry in ledger.pending()]


def _heal_entry(run_dir: Path, ledger: HealLedger, entry: LedgerEntry, config: ClusterConfig,
                context: Callable[[], FaultContext]) -> bool:
    """Heal one ledger entry (one of another cluster is left for it); False when it could not be healed."""
    from harness.faults.schedule import heal_recorded

    name = escape(f"{run_dir.name}: {entry.id}")
    if entry.cluster != config.name:
        _progress(f"{name} left pending: injected on cluster {escape(repr(entry.cluster))}, "
                  f"so heal it with `chaos-harness --cluster {escape(shlex.quote(entry.cluster))} heal`")
        return True
    why = heal_recorded(entry, context(), ledger)
    _progress(f"{name} healed" if why is None else f"{name} NOT healed: {escape(one_line(why))}")
    return why is None


@main.command()
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=click.Path(path_type=Path))
@click.pass_obj
def audit(config: ClusterConfig, reports_dir: Path) -> None:
    """List everything the cluster and the runs under --reports left behind; exit 1 if anything.

    On a cluster that is up: fault traces (firewall rules, frozen or held engines, mounts, port squatters,
    registry toxics or rotated credentials) and nodes not running or not Ready. On one that is down:
    labelled containers, networks, volumes and its state directory. In runs: pending heals, live load.
    """
    from harness.audit import audit as find_leftovers

    leftovers = find_leftovers(config, reports_dir)
    for leftover in leftovers:
        click.echo(str(leftover))
    _progress(f"cluster {config.name}: {len(leftovers) or 'nothing'} left behind")
    sys.exit(1 if leftovers else 0)


@main.group("app")
def app_group() -> None:
    """App profiles: the stack under test."""


@app_group.command("init")
@click.argument("compose_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the profile (default: chaos-app.yaml beside the compose file).")
def app_init(compose_file: Path, output: Path | None) -> None:
    """Write a starting profile for COMPOSE_FILE, with what to fill in said in comments."""
    from harness.app.init import starting_profile

    output = output or compose_file.parent / "chaos-app.yaml"
    if output.exists():
        raise UsageError(f"{output} exists; remove it or choose another --output")
    output.write_text(starting_profile(compose_file, output))
    _progress(f"wrote {output}: fill in the TODOs, then `chaos-harness app check {output}`")


@app_group.command("check")
@click.argument("profile", type=click.Path(path_type=Path))
@click.pass_obj
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
def faults_list() -> None:
    """Every installed fault with its parameters."""
    from harness.faults.registry import available

    for name, plugin in sorted(available().items()):
        params = ", ".join(f"{key}={field.get_default(call_default_factory=True)!r}"
                           for key, field in plugin.Params.model_fields.items())
        click.echo(f"{name}\t{plugin.description}\n\tparams: {params or 'none'}")


if __name__ == "__main__":
    main()
