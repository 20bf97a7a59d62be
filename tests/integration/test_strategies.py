"""Both strategies on the real cluster: the zero-loss switch, a bad release, a requested rollback, a matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from harness.runner import Runner
from harness.shipped import shipped_scenario
from harness.stack import BLUE, router
from tests.integration.conftest import live_releases
from tests.integration.test_end_to_end import events_of, samples_of, shortened

pytestmark = pytest.mark.docker


def test_blue_green_switch_loses_no_request(cluster, demo, tmp_path):
    result = Runner(shortened("clean-upgrade", "blue-green", warmup=5, observe=8), cluster, tmp_path, demo).run()
    report, samples = result.report, samples_of(result.run_dir)
    (done,) = events_of(result.run_dir, "switch.done")

    assert report["upgrade"]["outcome"] == "completed"
    assert report["load"]["failed"] == 0 and len(samples) > 500
    assert any(s.t < done.t for s in samples) and any(s.t > done.t for s in samples), "load must span the switch"
    assert {s.version for s in samples if s.t > done.t} == {"v2"}
    assert report["upgrade"]["time_to_ready"] > 0 and report["upgrade"]["time_to_switch"] < 1
    assert router(cluster.state.lb_admin).routes() == {"live": "green", "preview": "blue"}
    assert cluster.engine.service(BLUE.service("web")).converged_on("v1"), "the old stack is kept until the run ends"


def test_a_bad_release_under_blue_green_never_receives_traffic(cluster, demo, tmp_path):
    result = Runner(shortened("bad-release-rollback", "blue-green", warmup=5, observe=10, verify_window=8),
                    cluster, tmp_path, demo).run()
    report, samples = result.report, samples_of(result.run_dir)

    assert Counter(s.version for s in samples if s.ok) == {"v1": report["load"]["samples"] - report["load"]["failed"]}
    assert events_of(result.run_dir, "switch.requested") == []
    assert report["upgrade"]["outcome"] == "rolled_back"
    assert report["rollback"]["success"] is True, report["rollback"]["reasons"]
    assert router(cluster.state.lb_admin).routes()["live"] == "blue"
    assert report["passed"] is True, report["verdicts"]


def test_a_requested_in_service_rollback_is_verified(cluster, demo, tmp_path):
    result = Runner(shortened("rollback-on-request", "in-service", warmup=5, observe=12, verify_window=8),
                    cluster, tmp_path, demo).run()
    report = result.report
    (requested,) = events_of(result.run_dir, "rollback.requested")
    completed = [e for e in events_of(result.run_dir, "engine.update_state") if e.get("state") == "rolled_back"]

    assert report["upgrade"]["outcome"] == "completed"
    assert requested.get("reason") == "requested" and completed and completed[0].t > requested.t
    assert report["rollback"]["success"] is True, report["rollback"]["reasons"]
    assert report["rollback"]["time_to_rollback"] > 0
    (final,) = events_of(result.run_dir, "engine.final")
    assert final.get("running") == {"v1": 3}
    assert sum(Counter(v or {}).get("v1", 0) for v in final.get("processes").values()) >= 3
    assert live_releases(cluster, demo, 6) == ["v1"] * 6


def test_a_small_matrix_runs_both_strategies_and_compares_them(cluster, demo, tmp_path):
    paths = []
    for name in ("clean-upgrade", "rollback-on-request"):
        document = yaml.safe_load(shipped_scenario(name).read_text())
        document["phases"] = {"warmup": "3s", "observe": "8s", "verify_window": "5s"}
        # what this test checks is the matrix, not the demo's downtime: an old task of the demo exits at once on
        # SIGTERM and now and then costs one request HAProxy sent it just before (0.02 s in a rehearsal)
        document["expect"]["max_downtime"] = "1s"
        if name == "rollback-on-request":  # under in-service: test_a_requested_in_service_rollback_is_verified
            document["strategy"]["kind"] = "blue-green"
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(yaml.safe_dump(document))
    reports = tmp_path / "reports"
    env = {**os.environ, "CHAOS_HOME": str(cluster.config.workdir)}
    matrix = subprocess.run(
        [sys.executable, "-m", "harness.cli", "--cluster", cluster.config.name, "matrix", *map(str, paths),
         "--strategies", "in-service,blue-green", "--repeat", "1", "--reports", str(reports), "--json"],
        env=env, capture_output=True, text=True, timeout=900)
    assert matrix.returncode == 0, matrix.stderr[-3000:]

    rows = {(r["scenario"].removesuffix("@demo"), r["strategy"]): r for r in json.loads(matrix.stdout)["rows"]}
    assert set(rows) == {("clean-upgrade", "in-service"), ("clean-upgrade", "blue-green"),
                         ("rollback-on-request", "blue-green")}
    assert all(r["runs"] == 1 and r["outcomes"] == {"completed": 1} for r in rows.values())
    assert rows[("rollback-on-request", "blue-green")]["rollback_success_rate"] == 1.0
    assert rows[("clean-upgrade", "blue-green")]["downtime"]["median"] == 0

    (compare_file,) = reports.glob("matrix-*/compare.json")
    saved = json.loads(compare_file.read_text())
    again = subprocess.run([sys.executable, "-m", "harness.cli", "compare", "--json", *saved["run_dirs"]],
                           capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["rows"] == saved["rows"]
