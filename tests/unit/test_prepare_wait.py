"""A prepare that gives up waiting says what the entry answered, and advises no step that deletes data silently."""

from __future__ import annotations

import time

import pytest
from requests.structures import CaseInsensitiveDict

from harness.app import DEFAULT_PROFILE, load_profile
from harness.errors import ClusterError, ProfileError, WaitTimeout
from harness.http import Answer
from harness.stack import PROBES, AppStack
from harness.stack import prepare
from harness.stack.compose import StackOptions
from harness.stack.prepare import REBUILD_ADVICE, EntryAnswers, answered, deploy_and_wait
from harness.stack.router import HealthCheck, Server
from harness.testing import FakeCluster, make_service, make_task

ADDRESSES = ("10.0.1.11", "10.0.1.12", "10.0.1.13")


class Entry:
    """The load balancer's answers to the health check, in turn (the last one again when they run out)."""

    def __init__(self, *answers: Answer | None) -> None:
        self.answers, self.asked = list(answers), 0

    def get(self, path, **options):
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def stack(*answers: Answer | None) -> AppStack:
    app = AppStack(load_profile(DEFAULT_PROFILE), StackOptions(registry="registry:5000"), "http://127.0.0.1:8080",
                   "v1", "v2")
    app.__dict__["client"] = Entry(*answers)
    return app


def answer(status: int, body: bytes = b"", **headers: str) -> Answer:
    return Answer(status, CaseInsensitiveDict(headers), body)


SETUP = answer(302, b"<html>\n  <p>Run the installer first</p></html>", Location="/setup",
               **{"X-Chaos-Server": "10.0.1.11:8080"})


def test_the_last_answers_are_kept_with_status_location_body_and_why_they_fail():
    entry = EntryAnswers(stack(None, answer(503, b"<h1>503 Service Unavailable</h1>No server is available"), SETUP,
                               answer(200, b"ok", **{"X-Chaos-Server": "10.0.1.12:8080"})))
    probes = [entry.probe() for _ in range(4)]
    assert probes[0] is None and [p.status for p in probes[1:]] == [503, 302, 200]
    assert entry.shown().splitlines() == [
        "what the entry answered to GET /healthz through the load balancer (last 3 health checks):",
        "  503 from no server (the load balancer itself), body '<h1>503 Service Unavailable</h1>No server is "
        "available': fails the health check (status 503)",
        "  302 from 10.0.1.11:8080, Location: /setup, body '<html> <p>Run the installer first</p></html>': "
        "fails the health check (status 302)",
        "  200 from 10.0.1.12:8080, body 'ok': passes the health check"]


def test_no_answer_a_long_body_and_a_followed_redirect_are_said_as_such():
    assert answered(None, None) == "no answer within 1s"
    long = answer(200, b"x" * 1000, **{"X-Chaos-Server": "10.0.1.13:8080"})
    assert answered(long, None) == f"200 from 10.0.1.13:8080, body '{'x' * 160}' (the first 160 of 1000 bytes): " \
                                   "passes the health check"
    followed = Answer(200, CaseInsensitiveDict(), b"", redirects=("302 /setup",))
    assert answered(followed, "check contains 'ready'") == ("200 from no server (the load balancer itself), "
                                                           "redirected 302 /setup, empty body: fails the health "
                                                           "check (check contains 'ready')")


def test_a_wait_that_never_asked_the_entry_asks_it_when_it_gives_up():
    app = stack(SETUP)
    assert EntryAnswers(app).shown().count("302 from 10.0.1.11:8080") == 3 and app.client.asked == 3


class Router:
    """The load balancer's runtime API, every entry task up."""

    def routes(self):
        return {"live": "blue"}

    def route(self, live):
        pass

    def servers(self, backend):
        return [Server(address, up=True, resolved=True) for address in ADDRESSES]

    def health_checks(self, backend):
        return []  # its statistics say nothing yet


def impatient(check, *, timeout, what, interval=0.5, hint=""):
    """``wait_until`` that looks three times, then gives up."""
    for _ in range(3):
        try:
            if result := check():
                return result
        except Exception:  # noqa: BLE001 - polled operations fail until ready, as in wait_until
            pass
    raise WaitTimeout(f"timed out waiting for {what}.{' ' + hint if hint else ''}")


