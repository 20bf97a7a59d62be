"""Running a sweep: every planned run on each engine's cluster (reused while healthy, rebuilt when a fault left it
degraded), its run directory inside that engine's sweep directory, and sweep.json, sweep.md and sweep.html
rewritten after every run so that an interrupted sweep keeps what it measured."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.app import App
from harness.cluster import Cluster
from harness.report.rundir import load_reports
from harness.errors import HarnessError
from harness.matrix import run_once
from harness.runner import Runner
from harness.report import write_file
from harness.report.sweep import sweep_markdown, sweep_page
from harness.sweep.fold import SWEEP_FILE, SweepEntry, fold, read_sweep
from harness.sweep.plan import SweepRun

Progress = Callable[[str], None]
SWEEP_FILES = (SWEEP_FILE, "sweep.md", "sweep.html")


@dataclass(frozen=True)
class SweepResult:
    directory: Path
    document: dict
    files: list[Path]


def run_sweep(runs: list[SweepRun], clusters: dict[str, Cluster], reports_dir: Path, app: App,
              progress: Progress = lambda _: None, live: Progress = lambda _: None) -> list[SweepResult]:
    """Run the plan in order on each engine's cluster of ``clusters`` (each run on every engine before the next), a
    sweep directory per engine; a failed run is recorded at its point and the sweep goes on."""
    stamp = f"sweep-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    several = len(clusters) > 1
    sweeps = {engine: _Sweep(reports_dir / (f"{stamp}-{engine}" if several else stamp), sweep_header(runs, app, engine))
              for engine in clusters}
    for index, run in enumerate(runs, 1):
        for engine, cluster in clusters.items():
            progress(f"sweep run {index}/{len(runs)}: {run.strategy} at {run.point} (repeat {run.repeat})"
                     + (f" on {engine}" if several else ""))
            sweeps[engine].run(run, Runner(run.scenario, cluster, sweeps[engine].directory, app, progress, live),
                               progress)
    return [sweep.result for sweep in sweeps.values()]


class _Sweep:
    """One engine's sweep directory: its runs' entries, and its files rewritten after every run."""

    def __init__(self, directory: Path, header: dict) -> None:
        directory.mkdir(parents=True, exist_ok=False)
        self.directory, self._header, self._entries = directory, header, []
        self.result = self._write()  # a sweep directory from the start, even if the first run is cut short

    def run(self, run: SweepRun, runner: Runner, progress: Progress) -> None:
        error: str | None = "the run stopped before it finished"
        try:
            error = run_once(runner, progress)
        except HarnessError as stopped:  # interrupted, or no ready cluster: the sweep keeps what it has, then stops
            error = str(stopped)
            raise
        finally:
            self._entries.append(SweepEntry(run.strategy, run.point, run.at.model_dump(exclude_defaults=True),
                                            run.repeat, runner.run_dir.name, _report(runner.run_dir), error))
            self.result = self._write()

    def _write(self) -> SweepResult:
        document = fold(self._entries, self._header)
        return SweepResult(self.directory, document, write_sweep(self.directory, document))


def rewrite_sweep(directory: Path) -> tuple[dict, list[Path]]:
    """The sweep in ``directory`` folded again from its run directories' reports as they are now (after
    ``chaos-harness report RUN_DIR``, or a newer harness) and its files written again."""
    document = read_sweep(directory)
    header = {key: value for key, value in document.items() if key not in ("schema", "strategies")}
    entries = [SweepEntry(kind, point["point"], point["at"], run["repeat"], run["run_dir"],
                          _report(directory / run["run_dir"]), run["error"])
               for kind, strategy in document["strategies"].items() for point in strategy["points"]
               for run in point["runs"]]
    document = fold(entries, header)
    return document, write_sweep(directory, document)


def sweep_header(runs: list[SweepRun], app: App, engine: str) -> dict:
    """What every point of the sweep shares: the scenario, the app, the engine, the swept fault and the repeats."""
    fault = runs[0].scenario.faults[0]
    return {"scenario": runs[0].scenario.name, "app": app.profile.name, "engine": engine,
            "fault": {"kind": fault.kind, "target": fault.target.model_dump(exclude_none=True),
                      "duration": fault.duration},
            "repeat": max(run.repeat for run in runs)}


def write_sweep(directory: Path, document: dict) -> list[Path]:
    """sweep.json, sweep.md and sweep.html in ``directory``."""
    texts = (json.dumps(document, indent=2), sweep_markdown(document) + "\n", sweep_page(document))
    return [write_file(directory / name, text) for name, text in zip(SWEEP_FILES, texts)]


def _report(run_dir: Path) -> dict | None:
    """The run's report (analysed from its journal when it has none); None when it has neither."""
    try:
        return load_reports([run_dir])[0]
    except HarnessError:
        return None
