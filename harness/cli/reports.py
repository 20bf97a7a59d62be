"""Finished runs: ``compare`` them side by side, re-render a run's (or a sweep's) ``report``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from harness.cli.common import progress, show_comparison, ui


@click.command("compare")
@click.argument("run_dirs", nargs=-1, required=True,
                type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON on stdout.")
@click.option("--markdown", is_flag=True, help="Print the comparison as a Markdown table on stdout.")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path),
              help="Also write compare.json, compare.html and compare.md into this directory.")
def compare_runs(run_dirs: tuple[Path, ...], as_json: bool, markdown: bool, output: Path | None) -> None:
    """Compare runs side by side: one row per scenario and strategy, medians and ranges over repeats.

    A sweep directory stands for its runs, one row per point and strategy; a run refused before it started
    measured nothing and is in no row."""
    from harness.compare import compare, refused_runs
    from harness.report.rundir import load_reports
    from harness.report import write_comparison
    from harness.sweep.fold import is_sweep, sweep_runs

    found: list[Path] = []
    points: dict[str, str] = {}
    for directory in run_dirs:
        runs = sweep_runs(directory) if is_sweep(directory) else [(directory, None)]
        found += [run_dir for run_dir, _ in runs]
        points.update((run_dir.name, point) for run_dir, point in runs if point)
    reports = load_reports(found)
    rows = compare(reports, points)
    for run_id in refused_runs(reports):
        progress(f"{run_id}: refused before it started; in no row")
    show_comparison(rows, as_json, markdown)
    if output is not None:
        progress(f"comparison: {', '.join(map(str, write_comparison(output, rows, found)))}")


@click.command()
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
        progress(f"wrote {', '.join(p.name for p in written)}")
        if as_json:
            click.echo(json.dumps(document, indent=2))
        return
    files = read_run(run_dir)
    for note in files.notes:
        progress(f"[yellow]note[/]: {escape(note)}")
    document = files.analysed()
    written = write_run_reports(run_dir, document, files.events)
    ui.show(summary_table(document), stdout=not as_json)
    progress(f"wrote {', '.join(p.name for p in written)}")
    if as_json:
        click.echo(json.dumps(document, indent=2))
    sys.exit(0 if document["passed"] else 1)


COMMANDS = (compare_runs, report)
