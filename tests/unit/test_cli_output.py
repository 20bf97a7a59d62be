"""Where the command line writes: progress on stderr, results (the summary table) on stdout, and with --json
only the JSON on stdout."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness.analysis import analyze_run_dir
from harness.cli import main
from harness.runner import RunResult
from harness.testing import make_run_dir


@pytest.fixture
def finished_run(tmp_path, monkeypatch):
    """``run`` with a cluster, an app and a runner that only hand back a finished run's report."""
    run_dir = make_run_dir(tmp_path, "r1", "in-service", outage=0.5, expect={"max_downtime": 2})

    class Runner:
        def __init__(self, scenario, cluster, reports_dir, app, progress, live):
            self.progress = progress

        def run(self):
            self.progress("phase observe")
            return RunResult(run_dir, analyze_run_dir(run_dir))

    cluster = SimpleNamespace(up=lambda: None)
    monkeypatch.setattr("harness.cli.runs.Cluster", lambda config, progress: cluster)
    monkeypatch.setattr("harness.cli.runs.prepared", lambda profile, scenarios, handle: SimpleNamespace(
        profile=SimpleNamespace(name="demo")))
    monkeypatch.setattr("harness.runner.Runner", Runner)
    return run_dir


def test_the_summary_table_of_a_run_goes_to_stdout_and_its_progress_to_stderr(finished_run):
    result = CliRunner().invoke(main, ["run", "clean-upgrade"])
    assert result.exit_code == 0, result.output
    assert "expect max_downtime" in result.stdout and "PASSED" in result.stdout
    assert "phase observe" in result.stderr and "reports: " in result.stderr
    assert "phase observe" not in result.stdout and "expect max_downtime" not in result.stderr


def test_with_json_stdout_is_the_json_and_the_table_joins_the_progress(finished_run):
    result = CliRunner().invoke(main, ["run", "--json", "clean-upgrade"])
    assert result.exit_code == 0, result.output
    [document] = json.loads(result.stdout)
    assert document["run_id"] == "r1"
    assert "expect max_downtime" in result.stderr


def test_report_shows_its_table_on_stdout(tmp_path):
    run_dir = make_run_dir(tmp_path, "r", "in-service", outage=2.0, expect={"max_downtime": 1})
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 1
    assert "expect max_downtime" in result.stdout and "FAIL" in result.stdout
    assert "wrote report.json" in result.stderr and "wrote" not in result.stdout
