"""Scenarios (files, or shipped scenarios by name): ``validate`` them, ``run`` them, run a ``matrix`` of them,
``sweep`` one across its upgrade."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.cli.common import (APP, DEFAULT_REPORTS, DEMO_SHOWN, REPORTS, SCENARIO, app_option, check_forms,
                                check_releases, checked_profile, clusters_of, engines_of, engines_option,
                                parse_durations, prepared, progress, show_comparison, ui)
from harness.app import DEFAULT_PROFILE, load_profile
from harness.cluster import Cluster, ClusterConfig
from harness.scenario import STRATEGIES


@click.command()
@click.argument("scenarios", nargs=-1, type=SCENARIO)
@click.option("--app", "app_path", type=APP,
              help="Also check an app profile and that it has the releases the scenarios ask for; alone, the "
                   "profile by itself.")
@click.pass_obj
def validate(config: ClusterConfig, scenarios: tuple[Path, ...], app_path: Path | None) -> None:
    """Check scenarios, an app profile, or both, without touching anything.

    A scenario is a file, or the name of a shipped one (`chaos-harness scenarios list`), as for every command.
    """
    from harness.scenario import load_scenario
    from harness.shipped import shown

    if not scenarios and app_path is None:
        raise click.UsageError("give scenario files, --app PROFILE, or both")
    loaded = []
    for path in scenarios:
        loaded.append(load_scenario(path))
        progress(f"{shown(path)}: valid")
    if app_path is not None:
        _images_checked(checked_profile(app_path, loaded, engines_of(config, None)))
        progress(f"{shown(app_path)}: valid")
    elif loaded:  # the releases they ask for, from the profile `run` uses without --app
        check_releases(load_profile(DEFAULT_PROFILE), loaded)


def _images_checked(profile) -> None:
    """The profile's images as ``run`` will look for them, when this machine's Docker engine answers (read only)."""
    from harness.app.images import check_sources
    from harness.build import ImageBuilder
    from harness.dockerhost import host_docker
    from harness.errors import EnvironmentProblem

    try:
        client = host_docker()
    except EnvironmentProblem:
        progress("[yellow]note[/]: no Docker engine answers, so the profile's images were not looked for")
        return
    check_sources(profile, ImageBuilder(client))


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=SCENARIO)
@app_option
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help="For scenarios that leave strategy.kind open (default in-service).")
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=REPORTS)
@click.option("--json", "as_json", is_flag=True, help="Print the report documents as JSON on stdout.")
@click.pass_obj
def run(config: ClusterConfig, scenarios: tuple[Path, ...], app_path: Path, strategy: str | None, reports_dir: Path,
        as_json: bool) -> None:
    """Run scenarios against an app (every file is validated, every image found, before anything starts)."""
    from harness.report.terminal import summary_table
    from harness.runner import Runner
    from harness.scenario import load_scenario

    loaded = [load_scenario(path).under(strategy) for path in scenarios]
    profile = checked_profile(app_path, loaded, engines_of(config, None))
    handle = Cluster(config, progress)
    app = prepared(profile, loaded, handle)
    handle.up()
    reports = []
    for scenario in loaded:
        progress(f"running {scenario.name} on {app.profile.name}")
        result = Runner(scenario, handle, reports_dir, app, progress, ui.live).run()
        ui.show(summary_table(result.report), stdout=not as_json)
        progress(f"reports: {result.run_dir}/report.html, summary.md, junit.xml, report.json")
        reports.append(result.report)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    sys.exit(0 if all(r["passed"] for r in reports) else 1)


@click.command()
@click.argument("scenarios", nargs=-1, required=True, type=SCENARIO)
@click.option("--apps", default=str(DEFAULT_PROFILE), show_default=DEMO_SHOWN,
              help="Comma-separated app profiles (files, or demo) to run every scenario against.")
@click.option("--strategies", default="in-service,blue-green", show_default=True,
              help="Comma-separated strategy kinds to run each scenario under.")
@click.option("--repeat", default=1, show_default=True, type=int, help="Runs per scenario and strategy.")
@engines_option
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=REPORTS)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.pass_obj
def matrix(config: ClusterConfig, scenarios: tuple[Path, ...], apps: str, strategies: str, repeat: int,
           engines: str | None, reports_dir: Path, as_json: bool) -> None:
    """Run every scenario on every app under every strategy on every engine, REPEAT times, and compare them."""
    from harness.matrix import parse_strategies, plan, run_matrix
    from harness.scenario import load_scenario
    from harness.shipped import app_argument

    loaded = [load_scenario(path) for path in scenarios]
    chosen = engines_of(config, engines)
    profiles = [checked_profile(app_argument(p.strip()), loaded, chosen) for p in apps.split(",") if p.strip()]
    check_forms(profiles, chosen)
    clusters = clusters_of(config, chosen)
    apps_ready = [prepared(profile, loaded, clusters[chosen[0]]) for profile in profiles]
    runs = plan(loaded, parse_strategies(strategies), repeat, apps_ready, tuple(chosen))
    progress(f"{len(runs)} runs planned")
    result = run_matrix(runs, clusters, reports_dir, progress, ui.live)
    show_comparison(result.rows, as_json)
    progress(f"comparison: {', '.join(map(str, result.files))}")
    if result.refused:
        progress(f"{len(result.refused)} of {len(runs)} runs refused before they started (in no row; each "
                 f"summary.md says why): {', '.join(result.refused)}")
        sys.exit(2)
    sys.exit(0 if len(result.run_dirs) == len(runs) and all(r.passed == r.runs for r in result.rows) else 1)


@click.command()
@click.argument("scenario_path", metavar="SCENARIO", type=SCENARIO)
@app_option
@click.option("--strategies", default="in-service,blue-green", show_default=True,
              help="Comma-separated strategy kinds to sweep under.")
@click.option("--points", type=int, help="Points per strategy, spread evenly over the upgrade (default: all).")
@click.option("--at", "at", multiple=True, metavar="KEY=V[,V...]",
              help="Points by name instead of --points: tasks_replaced=0,1,2, step=green_ready,switched, "
                   "phase=rollback (just after the requested rollback); repeat for several keys.")
@click.option("--repeat", default=1, show_default=True, type=int, help="Runs per point.")
@click.option("--max-duration", default="4h", show_default=True,
              help="Refuse a sweep estimated to take longer (e.g. 90m, 2h).")
@engines_option
@click.option("--reports", "reports_dir", default=DEFAULT_REPORTS, show_default=True, type=REPORTS)
@click.option("--json", "as_json", is_flag=True, help="Print sweep.json on stdout (one document per engine).")
@click.pass_obj
def sweep(config: ClusterConfig, scenario_path: Path, app_path: Path, strategies: str, points: int | None,
          at: tuple[str, ...], repeat: int, max_duration: str, engines: str | None, reports_dir: Path,
          as_json: bool) -> None:
    """Strike the scenario's first fault at points across the upgrade and map the outcomes (sweep.html), on each
    engine."""
    from harness.matrix import parse_strategies
    from harness.scenario import load_scenario
    from harness.sweep import plan
    from harness.sweep.fold import REFUSED, predictability_line
    from harness.sweep.run import run_sweep

    scenario = load_scenario(scenario_path)
    (limit,) = parse_durations((max_duration,), "--max-duration")
    runs = plan.plan(scenario, parse_strategies(strategies), points, list(at), repeat)
    chosen = engines_of(config, engines)
    expected = plan.check_duration(runs * len(chosen), limit)
    profile = checked_profile(app_path, [scenario], chosen)
    check_forms([profile], chosen)
    clusters = clusters_of(config, chosen)
    app = prepared(profile, [scenario], clusters[chosen[0]])
    progress(f"{len(runs) * len(clusters)} runs planned, about {plan.shown_duration(expected)}")
    results = run_sweep(runs, clusters, reports_dir, app, progress, ui.live)
    for result in results:
        engine = f" on {result.document['engine']}" if len(results) > 1 else ""
        for kind, strategy in result.document["strategies"].items():
            ui.show(predictability_line(kind + engine, strategy), stdout=not as_json)
        progress(f"sweep: {', '.join(map(str, result.files))}")
    if as_json:
        documents = [result.document for result in results]
        click.echo(json.dumps(documents[0] if len(documents) == 1 else documents, indent=2))
    finished = [run for result in results for strategy in result.document["strategies"].values()
                for point in strategy["points"] for run in point["runs"]]
    refused = [run["run_id"] for run in finished if run["outcome"] == REFUSED]
    if refused:
        progress(f"{len(refused)} of {len(finished)} runs refused before they started: {', '.join(refused)}")
        sys.exit(2)
    reported = [run for run in finished if run["run_id"]]
    sys.exit(0 if len(reported) == len(finished) else 1)  # every point measured; what it found is in the sweep


COMMANDS = (validate, run, matrix, sweep)
