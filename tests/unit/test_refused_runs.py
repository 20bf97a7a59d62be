"""A run refused before it started (exit 2 in prepare) says REFUSED with its reason everywhere, judges no
expectation, and is no failed verdict in a matrix, a sweep or a comparison."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from harness.analysis import analyze_run_dir
from harness.compare import compare, refused_runs
from harness.errors import ClusterError, ProfileError, ScenarioError
from harness.journal import Journal, read_journal
from harness.report import write_run_reports
from harness.report.html import run_page
from harness.report.junit import run_junit
from harness.report.markdown import run_summary
from harness.report.text import run_line
from harness.runner import Runner
from harness.scenario import Scenario
from harness.sweep.fold import REFUSED, SweepEntry, fold
from harness.testing import make_refused_run_dir, make_run_dir

REASON = ("sc: invalid scenario for this cluster (1 problem)\n"
          "  faults.0.target.node: got 'node7': the cluster has no node node7; its nodes: node1, node2, node3")


def runner_that_ends(tmp_path, error: Exception, after: str = "prepare") -> Runner:
    """A Runner whose phases end with ``error`` once phase ``after`` started; wind-down only journals the end."""
    runner = Runner.__new__(Runner)
    runner.scenario = Scenario(name="sc", expect={"upgrade_outcome": ["completed"]}).under("in-service")
    runner.run_id, runner.run_dir = "r1", tmp_path / "r1"
    runner._progress, runner._phase_starts, runner.status = (lambda _: None), {}, "not started"

    def phases(parts):
        for name in ("prepare", "warmup")[:2 if after == "warmup" else 1]:
            runner._phase_starts[name] = parts.journal.write("phase.start", phase=name).t
        raise error

    def assemble():
        return SimpleNamespace(journal=Journal(runner.run_dir / "journal.jsonl"))

    def start(parts):
        scenario = runner.scenario.model_dump(mode="json", by_alias=True)
        app = {"name": "demo", "profile": "apps/demo.yaml", "old": "v1", "new": "v2", "entry": "web",
               "upgraded": ["web"], "writes": False}
        return parts.journal.write("run.start", run_id="r1", scenario=scenario, app=app, load={"rate": 10}).t

    runner._assemble, runner._journal_start, runner._phases = assemble, start, phases
    runner._wind_down = lambda parts, started, status: parts.journal.write("run.end", status=status)
    return runner


@pytest.mark.parametrize("error, after, status", [
    (ScenarioError(REASON), "prepare", "refused"),
    (ProfileError("apps/x.yaml: the read-back control found a write never made"), "prepare", "refused"),
    (ClusterError("no node is labelled chaos.stateful=true"), "prepare", "failed"),  # the cluster's, not the input's
    (ScenarioError(REASON), "warmup", "failed"),  # the load had started: something was measured
])
def test_a_run_is_refused_when_its_input_cannot_work_and_prepare_finds_it(tmp_path, error, after, status):
    runner = runner_that_ends(tmp_path, error, after)
    with pytest.raises(type(error)):
        runner.run()
    assert runner.status == status
    end = [e for e in read_journal(runner.run_dir / "journal.jsonl") if e.type == "run.end"]
    assert [e.get("status") for e in end] == [status]
    report = analyze_run_dir(runner.run_dir)
    assert report["status"] == status and report["error"] == str(error) and not report["passed"]
    assert (report["verdicts"] == []) == (status == "refused")  # a failed run still shows what it measured
    assert ("REFUSED" in (runner.run_dir / "summary.md").read_text()) == (status == "refused")


def test_a_refused_run_says_refused_and_why_in_every_report(tmp_path):
    run_dir = make_refused_run_dir(tmp_path, "r1", "in-service", REASON, expect={"upgrade_outcome": ["completed"]})
    report = analyze_run_dir(run_dir)
    assert report["status"] == "refused" and report["error"] == REASON
    assert report["verdicts"] == [] and report["passed"] is False  # upgrade_outcome not_started is not judged
    summary = run_summary(report)
    assert summary.startswith("### sc under in-service: REFUSED\n") and REASON in summary
    assert "FAILED" not in summary and "upgrade_outcome" not in summary
    suite = ET.fromstring(run_junit(report)).find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "1")
    error = suite.find("testcase/error")
    assert error.get("type") == "refused" and "the cluster has no node node7" in error.get("message")
    assert REASON in error.text
    page = run_page(report, read_journal(run_dir / "journal.jsonl"))
    assert "REFUSED</span></h1>" in page and "Refused before it started" in page and "Expectations" not in page
    assert "the cluster has no node node7" in page
    assert run_line(report).startswith("REFUSED before it started: sc: invalid scenario for this cluster (1 problem) "
                                       "faults.0.target.node")


def test_a_failed_runs_junit_error_carries_the_error_that_ended_it(tmp_path):
    run_dir = make_run_dir(tmp_path, "r2", "in-service", outage=0.5)
    report = {**analyze_run_dir(run_dir), "status": "failed", "error": "the load process stopped early"}
    error = ET.fromstring(run_junit(report)).find("testsuite/testcase[@name='run_completed']/error")
    assert error.get("type") == "run" and error.get("message") == "the run ended failed: the load process stopped early"


def test_a_comparison_leaves_refused_runs_out_and_names_them(tmp_path):
    measured = analyze_run_dir(make_run_dir(tmp_path, "r1", "in-service", outage=0.5))
    refused = analyze_run_dir(make_refused_run_dir(tmp_path, "r2", "in-service", REASON))
    [row] = compare([measured, refused])
    assert (row.runs, row.passed, row.run_ids) == (1, 1, ["r1"])
    assert refused_runs([measured, refused]) == ["r2"]
    assert compare([refused]) == []


def test_a_matrix_says_a_refused_run_was_refused_and_lists_it(tmp_path, monkeypatch):
    from harness import matrix
    from harness.matrix import plan

    class RefusingRunner:
        def __init__(self, scenario, cluster, reports_dir, app, progress, live):
            self.scenario, self.cluster, self.status = scenario, cluster, "not started"
            self.run_dir = reports_dir / f"{scenario.name}-{scenario.strategy.kind}"

        def run(self):
            make_refused_run_dir(self.run_dir.parent, self.run_dir.name, self.scenario.strategy.kind, REASON)
            write_run_reports(self.run_dir, analyze_run_dir(self.run_dir), names=("report.json",))
            self.status = "refused"
            raise ScenarioError(REASON)

    cluster = SimpleNamespace(problems=lambda: [], up=lambda: None)
    app = SimpleNamespace(profile=SimpleNamespace(name="demo"))
    monkeypatch.setattr(matrix, "Runner", RefusingRunner)
    lines: list[str] = []
    result = matrix.run_matrix(plan([Scenario(name="sc")], ["in-service"], 1, [app]), {"swarm": cluster}, tmp_path,
                               lines.append)
    assert result.refused == ["sc-in-service"] and result.rows == []
    assert lines[1].startswith("sc under in-service was refused: sc: invalid scenario")
    assert lines[-1].startswith("run 1/1: sc on demo under in-service: REFUSED before it started: sc: invalid") \
        and "(the run failed" not in lines[-1]


def test_a_sweep_point_with_a_refused_run_is_not_judged_and_says_refused(tmp_path):
    refused = analyze_run_dir(make_refused_run_dir(tmp_path, "r1", "in-service", REASON))
    runs = [SweepEntry("in-service", "tasks_replaced=1", {}, repeat, f"r{repeat}", refused, REASON)
            for repeat in (1, 2)]
    [point] = fold(runs, {"repeat": 2})["strategies"]["in-service"]["points"]
    assert point["outcomes"] == {REFUSED: 2} and point["consistent"] is None and point["struck"] == 0
    assert [run["outcome"] for run in point["runs"]] == [REFUSED, REFUSED]
