"""Both strategies' steps on a fake engine and load balancer: switch, give up, switch back, roll back."""

from __future__ import annotations

import itertools

import pytest
import yaml

from harness.app import DEFAULT_PROFILE, load_profile
from harness.engine.base import UpdatePolicy
from harness.journal import JOURNAL_FILE, Journal, read_journal
from harness.stack import BLUE, GREEN, AppStack, Probe
from harness.stack.compose import StackOptions
from harness.strategies.blue_green import SMOKE_REQUESTS, BlueGreenUpgrade
from harness.strategies.in_service import InServiceUpgrade
from harness.testing import FakeCluster, FakeEngine, FakeRouter, make_service, make_task

NODES = ("node1", "node2", "node3")
PROFILE = load_profile(DEFAULT_PROFILE)
GREEN_WEB, BLUE_WEB = GREEN.service("web"), BLUE.service("web")
GREEN_ADDRESSES = ("10.0.2.5", "10.0.2.6", "10.0.2.7")
BLUE_ADDRESS = "10.0.2.2"  # a task of blue's web: not green


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


def app_stack(new="v2"):
    return AppStack(PROFILE, StackOptions(registry="registry:5000"), "http://127.0.0.1:1", "v1", new)


def green(version="v2", state="running", **task):
    return make_service(GREEN_WEB, [make_task(n, version, state, slot=i, addresses=(a,), **task)
                                    for i, (n, a) in enumerate(zip(NODES, GREEN_ADDRESSES))])


def answers(addresses=GREEN_ADDRESSES, status=200):
    """Preview probes answered in turn by ``addresses`` through the green backend."""
    servers = itertools.cycle(addresses)
    return lambda: Probe(status, "green", f"{next(servers)}:8080")


def blue_green(policy=UpdatePolicy(monitor=5.0), new="v2", smoke=None, publish=None):
    engine, router, clock = FakeEngine(FakeCluster()), FakeRouter(), Clock()
    strategy = BlueGreenUpgrade(engine, router, app_stack(new), None, policy, publish, clock=clock,
                                smoke=smoke or answers())
    return strategy, engine, router, clock


def test_blue_green_switches_only_when_green_is_running_healthy_and_answers_previews(journal):
    strategy, engine, router, clock = blue_green()
    strategy.start(journal)
    assert ("deploy_stack", GREEN.stack) in engine.calls
    assert strategy.advance({}, journal) is None  # green not deployed yet
    assert strategy.advance({GREEN_WEB: green(state="starting")}, journal) is None
    assert strategy.advance({GREEN_WEB: green()}, journal) is None  # running, but no healthy server yet
    assert router.routed == []
    router.healthy_servers["green"] = 3
    assert strategy.advance({GREEN_WEB: green()}, journal) is None  # ready: faults timed by green_ready strike now
    assert router.routed == [] and "green_ready" in strategy.steps
    assert strategy.advance({GREEN_WEB: green()}, journal) is None  # still ready at the next poll: switched
    assert router.live == "green" and strategy.live_service() == GREEN_WEB
    assert list(strategy.steps) == ["green_deployed", "green_ready", "switched"]
    clock.now += 5
    assert strategy.advance({GREEN_WEB: green()}, journal) == "completed"
    assert types(journal) == ["upgrade.requested", "bluegreen.deployed", "bluegreen.ready",
                              "switch.requested", "switch.done"]


def test_green_that_fails_between_ready_and_the_switch_gets_no_traffic(journal):
    strategy, _, router, _ = blue_green()
    router.healthy_servers["green"] = 3
    strategy.start(journal)
    assert strategy.advance({GREEN_WEB: green()}, journal) is None  # ready
    router.healthy_servers["green"] = 1  # a fault struck at green_ready
    assert strategy.advance({GREEN_WEB: green()}, journal) is None
    assert router.routed == [] and strategy.facts({})["message"] == "1/3 green servers pass the load balancer's " \
                                                                    "health check"


def test_green_is_deployed_from_the_registry_at_the_new_release_after_its_objects(journal):
    strategy, engine, _, _ = blue_green(publish=8081)
    strategy.start(journal)
    assert [call[0] for call in engine.calls] == ["ensure_objects", "deploy_stack"]
    web = yaml.safe_load(engine.deployed[GREEN.stack])["services"]["web"]
    assert web["image"] == "registry:5000/chaos/demo/web:v2"
    assert web["ports"] == [{"target": 8080, "published": 8081, "protocol": "tcp", "mode": "host"}]


