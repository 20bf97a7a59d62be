"""Upgrade, rollback and write-integrity verdicts from synthetic journals and samples."""

import pytest

from harness.analysis import analyze
from harness.analysis.outcome import rollback_outcome, upgrade_outcome
from harness.analysis.samples import Sample
from harness.journal import Event
from harness.scenario import Scenario
from harness.testing import DEMO_APP


def ev(t, type, **data):
    return Event(t, type, data)


def served(t, version="v1", ok=True):
    return Sample(t=t, end=t + 0.01, ok=ok, version=version if ok else None)


ROLLBACK_JOURNAL = [
    ev(0, "run.start", scenario=Scenario(name="x").model_dump(mode="json"), run_id="r"),
    ev(10, "upgrade.requested", from_version="v1", to_version="v3-broken"),
    ev(15, "engine.update_state", state="rolling_back"),
    ev(22, "engine.update_state", state="rolled_back"),
    ev(23, "upgrade.settled", outcome="rolled_back", update_state="rolled_back"),
    ev(23, "phase.start", phase="observe"),
    ev(40, "engine.final", replicas=3, running={"v1": 3}),
    ev(40, "phase.end", phase="observe"),
]


def test_upgrade_outcome_and_time_to_settle_come_from_the_journal():
    result = upgrade_outcome(ROLLBACK_JOURNAL)
    assert result["outcome"] == "rolled_back"
    assert result["duration"] == 13


def test_a_verified_rollback_times_from_trigger_to_steady_old_version():
    samples = [served(t) for t in range(10, 16)] + [served(16, ok=False), served(17, "v3-broken")]
    samples += [served(t) for t in range(18, 40)]
    result = rollback_outcome(ROLLBACK_JOURNAL, samples, "v1", verify_window=5)
    assert result["success"] is True and result["reasons"] == []
    assert result["time_to_rollback"] == 22 - 15  # engine completion came after steady v1 (t=18)


def test_rollback_that_the_engine_calls_complete_fails_when_new_version_still_serves():
    samples = [served(t) for t in range(10, 37)] + [served(37, "v3-broken"), served(38), served(39)]
    result = rollback_outcome(ROLLBACK_JOURNAL, samples, "v1", verify_window=5)
    assert result["success"] is False
    assert "1 of 5 responses" in result["reasons"][0]
    assert result["time_to_rollback"] is None


def test_rollback_fails_when_tasks_at_the_end_are_not_all_old():
    final = ev(40, "engine.final", service="chaos_web", replicas=3, running={"v1": 2, "v3-broken": 1})
    journal = [e if e.type != "engine.final" else final for e in ROLLBACK_JOURNAL]
    result = rollback_outcome(journal, [served(t) for t in range(10, 40)], "v1", verify_window=5)
    assert result["success"] is False
    assert result["reasons"] == ["running tasks of chaos_web at the end were 2 x v1, 1 x v3-broken, not 3 x v1"]


def test_every_upgraded_service_must_be_back_on_old_after_a_rollback():
    finals = [ev(40, "engine.final", service="chaos_web", replicas=3, running={"v1": 3}),
              ev(40, "engine.final", service="chaos_worker", replicas=3, running={"v1": 2, "v2": 1})]
    journal = [e for e in ROLLBACK_JOURNAL if e.type != "engine.final"] + finals
    result = rollback_outcome(journal, [served(t) for t in range(10, 40)], "v1", verify_window=5)
    assert result["success"] is False
    assert result["reasons"] == ["running tasks of chaos_worker at the end were 2 x v1, 1 x v2, not 3 x v1"]


def test_a_rollback_without_the_engine_final_state_is_not_a_success():
    journal = [e for e in ROLLBACK_JOURNAL if e.type != "engine.final"]
    result = rollback_outcome(journal, [served(t) for t in range(10, 40)], "v1", verify_window=5)
    assert result["success"] is False
    assert result["reasons"] == ["the engine's final state was not recorded"]


def test_no_rollback_event_means_not_triggered():
    journal = [e for e in ROLLBACK_JOURNAL if e.get("state") not in ("rolling_back", "rolled_back")]
    assert rollback_outcome(journal, [], "v1", 5)["triggered"] is False


def test_the_report_judges_expectations_and_fails_on_an_unmet_one():
    scenario = Scenario(name="x", expect={"max_downtime": 1, "max_lost_writes": 0}).model_dump(mode="json")
    journal = [ev(0, "run.start", scenario=scenario, run_id="r", app=DEMO_APP, load={"rate": 10}),
               ev(60, "readback", ok=True, measured=True), ev(61, "run.end", status="completed")]
    samples = [served(1), served(2, ok=False), served(4, "v2")]
    report = analyze(journal, samples)
    verdicts = {v["name"]: v for v in report["verdicts"]}
    assert report["downtime"] == 2
    assert verdicts["max_downtime"]["passed"] is False
    assert verdicts["max_downtime"]["measured"] == "2.000s"
    assert verdicts["max_lost_writes"]["passed"] is True
    assert report["passed"] is False
    assert report["app"] == DEMO_APP
    assert report["versions"]["old"] == "v1" and report["versions"]["new"] == "v2"
    assert report["versions"]["first_new"] == 4 and report["versions"]["last_old"] == 1


