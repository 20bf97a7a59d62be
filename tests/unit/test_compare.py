"""The strategy x scenario comparison from fixture run directories with known numbers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare import Spread, compare
from harness.report.rundir import load_reports
from harness.errors import UsageError
from harness.report import text
from harness.testing import make_run_dir


@pytest.fixture
def runs(tmp_path):
    return [
        make_run_dir(tmp_path, "a1", "in-service", outage=1.0),
        make_run_dir(tmp_path, "a2", "in-service", outage=3.0),
        make_run_dir(tmp_path, "a3", "in-service", outage=2.0),
        make_run_dir(tmp_path, "b1", "blue-green", outage=0.0, rollback_seconds=0.5),
        make_run_dir(tmp_path, "b2", "blue-green", outage=0.0),
    ]


def test_one_row_per_scenario_and_strategy_with_median_and_range(runs):
    blue_green, in_service = compare(load_reports(runs))
    assert (in_service.strategy, in_service.runs, blue_green.runs) == ("in-service", 3, 2)
    assert in_service.downtime == Spread(pytest.approx(2.0), pytest.approx(1.0), pytest.approx(3.0), 3)
    assert in_service.longest_outage.high == pytest.approx(3.0)
    assert in_service.error_rate.median == pytest.approx(20 / 201)  # 20 of 200 reads (+1 write) failed
    assert in_service.outcomes == {"completed": 3}
    assert in_service.rollbacks_triggered == 0 and in_service.rollback_success_rate is None
    assert in_service.lost_writes == Spread(0, 0, 0, 3)
    assert blue_green.downtime == Spread(0.0, 0.0, 0.0, 2)
    assert blue_green.outcomes == {"completed": 1, "rolled_back": 1}
    assert (blue_green.rollbacks_triggered, blue_green.rollbacks_succeeded) == (1, 1)
    assert blue_green.time_to_rollback.median == pytest.approx(0.5)
    assert blue_green.run_ids == ["b1", "b2"]
    assert (in_service.scenario, blue_green.scenario) == ("sc@demo", "sc@demo")


def test_the_same_scenario_on_two_apps_is_two_rows_and_a_report_without_app_keeps_its_name(runs):
    reports = load_reports(runs[:3])
    guestbook = [{**r, "app": {**r["app"], "name": "guestbook"}} for r in reports[:2]]
    before_profiles = {key: value for key, value in reports[2].items() if key != "app"}
    rows = compare([*reports, *guestbook, before_profiles])
    assert [(r.scenario, r.strategy, r.runs) for r in rows] == [
        ("sc", "in-service", 1), ("sc@demo", "in-service", 3), ("sc@guestbook", "in-service", 2)]


def test_spread_prints_median_and_range_or_one_value():
    assert Spread.of([1.0, 3.0, 2.0]).text("s") == "2s [1-3]"
    assert Spread.of([0.25, 0.25]).text("%", scale=100) == "25%"
    assert Spread.of([None]).text("s") == "-"


def test_compare_command_prints_the_table_and_the_same_rows_as_json(runs):
    table = CliRunner().invoke(main, ["compare", *map(str, runs)])
    assert table.exit_code == 0, table.output
    assert "in-service" in table.output and "2s [1-3]" in table.output
    document = json.loads(CliRunner().invoke(main, ["compare", "--json", *map(str, runs)]).output)
    assert document["schema"] == "chaos-harness/compare@1"
    assert [(r["strategy"], r["runs"], r["rollback_success_rate"]) for r in document["rows"]] == [
        ("blue-green", 2, 1.0), ("in-service", 3, None)]


def test_a_directory_that_is_no_run_is_refused_by_name(tmp_path):
    with pytest.raises(UsageError, match="is not a run directory"):
        load_reports([tmp_path])


def test_compare_as_markdown_has_a_header_and_one_line_per_row(runs):
    result = CliRunner().invoke(main, ["compare", "--markdown", *map(str, runs)])
    lines = result.output.strip().splitlines()
    assert lines[0] == ("| scenario | strategy | runs | result | downtime | longest outage | error rate | p99 | "
                        "mixed-version window | upgrade outcomes | rollback ok | time to rollback | "
                        "writes acknowledged | lost writes | overhead |")
    assert lines[2] == ("| sc@demo | blue-green | 2 | passed | 0s | 0s | 0% | 0.01s | 11.9s | "
                        "completed 1, rolled_back 1 | 1/1 | 0.5s | 1 | 0 | 2s |")
    assert lines[3].startswith("| sc@demo | in-service | 3 | passed | 2s [1-3] | 2s [1-3] |")
    assert len(lines) == 4


def test_result_mixed_window_writes_and_overhead_are_folded_and_missing_figures_tolerated(runs):
    reports = load_reports(runs[:3])
    reports[0]["passed"] = False
    reports[0]["versions"]["mixed_window"], reports[1]["timings"]["overhead"] = 1.5, 6.0
    del reports[2]["timings"], reports[2]["writes"]["acknowledged"], reports[1]["versions"]["mixed_window"]
    (row,) = compare(reports)
    assert text.comparison_cells(row)[3] == "1 of 3 FAILED"
    assert row.mixed_window == Spread(pytest.approx(6.7), 1.5, pytest.approx(11.9), 2)  # v1 and v2 from 8 s to 19.9 s
    assert row.overhead == Spread(4.0, 2, 6.0, 2) and row.writes_acknowledged == Spread(1.0, 1, 1, 2)
    assert row.rollback_verdicts == {"none": 3}
    without_probe = [{**r, "writes": {**r["writes"], "measured": False}} for r in reports]
    assert compare(without_probe)[0].writes_acknowledged.text("") == "-"


def test_the_result_says_passed_failed_or_how_many_of_the_repeats_failed():
    assert [text.result_text(passed, 3) for passed in (3, 0, 2)] == ["passed", "FAILED", "1 of 3 FAILED"]


def test_a_sweep_directory_stands_for_its_runs_one_row_per_point_and_strategy(tmp_path):
    from harness.analysis import analyze_run_dir
    from harness.sweep.fold import SweepEntry, fold
    from harness.sweep.run import write_sweep

    entries = []
    for strategy in ("in-service", "blue-green"):
        for index, point in enumerate(("tasks_replaced=0", "tasks_replaced=2")):
            run_dir = make_run_dir(tmp_path, f"{strategy}-{index}", strategy, outage=index + 0.5)
            entries.append(SweepEntry(strategy, point, {}, 1, run_dir.name, analyze_run_dir(run_dir)))
    write_sweep(tmp_path, fold(entries, {"scenario": "sc", "app": "demo", "fault": {"kind": "node-halt"},
                                         "repeat": 1}))
    document = json.loads(CliRunner().invoke(main, ["compare", "--json", str(tmp_path)]).output)
    assert [(row["scenario"], row["strategy"], row["runs"]) for row in document["rows"]] == [
        ("sc@demo at tasks_replaced=0", "blue-green", 1), ("sc@demo at tasks_replaced=0", "in-service", 1),
        ("sc@demo at tasks_replaced=2", "blue-green", 1), ("sc@demo at tasks_replaced=2", "in-service", 1)]
