"""Both strategies' steps on a fake engine and load balancer: switch, give up, switch back, roll back."""

from __future__ import annotations

import pytest

from harness.engine.base import UpdatePolicy
from harness.journal import JOURNAL_FILE, Journal, read_journal
from harness.scenario import Stack
from harness.stack import BLUE, GREEN, render_green
from harness.strategies.blue_green import SMOKE_REQUESTS, BlueGreenUpgrade
from harness.strategies.in_service import InServiceUpgrade
from harness.testing import FakeCluster, FakeEngine, FakeRouter, make_service, make_task

NODES = ("node1", "node2", "node3")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def journal(tmp_path):
    journal = Journal(tmp_path / JOURNAL_FILE)
    yield journal
    journal.close()


def types(journal):
    journal.close()
    return [e.type for e in read_journal(journal.path)]


def green(version="v2", state="running", **task):
    return make_service(GREEN.service, [make_task(n, version, state, slot=i, **task) for i, n in enumerate(NODES)])


def blue_green(policy=UpdatePolicy(monitor=5.0), to="v2", answers="v2"):
    engine, router, clock = FakeEngine(FakeCluster()), FakeRouter(), Clock()
    smoke = iter([answers] * 1000)
    strategy = BlueGreenUpgrade(engine, router, "http://127.0.0.1:1", Stack(to_version=to), None, policy,
                                clock=clock, smoke=lambda: next(smoke))
    return strategy, engine, router, clock


def test_blue_green_switches_only_when_green_is_running_healthy_and_answers_previews(journal):
    strategy, engine, router, clock = blue_green()
    strategy.start(journal)
    assert ("deploy_stack", GREEN.stack) in engine.calls
    assert strategy.advance({}, journal) is None  # green not deployed yet
    assert strategy.advance({GREEN.service: green(state="starting")}, journal) is None
    assert strategy.advance({GREEN.service: green()}, journal) is None  # running, but no healthy server yet
    assert router.routed == []
    router.healthy_servers["green"] = 3
    assert strategy.advance({GREEN.service: green()}, journal) is None  # switched, now monitoring
    assert router.live == "green" and strategy.live_service() == GREEN.service
    clock.now += 5
    assert strategy.advance({GREEN.service: green()}, journal) == "completed"
    assert types(journal) == ["upgrade.requested", "bluegreen.deployed", "bluegreen.ready",
                              "switch.requested", "switch.done"]


def test_blue_green_does_not_switch_while_previews_are_answered_by_another_version(journal):
    strategy, _, router, _ = blue_green(answers="v1")
    router.healthy_servers["green"] = 3
    strategy.start(journal)
    assert strategy.advance({GREEN.service: green()}, journal) is None
    assert router.routed == []
    assert strategy.facts({})["message"] == f"0/{SMOKE_REQUESTS} preview requests answered by v2 (got ['v1'])"


def test_green_that_is_never_ready_gets_no_traffic_and_the_upgrade_rolls_back(journal):
    strategy, _, router, _ = blue_green()
    strategy.start(journal)
    strategy.advance({GREEN.service: green(state="starting")}, journal)
    assert strategy.give_up({}, journal) == "rolled_back"
    assert router.routed == ["blue"] and strategy.live_service() == BLUE.service
    journal.close()
    (requested,) = [e for e in read_journal(journal.path) if e.type == "rollback.requested"]
    assert requested.get("switched") is False
    assert requested.get("reason") == "green was not ready in time: 0/3 green tasks running v2"


def test_failed_green_tasks_roll_back_at_once_only_with_failure_action_rollback(journal):
    ended = {GREEN.service: green("v3-broken", state="complete", timestamp=2000.0)}
    paused, _, router, _ = blue_green(UpdatePolicy(failure_action="pause"), to="v3-broken")
    paused.start(journal)
    assert paused.advance(ended, journal) is None and router.routed == []

    strategy, _, router, _ = blue_green(UpdatePolicy(failure_action="rollback"), to="v3-broken")
    strategy.start(journal)
    assert strategy.advance(ended, journal) == "rolled_back"
    assert router.routed == ["blue"]
    assert "3 green task(s) failed before green was ready" in strategy.facts({})["message"]


