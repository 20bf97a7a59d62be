"""The seed scenarios against a stack that shares nothing with the demo: the guestbook example.

Node.js and PostgreSQL, no version header, no /healthz, its own Dockerfiles.
Every release figure comes from the load balancer and the engine, and the
broken release is synthesised by the harness.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from harness.app import App, load_profile
from harness.errors import ProfileError, ServiceMissing
from harness.runner import Runner
from harness.stack import BLUE
from tests.integration.conftest import GUESTBOOK, live_releases, relocatable
from tests.integration.test_end_to_end import events_of, samples_of, shortened

pytestmark = pytest.mark.docker
STRATEGIES = ("in-service", "blue-green")  # blue-green on the guestbook: its broken release; the rest in-service


def run(cluster, guestbook, tmp_path, name, strategy, held=None, **phases):
    result = Runner(shortened(name, strategy, held, **phases), cluster, tmp_path, guestbook).run()
    report = result.report
    assert report["app"]["name"] == "guestbook" and report["status"] == "completed"
    assert report["writes"]["measured"] and report["writes"]["lost"] == 0, report["writes"]
    served = [s for s in samples_of(result.run_dir) if s.ok]
    assert served and all(s.version in ("1.0", "1.1") for s in served), "every success is attributed to a release"
    return result


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_synthesised_broken_release_is_rolled_back_on_the_guestbook(cluster, guestbook, tmp_path, strategy):
    result = run(cluster, guestbook, tmp_path, "bad-release-rollback", strategy, warmup=5, observe=10,
                 verify_window=8)
    report = result.report
    assert report["app"]["new"] == "broken"
    assert report["upgrade"]["outcome"] == "rolled_back"
    assert report["rollback"]["success"] is True, report["rollback"]["reasons"]
    assert set(report["versions"]["counts"]) == {"1.0"}, "the broken release never served a request"
    assert live_releases(cluster, guestbook) == ["1.0"] * 10
    assert report["passed"], report["verdicts"]


def test_an_unreachable_registry_on_the_guestbook(cluster, guestbook, tmp_path):
    result = run(cluster, guestbook, tmp_path, "registry-unreachable", "in-service", warmup=5, observe=10,
                 verify_window=5)
    report = result.report
    (inject,) = events_of(result.run_dir, "fault.inject")
    rejected = [e for e in events_of(result.run_dir, "engine.task")
                if e.get("node") == inject.get("target") and e.get("state") == "rejected"]
    assert rejected, "the node behind the firewall never had a task rejected for its image"
    assert report["upgrade"]["outcome"] == "rolled_back"
    assert report["rollback"]["success"] is True, report["rollback"]["reasons"]
    final = events_of(result.run_dir, "engine.final")
    assert final and final[0].get("service") == BLUE.service("app") and final[0].get("running") == {"1.0": 3}
    assert report["passed"], report["verdicts"]


def test_app_check_shows_which_release_answered_each_request(cluster, guestbook):
    env = {**os.environ, "CHAOS_HOME": str(cluster.config.workdir)}
    check = subprocess.run([sys.executable, "-m", "harness.cli", "--cluster", cluster.config.name, "app", "check",
                            str(GUESTBOOK)], env=env, capture_output=True, text=True, timeout=600)
    assert check.returncode == 0, check.stderr[-3000:]
    lines = check.stdout.splitlines()
    assert any(line.startswith("GET /status") and "release 1.0 on node" in line for line in lines), lines
    assert any(line.startswith("GET /status") and "check passed" in line for line in lines), lines
    assert any(line.startswith("read-back of a write just made") and line.endswith("present") for line in lines)
    assert any(line.startswith("read-back of a write never made") and line.endswith("absent") for line in lines)
    assert "answers passed their check" in check.stderr and "attributed to a release" in check.stderr
    assert cluster.engine.nodes() and not _deployed(cluster, BLUE.service("app")), "app check removes its stack"


def _deployed(cluster, service: str) -> bool:
    try:
        cluster.engine.service(service)
        return True
    except ServiceMissing:
        return False


def test_a_stack_that_never_becomes_healthy_fails_prepare_with_its_tasks_and_logs(cluster, tmp_path):
    document = relocatable(GUESTBOOK)
    document["entry"]["health"]["path"] = "/no-such-health-page"  # answers 404: never healthy
    profile = tmp_path / "unhealthy.yaml"
    profile.write_text(yaml.safe_dump(document, sort_keys=False))
    app = App.prepare(load_profile(profile), cluster.builder)

    with pytest.raises(ProfileError) as failed:  # every task answers 404: the profile's mistake, exit 2
        Runner(shortened("clean-upgrade", "in-service", warmup=1, observe=1, verify_window=1), cluster,
               tmp_path / "runs", app).run()
    message = str(failed.value)
    assert "entry.health: every task of app answers GET /no-such-health-page with 404" in message
    assert "the load balancer's last health checks:" in message and "L7STS 404" in message
    assert "last tasks of chaos_app:" in message and "1.0 running" in message
    assert "last log lines of chaos_app:" in message