def test_blue_green_does_not_switch_while_previews_are_answered_by_a_task_that_is_not_green(journal):
    strategy, _, router, _ = blue_green(smoke=answers([BLUE_ADDRESS]))
    router.healthy_servers["green"] = 3
    strategy.start(journal)
    assert strategy.advance({GREEN_WEB: green()}, journal) is None
    assert router.routed == []
    assert strategy.facts({})["message"] == (f"0/{SMOKE_REQUESTS} preview requests answered healthy by a green "
                                             "task of v2 (got ['None'])")


def test_blue_green_does_not_switch_while_one_preview_in_ten_is_unhealthy(journal):
    statuses = iter([200] * (SMOKE_REQUESTS - 1) + [503] + [200] * 100)
    probe = answers()
    strategy, _, router, _ = blue_green(smoke=lambda: Probe(next(statuses), "green", probe().server))
    router.healthy_servers["green"] = 3
    strategy.start(journal)
    assert strategy.advance({GREEN_WEB: green()}, journal) is None
    assert router.routed == []
    assert strategy.facts({})["message"].startswith(f"{SMOKE_REQUESTS - 1}/{SMOKE_REQUESTS} preview requests")
    assert strategy.advance({GREEN_WEB: green()}, journal) is None  # the next ten are healthy: ready
    assert strategy.advance({GREEN_WEB: green()}, journal) is None  # and still at the next poll: switched
    assert router.live == "green"


def test_green_that_is_never_ready_gets_no_traffic_and_the_upgrade_rolls_back(journal):
    strategy, _, router, _ = blue_green()
    strategy.start(journal)
    strategy.advance({GREEN_WEB: green(state="starting")}, journal)
    assert strategy.give_up({}, journal) == "rolled_back"
    assert router.routed == ["blue"] and strategy.live_service() == BLUE_WEB
    journal.close()
    (requested,) = [e for e in read_journal(journal.path) if e.type == "rollback.requested"]
    assert requested.get("switched") is False
    assert requested.get("reason") == f"green was not ready in time: 0/3 tasks of {GREEN_WEB} running v2"


def test_failed_green_tasks_roll_back_at_once_only_with_failure_action_rollback(journal):
    ended = {GREEN_WEB: green("broken", state="complete", timestamp=2000.0)}
    paused, _, router, _ = blue_green(UpdatePolicy(failure_action="pause"), new="broken")
    paused.start(journal)
    assert paused.advance(ended, journal) is None and router.routed == []

    strategy, _, router, _ = blue_green(UpdatePolicy(failure_action="rollback"), new="broken")
    strategy.start(journal)
    assert strategy.advance(ended, journal) == "rolled_back"
    assert router.routed == ["blue"]
    assert "3 green task(s) failed before green was ready" in strategy.facts({})["message"]


def switched(journal):
    """A blue-green upgrade that has just moved live traffic to a healthy green."""
    strategy, engine, router, clock = blue_green()
    router.healthy_servers["green"] = 3
    strategy.start(journal)
    strategy.advance({GREEN_WEB: green()}, journal)  # ready
    strategy.advance({GREEN_WEB: green()}, journal)  # switched
    assert router.live == "green"
    return strategy, engine, router, clock


def test_blue_green_switches_back_when_green_fails_after_the_switch(journal):
    strategy, _, router, clock = switched(journal)
    clock.now += 1
    router.healthy_servers["green"] = 0
    assert strategy.advance({GREEN_WEB: green()}, journal) == "rolled_back"
    assert router.routed == ["green", "blue"]


def test_a_green_task_that_ends_after_the_switch_switches_back(journal):
    strategy, _, router, clock = switched(journal)
    clock.now += 1
    ended = make_service(GREEN_WEB, [*green().tasks, make_task("node2", "v2", "failed", slot=4, timestamp=clock.now,
                                                                   error="task: non-zero exit (1)")])
    assert strategy.advance({GREEN_WEB: ended}, journal) == "rolled_back"
    assert router.live == "blue"
    assert strategy.facts({})["message"] == ("a green task on node2 ended after the switch: "
                                             "failed: task: non-zero exit (1)")


def test_a_requested_blue_green_rollback_is_the_switch_back(journal):
    strategy, _, router, clock = switched(journal)
    clock.now += 5
    assert strategy.advance({GREEN_WEB: green()}, journal) == "completed"
    strategy.request_rollback(journal)
    assert strategy.advance({GREEN_WEB: green()}, journal) == "rolled_back"
    assert router.live == "blue"
    assert types(journal)[-2:] == ["rollback.requested", "rollback.switched_back"]


def test_tasks_replaced_counts_running_green_tasks_of_the_new_version():
    strategy, *_ = blue_green()
    assert strategy.tasks_replaced({}) == 0
    assert strategy.tasks_replaced({GREEN_WEB: green()}) == 3
    assert strategy.services == (BLUE_WEB, GREEN_WEB)


