"""Sweeps: the points planned per strategy, points refused before anything starts, and the predictability
figure folded from runs with known outcomes."""

from __future__ import annotations

import re

import pytest

from harness.errors import ScenarioError, UsageError
from harness.report.sweep import sweep_markdown, sweep_page
from harness.scenario import Scenario
from harness.sweep.fold import SweepEntry, fold, predictability_line, read_sweep, sweep_runs
from harness.sweep.plan import check_duration, estimate, longest, plan
from harness.sweep.run import write_sweep

FAULT = {"kind": "node-halt", "target": {"role": "upgraded-worker"}, "at": {"tasks_replaced": 1}, "duration": 30}


def scenario(**changes) -> Scenario:
    return Scenario.model_validate({"name": "halted-node", "stack": {"replicas": 3}, "faults": [FAULT],
                                    "strategy": {"update_config": {"monitor": 6}}, **changes})


def labels(runs) -> list[tuple[str, str]]:
    return [(run.strategy, run.point) for run in runs]


def test_every_point_of_each_strategy_by_default_with_the_rollback_when_one_is_requested():
    runs = plan(scenario(strategy={"rollback_after": 10, "update_config": {"monitor": 6}}),
                ["in-service", "blue-green"], None, [], 1)
    assert labels(runs) == [
        ("in-service", "tasks_replaced=0"), ("in-service", "tasks_replaced=1"), ("in-service", "tasks_replaced=2"),
        ("in-service", "tasks_replaced=3"), ("in-service", "phase=rollback+11s"),
        ("blue-green", "tasks_replaced=0"), ("blue-green", "step=green_deployed"), ("blue-green", "step=green_ready"),
        ("blue-green", "step=switched"), ("blue-green", "step=switched+3s"), ("blue-green", "phase=rollback+11s")]
    assert all(run.scenario.faults[0].at == run.at for run in runs)  # the swept fault moved, nothing else
    assert {run.scenario.faults[0].kind for run in runs} == {"node-halt"}


def test_points_spread_evenly_and_repeats_come_outermost():
    runs = plan(scenario(), ["in-service", "blue-green"], 2, [], 2)
    assert labels(runs) == [("in-service", "tasks_replaced=0"), ("in-service", "tasks_replaced=3"),
                            ("blue-green", "tasks_replaced=0"), ("blue-green", "step=switched+3s")] * 2
    assert [run.repeat for run in runs] == [1] * 4 + [2] * 4
    assert labels(plan(scenario(), ["in-service"], 3, [], 1))[1] == ("in-service", "tasks_replaced=2")


