"""The pytest plugin, run inside pytester: scenario files become items whose outcome is their expectations.

The inner sessions answer ``pytest_chaos_run_scenario`` from a conftest with
fixture run directories, so no cluster is needed here; the integration layer
runs the plugin on a real cluster.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

CONFTEST = """
import pytest
from harness.analysis import analyze_run_dir
from harness.testing import make_run_dir

@pytest.hookimpl
def pytest_chaos_run_scenario(scenario, config):
    outage = 2.0 if scenario.name == "slow" else 0.0
    run_id = f"{scenario.name}-{scenario.strategy.kind}"
    expect = scenario.expect.model_dump(exclude_none=True)
    return analyze_run_dir(make_run_dir(config.rootpath / "runs", run_id, scenario.strategy.kind, outage, expect=expect))
"""


def scenarios(pytester, **files):
    pytester.makeconftest(CONFTEST)
    folder = pytester.mkdir("scenarios")
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_each_file_is_an_item_per_strategy_and_repeat_and_a_fixed_strategy_is_kept(pytester):
    scenarios(pytester, fast="name: fast\nexpect: {max_downtime: 1s}\n",
              fixed="name: fixed\nstrategy: {kind: blue-green}\nexpect: {max_downtime: 1s}\n")
    pytester.makefile(".yaml", elsewhere="name: not-a-scenario-here\n")
    result = pytester.runpytest("--collect-only", "-q", "--chaos-strategy", "in-service",
                                "--chaos-strategy", "blue-green", "--chaos-repeat", "2")
    result.stdout.fnmatch_lines([
        "scenarios/fast.yaml::fast[[]in-service-1]", "scenarios/fast.yaml::fast[[]blue-green-1]",
        "scenarios/fast.yaml::fast[[]in-service-2]", "scenarios/fast.yaml::fast[[]blue-green-2]",
        "scenarios/fixed.yaml::fixed[[]blue-green-1]", "scenarios/fixed.yaml::fixed[[]blue-green-2]",
        "6 tests collected*"])


def test_an_item_passes_or_fails_on_its_expectations_and_a_failure_shows_the_table(pytester):
    scenarios(pytester, fast="name: fast\nexpect: {max_downtime: 1s}\n",
              slow="name: slow\nexpect: {max_downtime: 1s}\n")
    result = pytester.runpytest("scenarios")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*run slow-in-service did not meet its expectations:*",
                                 "*max_downtime*<= 1s*2.000s*FAIL*",
                                 "*max_lost_writes*<= 0*0*pass*"])


def test_an_invalid_scenario_is_a_collection_error_naming_file_key_and_value(pytester):
    scenarios(pytester, broken="name: broken\nload: {rate: -5}\n")
    result = pytester.runpytest("scenarios")
    assert result.ret == 2  # pytest's exit code for collection errors
    result.stdout.fnmatch_lines(["*broken.yaml: invalid scenario*", "*load.rate: got -5*greater than or equal to 1*"])


def test_junitxml_carries_the_items_and_the_failure_text(pytester):
    scenarios(pytester, slow="name: slow\nexpect: {max_downtime: 1s}\n")
    pytester.runpytest("scenarios", "--junitxml=out.xml")
    (case,) = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    assert case.get("name") == "slow[in-service-1]"
    assert "max_downtime" in case.find("failure").text
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["run_id"] == "slow-in-service" and properties["upgrade_outcome"] == "completed"


SWEPT = """name: swept
stack: {replicas: 2}
faults:
  - {kind: node-halt, target: {role: upgraded-worker}, at: {tasks_replaced: 1}}
"""


def test_a_sweep_is_one_item_per_strategy_point_and_repeat(pytester):
    scenarios(pytester, swept=SWEPT)
    result = pytester.runpytest("--collect-only", "-q", "--chaos-sweep", "--chaos-strategy", "in-service",
                                "--chaos-strategy", "blue-green", "--chaos-points", "2")
    result.stdout.fnmatch_lines([
        "scenarios/swept.yaml::swept[[]in-service-tasks_replaced=0-1]",
        "scenarios/swept.yaml::swept[[]in-service-tasks_replaced=2-1]",
        "scenarios/swept.yaml::swept[[]blue-green-tasks_replaced=0-1]",
        "scenarios/swept.yaml::swept[[]blue-green-step=switched+2.5s-1]",
        "4 tests collected*"])
    result = pytester.runpytest("scenarios", "--chaos-sweep", "--chaos-points", "3", "-v")
    result.assert_outcomes(passed=3)  # in-service (the default) at 0, 1 and 2 tasks replaced


def test_a_sweep_of_an_impossible_scenario_is_a_collection_error(pytester):
    scenarios(pytester, swept=SWEPT.replace("tasks_replaced: 1}", "tasks_replaced: 1}, params: {mode: sideways}"))
    result = pytester.runpytest("scenarios", "--chaos-sweep")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*swept.yaml: invalid scenario*", "*params.mode*sideways*"])


def test_a_scenario_without_a_fault_is_skipped_in_a_sweep_and_points_are_capped_per_file(pytester):
    scenarios(pytester, swept=SWEPT, calm="name: calm\nexpect: {max_downtime: 1s}\n")
    result = pytester.runpytest("scenarios", "--chaos-sweep", "--chaos-points", "9", "-rs")
    result.assert_outcomes(passed=3, skipped=1)  # swept has 3 points under in-service: all of them
    result.stdout.fnmatch_lines(["*no fault to sweep*"])


def test_with_two_engines_each_strategy_and_repeat_is_an_item_per_engine_and_the_hook_is_told_which(pytester):
    pytester.makeconftest(CONFTEST.replace(
        "def pytest_chaos_run_scenario(scenario, config):\n",
        "def pytest_chaos_run_scenario(scenario, config, engine):\n    assert engine in ('swarm', 'kubernetes')\n"
        "    (config.rootpath / f'ran-{engine}').touch()\n"))
    folder = pytester.mkdir("scenarios")
    (folder / "fast.yaml").write_text("name: fast\nexpect: {max_downtime: 1s}\n")
    collected = pytester.runpytest("--collect-only", "-q", "--chaos-engine", "swarm", "--chaos-engine", "kubernetes")
    collected.stdout.fnmatch_lines(["scenarios/fast.yaml::fast[[]in-service-swarm-1]",
                                    "scenarios/fast.yaml::fast[[]in-service-kubernetes-1]", "2 tests collected*"])
    pytester.runpytest("scenarios", "--chaos-engine", "kubernetes").assert_outcomes(passed=1)
    assert [path.name for path in sorted(pytester.path.glob("ran-*"))] == ["ran-kubernetes"]
    refused = pytester.runpytest("scenarios", "--chaos-engine", "nomad")
    assert refused.ret == 4  # pytest's usage error
    refused.stderr.fnmatch_lines(["*--chaos-engine: invalid choice: 'nomad'*"])
