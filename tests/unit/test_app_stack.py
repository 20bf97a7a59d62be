"""The app on the cluster: its services per stack, probes and writes through the LB, and what nodes really run."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest
import yaml
from requests.structures import CaseInsensitiveDict

from harness.app import DEFAULT_PROFILE, load_profile
from harness.cluster.vagrant import ExecResult
from harness.checks import ABSENT, PRESENT, UNVERIFIABLE
from harness.engine.kubernetes.engine import KubernetesEngine
from harness.engine.swarm import SwarmEngine
from harness.errors import ClusterError, ProfileError
from harness.http import Answer, same_host_redirect
from harness.stack import BLUE, GREEN, AppStack, Probe, writes
from harness.stack.compose import StackOptions
from harness.stack.prepare import PREPARE_UPDATE, _remove_moved, census, diagnose, forget_image, restarting_at_once
from harness.testing import FakeCluster, FakeEngine, make_service, make_task

DEMO = load_profile(DEFAULT_PROFILE)


class FakeHttp:
    """Answers requests from a list (None: no answer) and records them."""

    def __init__(self, *answers: Answer | None) -> None:
        self.answers = list(answers)
        self.sent: list[tuple] = []

    def request(self, method, path, *, headers=None, body=None, timeout=None, follow_redirects=False):
        self.sent.append((method, path, headers, body))
        return self.answers.pop(0)

    def get(self, path, **options):
        return self.request("GET", path, **options)


def app_stack(*answers, profile=DEMO):
    stack = AppStack(profile, StackOptions(registry="registry:5000"), "http://127.0.0.1:8080", "v1", "v2")
    stack.__dict__["client"] = FakeHttp(*answers)  # in place of the cached HttpClient
    return stack


def answer(status, **headers):
    return Answer(status, CaseInsensitiveDict(headers))


def test_the_upgraded_services_are_named_per_stack_entry_first():
    stack = app_stack()
    assert stack.services() == ("chaos_web",) and stack.services(GREEN) == ("chaos-green_web",)
    assert (stack.entry, stack.upgraded, stack.stateful) == ("web", ("web",), ("db",))
    assert stack.image("web", "v2") == "registry:5000/chaos/demo/web:v2"
    assert BLUE.service("db") == "chaos_db"


def test_a_probe_is_the_health_check_through_the_lb_with_who_answered():
    stack = app_stack(answer(200, **{"X-Chaos-Backend": "green", "x-chaos-server": "10.0.2.5:8080"}), None)
    probe = stack.probe(preview=True)
    assert probe == Probe(200, "green", "10.0.2.5:8080")
    method, path, headers, _ = stack.client.sent[0]
    assert (method, path, headers) == ("GET", "/healthz", {"X-Chaos-Route": "preview"})
    assert stack.probe() is None  # no answer
    assert stack.healthy(probe) and not stack.healthy(Probe(503, "blue", None)) and not stack.healthy(None)


def test_a_write_carries_its_id_and_counts_only_when_acknowledged_with_an_accepted_status():
    stack = app_stack(answer(201), answer(200), None)
    assert writes.write(stack, "w-1").acknowledged
    assert stack.client.sent[0] == ("POST", "/write?id=w-1", None, None)
    assert writes.write(stack, "w-2").reason == "check status 201: got 200"  # the profile accepts 201 only
    assert writes.write(stack, "w-3").reason == "no answer"


def test_a_read_back_is_unverifiable_without_an_answer_or_on_a_server_error_and_absent_on_not_found():
    stack = app_stack(Answer(200, body=b"w\n"), answer(404), answer(503), None)
    outcomes = [writes.read(stack, {"id": "w"}).outcome for _ in range(4)]
    assert outcomes == [PRESENT, ABSENT, UNVERIFIABLE, UNVERIFIABLE]
    assert stack.client.sent[0][:2] == ("GET", "/read?id=w")


def test_without_a_write_probe_nothing_is_written_or_read():
    profile = load_profile(DEFAULT_PROFILE)
    profile = type(profile)(profile.model.model_copy(update={"writes": None}), profile.path, profile.compose, ())
    stack = app_stack(profile=profile)
    with pytest.raises(ValueError, match="no write probe"):
        writes.write(stack, "w")
    assert stack.client.sent == []


def test_a_write_id_in_the_body_is_replaced_too():
    guestbook_writes = {"write": {"method": "POST", "path": "/entries", "body": '{"id": "{id}"}',
                                  "headers": {"Content-Type": "application/json"}, "status": [201]},
                        "read": {"path": "/entries/{id}"}}
    stack = app_stack(answer(201), answer(200), profile=with_writes(guestbook_writes))
    assert writes.write(stack, "abc").acknowledged and writes.read(stack, {"id": "abc"}).outcome == PRESENT
    assert stack.client.sent == [("POST", "/entries", {"Content-Type": "application/json"}, '{"id": "abc"}'),
                                 ("GET", "/entries/abc", None, None)]


SERVER_IDS = {"write": {"path": "/items", "body": '{"name": "{id}"}', "status": [201],
                        "capture": {"id": {"json": "id"}, "where": {"header": "Location", "regex": "/items/(\\d+)"}}},
              "read": {"path": "/items/{captured.id}", "check": {"status": [200], "contains": "{id}"},
                       "absent": {"status": [404]}}}


def test_a_server_assigned_id_is_captured_and_read_back_by_it():
    created = Answer(201, CaseInsensitiveDict({"Location": "/items/41"}), b'{"id": 41, "name": "abc"}')
    stack = app_stack(created, Answer(200, body=b'{"id": 41, "name": "abc"}'), profile=with_writes(SERVER_IDS))
    written = writes.write(stack, "abc")
    assert written.values == {"id": "abc", "captured.id": "41", "captured.where": "41"}
    read = writes.read(stack, written.values)
    assert read.outcome == PRESENT and stack.client.sent[1][1] == "/items/41"
    assert read.record()["captured"] == {"id": "41", "where": "41"}


def test_a_write_whose_capture_finds_nothing_is_not_acknowledged():
    stack = app_stack(Answer(201, body=b'{"ok": true}'), profile=with_writes(SERVER_IDS))
    assert writes.write(stack, "abc").reason == "acknowledged status, capture id: nothing found"


def test_the_negative_control_refuses_a_read_back_that_finds_what_was_never_written():
    search = {"write": {"path": "/items", "body": '{"name": "{id}"}', "status": [201]},
              "read": {"path": "/items?search={id}", "status": [200]}}
    stack = app_stack(answer(201), Answer(200, body=b'[{"name": "x"}]'), Answer(200, body=b"[]"),
                      profile=with_writes(search))
    with pytest.raises(ProfileError, match="finds items that were never written"):
        writes.negative_control(stack)
    assert any(path.startswith("/items?search=never-") for _, path, _, _ in stack.client.sent[1:])


def test_the_negative_control_writes_again_while_the_app_says_try_again_but_not_when_it_refuses(monkeypatch):
    monkeypatch.setattr(writes, "RETRY_PAUSE", 0.01)
    probe = with_writes({"write": {"path": "/items?name={id}", "status": [201]}, "read": {"path": "/items/{id}"}})
    starting = app_stack(answer(503), answer(503), answer(201), answer(200), answer(404), profile=probe)  # db starting
    found, missing = writes.negative_control(starting)
    assert (found.outcome, missing.outcome) == (PRESENT, ABSENT)
    assert [path.split("?")[0] for _, path, _, _ in starting.client.sent][:3] == ["/items"] * 3
    refusing = app_stack(answer(403), profile=probe)
    with pytest.raises(ProfileError, match=r"the write was not acknowledged \(status 403"):
        writes.negative_control(refusing)
    assert len(refusing.client.sent) == 1


def test_the_listing_answers_for_the_writes_it_holds_and_the_rest_are_read_one_by_one():
    stack = app_stack(Answer(200, body=b"a\nb\n"), answer(404), Answer(200, body=b"d\n"))
    results = writes.read_all(stack, [{"id": i} for i in "abcd"], timeout=10)
    assert {r.values["id"]: r.outcome for r in results} == {"a": PRESENT, "b": PRESENT, "c": ABSENT, "d": PRESENT}
    assert [path for _, path, _, _ in stack.client.sent] == ["/writes", "/read?id=c", "/read?id=d"]
    assert results[0].body == writes.LISTED


def test_without_a_usable_listing_every_write_is_read_one_by_one():
    stack = app_stack(answer(503), Answer(200, body=b"a\n"))
    results = writes.read_all(stack, [{"id": "a"}], timeout=10)
    assert [r.outcome for r in results] == [PRESENT] and stack.client.sent[1][1] == "/read?id=a"


class ItemServer:
    """An app that assigns ids itself: POST /items answers 201 with the id, GET /items/<id> 200 or 404."""

    def __init__(self) -> None:
        self.items: dict[int, str] = {}
        self.sent: list[tuple] = []

    def request(self, method, path, *, headers=None, body=None, timeout=None, follow_redirects=False):
        self.sent.append((method, path, headers, body))
        if method == "POST":
            item = len(self.items) + 1
            self.items[item] = json.loads(body)["name"]
            return Answer(201, CaseInsensitiveDict({"Location": f"/items/{item}"}), json.dumps({"id": item}).encode())
        name = self.items.get(int(path.rsplit("/", 1)[1]))
        return answer(404) if name is None else Answer(200, body=json.dumps({"name": name}).encode())


def test_the_negative_control_passes_a_read_back_by_a_captured_id_and_reads_an_id_never_assigned():
    stack = app_stack(profile=with_writes(SERVER_IDS))
    stack.__dict__["client"] = server = ItemServer()
    found, missing = writes.negative_control(stack)
    assert (found.outcome, missing.outcome) == (PRESENT, ABSENT)
    assert sorted(path for _, path, _, _ in server.sent) == ["/items", "/items/1", "/items/1000000000001"]


def with_writes(probe):
    model = DEMO.model.model_validate({**DEMO.model.model_dump(by_alias=True), "writes": probe})
    return type(DEMO)(model, DEMO.path, DEMO.compose, ())


def test_the_census_counts_live_containers_per_node_by_release_and_marks_nodes_it_cannot_ask():
    outputs = {"node1": ExecResult(0, "registry:5000/chaos/demo/web:v1@sha256:aa\nregistry:5000/chaos/demo/web:v2\n"
                                      "registry:5000/chaos/demo/web:v1\n"),
               "node2": ExecResult(1, "Cannot connect"),
               "node3": ExecResult(0, "")}
    asked = []

    def run_on(node, argv):
        asked.append((node, argv[-1]))
        if node == "node4":
            raise ClusterError("node4 is halted")
        return outputs[node]

    found = census(run_on, ["node1", "node2", "node3", "node4"], "chaos_web", SwarmEngine.runtime)
    assert found == {"node1": {"v1": 2, "v2": 1}, "node2": None, "node3": {}, "node4": None}
    assert asked[0] == ("node1", "chaos_web")  # the service is the script's argument, never spliced into it


def test_forgetting_images_hands_them_to_the_runtimes_script_as_arguments_on_every_node():
    cluster = FakeCluster()
    images = ["registry:5000/chaos/demo/web:v2", "x/y:it's"]
    forget_image(["node1", "node2"], cluster.exec, images, KubernetesEngine.runtime)
    assert sorted(node for node, _ in cluster.commands) == ["node1", "node2"]
    assert cluster.commands[0][1] == ["sh", "-c", KubernetesEngine.runtime.forget, "forget", *images]


LISTING = """REF TYPE DIGEST SIZE PLATFORMS LABELS
registry:5000/chaos/demo/web:v2 application/vnd.docker.distribution.manifest.v2+json sha256:aa 1 linux/amd64 -
registry:5000/chaos/demo/web@sha256:aa application/vnd.docker.distribution.manifest.v2+json sha256:aa 1 linux/amd64 -
sha256:c0nf19 application/vnd.docker.distribution.manifest.v2+json sha256:aa 1 linux/amd64 -
registry:5000/chaos/demo/web:v1 application/vnd.docker.distribution.manifest.v2+json sha256:bb 1 linux/amd64 -
"""


@pytest.mark.parametrize("engine, expected", [
    (SwarmEngine, ["ps -q --filter ancestor=registry:5000/chaos/demo/web:v2", "ps -q --filter ancestor=x/y:it's",
                   "container prune -f", "image rm -f registry:5000/chaos/demo/web:v2 x/y:it's"]),
    (KubernetesEngine, ["-n k8s.io images rm --sync registry:5000/chaos/demo/web:v2 "
                        "registry:5000/chaos/demo/web@sha256:aa sha256:c0nf19"]),  # every name of it, no other image
])
def test_each_runtimes_forget_script_removes_exactly_the_images_it_is_given(tmp_path, engine, expected):
    calls = tmp_path / "calls"
    (tmp_path / "listing").write_text(LISTING)
    for tool in ("docker", "ctr"):
        (tmp_path / tool).write_text(f'#!/bin/sh\ncase "$*" in *"images ls") cat {tmp_path}/listing ;; '
                                     f'*) echo "$*" >> {calls} ;; esac\n')
        (tmp_path / tool).chmod(0o755)
    subprocess.run(["sh", "-c", engine.runtime.forget, "forget", "registry:5000/chaos/demo/web:v2", "x/y:it's"],
                   check=True, env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=10)
    assert calls.read_text().splitlines() == expected


def test_prepare_removes_the_upgraded_services_an_earlier_run_left_off_the_old_release():
    engine = FakeEngine(FakeCluster())
    engine.services["chaos_web"] = make_service("chaos_web", [make_task(f"node{n}", "v2") for n in (1, 2, 3)])
    _remove_moved(engine, app_stack())
    assert engine.calls == [("remove_service", "chaos_web")]


def test_prepare_keeps_upgraded_services_that_run_the_old_release_or_do_not_exist():
    engine = FakeEngine(FakeCluster())
    engine.services["chaos_web"] = make_service("chaos_web", [make_task(f"node{n}", "v1") for n in (1, 2, 3)])
    _remove_moved(engine, app_stack())
    del engine.services["chaos_web"]
    _remove_moved(engine, app_stack())
    assert engine.calls == []


def test_prepare_removes_a_service_whose_spec_is_old_but_whose_tasks_are_not_all_old():
    engine = FakeEngine(FakeCluster())
    tasks = [make_task("node1", "v1"), make_task("node2", "v2"), make_task("node3", "v1")]
    engine.services["chaos_web"] = make_service("chaos_web", tasks)
    _remove_moved(engine, app_stack())
    assert engine.calls == [("remove_service", "chaos_web")]


def test_prepare_restarts_the_upgraded_services_all_at_once_and_deploys_the_rest_as_rendered():
    rendered = app_stack().blue("v1")
    fast = restarting_at_once(rendered, ["web"])
    services = yaml.safe_load(fast.compose)["services"]
    assert services["web"]["deploy"].pop("update_config") == PREPARE_UPDATE
    assert PREPARE_UPDATE["order"] == "stop-first"  # the old tasks leave their nodes first: the new ones spread
    assert services == yaml.safe_load(rendered.compose)["services"]
    assert fast.objects == rendered.objects


def test_diagnose_shows_the_entry_services_last_tasks_and_log_lines():
    cluster = FakeCluster()
    cluster.engine.services = {"chaos_web": make_service("chaos_web", [
        make_task("node2", "v1", "failed", timestamp=5.0, error="task: non-zero exit (1)"),
        make_task("node1", "v1", timestamp=9.0)])}
    text = diagnose(cluster.engine, app_stack(), since=100.0)
    assert text.splitlines() == ["last tasks of chaos_web:",
                                 "  node2 v1 failed (desired running): task: non-zero exit (1)",
                                 "  node1 v1 running (desired running)",
                                 "last log lines of chaos_web:", "  chaos_web since 100"]
    assert diagnose(FakeCluster().engine, app_stack(), 0) == \
        "(the state of chaos_web could not be read: service chaos_web does not exist)"


def test_a_redirect_is_followed_only_on_the_same_host():
    base = "http://127.0.0.1:8080"
    assert same_host_redirect(base, "/a/b?x=1", 302, "/setup") == "/setup"
    assert same_host_redirect(base, "/a/b", 301, "c?d=1") == "/a/c?d=1"  # relative to the request's path
    assert same_host_redirect(base, "/a", 303, "http://127.0.0.1:8080/login") == "/login"
    assert same_host_redirect(base, "/a", 302, "http://example.com/") is None  # never anywhere the harness did not make
    assert same_host_redirect(base, "/a", 200, "/setup") is None and same_host_redirect(base, "/a", 302, None) is None


def test_the_broken_release_keeps_no_health_check_of_the_compose_files_own():
    web = {**DEMO.compose["services"]["web"], "healthcheck": {"test": ["CMD", "true"], "interval": "2s"}}
    checked = dataclasses.replace(DEMO, compose={**DEMO.compose, "services": {**DEMO.compose["services"], "web": web}})
    stack = AppStack(checked, StackOptions(registry="registry:5000"), "http://127.0.0.1:8080", "v1", "broken")
    assert "healthcheck" not in yaml.safe_load(stack.green("broken").compose)["services"]["web"]
    assert yaml.safe_load(stack.green("v2").compose)["services"]["web"]["healthcheck"]["test"] == ["CMD", "true"]