def test_explicit_points_by_name():
    runs = plan(scenario(strategy={"rollback_after": 5}), ["in-service"], None,
                ["tasks_replaced=0,2", "phase=rollback", "phase=upgrade+4s"], 1)
    assert [run.point for run in runs] == ["tasks_replaced=0", "tasks_replaced=2", "phase=rollback+6s",
                                           "phase=upgrade+4s"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"at": ["tasks_replaced=4"]}, "in-service tasks_replaced=4: the upgrade replaces stack.replicas (3) tasks"),
    ({"at": ["step=switched"]}, "in-service step=switched: blue-green steps exist only under strategy.kind: blue-green"),
    ({"at": ["phase=rollback"]}, "phase=rollback+1s: there is a rollback phase only when strategy.rollback_after"),
    ({"at": ["step=dancing"]}, "step 'dancing' is unknown; one of green_deployed, green_ready, switched"),
    ({"at": ["tasks_replaced=two"]}, "tasks_replaced takes whole numbers from 0, got 'two'"),
    ({"at": ["when=later"]}, "give KEY=VALUE[,VALUE...] with KEY one of tasks_replaced, step, phase"),
    ({"count": 5}, "--points 5: in-service has 4 points here"),
    ({"count": 2, "at": ["tasks_replaced=1"]}, "give --points or --at, not both"),
    ({"repeat": 0}, "--repeat must be at least 1"),
])
def test_a_point_that_cannot_exist_is_refused_with_why(kwargs, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        plan(scenario(), ["in-service"], kwargs.get("count"), kwargs.get("at", []), kwargs.get("repeat", 1))


def test_the_swept_faults_own_timing_binds_no_strategy_and_a_fixed_strategy_is_swept_alone():
    stepped = scenario(faults=[{**FAULT, "at": {"step": "green_ready"}}])
    assert {run.strategy for run in plan(stepped, ["in-service", "blue-green"], 1, [], 1)} == {"in-service",
                                                                                               "blue-green"}
    fixed = scenario(strategy={"kind": "blue-green"})
    assert {run.strategy for run in plan(fixed, ["in-service", "blue-green"], None, [], 1)} == {"blue-green"}
    assert len(plan(scenario(), ["in-service"], 9, [], 1, cap_points=True)) == 4  # all of its 4 points


def test_a_step_offset_past_the_runs_end_is_refused():
    with pytest.raises(UsageError, match=r"step=switched\+9999s: the run ends before then"):
        plan(scenario(), ["blue-green"], None, ["step=switched+9999s"], 1)


def test_a_scenario_without_a_fault_or_with_a_step_under_in_service_is_refused():
    with pytest.raises(UsageError, match="has no fault to sweep"):
        plan(scenario(faults=[]), ["in-service"], None, [], 1)
    stepped = scenario(faults=[{**FAULT, "at": {"step": "green_ready"}}])
    with pytest.raises(ScenarioError, match="blue-green step green_ready; in-service has no such step"):
        stepped.under("in-service")
    assert stepped.under("blue-green").faults[0].at.step == "green_ready"


def test_a_sweep_longer_than_allowed_is_refused_with_its_estimate():
    runs = plan(scenario(), ["in-service", "blue-green"], None, [], 3)
    assert 0 < estimate(runs) < longest(runs)
    with pytest.raises(UsageError, match=r"the sweep's 27 runs would take about 37 min \(at most 1 h 46 min if every upgrade ran to its timeout\)"):
        check_duration(runs, 600)
    assert check_duration(runs, 10 * 3600) == estimate(runs)


def report(run_id: str, outcome: str, downtime: float | None, rolled_back: bool | None = None) -> dict:
    rollback = {"triggered": rolled_back is not None, "success": rolled_back}
    return {"run_id": run_id, "upgrade": {"outcome": outcome}, "rollback": rollback, "downtime": downtime,
            "longest_outage": downtime, "passed": outcome == "completed",
            "faults": [{"id": "0-node-halt", "kind": "node-halt"}]}


def entries() -> list[SweepEntry]:
    """Two strategies, two points, two repeats; in-service ends differently at its second point."""
    known = [("in-service", "tasks_replaced=0", "completed", 0.5, None, "completed", 0.7, None),
             ("in-service", "tasks_replaced=3", "completed", 1.0, None, "paused", 9.0, None),
             ("blue-green", "step=green_ready", "rolled_back", 0.0, True, "rolled_back", 0.1, True),
             ("blue-green", "step=switched", "completed", 0.2, None, "completed", 0.3, None)]
    found = []
    for repeat in (1, 2):
        for kind, point, *results in known:
            outcome, downtime, rolled = results[3 * (repeat - 1):3 * repeat]
            run_id = f"r{repeat}-{kind}-{point}"
            found.append(SweepEntry(kind, point, {}, repeat, run_id, report(run_id, outcome, downtime, rolled)))
    return found


def test_predictability_is_the_share_of_points_whose_repeats_all_ended_alike():
    document = fold(entries(), {"scenario": "halted-node", "app": "demo", "fault": {"kind": "node-halt"}, "repeat": 2})
    in_service, blue_green = document["strategies"]["in-service"], document["strategies"]["blue-green"]
    assert [p["consistent"] for p in in_service["points"]] == [True, False]
    assert in_service["predictability"] == 0.5 and in_service["worst_downtime"] == 9.0
    assert in_service["points"][1]["outcomes"] == {"completed": 1, "paused": 1}
    assert blue_green["predictability"] == 1.0 and blue_green["worst_downtime"] == 0.3
    assert blue_green["points"][0]["rollbacks"] == {"succeeded": 2}
    assert predictability_line("in-service", in_service) == \
        "in-service: 1 of 2 points (50%) ended alike in every repeat; worst downtime 9.000 s"


def test_points_with_fewer_than_two_reported_runs_are_not_judged():
    lost = SweepEntry("in-service", "tasks_replaced=0", {}, 2, "r2", None, "the manager does not answer")
    document = fold([entries()[0], lost, entries()[1]], {"repeat": 2})
    strategy = document["strategies"]["in-service"]
    point = strategy["points"][0]
    assert point["consistent"] is None and point["runs"][1]["outcome"] == "no report"
    assert point["runs"][1]["error"] == "the manager does not answer" and point["struck"] == 1
    assert strategy["predictability"] is None and strategy["judged_points"] == 0
    assert predictability_line("in-service", strategy) == \
        "in-service: not measured (no point has two runs to compare); worst downtime 1.000 s"
    judged = fold([*entries()[:2], lost, entries()[5]], {"repeat": 2})["strategies"]["in-service"]
    assert predictability_line("in-service", judged) == (
        "in-service: 0 of 1 points (0%) ended alike in every repeat (1 of 2 points with fewer than two runs not "
        "judged); worst downtime 9.000 s")


def test_the_sweep_files_name_every_point_and_read_back(tmp_path):
    header = {"scenario": "halted-node", "app": "demo", "fault": {"kind": "node-halt", "target": {}, "duration": 30},
              "repeat": 2}
    write_sweep(tmp_path, fold(entries(), header))
    markdown = (tmp_path / "sweep.md").read_text()
    assert "| tasks_replaced=3 | 2 of 2 | completed, paused | none ×2 | 5s [1-9] | 5s [1-9] | NO |" in markdown
    assert "**Predictability** blue-green: 2 of 2 points (100%)" in markdown
    page = (tmp_path / "sweep.html").read_text()
    assert page.count('data-chart="sweep"') == 2 and page.count('class="repeat downtime"') == 8
    assert read_sweep(tmp_path)["strategies"].keys() == {"in-service", "blue-green"}
    assert [(path.name, point) for path, point in sweep_runs(tmp_path)][:2] == [
        ("r1-in-service-tasks_replaced=0", "tasks_replaced=0"), ("r2-in-service-tasks_replaced=0", "tasks_replaced=0")]
    assert sweep_markdown(read_sweep(tmp_path)) == markdown.rstrip() and sweep_page(read_sweep(tmp_path)) == page


def test_report_on_a_sweep_directory_folds_it_again_from_its_runs(tmp_path):
    from click.testing import CliRunner

    from harness.analysis import analyze_run_dir
    from harness.cli import main
    from harness.testing import make_run_dir

    entries = [SweepEntry("in-service", point, {"tasks_replaced": n}, 1, f"run-{n}",
                          analyze_run_dir(make_run_dir(tmp_path, f"run-{n}", "in-service", outage=float(n))))
               for n, point in enumerate(("tasks_replaced=0", "tasks_replaced=1"))]
    write_sweep(tmp_path, fold(entries, {"scenario": "sc", "app": "demo", "fault": {"kind": "node-halt"},
                                         "repeat": 1}))
    (tmp_path / "sweep.md").write_text("stale\n")
    assert not (tmp_path / "run-1" / "report.json").exists()  # a run without report.json: analysed from its journal
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| tasks_replaced=1 | 1 of 1 | completed | none | 1s | 1s | - |" in (tmp_path / "sweep.md").read_text()
    assert read_sweep(tmp_path)["strategies"]["in-service"]["points"][1]["runs"][0]["downtime"] == 1.0


def test_an_interrupted_sweep_keeps_every_run_it_made_including_the_one_cut_short(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from harness.errors import RunInterrupted
    from harness.sweep import run as sweep_run
    from harness.testing import make_run_dir

    class Runner:  # makes the run directory a finished run leaves, at the sweep's place
        def __init__(self, scenario, cluster, directory, app, progress, live):
            self.run_dir = make_run_dir(directory, f"run-{len(list(directory.glob('run-*')))}",
                                        scenario.strategy.kind, outage=0.5)

    def run_once(runner, progress):
        if runner.run_dir.name == "run-1":
            raise RunInterrupted("received signal SIGINT")
        return None

    monkeypatch.setattr(sweep_run, "Runner", Runner)
    monkeypatch.setattr(sweep_run, "run_once", run_once)
    runs = plan(scenario(), ["in-service"], 3, [], 1)
    app = SimpleNamespace(profile=SimpleNamespace(name="demo"))
    with pytest.raises(RunInterrupted):
        sweep_run.run_sweep(runs, {"swarm": None}, tmp_path, app)
    (directory,) = tmp_path.glob("sweep-*")
    points = read_sweep(directory)["strategies"]["in-service"]["points"]
    assert [(p["point"], p["runs"][0]["run_dir"], p["runs"][0]["error"]) for p in points] == [
        ("tasks_replaced=0", "run-0", None), ("tasks_replaced=2", "run-1", "received signal SIGINT")]
    assert points[1]["runs"][0]["outcome"] == "completed"  # its report was written before the interrupt reached us


def test_a_sweep_on_two_engines_strikes_each_point_on_both_and_keeps_a_sweep_directory_per_engine(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from harness.sweep import run as sweep_run
    from harness.testing import make_run_dir

    order = []

    class Runner:
        def __init__(self, scenario, cluster, directory, app, progress, live):
            order.append(cluster)
            self.run_dir = make_run_dir(directory, f"run-{len(list(directory.glob('run-*')))}",
                                        scenario.strategy.kind, outage=0.5)

    monkeypatch.setattr(sweep_run, "Runner", Runner)
    monkeypatch.setattr(sweep_run, "run_once", lambda runner, progress: None)
    runs = plan(scenario(), ["in-service"], 2, [], 1)
    app = SimpleNamespace(profile=SimpleNamespace(name="demo"))
    results = sweep_run.run_sweep(runs, {"swarm": "s", "kubernetes": "k"}, tmp_path, app)
    assert order == ["s", "k", "s", "k"]
    assert [r.directory.name.rsplit("-", 1)[1] for r in results] == ["swarm", "kubernetes"]
    for result, engine in zip(results, ("swarm", "kubernetes")):
        document = read_sweep(result.directory)
        assert document["engine"] == engine and len(document["strategies"]["in-service"]["points"]) == 2
        assert f"on demo, {engine}" in (result.directory / "sweep.md").read_text()
