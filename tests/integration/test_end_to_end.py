"""The seed scenarios, shortened, on a real cluster: Vagrant nodes, Swarm, registry, HAProxy, Locust."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from harness.analysis import attribute
from harness.analysis import downtime as dt
from harness.analysis.samples import read_samples
from harness.app import DEFAULT_PROFILE
from harness.dockerhost import CLUSTER_LABEL, host_docker
from harness.journal import read_journal
from harness.ledger import HealLedger
from harness.runner import Runner
from harness.scenario import Phases, load_scenario
from harness.shipped import shipped_scenario
from harness.stack import BLUE
from harness.waiting import wait_until
from tests.integration.conftest import lint_proofs, live_releases, relocatable

pytestmark = pytest.mark.docker


def shortened(name: str, strategy: str | None = None, held: float | None = None, **phases):
    """A shipped scenario with shorter phases, under ``strategy`` (default: its own, else in-service); ``held``: the
    seconds its first fault holds, when shorter than its own."""
    scenario = load_scenario(shipped_scenario(name)).under(strategy)
    update: dict = {"phases": Phases(**{**scenario.phases.model_dump(), **phases})}
    if held is not None:
        update["faults"] = [scenario.faults[0].model_copy(update={"duration": held}), *scenario.faults[1:]]
    return scenario.model_copy(update=update)


def samples_of(run_dir):
    """The run's samples, each attributed to the release that served it (as the analysis does)."""
    return attribute(read_samples(run_dir / "samples.jsonl"), read_journal(run_dir / "journal.jsonl"))


def events_of(run_dir, type):
    return [e for e in read_journal(run_dir / "journal.jsonl") if e.type == type]


def test_halted_node_during_in_service_upgrade(cluster, demo, tmp_path):
    # held 25 s: Swarm marks a node down 10-15 s after its engine stops (three missed 5 s heartbeats); held 15 s,
    # the node came back within a few seconds of that, and once while the watcher waited on the manager
    scenario = shortened("halted-node", held=25, warmup=5, observe=8, verify_window=5)
    result = Runner(scenario, cluster, tmp_path, demo).run()
    report, run_dir = result.report, result.run_dir

    (inject,) = events_of(run_dir, "fault.inject")
    assert inject.get("target") not in (cluster.state.manager, cluster.stateful_node)
    downs = [e for e in events_of(run_dir, "engine.node_state") if e.get("node") == inject.get("target")]
    assert any(e.get("state") == "down" for e in downs), "Swarm never reported the halted node down"
    assert report["faults"][0]["time_to_effect"] > 0

    timings = report["timings"]  # the harness's own cost, from the journalled phases and steps
    assert timings["phases"]["warmup"] >= 5 and timings["phases"]["observe"] >= 8
    assert all(timings[step] is not None and timings[step] >= 0
               for step in ("prepare", "heal", "read_back", "logs", "analysis", "rendering"))
    assert timings["overhead"] == pytest.approx(timings["wall"] - sum(timings["phases"].values()))
    assert 0 < timings["overhead"] < timings["wall"]

    samples = read_samples(run_dir / "samples.jsonl")
    (start,), (stop,) = events_of(run_dir, "load.start"), events_of(run_dir, "load.stop")
    expected = scenario.load.rate * (stop.t - start.t)
    assert len(samples) == report["load"]["samples"]
    assert 0.8 * expected <= len(samples) <= 1.25 * expected, (len(samples), expected)
    # an open schedule: every request went out on its due time, through the node's outage too
    steadiness = report["load"]["steadiness"]
    assert all(s.due is not None for s in samples) and steadiness["steady"] is True, steadiness
    assert steadiness["lag_p99"] < 0.1 and steadiness["resolution"] == 1 / scenario.load.rate

    (settled,) = events_of(run_dir, "upgrade.settled")
    assert report["upgrade"]["outcome"] == settled.get("outcome") == "completed"
    assert report["downtime"] == pytest.approx(dt.downtime(dt.outages(samples)))
    assert report["writes"]["lost"] == 0
    assert cluster.engine.service(BLUE.service("web")).converged_on("v2")
    assert HealLedger(run_dir).pending() == []

    (collected,) = events_of(run_dir, "logs.collected")
    assert {f"logs/{inject.get('target')}.engine.log", "logs/chaos_harness-lb.log", "logs/chaos_web.log"} <= set(
        collected.get("files"))
    halted_engine = (run_dir / "logs" / f"{inject.get('target')}.engine.log").read_text()
    # The engine log spans the halt: the graceful stop reached dockerd (it may be killed before it finishes,
    # e.g. while it pulls the new image) and the engine came back.
    assert "Processing signal 'terminated'" in halted_engine and "Loading containers: start." in halted_engine
    assert "Server blue/srv" in (run_dir / "logs" / "chaos_harness-lb.log").read_text()  # HAProxy saw tasks go
    assert "Traceback" not in (run_dir / "logs" / "chaos_web.log").read_text()


