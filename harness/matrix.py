"""Many runs: each scenario under each strategy on each engine, repeated, with the same load and fault timing.

Each engine has its cluster. A cluster is reused between runs when it is
healthy (every run's prepare phase resets the stack, the routes and the green
stack) and rebuilt when a fault left it degraded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.app import App
from harness.cluster import Cluster
from harness.cluster.config import ENGINES
from harness.compare import Row, compare, is_refused, refused_runs
from harness.errors import HarnessError, RunInterrupted, UsageError
from harness.report import write_comparison
from harness.report.rundir import load_reports
from harness.report.text import run_line
from harness.reportfile import REPORT_FILE, read_report
from harness.runner import Runner
from harness.scenario import STRATEGIES, Scenario

Progress = Callable[[str], None]


def parse_strategies(text: str) -> list[str]:
    """``"in-service,blue-green"`` -> the strategy kinds, each checked."""
    return _parse_list(text, "--strategies", STRATEGIES)


def parse_engines(text: str) -> list[str]:
    """``"swarm,kubernetes"`` -> the engines, each checked."""
    return _parse_list(text, "--engines", ENGINES)


def _parse_list(text: str, option: str, allowed: tuple[str, ...]) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items or any(item not in allowed for item in items):
        raise UsageError(f"{option}: got {text!r}; give a comma-separated list of {', '.join(allowed)}")
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class PlannedRun:
    """One run of the matrix: a scenario (strategy resolved) on an app, on an engine's cluster."""

    scenario: Scenario
    app: App
    engine: str = "swarm"


def plan(scenarios: list[Scenario], strategies: list[str], repeat: int, apps: list[App],
         engines: tuple[str, ...] = ("swarm",)) -> list[PlannedRun]:
    """Every run in order, repeats outermost so a slow drift spreads over all cells alike, then apps, then engines.

    A scenario that fixes its strategy runs only under that one, and one that names its ``engines`` (or whose
    strategy exists on some engines only) only on those: ``Scenario.misfit``.
    """
    _check_repeat(repeat)
    if not apps:
        raise UsageError("--apps: give at least one app profile")
    cells = strategy_cells(scenarios, strategies)
    return [PlannedRun(scenario, app, engine) for app in apps for engine in engines for scenario in cells
            if scenario.misfit(engine) is None] * repeat


def strategy_cells(scenarios: list[Scenario], strategies: list[str | None], repeat: int = 1) -> list[Scenario]:
    """Each scenario under each strategy (only its own when it fixes one), ``repeat`` times, repeats outermost."""
    _check_repeat(repeat)
    cells = [s.under(kind) for s in scenarios for kind in ([s.strategy.kind] if s.strategy.kind else strategies)]
    return [cell for _ in range(repeat) for cell in cells]


def _check_repeat(repeat: int) -> None:
    if repeat < 1:
        raise UsageError(f"--repeat must be at least 1, got {repeat}")


@dataclass(frozen=True)
class MatrixResult:
    """The run directories (in run order), the comparison rows, the comparison files written, and the ids of
    the runs refused before they started (in no row)."""

    run_dirs: list[Path]
    rows: list[Row]
    files: list[Path]
    refused: list[str]


def run_matrix(runs: list[PlannedRun], clusters: dict[str, Cluster], reports_dir: Path,
               progress: Progress = lambda _: None, live: Progress = lambda _: None) -> MatrixResult:
    """Run the plan, each run on its engine's cluster of ``clusters``, a line per run as it finishes; a failed or
    refused run is recorded and the matrix goes on. Ctrl-C stops it (faults healed)."""
    matrix_dir = reports_dir / f"matrix-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    run_dirs: list[Path] = []
    engines = len({run.engine for run in runs}) > 1
    for index, (scenario, app, engine) in enumerate((r.scenario, r.app, r.engine) for r in runs):
        name = (f"run {index + 1}/{len(runs)}: {scenario.name} on {app.profile.name} under {scenario.strategy.kind}"
                + (f" on {engine}" if engines else ""))
        progress(name)
        runner = Runner(scenario, clusters[engine], reports_dir, app, progress, live)
        error = run_once(runner, progress)
        if (runner.run_dir / REPORT_FILE).exists():
            run_dirs.append(runner.run_dir)
        progress(f"{name}: {finished(runner.run_dir, error)}")
    reports = load_reports(run_dirs)
    rows = compare(reports)
    return MatrixResult(run_dirs, rows, write_comparison(matrix_dir, rows, run_dirs), refused_runs(reports))


def finished(run_dir: Path, error: str | None) -> str:
    """What a finished run found, in one line (``run_line``, which says why a refused run was refused); without a
    report, why it has none."""
    if not (run_dir / REPORT_FILE).exists():
        return f"FAILED before it reported: {error}"
    report = read_report(run_dir)
    return run_line(report) + (f" (the run failed: {error})" if error and not is_refused(report) else "")


def run_once(runner: Runner, progress: Progress = lambda _: None) -> str | None:
    """One run on its cluster, made ready first (rebuilt when degraded); its error if it failed, else None.

    A failed run is reported, not raised, so that many runs go on; Ctrl-C is raised (faults healed).
    """
    ready(runner.cluster, progress)
    try:
        runner.run()
    except RunInterrupted:
        raise
    except HarnessError as error:
        ended = "was refused" if runner.status == "refused" else "failed"
        progress(f"{runner.scenario.name} under {runner.scenario.strategy.kind} {ended}: {error}")
        return str(error)
    return None


def ready(cluster: Cluster, progress: Progress = lambda _: None) -> None:
    """Reuse the cluster when it is healthy; rebuild it from scratch when it is not."""
    problems = cluster.problems()
    if problems:
        progress(f"rebuilding the cluster: {'; '.join(problems)}")
        cluster.rebuild()
    else:
        cluster.up()  # idempotent: a healthy cluster only gets the images pushed again