def test_green_that_cannot_be_deployed_gets_no_traffic_and_the_upgrade_rolls_back(journal):
    from harness.errors import EngineError

    strategy, engine, router, _ = blue_green()

    def refuse(stack, compose, auth=None, pin_digests=True, manifests=()):
        raise EngineError("`docker login` failed on node1: 401 Unauthorized")

    engine.deploy_stack = refuse
    strategy.start(journal)
    assert strategy.advance({}, journal) == "rolled_back"
    assert router.routed == ["blue"]
    assert strategy.facts({})["message"] == "deploying green failed: `docker login` failed on node1: 401 Unauthorized"


def in_service(engine, services=(BLUE_WEB,), publish=None):
    images = {s: f"registry:5000/chaos/demo/{s.split('_', 1)[1]}:v2" for s in services}
    return InServiceUpgrade(engine, images, "v1", "v2", UpdatePolicy(), publish)


def test_a_requested_in_service_rollback_waits_for_the_engine_to_pick_it_up(journal):
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE_WEB, [make_task(n, "v2") for n in NODES], update_state="completed",
                                   started_at=50.0)
    strategy = in_service(engine)
    strategy.request_rollback(journal)
    assert ("rollback", BLUE_WEB) in engine.calls
    assert strategy.advance({BLUE_WEB: engine.snapshot}, journal) is None  # still the old update's status
    rolled = make_service(BLUE_WEB, [make_task(n, "v1") for n in NODES], update_state="rolled_back",
                          started_at=60.0)
    assert strategy.advance({BLUE_WEB: rolled}, journal) == "rolled_back"


def test_an_update_swarm_calls_completed_with_its_spec_back_on_old_is_a_rollback(journal):
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE_WEB, [make_task(n, "v1") for n in NODES], started_at=1.0)
    strategy = in_service(engine)
    strategy.start(journal)
    back = make_service(BLUE_WEB, [make_task(n, "v1", slot=i) for i, n in enumerate(NODES)],
                        update_state="completed", started_at=2.0)
    assert strategy.advance({BLUE_WEB: back}, journal) == "rolled_back"
    assert types(journal)[-1] == "rollback.detected"


def test_in_service_updates_every_upgraded_service_and_publishes_only_the_entry(journal):
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE_WEB, [make_task(n, "v1") for n in NODES], started_at=1.0)
    strategy = in_service(engine, (BLUE_WEB, "chaos_worker"), publish=(8081, 8080))
    strategy.start(journal)
    updates = [(call[1], call[2], call[4]) for call in engine.calls if call[0] == "update_image"]
    assert updates == [(BLUE_WEB, "registry:5000/chaos/demo/web:v2", (8081, 8080)),
                       ("chaos_worker", "registry:5000/chaos/demo/worker:v2", None)]
    assert strategy.live_service() == BLUE_WEB


def test_an_update_to_the_broken_release_makes_its_images_health_check_count(journal):
    """The broken release is the new image with a HEALTHCHECK that never passes: a health check of the service's
    own (compose, or a manifest's readiness probe) must not hide it."""
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE_WEB, [make_task(n, "v1") for n in NODES], started_at=1.0)
    InServiceUpgrade(engine, {BLUE_WEB: "registry:5000/chaos/demo/web:broken"}, "v1", "broken",
                     UpdatePolicy()).start(journal)
    in_service(engine).start(journal)
    health = [call[6:] for call in engine.calls if call[0] == "update_image"]
    assert health == [("image_health",), ()]


def test_in_service_settles_when_every_service_settled_on_the_worst_outcome(journal):
    engine = FakeEngine(FakeCluster())
    engine.snapshot = make_service(BLUE_WEB, [make_task(n, "v1") for n in NODES], started_at=1.0)
    strategy = in_service(engine, (BLUE_WEB, "chaos_worker"))
    strategy.start(journal)
    done = make_service(BLUE_WEB, [make_task(n, "v2", slot=i) for i, n in enumerate(NODES)],
                        update_state="completed", started_at=2.0)
    untouched = engine.snapshot  # the engine has not started the worker's update yet
    assert strategy.advance({BLUE_WEB: done, "chaos_worker": untouched}, journal) is None
    paused = make_service("chaos_worker", [make_task(n, "v1", slot=i) for i, n in enumerate(NODES)],
                          update_state="paused", started_at=2.0)
    assert strategy.advance({BLUE_WEB: done, "chaos_worker": paused}, journal) == "paused"
    assert strategy.advance({BLUE_WEB: done, "chaos_worker": done}, journal) == "completed"
    new_tasks = {BLUE_WEB: done}
    assert strategy.tasks_replaced(new_tasks) == 3  # counted on the entry service
