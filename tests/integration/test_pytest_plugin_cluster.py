"""The pytest plugin on the real cluster: a scenario file collected and run by pytest, reports written."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker

SCENARIO = """
name: plugin-clean-upgrade
stack: {from: old, to: new, replicas: 3}
phases: {warmup: 3s, observe: 6s, verify_window: 3s}
expect: {upgrade_outcome: [completed], max_downtime: 0s, max_lost_writes: 0}
"""


def test_pytest_runs_a_scenario_file_on_the_cluster(cluster, pytester, monkeypatch):
    monkeypatch.setenv("CHAOS_HOME", str(cluster.config.workdir))
    (pytester.mkdir("scenarios") / "plugin-clean-upgrade.yaml").write_text(SCENARIO)
    reports = pytester.path / "runs"
    result = pytester.runpytest_subprocess("scenarios", "--chaos-cluster", cluster.config.name,
                                           "--chaos-strategy", "blue-green", "--chaos-reports", str(reports),
                                           "--junitxml=junit.xml", timeout=600)
    result.assert_outcomes(passed=1)
    (run_dir,) = reports.iterdir()
    assert run_dir.name.endswith("plugin-clean-upgrade-blue-green")
    assert {"report.json", "report.html", "junit.xml", "summary.md"} <= {p.name for p in run_dir.iterdir()}
    assert 'name="plugin-clean-upgrade[blue-green-1]"' in (pytester.path / "junit.xml").read_text()
