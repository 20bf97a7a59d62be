"""A small sweep through the CLI on the real cluster: two points, one repeat, both strategies.

sweep.json must agree with the run directories it names: each run's report,
its first fault's timing, and when the fault really struck.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness.journal import read_journal

pytestmark = pytest.mark.docker

SCENARIO = """
name: sweep-small
stack: {replicas: 3}
strategy:
  update_config: {parallelism: 1, delay: 1s, order: start-first, failure_action: pause, monitor: 4s}
  timeout: 90s
load: {rate: 20, timeout: 1s}
phases: {warmup: 3s, observe: 3s, verify_window: 2s}
faults:
  - {kind: task-kill, target: {role: upgraded-worker}, at: {tasks_replaced: 1}}
expect: {max_lost_writes: 0}
"""


def harness(cluster, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAOS_HOME": str(cluster.config.workdir)}
    return subprocess.run([sys.executable, "-m", "harness.cli", "--cluster", cluster.config.name, *args], env=env,
                          capture_output=True, text=True, timeout=1200, check=False)


def first_time(events, kind: str) -> float:
    return next(e.t for e in events if e.type == kind)


def test_a_two_point_sweep_under_both_strategies_agrees_with_its_run_directories(cluster, demo, tmp_path):
    scenario, reports = tmp_path / "sweep-small.yaml", tmp_path / "reports"
    scenario.write_text(SCENARIO)
    done = harness(cluster, "sweep", str(scenario), "--points", "2", "--repeat", "1", "--reports", str(reports))
    assert done.returncode == 0, done.stderr[-3000:]
    (sweep_dir,) = reports.glob("sweep-*")
    document = json.loads((sweep_dir / "sweep.json").read_text())
    assert document["schema"] == "chaos-harness/sweep@1" and document["fault"]["kind"] == "task-kill"
    points = {kind: [p["point"] for p in strategy["points"]] for kind, strategy in document["strategies"].items()}
    assert points == {"in-service": ["tasks_replaced=0", "tasks_replaced=3"],
                      "blue-green": ["tasks_replaced=0", "step=switched+2s"]}

    for kind, strategy in document["strategies"].items():
        for point in strategy["points"]:
            (run,) = point["runs"]
            run_dir = sweep_dir / run["run_dir"]
            report = json.loads((run_dir / "report.json").read_text())
            assert (report["run_id"], report["upgrade"]["outcome"], report["downtime"]) == \
                (run["run_id"], run["outcome"], run["downtime"])
            assert report["scenario"]["strategy"]["kind"] == kind
            assert report["scenario"]["faults"][0]["at"] == {"phase": None, "step": None, "offset": 0.0,
                                                             "tasks_replaced": None, **point["at"]}
            events = read_journal(run_dir / "journal.jsonl")
            struck, requested = first_time(events, "fault.inject"), first_time(events, "upgrade.requested")
            assert run["struck"] is True
            if point["point"] == "tasks_replaced=0":  # as the upgrade phase begins, before the update is asked for
                upgrade = next(e.t for e in events if e.type == "phase.start" and e.get("phase") == "upgrade")
                assert upgrade <= struck <= requested
            else:
                assert struck > requested
            if point["point"] == "step=switched+2s":
                assert struck >= first_time(events, "switch.done") + 2.0
        assert strategy["predictability"] is None and strategy["judged_points"] == 0  # one repeat: not judged

    compared = json.loads(harness(cluster, "compare", "--json", str(sweep_dir)).stdout)
    assert sorted((row["scenario"], row["strategy"]) for row in compared["rows"]) == sorted(
        (f"sweep-small@demo at {point}", kind) for kind, names in points.items() for point in names)
    assert "Predictability" in (sweep_dir / "sweep.md").read_text()
    assert (sweep_dir / "sweep.html").read_text().count('data-chart="sweep"') == 2