def test_lint_proves_a_paused_update_is_left_half_done_and_its_fix_rolls_the_bad_release_back(cluster, demo,
                                                                                              tmp_path):
    """swarm-failure-action-pause on the demo (Swarm's default failure_action): the synthesised broken release
    leaves the update paused; the fixed variant (failure_action: rollback) rolls it back, verified, and v1 serves
    every request again."""
    proof, lint_dir = lint_proofs(cluster, "demo", "swarm-failure-action-pause", tmp_path, "warmup=5s", "observe=10s",
                                  "verify_window=8s")
    assert proof["reproduced"] is True and "upgrade paused" in proof["observed"], proof
    assert proof["fix_removed"] is True and "upgrade rolled_back" in proof["fixed_observed"], proof

    (fixed_report,) = lint_dir.glob("*-fixed-in-service/report.json")
    report = json.loads(fixed_report.read_text())
    assert report["app"]["new"] == "broken", "the broken release is synthesised from the demo's new one"
    assert report["rollback"]["success"] is True, report["rollback"]["reasons"]
    assert report["rollback"]["time_to_rollback"] > 0
    assert "broken" not in Counter(t.version for t in cluster.engine.service(BLUE.service("web")).running())
    assert live_releases(cluster, demo) == ["v1"] * 10
    assert report["passed"] is True, report["verdicts"]


def test_lint_proves_updating_every_task_at_once_is_an_outage_and_one_at_a_time_is_none(cluster, tmp_path):
    """swarm-update-all-at-once on a copy of the demo whose web service updates all its tasks at once
    (update_config.parallelism: 0, stop-first): no task serves while they are replaced, an outage; the fixed
    variant (parallelism 1) replaces one task at a time and clients see none."""
    demo = relocatable(DEFAULT_PROFILE)
    compose = yaml.safe_load(Path(demo["compose"]).read_text())
    for service in compose["services"].values():
        service["build"]["context"] = str(Path(demo["compose"]).parent / service["build"]["context"])
    compose["services"]["web"]["deploy"]["update_config"] = {"parallelism": 0}
    (tmp_path / "compose.yml").write_text(yaml.safe_dump(compose))
    demo["compose"] = str(tmp_path / "compose.yml")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(demo, sort_keys=False))
    proof, lint_dir = lint_proofs(cluster, str(tmp_path / "demo.yaml"), "swarm-update-all-at-once", tmp_path,
                                  "warmup=5s", "observe=8s")
    assert proof["reproduced"] is True and proof["fix_removed"] is True, proof
    (proof_report,) = (path for path in lint_dir.glob("*/report.json") if "-fixed-" not in path.parent.name)
    assert json.loads(proof_report.read_text())["longest_outage"] >= 1


def test_an_interrupted_run_heals_its_fault(cluster, tmp_path):
    scenario = tmp_path / "hold.yaml"
    scenario.write_text(
        "name: interrupted\nphases: {warmup: 60s, observe: 1s, verify_window: 1s}\n"
        "faults:\n  - kind: node-halt\n    target: {role: worker, seed: 1}\n    at: {phase: warmup, offset: 1s}\n"
    )
    config = cluster.config
    env = {**os.environ, "CHAOS_HOME": str(config.workdir)}
    process = subprocess.Popen(  # as from a terminal: SIGINT not ignored, whatever started pytest
        [sys.executable, "-m", "harness.cli", "--cluster", config.name, "run", str(scenario),
         "--reports", str(tmp_path / "reports")], env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        ledger_path = wait_until(lambda: next((tmp_path / "reports").glob("*/heal-ledger.jsonl"), None),
                                 timeout=120, what="the fault to be recorded")
        target = HealLedger(ledger_path.parent).pending()[0].target
        wait_until(lambda: cluster.node_states()[target] == "stopped", timeout=60, what=f"{target} halted")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=180) == 130
    finally:
        if process.poll() is None:
            process.kill()
    assert cluster.node_states()[target] == "running"
    assert HealLedger(ledger_path.parent).pending() == []
    assert events_of(ledger_path.parent, "run.end")[0].get("status") == "interrupted"


def test_teardown_removes_everything_the_cluster_made_and_nothing_else(cluster):
    name = cluster.config.name
    client = host_docker()
    assert f"{name}-node1" in {c.name for c in client.containers.list(all=True)}
    bystander = client.volumes.create(f"{name}-bystander-not-ours")  # named like ours, but not labelled
    try:
        teardown = cluster.down()
        assert teardown.complete, teardown  # this machine as its fingerprint from before up says
        label = {"label": f"{CLUSTER_LABEL}={name}"}
        assert client.containers.list(all=True, filters=label) == []
        assert client.networks.list(filters=label) == []
        assert client.volumes.list(filters=label) == []
        assert [v.name for v in client.volumes.list() if v.name.startswith(f"{name}-")] == [bystander.name]
        assert not cluster.config.state_dir.exists()
    finally:
        bystander.remove()