def switched(journal):
    """A blue-green upgrade that has just moved live traffic to a healthy green."""
    strategy, engine, router, clock = blue_green()
    router.healthy_servers["green"] = 3
    strategy.start(journal)
    strategy.advance({GREEN.service: green()}, journal)
    assert router.live == "green"
    return strategy, engine, router, clock


def test_blue_green_switches_back_when_green_fails_after_the_switch(journal):
    strategy, _, router, clock = switched(journal)
    clock.now += 1
    router.healthy_servers["green"] = 0
    assert strategy.advance({GREEN.service: green()}, journal) == "rolled_back"
    assert router.routed == ["green", "blue"]


def test_a_requested_blue_green_rollback_is_the_switch_back(journal):
    strategy, _, router, clock = switched(journal)
    clock.now += 5
    assert strategy.advance({GREEN.service: green()}, journal) == "completed"
    strategy.request_rollback(journal)
    assert strategy.advance({GREEN.service: green()}, journal) == "rolled_back"
    assert router.live == "blue"
    assert types(journal)[-2:] == ["rollback.requested", "rollback.switched_back"]


def test_tasks_replaced_counts_running_green_tasks_of_the_new_version():
    strategy, *_ = blue_green()
    assert strategy.tasks_replaced({}) == 0
    assert strategy.tasks_replaced({GREEN.service: green()}) == 3


def test_a_requested_in_service_rollback_waits_for_the_engine_to_pick_it_up(journal):
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE.service, [make_task(n, "v2") for n in NODES], update_state="completed",
                                   started_at=50.0)
    strategy = InServiceUpgrade(engine, BLUE.service, "v1", "v2", "registry:5000/chaos/web:v2", UpdatePolicy())
    strategy.request_rollback(journal)
    assert ("rollback", BLUE.service) in engine.calls
    assert strategy.advance({BLUE.service: engine.snapshot}, journal) is None  # still the old update's status
    rolled = make_service(BLUE.service, [make_task(n, "v1") for n in NODES], update_state="rollback_completed",
                          started_at=60.0)
    assert strategy.advance({BLUE.service: rolled}, journal) == "rolled_back"


def test_green_is_blues_web_service_on_blues_network_and_publishes_the_new_port():
    import yaml

    document = yaml.safe_load(render_green(Stack(to_version="v2", publish_on_upgrade=8081), "v2"))
    web = document["services"]["web"]
    assert web["image"].endswith("/chaos/web:v2")
    assert web["networks"] == ["live"]
    assert document["networks"]["live"] == {"external": True, "name": "chaos_default"}
    assert web["ports"] == [{"target": 8080, "published": 8081, "protocol": "tcp", "mode": "host"}]
    assert "ports" not in yaml.safe_load(render_green(Stack(), "v2"))["services"]["web"]


def test_green_that_cannot_be_deployed_gets_no_traffic_and_the_upgrade_rolls_back(journal):
    from harness.errors import EngineError

    strategy, engine, router, _ = blue_green()

    def refuse(stack, compose, auth=None, pin_digests=True):
        raise EngineError("`docker login` failed on node1: 401 Unauthorized")

    engine.deploy_stack = refuse
    strategy.start(journal)
    assert strategy.advance({}, journal) == "rolled_back"
    assert router.routed == ["blue"]
    assert strategy.facts({})["message"] == "deploying green failed: `docker login` failed on node1: 401 Unauthorized"


def test_an_update_swarm_calls_completed_with_its_spec_back_on_old_is_a_rollback(journal):
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE.service, [make_task(n, "v1") for n in NODES], started_at=1.0)
    strategy = InServiceUpgrade(engine, BLUE.service, "v1", "v2", "registry:5000/chaos/web:v2", UpdatePolicy())
    strategy.start(journal)
    back = make_service(BLUE.service, [make_task(n, "v1", slot=i) for i, n in enumerate(NODES)],
                        update_state="completed", started_at=2.0)
    assert strategy.advance({BLUE.service: back}, journal) == "rolled_back"
    assert types(journal)[-1] == "rollback.detected"