def test_old_and_new_come_from_the_app_of_the_run():
    scenario = Scenario(name="x", expect={"max_lost_writes": 0}).model_dump(mode="json")
    app = {**DEMO_APP, "name": "guestbook", "old": "1.0", "new": "1.1", "writes": False}
    journal = [ev(0, "run.start", scenario=scenario, run_id="r", app=app),
               ev(60, "readback", ok=True, measured=False), ev(61, "run.end", status="completed")]
    report = analyze(journal, [served(1, "1.0"), served(2, "1.1"), served(3, "1.0")])
    assert report["versions"]["counts"] == {"1.0": 2, "1.1": 1}
    assert (report["versions"]["first_new"], report["versions"]["last_old"]) == (2, 3)
    assert report["versions"]["mixed_window"] == 1
    assert report["verdicts"] == [] and report["passed"] is True  # no write probe: no lost-writes verdict


def test_fault_timeline_takes_the_engine_first_sign_of_trouble_on_the_target():
    from harness.analysis.outcome import fault_timeline

    journal = [
        ev(10, "fault.inject", id="0-x", kind="registry-firewall", target="node2"),
        ev(12, "engine.task", node="node3", state="failed", error="elsewhere"),
        ev(15, "engine.task", node="node2", state="rejected", error="No such image: registry:5000/chaos/web:v2"),
        ev(20, "engine.node_state", node="node2", state="down"),
        ev(30, "fault.heal", id="0-x", ok=True),
    ]
    (fault,) = fault_timeline(journal)
    assert fault["time_to_effect"] == 5
    assert fault["engine_effect"] == "task rejected: No such image: registry:5000/chaos/web:v2"
    assert fault["healed_at"] == 30 and fault["heal_ok"] is True


def test_a_fault_the_engine_never_notices_has_no_effect_time():
    from harness.analysis.outcome import fault_timeline

    (fault,) = fault_timeline([ev(1, "fault.inject", id="0-y", kind="overlay-drop", target="node2"),
                               ev(5, "engine.node_state", node="node2", state="ready")])
    assert fault["engine_effect"] is None and fault["time_to_effect"] is None


def test_a_drained_node_is_the_engines_sign_of_a_drain():
    from harness.analysis.outcome import fault_timeline

    (fault,) = fault_timeline([ev(1, "fault.inject", id="0-z", kind="node-drain", target="node2"),
                               ev(2, "engine.node_state", node="node2", state="ready", availability="active"),
                               ev(3.5, "engine.node_state", node="node2", state="ready", availability="drain")])
    assert fault["engine_effect"] == "node drained" and fault["time_to_effect"] == 2.5


def test_a_rollback_seen_only_as_completed_is_timed_from_the_engine_start_time():
    journal = [e for e in ROLLBACK_JOURNAL if e.get("state") != "rolling_back"]
    journal = [ev(22, "engine.update_state", state="rolled_back", started_at=15.0)
               if e.get("state") == "rolled_back" else e for e in journal]
    samples = [served(t) for t in range(10, 40)]
    result = rollback_outcome(journal, samples, "v1", verify_window=5)
    assert result["triggered"] is True and result["success"] is True
    assert result["time_to_rollback"] == 22 - 15


def test_a_rollback_fails_when_a_frozen_node_still_runs_the_new_version_the_engine_forgot():
    final = ev(40, "engine.final", service="chaos_web", replicas=3, running={"v1": 3},
               processes={"node1": {"v1": 2}, "node2": {"v2": 2}, "node3": {"v1": 1}})
    journal = [final if e.type == "engine.final" else e for e in ROLLBACK_JOURNAL]
    result = rollback_outcome(journal, [served(t) for t in range(10, 40)], "v1", verify_window=5)
    assert result["success"] is False
    assert result["reasons"] == ["node2 still runs 2 x v2 of chaos_web although the engine reports 3 x v1"]


def test_a_node_that_could_not_be_asked_or_runs_stale_old_tasks_does_not_fail_a_rollback():
    final = ev(40, "engine.final", service="chaos_web", replicas=3, running={"v1": 3},
               processes={"node1": {"v1": 2}, "node2": None, "node3": {"v1": 2}})
    journal = [final if e.type == "engine.final" else e for e in ROLLBACK_JOURNAL]
    assert rollback_outcome(journal, [served(t) for t in range(10, 40)], "v1", verify_window=5)["success"] is True


