"""The strategy x scenario comparison from fixture run directories with known numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare import Spread, compare, origins_note
from harness.report.rundir import load_reports
from harness.errors import UsageError
from harness.report import text, write_comparison
from harness.testing import DEMO_CLUSTER, make_run_dir


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
    assert lines[0] == ("| scenario | strategy | engine | runs | result | downtime | longest outage | error rate | p99 | "
                        "mixed-version window | switch propagation | upgrade outcomes | rollback ok | time to rollback | "
                        "writes acknowledged | lost writes | overhead | machine/cluster |")
    assert lines[2] == ("| sc@demo | blue-green | swarm | 2 | passed | 0s | 0s | 0% | 0.01s | 11.9s | - | "
                        "completed 1, rolled_back 1 | 1/1 | 0.5s | 1 | 0 | 2s | ci-1/chaos |")
    assert lines[3].startswith("| sc@demo | in-service | swarm | 3 | passed | 2s [1-3] | 2s [1-3] |")
    assert len(lines) == 4


def test_result_mixed_window_writes_and_overhead_are_folded_and_missing_figures_tolerated(runs):
    reports = load_reports(runs[:3])
    reports[0]["passed"] = False
    reports[0]["versions"]["mixed_window"], reports[1]["timings"]["overhead"] = 1.5, 6.0
    del reports[2]["timings"], reports[2]["writes"]["acknowledged"], reports[1]["versions"]["mixed_window"]
    (row,) = compare(reports)
    assert text.comparison_cells(row)[4] == "1 of 3 FAILED"
    assert row.mixed_window == Spread(pytest.approx(6.7), 1.5, pytest.approx(11.9), 2)  # v1 and v2 from 8 s to 19.9 s
    assert row.overhead == Spread(4.0, 2, 6.0, 2) and row.writes_acknowledged == Spread(1.0, 1, 1, 2)
    assert row.rollback_verdicts == {"none": 3}
    assert row.propagation_window == Spread(None, None, None, 0)  # no switch in an in-service run
    switched = [{**r, "propagation": {"window": window}} for r, window in zip(reports, (0.2, None, 1.4))]
    assert compare(switched)[0].propagation_window == Spread(pytest.approx(0.8), 0.2, 1.4, 2)
    assert text.comparison_cells(compare(switched)[0])[10] == "0.8s [0.2-1.4]"
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


# -- run directories from several machines (a matrix spread over CI runners) --------------------------------------

def shift_clock(run_dir: Path, seconds: float) -> Path:
    """The run as a machine whose clock is ``seconds`` ahead of the fixture's would have recorded it."""
    for name, keys in (("journal.jsonl", ("t", "started_at")), ("samples.jsonl", ("t", "end"))):
        path = run_dir / name
        records = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({key: value + seconds if key in keys and value is not None else value
                                            for key, value in record.items()}) + "\n" for record in records))
    return run_dir


def on_machine(root: Path, machine: str, run_id: str, strategy: str, outage: float, offset: float = 0.0) -> Path:
    """A fixture run as downloaded from one runner's artifact: ``root/<machine>/<run_id>``."""
    cluster = {**DEMO_CLUSTER, "machine": machine}
    return shift_clock(make_run_dir(root / machine, run_id, strategy, outage, cluster=cluster), offset)


@pytest.fixture
def sharded(tmp_path):
    """One scenario under two strategies, each repeated on two runners whose clocks are 1 h 0.25 s apart; the
    in-service runs share their run id (both runners started them in the same second)."""
    return [on_machine(tmp_path, "runner-a", "t1-sc-in-service", "in-service", 1.0),
            on_machine(tmp_path, "runner-b", "t1-sc-in-service", "in-service", 3.0, offset=3600.25),
            on_machine(tmp_path, "runner-a", "t2-sc-blue-green", "blue-green", 0.0),
            on_machine(tmp_path, "runner-b", "t9-sc-blue-green", "blue-green", 0.0, offset=3600.25)]


def test_runs_from_two_machines_keep_their_figures_and_each_row_names_its_machines(sharded):
    blue_green, in_service = compare(load_reports(sharded))
    assert in_service.runs == 2 and in_service.machines == ["runner-a", "runner-b"]
    assert in_service.downtime == Spread(pytest.approx(2.0), pytest.approx(1.0), pytest.approx(3.0), 2)
    assert in_service.mixed_window.low == pytest.approx(in_service.mixed_window.high)  # 1 h apart, the same window
    assert text.comparison_cells(in_service)[-1] == "runner-a/chaos, runner-b/chaos"
    assert origins_note([blue_green, in_service]).startswith("Runs from 2 machines (runner-a, runner-b). Each run "
                                                             "is timed on its own machine's clock")