def test_prepare_that_gives_up_shows_the_tasks_and_what_the_entry_answered(monkeypatch):
    monkeypatch.setattr(prepare, "wait_until", impatient)
    cluster = FakeCluster()
    cluster.engine.snapshot = make_service("chaos_web", [
        make_task(node, "v1", slot=slot, addresses=(address,))
        for slot, (node, address) in enumerate(zip(("node1", "node2", "node3"), ADDRESSES), 1)])
    app = stack(SETUP)
    with pytest.raises(ClusterError) as raised:
        deploy_and_wait(cluster.engine, Router(), app)
    assert app.client.asked == 3 * PROBES  # the answers shown are those the wait got, none asked afterwards
    message = str(raised.value)
    assert message.startswith("timed out waiting for the load balancer at http://127.0.0.1:8080 with every task up")
    assert "last tasks of chaos_web:" in message
    assert message.endswith("(last 3 health checks):\n" + "\n".join(
        ["  302 from 10.0.1.11:8080, Location: /setup, body '<html> <p>Run the installer first</p></html>': "
         "fails the health check (status 302)"] * 3))


def test_advice_that_deletes_the_stacks_volumes_says_so():
    assert "DELETES" in REBUILD_ADVICE and "volumes" in REBUILD_ADVICE
    assert "`chaos-harness audit`" in REBUILD_ADVICE.split("DELETES")[0]  # the step that deletes nothing comes first


def test_prepare_removes_a_stale_volume_before_the_deploy_could_start_from_it_and_returns_it(monkeypatch):
    from tests.unit.test_stale_volumes import moved_db

    monkeypatch.setattr(prepare, "wait_until", impatient)
    monkeypatch.setattr(prepare, "_ensure_writes", lambda engine, app, timeout: None)
    cluster = moved_db()
    web = make_service("chaos_web", [make_task(node, "v1", slot=slot, addresses=(address,))
                                     for slot, (node, address) in enumerate(zip(("node1", "node2", "node3"),
                                                                                 ADDRESSES), 1)])
    cluster.engine.services["chaos_web"] = web
    deploy = cluster.engine.deploy_stack
    monkeypatch.setattr(cluster.engine, "deploy_stack", lambda *a, **k: (cluster.commands.append("deploy"),
                                                                        deploy(*a, **k)))
    served = answer(200, b"ok", **{"X-Chaos-Server": f"{ADDRESSES[0]}:8080"})
    cleared = deploy_and_wait(cluster.engine, Router(), stack(served), run_on=cluster.exec)
    assert [(v.node, v.volume, v.removed) for v in cleared] == [("node3", "chaos_dbdata", True)]
    steps = [step if step == "deploy" else (step[0], step[1][3]) for step in cluster.commands]
    assert steps.index(("node3", "remove")) < steps.index("deploy")
    assert deploy_and_wait(cluster.engine, Router(), stack(served)) == []  # without run_on: volumes untouched


class WrongPageRouter(Router):
    """Every entry task answers the health check with a redirect."""

    def health_checks(self, backend):
        return [HealthCheck(f"srv{n}", "L7STS", "302", "Layer7 wrong status") for n in range(1, 4)]


def test_prepare_stops_waiting_once_every_task_has_answered_the_health_check_wrongly_for_a_while(monkeypatch):
    monkeypatch.setattr(prepare, "WRONG_ANSWERS_FOR", 0.5)
    cluster = FakeCluster()
    cluster.engine.snapshot = make_service("chaos_web", [
        make_task(node, "v1", slot=slot, addresses=(address,))
        for slot, (node, address) in enumerate(zip(("node1", "node2", "node3"), ADDRESSES), 1)])
    started = time.monotonic()
    with pytest.raises(ProfileError) as raised:  # not the 60 s a slow start may take
        deploy_and_wait(cluster.engine, WrongPageRouter(), stack(SETUP))
    assert time.monotonic() - started < prepare.SERVING_TIMEOUT / 4
    assert "entry.health: every task of web answers GET /healthz with 302" in str(raised.value)