def test_a_blue_green_rollback_is_complete_at_the_switch_back():
    journal = [ev(0, "run.start", scenario=Scenario(name="x").model_dump(mode="json"), run_id="r"),
               ev(10, "upgrade.requested", strategy="blue-green"),
               ev(14, "bluegreen.ready"), ev(14.5, "switch.done", duration=0.002),
               ev(20, "rollback.requested", reason="requested"), ev(20.01, "rollback.switched_back"),
               ev(21, "upgrade.settled", outcome="completed"),
               ev(21, "phase.start", phase="observe"),
               ev(40, "engine.final", replicas=3, running={"v1": 3}), ev(40, "phase.end", phase="observe")]
    samples = [served(t / 10, "v2" if 145 <= t < 200 else "v1") for t in range(100, 400)]
    result = rollback_outcome(journal, samples, "v1", verify_window=5)
    assert result["success"] is True and result["trigger"] == "rollback.requested"
    assert result["time_to_rollback"] == pytest.approx(0.01)
    upgrade = upgrade_outcome(journal)
    assert upgrade["strategy"] == "blue-green"
    assert upgrade["time_to_ready"] == 4 and upgrade["time_to_switch"] == 0.002


def test_a_rollback_reported_as_a_completed_update_counts_from_the_first_failed_new_task():
    journal = [ev(0, "run.start", scenario=Scenario(name="x").model_dump(mode="json"), run_id="r"),
               ev(10, "upgrade.requested", strategy="in-service"),
               ev(14, "engine.task", version="v2", state="failed", node="node2"),
               ev(16, "rollback.detected", started_at=10.0, reason="spec back on v1"),
               ev(16, "upgrade.settled", outcome="rolled_back"),
               ev(16, "phase.start", phase="observe"),
               ev(40, "engine.final", replicas=3, running={"v1": 3}), ev(40, "phase.end", phase="observe")]
    result = rollback_outcome(journal, [served(t) for t in range(10, 40)], "v1", verify_window=5)
    assert result["triggered"] is True and result["trigger"] == "rollback.detected"
    assert result["success"] is True
    assert result["time_to_rollback"] == 16 - 14


def _final_census(outputs: list[str], stops_by: float):
    """The final census of a service whose task (a pod being deleted) stops by ``stops_by``, node2's census output
    changing over the looks as ``outputs`` says; (processes, seconds waited, looks)."""
    from types import SimpleNamespace

    from harness.engine.base import ServiceSnapshot, TaskInfo
    from harness.runner import Runner

    looks = []

    def run_on(node, argv, stdin=None):
        looks.append(node)
        output = outputs[min(len([n for n in looks if n == "node2"]) - 1, len(outputs) - 1)] if node == "node2" else ""
        return SimpleNamespace(ok=True, output=output)
    stopping = TaskInfo("t1", 1, "node2", "registry:5000/chaos/web:v3-broken", "shutdown", "running", "",
                        stops_by=stops_by)
    snapshot = ServiceSnapshot("chaos_web", "registry:5000/chaos/web:v1", 3, "rolled_back", "", None, (stopping,))
    runner = SimpleNamespace(cluster=SimpleNamespace(exec=run_on, state=SimpleNamespace(nodes=["node1", "node2"])))
    engine = SimpleNamespace(runtime=SimpleNamespace(census="census"))
    processes, waited = Runner._final_census(runner, engine, snapshot, {"v1": 3})
    return processes, waited, len([n for n in looks if n == "node2"])


def test_the_final_census_waits_for_a_pod_being_deleted_within_its_grace_period():
    """Its container stops within the grace period: no stray (a verdict must not fail on a pod still stopping)."""
    import time
    processes, waited, looks = _final_census(["registry:5000/chaos/web:v3-broken", ""], time.time() + 20)
    assert processes == {"node1": {}, "node2": {}} and looks == 2 and 0.9 < waited < 5


def test_the_final_census_keeps_a_container_still_there_after_its_grace_period():
    """Its node is frozen: the container outlived its grace period and is counted, without waiting."""
    import time
    processes, waited, looks = _final_census(["registry:5000/chaos/web:v3-broken"], time.time() - 100)
    assert processes["node2"] == {"v3-broken": 1} and looks == 1 and waited < 1


def test_a_rollback_verdict_carries_what_could_not_be_verified():
    from harness.analysis.verdicts import judge
    from harness.scenario import Expect

    rollback = {"triggered": True, "success": True, "reasons": [], "unverified": ["the nodes' processes were not read"]}
    (verdict,) = judge(Expect(rollback_succeeds=True), {"rollback": rollback, "writes_measured": False})
    assert verdict.passed and verdict.measured == "succeeded (unverified: the nodes' processes were not read)"