def test_the_merged_table_says_its_runs_came_from_two_machines_in_every_format(sharded, tmp_path):
    markdown = CliRunner().invoke(main, ["compare", "--markdown", "--output", str(tmp_path / "merged"),
                                         *map(str, sharded)])
    assert markdown.exit_code == 0, markdown.output
    table, note = markdown.output.strip().split("\n\n")
    assert table.splitlines()[2].endswith("| runner-a/chaos, runner-b/chaos |")
    assert note.startswith("**Note:** Runs from 2 machines (runner-a, runner-b).")
    assert "Runs from 2 machines" in (tmp_path / "merged" / "compare.md").read_text()
    assert "<b>Note:</b> Runs from 2 machines" in (tmp_path / "merged" / "compare.html").read_text()
    document = json.loads(CliRunner().invoke(main, ["compare", "--json", *map(str, sharded)]).output)
    assert document["note"].startswith("Runs from 2 machines")
    assert document["rows"][1]["machines"] == ["runner-a", "runner-b"]


def test_runs_of_one_machine_have_no_note_and_two_clusters_of_one_machine_are_named(runs, tmp_path):
    assert origins_note(compare(load_reports(runs))) is None
    other = make_run_dir(tmp_path, "c1", "in-service", 1.0, cluster={**DEMO_CLUSTER, "name": "staging"})
    assert origins_note(compare(load_reports([*runs, other]))) == (
        "Runs on 2 clusters of one machine (ci-1/chaos, ci-1/staging).")


def test_a_run_given_twice_is_refused_naming_both_copies(sharded, tmp_path):
    copy = shutil.copytree(sharded[0], tmp_path / "again" / sharded[0].name)
    with pytest.raises(UsageError, match=f"{sharded[0]} and {copy} hold the same run \\(t1-sc-in-service on "
                                         "machine runner-a\\): give each run once"):
        load_reports([*sharded, copy])


def test_a_report_from_before_machines_were_recorded_is_from_an_unknown_machine(runs):
    reports = load_reports(runs[:2])
    del reports[0]["cluster"]["machine"]
    reports[1]["cluster"] = None
    (row,) = compare(reports)
    assert (row.machines, row.clusters) == (["unknown", "unknown"], ["chaos", "unknown"])


def on_engine(report: dict, engine: str, revision: str = "") -> dict:
    app = {**report["app"], **({"revision": revision} if revision else {})}
    return {**report, "cluster": {**report["cluster"], "engine": engine}, "app": app}


def test_each_engine_is_a_row_of_its_own_and_a_report_from_before_engines_is_swarms(runs, tmp_path):
    reports = load_reports(runs[:3])
    rows = compare([reports[0], on_engine(reports[1], "kubernetes"), on_engine(reports[2], "kubernetes")])
    assert [(r.strategy, r.engine, r.runs) for r in rows] == [("in-service", "kubernetes", 2),
                                                              ("in-service", "swarm", 1)]
    write_comparison(tmp_path / "cmp", rows, runs[:3])
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert "<title>in-service on kubernetes and swarm</title>" in page
    assert ">in-service on kubernetes</text>" in page and ">in-service on swarm</text>" in page
    assert "| sc@demo | in-service | kubernetes | 2 |" in (tmp_path / "cmp" / "compare.md").read_text()


def test_runs_of_one_row_that_deployed_different_app_files_are_refused_naming_both_revisions(runs):
    reports = load_reports(runs[:3])
    same = [on_engine(report, "swarm", "aaa111") for report in reports]
    assert compare(same)[0].runs == 3
    with pytest.raises(UsageError, match=r"sc@demo under in-service on swarm: its runs deployed different app files "
                                         r"\(revision aaa111: a1, a2; revision bbb222: a3\)"):
        compare([*same[:2], on_engine(reports[2], "swarm", "bbb222")])
    assert len(compare([*same[:2], on_engine(reports[2], "kubernetes", "bbb222")])) == 2  # other rows may differ
